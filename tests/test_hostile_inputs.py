"""Hostile and malformed inputs: exit 2, a message naming the file (or flag) and the key, no traceback,
nothing written or deleted.

The corpus (``hostile_corpus.py``: scenario, experiment and calibration files, special files, deep
nesting, command lines, output directories) runs in one subprocess under a 4 GiB address-space
limit with a 60-second alarm per input, in-process through ``sim.cli.main``; each case is then
checked here. Property-based tests (hypothesis) add random values, bytes and names, in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_corpus import CASES, GOOD, MEMORY_LIMIT, experiment
from sim.cli import main

RUNNER = Path(__file__).with_name("hostile_corpus.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    out = base / "results.json"
    # a generous guard against a hang of the whole corpus; each input has its own 60 s alarm
    proc = subprocess.run([sys.executable, str(RUNNER), str(out), str(base)], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 150
    commands = {c.argv[0] for c in CASES if c.argv}
    assert {"run", "validate", "sweep", "calibrate", "compare", "report", "backtest", "bench", "diff"} <= commands
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_corpus_ran_under_the_memory_limit_without_internal_errors(corpus):
    assert corpus["__limit__"] == [MEMORY_LIMIT, MEMORY_LIMIT]
    assert corpus["__logs__"] == []  # no input reached the internal-error path (exit 1 writes a log)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_cleanly(corpus, case):
    r = corpus[case.id]
    assert r["crashed"] is None, r["crashed"]            # neither a hang nor an exception out of main()
    assert r["rc"] == case.rc, r
    assert "Traceback" not in r["stdout"] + r["stderr"]
    assert r["changed"] == [], r["changed"]              # nothing written, replaced or deleted
    text = r["stderr"] if case.rc else r["stdout"]
    for part in case.expect:
        assert part in text, (part, r["stderr"])
    if case.rc == 2:
        assert r["stdout"] == ""
        lines = r["stderr"].splitlines()
        assert 1 <= len(lines) <= (case.max_lines or 21), lines   # at most a screenful, then a count
        assert case.expect[0] in lines[0], lines[0]               # the first line names the file or flag


# --- property-based: random values, bytes and names ---------------------------------------------------

def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string (no control characters in it)


NUMERIC_LINE = re.compile(r"^(\w+) = (-?[0-9][0-9.]*)\s*(#.*)?$", re.M)
NUMERIC_KEYS = sorted({m.group(1) for m in NUMERIC_LINE.finditer(GOOD)})

toml_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: "nan" if x != x else ("inf" if x == float("inf")
                                                       else "-inf" if x == float("-inf") else repr(x))),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(_toml_string),
    st.dates().map(str),
    st.lists(st.integers(-5, 5), max_size=4).map(lambda v: "[" + ", ".join(map(str, v)) + "]"),
    st.just("{ a = 1 }"),
)


def _validate(text: bytes | str, name: str = "f.toml") -> tuple[int, str, str, set, set]:
    """``ceasefire validate`` on a file in a fresh directory: rc, stdout, stderr, files before and after."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        before = set(os.listdir(tmp))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["validate", str(path)])
        return rc, out.getvalue(), err.getvalue(), before, set(os.listdir(tmp)), str(path)


def _clean_refusal(rc, out, err, before, after, path):
    assert rc in (0, 2), (rc, err)
    assert "Traceback" not in out + err
    assert before == after
    if rc == 2:
        assert out == ""
        lines = err.splitlines()
        assert 1 <= len(lines) <= 21
        assert all(line.startswith(f"{path}: ") or line.startswith("... and ") for line in lines), lines


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(NUMERIC_KEYS), value=toml_values)
def test_any_value_for_a_numeric_scenario_key_is_accepted_or_refused_cleanly(key, value):
    text = NUMERIC_LINE.sub(lambda m: f"{m.group(1)} = {value}" if m.group(1) == key else m.group(0), GOOD)
    rc, out, err, before, after, path = _validate(text)
    _clean_refusal(rc, out, err, before, after, path)
    assert all(key in line for line in err.splitlines()), err  # each problem names the key
    if value in ("nan", "inf", "-inf") or value.startswith('"') or value in ("true", "false"):
        assert rc == 2  # never coerced, never a silent non-finite number


@settings(max_examples=60, deadline=None, database=None)
@given(key=st.sampled_from(["points", "replications", "horizon_months", "seed", "keep_replications", "levels"]),
       value=toml_values)
def test_any_value_for_an_experiment_key_is_accepted_or_refused_cleanly(key, value):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "good.toml").write_text(GOOD, encoding="utf-8")
        path = Path(tmp) / "exp.toml"
        path.write_text(experiment({key: value}), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["validate", str(path)])
        assert set(os.listdir(tmp)) == {"good.toml", "exp.toml"}
    _clean_refusal(rc, out.getvalue(), err.getvalue(), set(), set(), str(path))
    assert all(key in line for line in err.getvalue().splitlines()), err.getvalue()  # read as an experiment
    if value.startswith('"') or value in ("nan", "inf", "-inf") or (key != "keep_replications" and value in
                                                                      ("true", "false")):
        assert rc == 2  # no silent coercion in experiment files


@settings(max_examples=60, deadline=None, database=None)
@given(junk=st.binary(max_size=200), where=st.sampled_from(["start", "end", "middle"]))
def test_random_bytes_in_a_scenario_are_refused_cleanly(junk, where):
    data = GOOD.encode()
    cut = len(data) // 2
    data = {"start": junk + data, "end": data + junk, "middle": data[:cut] + junk + data[cut:]}[where]
    _clean_refusal(*_validate(data))


@settings(max_examples=60, deadline=None, database=None)
@given(name=st.one_of(st.sampled_from([".", "..", ".hidden", "-", "-x", "../x", "a/b", "a\\b", "", "x" * 101,
                                       "ok-name.v2"]),
                      st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=120)))
def test_a_scenario_name_is_a_safe_directory_name_or_refused(name):
    text = GOOD.replace('name = "two_sided_test"', f"name = {json.dumps(name, ensure_ascii=False)}", 1)
    rc, out, err, before, after, path = _validate(text)
    _clean_refusal(rc, out, err, before, after, path)
    # the schema's pattern: neither '.' nor '-' first (a '-x' directory reads like a flag)
    safe = (re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) is not None and len(name) <= 100)
    assert (rc == 0) == safe, (name, err)
    if not safe:
        assert "name" in err


@settings(max_examples=40, deadline=None, database=None)
@given(depth=st.integers(min_value=33, max_value=20_000), opener=st.sampled_from(["[", "{x = "]))
def test_any_nesting_depth_is_refused_without_recursion(depth, opener):
    closer = "]" if opener == "[" else "}"
    text = "a = " + opener * depth + ("1" if opener != "[" else "") + closer * depth + "\n"
    rc, out, err, before, after, path = _validate(text)
    _clean_refusal(rc, out, err, before, after, path)
    assert rc == 2 and "nested" in err
