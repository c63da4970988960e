"""A corpus of malformed and hostile inputs for ``ceasefire``, and the runner that feeds them to it.

Each case is a command line run in a fresh directory holding the case's files (a valid scenario
``good.toml``, an experiment ``exp.toml``, a calibration ``cal.toml`` with two historical cases, a
user's ``thesis.docx`` that nothing may touch, and whatever the case adds or breaks). The runner
(``python hostile_corpus.py OUT.json BASE``, used by ``test_hostile_inputs.py``) runs every case
in-process through ``sim.cli.main`` under a 4 GiB address-space limit with a 60-second alarm per
case, and records the exit code, stdout, stderr and whether the directory tree changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
GOOD = (REPO / "tests" / "data" / "two_sided.toml").read_text(encoding="utf-8")
OBSERVED = '\n[observed]\nmonths_to_collapse = 5.0\ninitiator = "regime"\n'   # a historical case's outcome
MEMORY_LIMIT = 4 << 30
CASE_SECONDS = int(os.environ.get("HOSTILE_CASE_SECONDS", "60"))  # per input; lower it to survey a slow build


def scenario(old: str | None = None, new: str = "", extra: str = "") -> str:
    text = GOOD if old is None else GOOD.replace(old, new, 1)
    if old is not None and old not in GOOD:
        raise ValueError(f"not in the scenario: {old!r}")
    return text + extra


EXPERIMENT = {
    "name": '"exp1"', "scenario": '"good.toml"', "sampler": '"grid"', "points": "3", "replications": "20",
    "horizon_months": "6", "seed": "1", "outcomes": '["p_collapse", "rmst"]',
}
FACTORS = {
    "a": {"path": '"actors.turkey.deterrence"', "low": "0.2", "high": "0.9"},
    "b": {"path": '"actors.russia.interest_in_guarantor"', "low": "0.2", "high": "0.9"},
}


def experiment(top: dict | None = None, factors: dict | None = None, drop: tuple = ()) -> str:
    data = {k: v for k, v in {**EXPERIMENT, **(top or {})}.items() if k not in drop}
    facs = {k: dict(v) for k, v in FACTORS.items()}
    for name, changes in (factors or {}).items():
        if changes is None:
            facs.pop(name, None)
        else:
            facs.setdefault(name, {}).update(changes)
    lines = [f"{k} = {v}" for k, v in data.items()]
    for name, f in facs.items():
        lines += ["", f"[factors.{name}]", *(f"{k} = {v}" for k, v in f.items())]
    return "\n".join(lines) + "\n"


CALIBRATION = {
    "name": '"cal1"', "cases": '["h1.toml", "h2.toml"]', "particles": "16", "replications": "4", "seed": "1",
    "bandwidth": "0.35", "predictive_replications": "4",
}
FREE = {"offensive_rate": {"path": '"dynamics.offensive_rate_covered"', "low": "1.0", "high": "20.0",
                           "scale": '"log"'}}


def calibration(top: dict | None = None, free: dict | None = None, drop: tuple = ()) -> str:
    data = {k: v for k, v in {**CALIBRATION, **(top or {})}.items() if k not in drop}
    fr = {k: dict(v) for k, v in FREE.items()}
    for name, changes in (free or {}).items():
        fr.setdefault(name, {}).update(changes)
    lines = [f"{k} = {v}" for k, v in data.items()]
    for name, f in fr.items():
        lines += ["", f"[free.{name}]", *(f"{k} = {v}" for k, v in f.items())]
    return "\n".join(lines) + "\n"


HISTORY = scenario('name = "two_sided_test"', 'name = "h1"\nconflict = "test"', OBSERVED)
POSTERIOR = "dynamics.offensive_rate_covered,dynamics.halt_rate\n3.0,1.0\n4.0,2.0\n"  # as calibrate writes it

BASE_FILES = {
    "good.toml": GOOD,
    "exp.toml": experiment(),
    "cal.toml": calibration(),
    "h1.toml": HISTORY,
    "h2.toml": HISTORY.replace('name = "h1"', 'name = "h2"').replace("5.0", "9.0"),
    "thesis.docx": "a user's file: nothing may delete or change it\n",
}


@dataclass
class Case:
    id: str
    argv: list[str]
    expect: list[str]                       # substrings of stderr: the file (or flag) and the key
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    rc: int = 2
    max_lines: int | None = None            # problems printed at most (a screenful, then a count)


CASES: list[Case] = []


def case(id, argv, expect, files=None, setup=None, rc=2, max_lines=None):
    CASES.append(Case(id, list(argv), list(expect), dict(files or {}), setup, rc, max_lines))


def _mkfifo(name):
    return lambda d: os.mkfifo(d / name)


def _symlink(target, name):
    return lambda d: os.symlink(target, d / name)


def _mkdir(*names):
    def make(d):
        for n in names:
            (d / n).mkdir(parents=True, exist_ok=True)
    return make


def _case_files(n):
    """n historical cases c000.toml ... for a glob in a calibration's cases."""
    def make(d):
        for i in range(n):
            (d / f"c{i:03d}.toml").write_text(HISTORY.replace('name = "h1"', f'name = "c{i:03d}"'), encoding="utf-8")
    return make


def _chain(n, last_text):
    """n files c0 -> c1 -> ... each inheriting the next."""
    def make(d):
        for i in range(n):
            text = f'base = "c{i + 1}.toml"\n' if i < n - 1 else last_text
            (d / f"c{i}.toml").write_text(text, encoding="utf-8")
    return make


def _diamond(levels):
    """Each file inherits two files of the next level, which inherit the same two: 2**levels reads."""
    def make(d):
        for lv in range(levels):
            for side in "ab":
                (d / f"l{lv}{side}.toml").write_text(f'base = ["l{lv + 1}a.toml", "l{lv + 1}b.toml"]\n')
        for side in "ab":
            (d / f"l{levels}{side}.toml").write_text("[dynamics]\noffensive_rate_covered = 2.0\n")
    return make


def _sweep_dir(name, state=None, checkpoint_link=None):
    def make(d):
        out = d / name
        out.mkdir()
        if state is not None and state.startswith("fingerprint-of:"):  # the experiment's own: resumable
            from sim.experiment import load_experiment
            fingerprint = load_experiment(d / state.split(":", 1)[1]).fingerprint
            (out / "state.json").write_text(json.dumps({"fingerprint": fingerprint, "points": 9}))
        elif state is not None:
            (out / "state.json").write_text(state)
        if checkpoint_link is not None:
            os.symlink(checkpoint_link, out / "checkpoint.jsonl")
    return make


def _run_dir(name, summary=None, extra=None):
    """A run result directory as ceasefire writes it (small), optionally with a damaged summary.json."""
    def make(d):
        out = d / name
        out.mkdir()
        (out / "manifest.json").write_text(json.dumps({"scenario_name": "x", "runs": 10, "seed": 0}))
        (out / "summary.json").write_text(summary if summary is not None else json.dumps(
            {"scenario": "x", "runs": 10, "horizon_months": 6, "p_collapse": {"6": {"estimate": 0.1}}}))
        (out / "survival.csv").write_text("month,survival,ci_low,ci_high\n0,1,1,1\n")
        for name_, text in (extra or {}).items():
            (out / name_).write_text(text)
    return make


def _finished_sweep(name):
    """The three files discovery reads of a finished sweep (one factor, one point)."""
    return lambda d: (_mkdir(name)(d), _write(f"{name}/sensitivity.json", '{"factors": {"a": {"path": "x"}}}')(d),
                      _write(f"{name}/design.csv", "point,a\n0,0.5\n")(d),
                      _write(f"{name}/outcomes.csv", "point,a,status\n0,0.5,ok\n")(d))


def _write(name, text):
    return lambda d: (d / name).write_text(text, encoding="utf-8")


def _both(*makers):
    def make(d):
        for m in makers:
            m(d)
    return make


# --- A. scenario files -----------------------------------------------------------------------------

S = "actors.turkey.deterrence"
for label, value in [("nan", "nan"), ("inf", "inf"), ("neg_inf", "-inf"), ("huge_int", "10" * 20),
                     ("string", '"high"'), ("bool", "true"), ("array", "[0.5]"), ("table", "{ x = 1 }"),
                     ("date", "2020-01-01"), ("above", "1.7"), ("below", "-0.1"), ("nan_string", '"nan"')]:
    case(f"scenario_deterrence_{label}", ["validate", "bad.toml"], ["bad.toml", S],
         {"bad.toml": scenario("deterrence = 0.75", f"deterrence = {value}")})
for label, old, new, key in [
    ("start_int", "start = 2020-03-06", "start = 86400", "start"),
    ("start_float", "start = 2020-03-06", "start = 1.5", "start"),
    ("start_bool", "start = 2020-03-06", "start = true", "start"),
    ("start_datetime", "start = 2020-03-06", "start = 2020-03-06T10:00:00", "start"),
    ("start_text", "start = 2020-03-06", 'start = "March"', "start"),
    ("horizon_zero", "horizon_months = 24", "horizon_months = 0", "horizon_months"),
    ("horizon_huge", "horizon_months = 24", "horizon_months = 100000000000000000000", "horizon_months"),
    ("horizon_nan", "horizon_months = 24", "horizon_months = nan", "horizon_months"),
    ("horizon_inf", "horizon_months = 24", "horizon_months = inf", "horizon_months"),
    ("step_zero", "step_days = 7", "step_days = 0", "step_days"),
    ("step_huge", "step_days = 7", "step_days = 99999999999", "step_days"),
    ("name_dot", 'name = "two_sided_test"', 'name = "."', "name"),
    ("name_dotdot", 'name = "two_sided_test"', 'name = ".."', "name"),
    ("name_slash", 'name = "two_sided_test"', 'name = "../../etc/x"', "name"),
    ("name_backslash", 'name = "two_sided_test"', 'name = "a\\\\b"', "name"),
    ("name_empty", 'name = "two_sided_test"', 'name = ""', "name"),
    ("name_long", 'name = "two_sided_test"', 'name = "' + "x" * 300 + '"', "name"),
    ("name_hidden", 'name = "two_sided_test"', 'name = ".hidden"', "name"),
    ("name_unicode", 'name = "two_sided_test"', 'name = "d\u00e9j\u00e0"', "name"),
    ("name_int", 'name = "two_sided_test"', "name = 5", "name"),
    ("conflict_traversal", 'name = "two_sided_test"', 'name = "x"\nconflict = "../../outside"', "conflict"),
    ("conflict_dot", 'name = "two_sided_test"', 'name = "x"\nconflict = "."', "conflict"),
    ("role_unknown", 'role = "guarantor"', 'role = "referee"', "actors.turkey"),
    ("protects_unknown", 'protects = ["opposition"]', 'protects = ["nobody"]', "actors.turkey.protects"),
    ("unknown_key", "deterrence = 0.75", "deterence = 0.75", "actors.turkey.deterence"),
    ("needs_air_cover_string", "needs_air_cover = true", 'needs_air_cover = "yes"', "actors.regime.needs_air_cover"),
    ("readiness_nan", "readiness = 0.45", "readiness = nan", "actors.regime.readiness"),
]:
    case(f"scenario_{label}", ["validate", "bad.toml"], ["bad.toml", key], {"bad.toml": scenario(old, new)})
# the same problems through `run`, which must not write anything either
for label, old, new, key in [
    ("start_int", "start = 2020-03-06", "start = 86400", "start"),
    ("name_dot", 'name = "two_sided_test"', 'name = "."', "name"),
    ("deterrence_inf", "deterrence = 0.75", "deterrence = inf", S),
]:
    case(f"run_scenario_{label}", ["run", "bad.toml", "--runs", "50", "--horizon", "6"], ["bad.toml", key],
         {"bad.toml": scenario(old, new)})
case("scenario_events_at_int", ["validate", "bad.toml"], ["bad.toml", "events.late.at"],
     {"bad.toml": scenario(extra='\n[events.late]\nat = 86400\nset = { "actors.russia.distraction" = 0.5 }\n')})
case("scenario_events_month_inf", ["validate", "bad.toml"], ["bad.toml", "events.late.month"],
     {"bad.toml": scenario(extra='\n[events.late]\nmonth = inf\nset = { "actors.russia.distraction" = 0.5 }\n')})
case("scenario_events_set_nan", ["validate", "bad.toml"], ["bad.toml", "events.late.set"],
     {"bad.toml": scenario(extra='\n[events.late]\nmonth = 3\nset = { "actors.russia.distraction" = nan }\n')})
case("scenario_events_set_string", ["validate", "bad.toml"], ["bad.toml", "events.late.set"],
     {"bad.toml": scenario(extra='\n[events.late]\nmonth = 3\nset = { "actors.russia.distraction" = "x" }\n')})
case("scenario_many_unknown_keys", ["validate", "bad.toml"], ["bad.toml", "actors.turkey.z0", "more problems"],
     {"bad.toml": scenario("[actors.turkey]", "[actors.turkey]\n" + "".join(f"z{i}=1\n" for i in range(100_000)))},
     max_lines=21)
case("scenario_thirty_unknown_keys", ["validate", "bad.toml"], ["bad.toml", "unknown key", "10 more problems"],
     {"bad.toml": scenario("[actors.turkey]", "[actors.turkey]\n" + "".join(f"z{i} = 1\n" for i in range(30)))},
     max_lines=21)
case("scenario_oversized", ["validate", "big.toml"], ["big.toml", "bytes"],
     {"big.toml": GOOD + "#" * (2 << 20) + "\n"})
case("scenario_binary", ["validate", "bin.toml"], ["bin.toml", "UTF-8"], {"bin.toml": bytes(range(256)) * 4})
case("scenario_nul_bytes", ["validate", "nul.toml"], ["nul.toml", "TOML"], {"nul.toml": GOOD + "\0\0\0"})
case("scenario_latin1", ["validate", "l1.toml"], ["l1.toml", "UTF-8"],
     {"l1.toml": scenario("Two belligerents", "Tw\u00f6 belligerents").encode("latin-1", "replace")})
case("scenario_not_toml", ["validate", "bad.toml"], ["bad.toml", "not valid TOML"], {"bad.toml": "this is = = not toml"})
case("scenario_empty", ["validate", "empty.toml"], ["empty.toml", "name"], {"empty.toml": ""})
case("scenario_bom_accepted", ["validate", "bom.toml"], ["1 file(s) valid"], {"bom.toml": b"\xef\xbb\xbf" + GOOD.encode()},
     rc=0)
case("scenario_is_fifo", ["run", "pipe.toml", "--runs", "50"], ["pipe.toml", "FIFO"], setup=_mkfifo("pipe.toml"))
case("scenario_is_directory", ["run", "adir", "--runs", "50"], ["adir", "directory"], setup=_mkdir("adir"))
case("scenario_is_dev_zero", ["run", "/dev/zero", "--runs", "50"], ["/dev/zero", "character device"])
case("scenario_is_dev_null", ["validate", "/dev/null"], ["/dev/null", "character device"])
case("scenario_is_proc_mem", ["run", "/proc/self/mem", "--runs", "50"], ["/proc/self/mem", "cannot be read"])
case("scenario_is_proc_status", ["validate", "/proc/self/status"], ["/proc/self/status"])
case("scenario_symlink_loop", ["validate", "loop.toml"], ["loop.toml"], setup=_symlink("loop.toml", "loop.toml"))
case("scenario_missing", ["run", "nothere.toml"], ["nothere.toml", "no such file"])
case("scenario_path_through_file", ["run", "thesis.docx/x.toml"], ["thesis.docx/x.toml", "no such file"])
for label, base, setup, key in [
    ("fifo", '"pipe.toml"', _mkfifo("pipe.toml"), "FIFO"),
    ("dev_zero", '"/dev/zero"', None, "character device"),
    ("proc_mem", '"/proc/self/mem"', None, "cannot be read"),
    ("directory", '"adir"', _mkdir("adir"), "directory"),
    ("missing", '"nothere.toml"', None, "not found"),
    ("int", "5", None, "must be a file name"),
    ("empty_list", "[]", None, "must be a file name"),
    ("list_with_dir", '["good.toml", "adir"]', _mkdir("adir"), "base[1]"),
    ("self", '"bad.toml"', None, "cycle"),
    ("symlink_loop", '"loop.toml"', _symlink("loop.toml", "loop.toml"), "loop.toml"),
    ("passwd", '"/etc/passwd"', None, "not valid TOML"),
]:
    case(f"base_{label}", ["run", "bad.toml", "--runs", "50", "--horizon", "6"], ["bad.toml", "base", key]
         if label not in ("passwd",) else ["/etc/passwd", key],
         {"bad.toml": f"base = {base}\n" + GOOD}, setup=setup)
case("base_chain_1200", ["run", "c0.toml", "--runs", "50"], ["base", "32"], setup=_chain(1200, GOOD))
case("base_chain_40_validate", ["validate", "c0.toml"], ["base", "deep"], setup=_chain(40, GOOD))
case("base_diamond_explosion", ["validate", "l0a.toml"], ["base", "256 files"], setup=_diamond(30))
case("nesting_array_5000", ["validate", "deep.toml"], ["deep.toml", "nested"],
     {"deep.toml": "a = " + "[" * 5000 + "]" * 5000 + "\n"})
case("nesting_inline_table_5000", ["validate", "deep.toml"], ["deep.toml", "nested"],
     {"deep.toml": "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n"})
case("nesting_dotted_key_3000", ["validate", "deep.toml"], ["deep.toml", "nested"],
     {"deep.toml": ".".join(["k"] * 3000) + " = 1\n"})
case("nesting_header_3000", ["validate", "deep.toml"], ["deep.toml", "nested"],
     {"deep.toml": "[" + ".".join(["k"] * 3000) + "]\nx = 1\n"})
case("nesting_array_of_tables_3000", ["validate", "deep.toml"], ["deep.toml", "nested"],
     {"deep.toml": "[[" + ".".join(["k"] * 3000) + "]]\nx = 1\n"})
case("nesting_table_3000_via_base", ["run", "bad.toml", "--runs", "50"], ["deep.toml", "nested"],
     {"bad.toml": 'base = "deep.toml"\n' + GOOD, "deep.toml": "[" + ".".join(["k"] * 3000) + "]\nx = 1\n"})
case("nesting_in_scenario_key", ["validate", "bad.toml"], ["bad.toml", "nested"],
     {"bad.toml": scenario("deterrence = 0.75", "deterrence = " + "[" * 100 + "]" * 100)})
case("nesting_brackets_in_strings_ok", ["validate", "ok.toml"], ["1 file(s) valid"],
     {"ok.toml": scenario('description = "Two', 'description = "' + "[" * 100 + ' Two')}, rc=0)
case("wrong_kind_experiment_to_run", ["run", "exp.toml", "--runs", "50"], ["exp.toml", "experiment file"])
case("wrong_kind_calibration_to_run", ["run", "cal.toml", "--runs", "50"], ["cal.toml", "calibration file"])
case("wrong_kind_scenario_to_sweep", ["sweep", "good.toml"], ["good.toml", "scenario file"])
case("wrong_kind_scenario_to_calibrate", ["calibrate", "good.toml"], ["good.toml", "scenario file", "not a calibration"])
case("wrong_kind_experiment_to_calibrate", ["calibrate", "exp.toml"], ["exp.toml", "experiment file"])
case("wrong_kind_calibration_to_sweep", ["sweep", "cal.toml"], ["cal.toml", "calibration file"])
case("wrong_kind_fragment_to_run", ["run", "frag.toml", "--runs", "50"], ["frag.toml", "fragment"],
     {"frag.toml": "[dynamics]\noffensive_rate_covered = 2.0\n"})
case("diff_with_fifo", ["diff", "good.toml", "pipe.toml"], ["pipe.toml", "FIFO"], setup=_mkfifo("pipe.toml"))
case("compare_with_directory", ["compare", "good.toml", "adir", "--runs", "50"], ["adir", "directory"],
     setup=_mkdir("adir"))

# posterior draws named by a scenario (read when a run spreads its replications over them)
WITH_POSTERIOR = scenario('name = "two_sided_test"', 'name = "two_sided_test"\nposterior = "post.csv"')
for label, text, setup, key in [
    ("fifo", None, _mkfifo("post.csv"), "FIFO"),
    ("directory", None, _mkdir("post.csv"), "directory"),
    ("missing", None, None, "no such file"),
    ("header_only", "dynamics.halt_rate\n", None, "at least one draw"),
    ("ragged", POSTERIOR + "5.0\n", None, "line 4"),
    ("not_a_number", POSTERIOR.replace("4.0", "four"), None, "'four' is not a number"),
    ("nan", POSTERIOR.replace("4.0", "nan"), None, "finite"),
    ("negative_rate", POSTERIOR.replace("4.0", "-4.0"), None, "finite"),
    ("unknown_column", POSTERIOR.replace("dynamics.halt_rate", "actors.turkey.deterrence"), None,
     "not a dynamics parameter"),
    ("binary", bytes(range(256)), None, "UTF-8"),
]:
    files = {"bad.toml": WITH_POSTERIOR, **({"post.csv": text} if text is not None else {})}
    case(f"posterior_{label}", ["run", "bad.toml", "--runs", "50", "--horizon", "6"], ["posterior", "post.csv", key],
         files, setup=setup)
case("posterior_fifo_in_compare", ["compare", "bad.toml", "bad.toml", "--runs", "50", "--horizon", "6"],
     ["posterior", "FIFO"], {"bad.toml": WITH_POSTERIOR}, setup=_mkfifo("post.csv"))
case("posterior_dev_zero", ["run", "bad.toml", "--runs", "50", "--horizon", "6"], ["posterior", "character device"],
     {"bad.toml": WITH_POSTERIOR.replace('"post.csv"', '"/dev/zero"')})

# --- B. experiment files ----------------------------------------------------------------------------

for label, top, key in [
    ("keep_replications_yes", {"keep_replications": '"yes"'}, "keep_replications"),
    ("keep_replications_int", {"keep_replications": "1"}, "keep_replications"),
    ("points_float", {"points": "3.0"}, "points"),
    ("points_string", {"points": '"3"'}, "points"),
    ("points_bool", {"points": "true"}, "points"),
    ("points_zero", {"points": "0"}, "points"),
    ("points_huge", {"points": "10000000000000000000000"}, "points"),
    ("grid_over_1e7", {"points": "4000"}, "points"),
    ("replications_zero", {"replications": "0"}, "replications"),
    ("replications_huge", {"replications": "1000000000"}, "replications"),
    ("replications_string", {"replications": '"20"'}, "replications"),
    ("horizon_nan", {"horizon_months": "nan"}, "horizon_months"),
    ("horizon_inf", {"horizon_months": "inf"}, "horizon_months"),
    ("horizon_zero", {"horizon_months": "0"}, "horizon_months"),
    ("seed_negative", {"seed": "-1"}, "seed"),
    ("seed_string", {"seed": '"1"'}, "seed"),
    ("seed_float", {"seed": "1.0"}, "seed"),
    ("sampler_unknown", {"sampler": '"halton"'}, "sampler"),
    ("sampler_int", {"sampler": "5"}, "sampler"),
    ("morris_levels_3", {"sampler": '"morris"', "points": "4", "levels": "3"}, "levels"),
    ("morris_levels_1", {"sampler": '"morris"', "points": "4", "levels": "1"}, "levels"),
    ("morris_levels_huge", {"sampler": '"morris"', "points": "4", "levels": "1000000"}, "levels"),
    ("sobol_not_power_of_2", {"sampler": '"sobol"', "points": "6"}, "points"),
    ("sobol_huge", {"sampler": '"sobol"', "points": "1048576"}, "points"),
    ("outcomes_empty", {"outcomes": "[]"}, "outcomes"),
    ("outcomes_unknown", {"outcomes": '["rmsd"]'}, "outcomes"),
    ("outcomes_not_list", {"outcomes": "5"}, "outcomes"),
    ("outcomes_beyond_horizon", {"outcomes": '["p_collapse_by_13"]'}, "outcomes"),
    ("analyse_not_outcome", {"analyse": '"rmsd"'}, "analyse"),
    ("name_dot", {"name": '"."'}, "name"),
    ("name_dotdot", {"name": '".."'}, "name"),
    ("name_slash", {"name": '"a/b"'}, "name"),
    ("name_long", {"name": '"' + "n" * 400 + '"'}, "name"),
    ("scenario_int", {"scenario": "5"}, "scenario"),
    ("scenario_missing", {"scenario": '"nothere.toml"'}, "scenario"),
    ("scenario_dev_zero", {"scenario": '"/dev/zero"'}, "scenario"),
    ("scenario_proc_mem", {"scenario": '"/proc/self/mem"'}, "scenario"),
    ("unknown_key", {"replication": "3"}, "replication"),
    ("description_int", {"description": "5"}, "description"),
]:
    case(f"experiment_{label}", ["sweep", "bad.toml"], ["bad.toml", key], {"bad.toml": experiment(top)})
case("experiment_scenario_fifo", ["sweep", "bad.toml"], ["bad.toml", "scenario", "FIFO"],
     {"bad.toml": experiment({"scenario": '"pipe.toml"'})}, setup=_mkfifo("pipe.toml"))
case("experiment_scenario_directory", ["sweep", "bad.toml"], ["bad.toml", "scenario", "directory"],
     {"bad.toml": experiment({"scenario": '"adir"'})}, setup=_mkdir("adir"))
case("experiment_scenario_is_experiment", ["sweep", "bad.toml"], ["exp.toml", "experiment file"],
     {"bad.toml": experiment({"scenario": '"exp.toml"'})})
for label, changes, key in [
    ("low_nan", {"low": "nan"}, "factors.a.low"),
    ("high_inf", {"high": "inf"}, "factors.a.high"),
    ("low_string", {"low": '"0.2"'}, "factors.a.low"),
    ("low_bool", {"low": "true"}, "factors.a.low"),
    ("low_above_high", {"low": "0.95"}, "factors.a"),
    ("low_below_schema", {"low": "-0.5"}, "factors.a.low"),
    ("truncnormal_mean_nan", {"distribution": '"truncnormal"', "mean": "nan", "sd": "0.1"}, "factors.a.mean"),
    ("truncnormal_sd_inf", {"distribution": '"truncnormal"', "mean": "0.5", "sd": "inf"}, "factors.a.sd"),
    ("truncnormal_sd_zero", {"distribution": '"truncnormal"', "mean": "0.5", "sd": "0"}, "factors.a.sd"),
    ("truncnormal_no_mean", {"distribution": '"truncnormal"', "sd": "0.1"}, "factors.a"),
    ("truncnormal_degenerate", {"distribution": '"truncnormal"', "mean": "-1e308", "sd": "1e-300"}, "factors.a"),
    ("triangular_mode_outside", {"distribution": '"triangular"', "mode": "5.0"}, "factors.a"),
    ("triangular_mode_nan", {"distribution": '"triangular"', "mode": "nan"}, "factors.a.mode"),
    ("distribution_unknown", {"distribution": '"beta"'}, "factors.a.distribution"),
    ("path_missing", {"path": '"actors.turkey.deterence"'}, "factors.a.path"),
    ("path_bool", {"path": '"actors.regime.needs_air_cover"'}, "factors.a.path"),
    ("path_int", {"path": "5"}, "factors.a.path"),
    ("unknown_key", {"soruce": '"x"'}, "factors.a.soruce"),
]:
    case(f"experiment_factor_{label}", ["sweep", "bad.toml"], ["bad.toml", key],
         {"bad.toml": experiment(factors={"a": changes})})
case("experiment_factors_empty", ["sweep", "bad.toml"], ["bad.toml", "factors"],
     {"bad.toml": experiment(factors={"a": None, "b": None})})
case("experiment_validate", ["validate", "bad.toml"], ["bad.toml", "keep_replications"],
     {"bad.toml": experiment({"keep_replications": '"yes"'})})
case("experiment_nesting", ["sweep", "bad.toml"], ["bad.toml", "nested"],
     {"bad.toml": experiment({"outcomes": "[" * 3000 + "]" * 3000})})
case("experiment_memory", ["sweep", "bad.toml"], ["bad.toml", "points"],
     {"bad.toml": experiment({"sampler": '"random"', "points": "1000000", "keep_replications": "true",
                              "replications": "100000"})})

# --- C. calibration files ---------------------------------------------------------------------------

for label, top, key in [
    ("name_dot", {"name": '"."'}, "name"),
    ("name_dotdot", {"name": '".."'}, "name"),
    ("name_slash", {"name": '"x/../../y"'}, "name"),
    ("particles_small", {"particles": "15"}, "particles"),
    ("particles_float", {"particles": "16.0"}, "particles"),
    ("particles_string", {"particles": '"16"'}, "particles"),
    ("replications_string", {"replications": '"300"'}, "replications"),
    ("bandwidth_zero", {"bandwidth": "0"}, "bandwidth"),
    ("bandwidth_inf", {"bandwidth": "inf"}, "bandwidth"),
    ("bandwidth_nan", {"bandwidth": "nan"}, "bandwidth"),
    ("pooling_scale_nan", {"pooling_scale": "nan"}, "pooling_scale"),
    ("pooling_string", {"pooling": '"yes"'}, "pooling"),
    ("as_of_int", {"as_of": "86400"}, "as_of"),
    ("seed_negative", {"seed": "-1"}, "seed"),
    ("cases_one", {"cases": '["h1.toml"]'}, "cases"),
    ("cases_empty", {"cases": "[]"}, "cases"),
    ("cases_not_list", {"cases": '"h1.toml"'}, "cases"),
    ("cases_missing_file", {"cases": '["h1.toml", "nothere.toml"]'}, "nothere.toml"),
    ("cases_dev_zero", {"cases": '["h1.toml", "/dev/zero"]'}, "cases[1]"),
    ("cases_without_observed", {"cases": '["h1.toml", "good.toml"]'}, "good.toml: observed"),
    ("unknown_key", {"particels": "16"}, "particels"),
    ("old_format_points", {"points": "8"}, "points"),
    ("memory", {"particles": "20000", "replications": "10000"}, "particles"),
]:
    case(f"calibration_{label}", ["calibrate", "bad.toml"], ["bad.toml", key], {"bad.toml": calibration(top)})
for label, changes, key in [
    ("low_nan", {"low": "nan"}, "free.offensive_rate.low"),
    ("high_inf", {"high": "inf"}, "free.offensive_rate.high"),
    ("low_string", {"low": '"1"'}, "free.offensive_rate.low"),
    ("scale_unknown", {"scale": '"exp"'}, "free.offensive_rate.scale"),
    ("log_nonpositive", {"low": "0.0"}, "free.offensive_rate"),
    ("low_bool", {"low": "true"}, "free.offensive_rate.low"),
    ("path_not_dynamics", {"path": '"actors.turkey.deterrence"'}, "free.offensive_rate.path"),
    ("outside_schema", {"high": "2000000.0"}, "free.offensive_rate"),   # the schema allows up to 1e6
    ("unknown_key", {"prior": '"log"'}, "free.offensive_rate.prior"),
]:
    case(f"calibration_free_{label}", ["calibrate", "bad.toml"], ["bad.toml", key],
         {"bad.toml": calibration(free={"offensive_rate": changes})})
case("calibration_cases_glob_too_many", ["calibrate", "bad.toml"], ["bad.toml", "cases[0]", "at most 200"],
     {"bad.toml": calibration({"cases": '["c*.toml"]'})}, setup=_case_files(201))
case("calibration_case_conflict_traversal", ["calibrate", "cal.toml"], ["cal.toml", "cases[1]", "h2.toml", "conflict"],
     {"h2.toml": BASE_FILES["h2.toml"].replace('conflict = "test"', 'conflict = "../../../tmp/x"')})
case("calibration_case_fifo", ["calibrate", "bad.toml"], ["bad.toml", "cases[1]", "FIFO"],
     {"bad.toml": calibration({"cases": '["h1.toml", "pipe.toml"]'})}, setup=_mkfifo("pipe.toml"))
case("calibration_case_directory", ["calibrate", "bad.toml"], ["bad.toml", "cases[1]", "directory"],
     {"bad.toml": calibration({"cases": '["h1.toml", "adir"]'})}, setup=_mkdir("adir"))
case("calibration_observed_inf", ["calibrate", "cal.toml"], ["h2.toml", "observed"],
     {"h2.toml": BASE_FILES["h2.toml"].replace("9.0", "inf")})
case("calibration_observed_string", ["calibrate", "cal.toml"], ["h2.toml", "observed"],
     {"h2.toml": BASE_FILES["h2.toml"].replace("9.0", '"soon"')})
case("calibration_observed_nan_censored", ["calibrate", "cal.toml"], ["h2.toml", "observed.censored_at"],
     {"h2.toml": BASE_FILES["h2.toml"].replace("months_to_collapse = 9.0", 'status = "censored"\ncensored_at = nan')})
case("calibration_validate", ["validate", "bad.toml"], ["bad.toml", "bandwidth"],
     {"bad.toml": calibration({"bandwidth": "nan"})})
case("backtest_cases_is_file", ["backtest", "--calibration", "cal.toml", "--cases", "thesis.docx"],
     ["thesis.docx", "--cases"])
case("backtest_cases_empty_dir", ["backtest", "--calibration", "cal.toml", "--cases", "adir"], ["adir", "no scenario"],
     setup=_mkdir("adir"))
case("backtest_calibration_fifo", ["backtest", "--calibration", "pipe.toml"], ["pipe.toml", "FIFO"],
     setup=_mkfifo("pipe.toml"))

# --- D. command lines -------------------------------------------------------------------------------

RUN = ["run", "good.toml"]
for label, flags, expect in [
    ("runs_zero", ["--runs", "0"], ["--runs", "0"]),
    ("runs_negative", ["--runs", "-5"], ["--runs"]),
    ("runs_text", ["--runs", "many"], ["--runs", "many"]),
    ("runs_float", ["--runs", "1e3"], ["--runs", "1e3"]),
    ("runs_empty", ["--runs", ""], ["--runs"]),
    ("runs_1e12", ["--runs", "1000000000000"], ["--runs", "memory"]),
    ("runs_1e30", ["--runs", "1" + "0" * 30], ["--runs", "memory"]),
    ("seed_negative", ["--seed", "-1"], ["--seed", "-1"]),
    ("seed_float", ["--seed", "1.5"], ["--seed", "1.5"]),
    ("horizon_nan", ["--horizon", "nan"], ["--horizon", "nan"]),
    ("horizon_inf", ["--horizon", "inf"], ["--horizon", "inf"]),
    ("horizon_zero", ["--horizon", "0"], ["--horizon", "0"]),
    ("horizon_huge", ["--horizon", "601"], ["--horizon", "601"]),
    ("jobs_zero", ["--jobs", "0"], ["--jobs", "0"]),
    ("jobs_negative", ["--jobs", "-3"], ["--jobs"]),
    ("jobs_text", ["--jobs", "all"], ["--jobs", "all"]),
    ("unknown_flag", ["--bogus"], ["--bogus"]),
    ("replication_negative", ["--replication", "-1"], ["--replication"]),
    ("out_empty", ["--out", ""], ["--out"]),
    ("out_nul", ["--out", "a\0b"], ["--out", "NUL"]),
    ("out_file", ["--runs", "50", "--out", "thesis.docx"], ["--out thesis.docx", "file"]),
    ("out_file_force", ["--runs", "50", "--out", "thesis.docx", "--force"], ["--out thesis.docx", "file"]),
    ("out_cwd", ["--runs", "50", "--out", "."], ["--out .", "current directory"]),
    ("out_parent", ["--runs", "50", "--out", ".."], ["--out ..", "current directory"]),
    ("out_root", ["--runs", "50", "--out", "/"], ["--out /", "current directory"]),
    ("out_sys", ["--runs", "50", "--out", "/sys/x"], ["--out /sys/x", "/sys"]),
    ("out_proc", ["--runs", "50", "--out", "/proc/x"], ["--out /proc/x", "/proc"]),
    ("out_under_passwd", ["--runs", "50", "--out", "/etc/passwd/x"], ["--out /etc/passwd/x", "/etc/passwd"]),
    ("out_under_file", ["--runs", "50", "--out", "thesis.docx/r"], ["--out thesis.docx/r", "thesis.docx"]),
    ("out_name_too_long", ["--runs", "50", "--out", "r" * 250], ["--out", "longer"]),
    ("out_nonempty_dir", ["--runs", "50", "--out", "user"], ["--out user", "not empty"]),
    ("out_nonempty_dir_force", ["--runs", "50", "--out", "user", "--force"], ["--out user", "not a ceasefire result"]),
    ("out_symlink", ["--runs", "50", "--out", "link"], ["--out link", "symbolic link"]),
    ("out_run_no_force", ["--runs", "50", "--out", "r1"], ["--out r1", "--force"]),
    ("out_run_with_user_file_force", ["--runs", "50", "--out", "r2", "--force"], ["--out r2", "notes.txt"]),
    ("out_sweep_dir_force", ["--runs", "50", "--out", "s1", "--force"], ["--out s1", "sweep"]),
]:
    setup = {"out_nonempty_dir": _mkdir("user/sub"), "out_nonempty_dir_force": _mkdir("user/sub"),
             "out_symlink": _both(_mkdir("real"), _symlink("real", "link")),
             "out_run_no_force": _run_dir("r1"), "out_run_with_user_file_force": _run_dir("r2", extra={"notes.txt": "mine"}),
             "out_sweep_dir_force": _sweep_dir("s1", state='{"fingerprint": "x", "points": 9}')}.get(label)
    case(f"cli_run_{label}", [*RUN, *flags], expect, setup=setup)
for label, argv, expect, setup in [
    ("no_command", [], ["command"], None),
    ("unknown_command", ["frobnicate"], ["frobnicate"], None),
    ("validate_no_files", ["validate"], ["files"], None),
    ("compare_max_runs_without_precision", ["compare", "good.toml", "good.toml", "--max-runs", "100"],
     ["--max-runs", "--precision"], None),
    ("compare_precision_nan", ["compare", "good.toml", "good.toml", "--precision", "nan"], ["--precision"], None),
    ("compare_precision_one", ["compare", "good.toml", "good.toml", "--precision", "1"], ["--precision"], None),
    ("compare_out_file", ["compare", "good.toml", "good.toml", "--runs", "50", "--out", "thesis.docx"],
     ["--out thesis.docx", "file"], None),
    ("compare_two_out_file", ["compare", "good.toml", "good.toml", "h1.toml", "--runs", "50", "--out", "thesis.docx"],
     ["--out thesis.docx", "file"], None),
    ("compare_out_run_dir", ["compare", "good.toml", "good.toml", "--runs", "50", "--out", "r1", "--force"],
     ["--out r1", "run"], _run_dir("r1")),
    ("compare_memory", ["compare", "good.toml", "good.toml", "--runs", "100000000000"], ["--runs", "memory"], None),
    ("sweep_out_file", ["sweep", "exp.toml", "--out", "thesis.docx"], ["--out thesis.docx", "file"], None),
    ("sweep_out_run_dir", ["sweep", "exp.toml", "--out", "r1"], ["--out r1", "run"], _run_dir("r1")),
    ("sweep_out_foreign_dir", ["sweep", "exp.toml", "--out", "user"], ["--out user", "not a ceasefire result"],
     _mkdir("user/sub")),
    ("sweep_out_cwd", ["sweep", "exp.toml", "--out", "."], ["--out .", "current directory"], None),
    ("sweep_jobs_and_scheduler", ["sweep", "exp.toml", "--jobs", "2", "--scheduler", "tcp://x:1"],
     ["--jobs", "--scheduler"], None),
    ("sweep_state_corrupt", ["sweep", "exp.toml", "--out", "s1"], ["s1/state.json", "not valid JSON", "--restart"],
     _sweep_dir("s1", state="{not json")),
    ("sweep_state_empty", ["sweep", "exp.toml", "--out", "s1"], ["s1/state.json", "--restart"], _sweep_dir("s1", state="")),
    ("sweep_state_not_object", ["sweep", "exp.toml", "--out", "s1"], ["s1/state.json", "fingerprint"],
     _sweep_dir("s1", state="[1, 2]")),
    ("sweep_checkpoint_symlink", ["sweep", "exp.toml", "--out", "s1"], ["checkpoint.jsonl", "symbolic link"],
     _sweep_dir("s1", state="fingerprint-of:exp.toml", checkpoint_link="../thesis.docx")),
    ("sweep_state_symlink", ["sweep", "exp.toml", "--out", "s2"], ["--out s2", "not a ceasefire result"],
     _both(_mkdir("s2"), _symlink("../thesis.docx", "s2/state.json"))),
    ("calibrate_out_file", ["calibrate", "cal.toml", "--out", "thesis.docx"], ["--out thesis.docx", "file"], None),
    ("calibrate_out_run_dir", ["calibrate", "cal.toml", "--out", "r1", "--force"], ["--out r1", "run"], _run_dir("r1")),
    ("backtest_out_file", ["backtest", "--calibration", "cal.toml", "--out", "thesis.docx"],
     ["--out thesis.docx", "file"], None),
    ("bench_out_file", ["bench", "good.toml", "--sweep", "exp.toml", "--out", "thesis.docx"],
     ["--out thesis.docx", "file"], None),
    ("bench_sweep_fifo", ["bench", "good.toml", "--sweep", "pipe.toml"], ["--sweep", "FIFO"], _mkfifo("pipe.toml")),
    ("bench_calibration_fifo", ["bench", "good.toml", "--sweep", "exp.toml", "--calibration", "pipe.toml"],
     ["--calibration", "FIFO"], _mkfifo("pipe.toml")),
    ("bench_compare_directory", ["bench", "good.toml", "--sweep", "exp.toml", "--calibration", "cal.toml",
                                 "--compare", "good.toml", "adir"], ["--compare", "adir", "directory"], _mkdir("adir")),
    ("report_empty_summary", ["report", "r1"], ["r1/summary.json", "JSON"], _run_dir("r1", summary="")),
    ("report_corrupt_summary", ["report", "r1"], ["r1/summary.json", "JSON"], _run_dir("r1", summary="{\"runs\": 1,")),
    ("report_summary_list", ["report", "r1"], ["r1/summary.json"], _run_dir("r1", summary="[1, 2, 3]")),
    ("report_summary_missing_key", ["report", "r1"], ["r1/summary.json", "runs"], _run_dir("r1", summary="{}")),
    ("report_summary_wrong_types", ["report", "r1"], ["r1"],
     _run_dir("r1", summary=json.dumps({"runs": "x", "horizon_months": "y", "p_collapse": 5}))),
    ("report_missing_dir", ["report", "nothere"], ["nothere", "not a result directory"], None),
    ("report_file", ["report", "thesis.docx"], ["thesis.docx", "not a result directory"], None),
    ("report_foreign_dir", ["report", "user"], ["user", "not a result directory"], _mkdir("user/sub")),
    ("params_unknown_role", ["params", "--role", "referee"], ["--role", "referee"], None),
    ("backtest_from_fifo_particles", ["backtest", "--calibration", "cal.toml", "--from", "cdir"],
     ["--from cdir", "particles.csv", "FIFO"], _both(_mkdir("cdir"), _mkfifo("cdir/particles.csv"))),
    ("backtest_from_missing_dir", ["backtest", "--calibration", "cal.toml", "--from", "nothere"],
     ["--from nothere", "no such file"], None),
    ("backtest_from_garbage_particles", ["backtest", "--calibration", "cal.toml", "--from", "cdir"],
     ["cdir/particles.csv", "particles"], _both(_mkdir("cdir"), _write("cdir/particles.csv", "x:a,x:b\n1,2\n3\n"))),
    ("discover_not_a_sweep", ["discover", "user"], ["user", "not a finished sweep"], _mkdir("user/sub")),
    ("discover_missing_dir", ["discover", "nothere"], ["nothere", "not a finished sweep"], None),
    ("discover_damaged_sensitivity", ["discover", "s1"], ["s1", "sensitivity.json"],
     _both(_sweep_dir("s1"), _write("s1/sensitivity.json", "{not json"), _write("s1/design.csv", "point\n"),
           _write("s1/outcomes.csv", "point\n"))),
    ("discover_out_file", ["discover", "s1", "--out", "thesis.docx"], ["--out thesis.docx", "file"], _finished_sweep("s1")),
    ("discover_out_foreign_dir", ["discover", "s1", "--out", "user", "--force"], ["--out user", "not a ceasefire result"],
     _both(_mkdir("user/sub"), _finished_sweep("s1"))),
    ("discover_sensitivity_list", ["discover", "s1"], ["s1/sensitivity.json", "JSON list"],
     _both(_finished_sweep("s1"), _write("s1/sensitivity.json", "[1, 2]"))),
    ("validate_citations_fifo", ["validate", "--citations", "pipe.toml"], ["pipe.toml", "FIFO"], _mkfifo("pipe.toml")),
    ("run_json_bad_input", ["run", "nothere.toml", "--json"], ["nothere.toml", "no such file"], None),
]:
    case(f"cli_{label}", argv, expect, setup=setup)


# --- the runner -------------------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: its type and, for regular files, the hash of the content."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            info = os.lstat(path)
            if os.path.islink(path):
                tree[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                tree[rel] = "dir"
            elif path.is_file():
                tree[rel] = "file:" + hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                tree[rel] = f"special:{info.st_mode:o}"
    return tree


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout()


def run_case(c: Case, base: Path) -> dict:
    from sim.cli import main
    d = base / c.id
    d.mkdir(parents=True)
    for name, text in {**BASE_FILES, **c.files}.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (d / name).write_bytes(data)
    if c.setup is not None:
        c.setup(d)
    before = snapshot(d)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(d)
    started = time.monotonic()
    crashed = None
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(c.argv)
    except CaseTimeout:
        rc, crashed = None, f"still running after {CASE_SECONDS} s"
    except BaseException as exc:  # noqa: BLE001 - what main() let escape is the finding
        rc, crashed = None, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    finally:
        signal.alarm(0)
        os.chdir(here)
    after = snapshot(d)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "crashed": crashed, "changed": changed,
            "seconds": round(time.monotonic() - started, 2)}


def main(out_path: str, base: str) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    base_dir = Path(base)
    logs = base_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    os.environ["CEASEFIRE_LOG_DIR"] = str(logs)
    results = {}
    for c in CASES:
        results[c.id] = run_case(c, base_dir / "cases")
    results["__logs__"] = sorted(os.listdir(logs))
    results["__limit__"] = list(resource.getrlimit(resource.RLIMIT_AS))
    Path(out_path).write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
