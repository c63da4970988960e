"""The ``ceasefire`` command line, in-process through ``sim.cli.main(argv)`` (plus one subprocess call)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import struct
import subprocess
import types
import typing
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "tests" / "data" / "two_sided.toml"   # fixed: does not move when the bundled files do
RUNS, SEED, HORIZON = 300, 1, 24
REPORT_MONTHS = ["3", "6", "12", "24"]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One 300-replication run written by the CLI; stdout captured by redirecting sys.stdout."""
    import contextlib
    import io
    out = tmp_path_factory.mktemp("cli") / "r"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["run", str(SCENARIO), "--runs", str(RUNS), "--seed", str(SEED), "--out", str(out), "--quiet"])
    return {"rc": rc, "out": out, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


@pytest.fixture(scope="module")
def runs_rows(small_run):
    return read_csv(small_run["out"] / "runs.csv")


# --- ceasefire run: the result directory -----------------------------------------------------------

def test_run_exit_code_and_files(small_run):
    assert small_run["rc"] == 0
    assert small_run["stderr"] == ""
    files = {p.name for p in small_run["out"].iterdir()}
    assert {"manifest.json", "runs.csv", "survival.csv", "summary.json", "timeseries.csv", "report.html"} <= files
    assert (small_run["out"] / "figures" / "survival.png").is_file()   # one set of figures, the report's
    assert not any(name.startswith(".") for name in files)  # no temporary leftovers
    assert small_run["stdout"].strip().splitlines()[-1] == f"Results written to {small_run['out']}"
    # --quiet: no table
    assert "P(collapse by)" not in small_run["stdout"]


def test_runs_csv_columns_rows_and_censoring(runs_rows):
    header, rows = runs_rows
    assert header[:5] == ["replication", "collapsed", "months_to_collapse", "initiator", "trigger"]
    assert len(rows) == RUNS
    assert [int(r["replication"]) for r in rows] == list(range(RUNS))
    n_collapsed = 0
    for r in rows:
        collapsed = int(r["collapsed"])
        assert collapsed in (0, 1)
        months = float(r["months_to_collapse"])
        censored_shape = months == HORIZON and r["initiator"] == "none" and r["trigger"] == "none"
        if collapsed:
            n_collapsed += 1
            assert 0 < months <= HORIZON
            assert r["initiator"] != "none" and r["trigger"] != "none"
        else:
            assert censored_shape, r
    assert 0 < n_collapsed < RUNS  # both kinds present, so the checks above checked something


def test_runs_csv_labels_are_known(runs_rows):
    from sim.model import TRIGGERS
    _, rows = runs_rows
    initiators = {r["initiator"] for r in rows if r["collapsed"] == "1"}
    assert initiators <= {"regime", "opposition", "clash:turkey-russia"}
    assert {r["trigger"] for r in rows if r["collapsed"] == "1"} <= set(TRIGGERS)


def test_survival_csv(small_run, runs_rows):
    header, rows = read_csv(small_run["out"] / "survival.csv")
    assert header == ["month", "survival", "ci_low", "ci_high"]
    months = [int(r["month"]) for r in rows]
    assert months == list(range(HORIZON + 1))
    s = np.array([float(r["survival"]) for r in rows])
    low = np.array([float(r["ci_low"]) for r in rows])
    high = np.array([float(r["ci_high"]) for r in rows])
    assert s[0] == 1.0
    assert np.all(np.diff(s) <= 0)
    assert np.all(low <= s) and np.all(s <= high)
    assert np.all((0 <= low) & (high <= 1))
    assert np.any(high - low > 0.01)
    # the curve is the share still holding (censoring only at the horizon); csv keeps 6 digits
    _, runs = runs_rows
    t = np.array([float(r["months_to_collapse"]) for r in runs])
    c = np.array([r["collapsed"] == "1" for r in runs])
    for m in (6, 12, 23):
        assert s[m] == pytest.approx(1 - np.mean(c & (t <= m)), abs=1e-6)


def test_summary_json(small_run, runs_rows):
    summary = json.loads((small_run["out"] / "summary.json").read_text())
    for key in ("p_collapse", "median_months_to_collapse", "initiator_share", "trigger_share"):
        assert key in summary, key
    assert list(summary["p_collapse"]) == REPORT_MONTHS
    previous = 0.0
    for month in REPORT_MONTHS:
        e = summary["p_collapse"][month]
        assert set(e) == {"estimate", "ci_low", "ci_high"}   # no posterior, no uncertain setting: MC only
        assert e["ci_low"] <= e["estimate"] <= e["ci_high"]
        assert e["estimate"] >= previous
        previous = e["estimate"]
    _, rows = runs_rows
    collapsed = [r for r in rows if r["collapsed"] == "1"]
    assert collapsed
    assert summary["p_collapse"]["24"]["estimate"] == pytest.approx(len(collapsed) / RUNS, rel=1e-9)
    for shares, column in ((summary["initiator_share"], "initiator"), (summary["trigger_share"], "trigger")):
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
        for label, share in shares.items():
            assert share == pytest.approx(sum(r[column] == label for r in collapsed) / len(collapsed), rel=1e-12)
    # median: the time by which half the runs collapsed (the k-th smallest, k = ceil(n/2)), or None
    # when fewer than half collapse by the horizon
    times = sorted(float(r["months_to_collapse"]) for r in collapsed)
    if len(collapsed) < RUNS / 2:
        assert summary["median_months_to_collapse"] is None
    else:
        assert summary["median_months_to_collapse"] == pytest.approx(times[int(np.ceil(RUNS / 2)) - 1], abs=1e-4)  # csv: 4 decimals


def test_timeseries_csv(small_run, runs_rows):
    header, rows = read_csv(small_run["out"] / "timeseries.csv")
    assert header == ["month", "variable", "n_holding", "q05", "q25", "q50", "q75", "q95"]
    assert rows
    for r in rows:
        q = [float(r[k]) for k in ("q05", "q25", "q50", "q75", "q95")]
        assert q == sorted(q), r
        assert 0 < int(r["n_holding"]) <= RUNS
        assert 0 <= int(r["month"]) <= HORIZON
    variables = {r["variable"] for r in rows}
    assert {"tension", "economic_stress", "exhaustion.regime", "deterrence.turkey"} <= variables
    # index variables are on [0, 1]
    assert all(0 <= float(r["q05"]) and float(r["q95"]) <= 1 for r in rows if r["variable"] == "tension")
    # n_holding agrees with runs.csv: every replication whose collapse comes after month m still holds at
    # its end; one whose collapse (counted from the launch of the offensive) came a month or more
    # earlier has been detected by then.
    _, runs = runs_rows
    t = np.array([float(r["months_to_collapse"]) for r in runs])
    c = np.array([r["collapsed"] == "1" for r in runs])
    tension = {int(r["month"]): int(r["n_holding"]) for r in rows if r["variable"] == "tension"}
    assert tension[0] == RUNS
    for m, n in tension.items():
        assert np.sum(~c | (t > m)) <= n <= np.sum(~c | (t > m - 1)), m


def test_survival_png(small_run):
    data = (small_run["out"] / "figures" / "survival.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 300 and height >= 200
    assert data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")  # complete: ends with the IEND chunk
    import matplotlib.image
    image = matplotlib.image.imread(small_run["out"] / "figures" / "survival.png")
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.05  # something is drawn on it


def test_manifest_records_the_run(small_run):
    m = json.loads((small_run["out"] / "manifest.json").read_text())
    assert (m["seed"], m["runs"], m["horizon_months"]) == (SEED, RUNS, HORIZON)
    assert m["scenario"]["name"] == "two_sided_test"
    assert "git_commit" in m


def test_manifest_command_is_the_command_that_ran(small_run):
    m = json.loads((small_run["out"] / "manifest.json").read_text())
    assert m["command"].startswith("ceasefire run ")
    assert str(SCENARIO) in m["command"] and "--runs 300" in m["command"]


# --- ceasefire run: the printed table --------------------------------------------------------------

def test_run_prints_the_p_collapse_table(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["run", str(SCENARIO), "--runs", "200", "--seed", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert "P(collapse by)" in text
    for month in REPORT_MONTHS:
        e = summary["p_collapse"][month]
        row = re.search(rf"^\s*{month} months\s+(\S+)%\s+\[(\S+)%, (\S+)%\]\s*$", text, re.M)
        assert row, f"no row for {month} months in:\n{text}"
        assert [float(x) for x in row.groups()] == pytest.approx(
            [100 * e["estimate"], 100 * e["ci_low"], 100 * e["ci_high"]], abs=0.051)
    assert "200 replications, seed 2" in text
    assert f"Results written to {out}" in text


# --- ceasefire run --replication ------------------------------------------------------------------

def parse_history(text: str) -> tuple[str, list[dict[str, str]]]:
    lines = text.strip().splitlines()
    assert lines[0].endswith("(seed 1)")
    outcome, head = lines[1], lines[2].split()
    assert head[:2] == ["month", "holding"]
    rows = [dict(zip(head, line.split())) for line in lines[3:]]
    assert all(len(line.split()) == len(head) for line in lines[3:])
    return outcome, rows


def check_history_against_row(text: str, row: dict[str, str]) -> None:
    outcome, rows = parse_history(text)
    assert [int(r["month"]) for r in rows] == list(range(HORIZON + 1))
    if row["collapsed"] == "0":
        assert outcome == f"held to the horizon ({HORIZON} months)"
        assert all(r["holding"] == "yes" for r in rows)
    else:
        m = re.fullmatch(r"collapsed at month (\S+): initiator (\S+), trigger (\S+)", outcome)
        assert m, outcome
        assert float(m.group(1)) == pytest.approx(float(row["months_to_collapse"]), abs=0.006)
        assert (m.group(2), m.group(3)) == (row["initiator"], row["trigger"])
        t = float(row["months_to_collapse"])
        assert all(r["holding"] == "yes" for r in rows if int(r["month"]) < t)
        assert all(r["holding"] == "no" for r in rows if int(r["month"]) >= t + 1)


def test_replication_3_history_matches_runs_csv(runs_rows, capsys):
    assert main(["run", str(SCENARIO), "--seed", str(SEED), "--replication", "3"]) == 0
    text = capsys.readouterr().out
    check_history_against_row(text, runs_rows[1][3])
    assert text.splitlines()[0] == f"two_sided_test: replication 3 (seed {SEED})"


def test_replication_history_of_a_collapsed_replication(runs_rows, capsys):
    row = next(r for r in runs_rows[1] if r["collapsed"] == "1")
    assert main(["run", str(SCENARIO), "--seed", str(SEED), "--replication", row["replication"]]) == 0
    check_history_against_row(capsys.readouterr().out, row)


def test_replication_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SCENARIO), "--seed", "1", "--replication", "0"]) == 0
    assert list(tmp_path.iterdir()) == []


# --- bad input: exit 2, one message, nothing written -------------------------------------------------

BAD_INVOCATIONS = [
    (["run", "{scenario}", "--runs", "0"], ["--runs", "0"]),
    (["run", "{scenario}", "--runs", "abc"], ["--runs", "abc"]),
    (["run", "{scenario}", "--seed", "-1"], ["--seed", "-1"]),
    (["run", "{scenario}", "--horizon", "0"], ["--horizon", "0"]),
    (["run", "{scenario}", "--horizon", "601"], ["--horizon", "601"]),
    (["run", "{scenario}", "--jobs", "0"], ["--jobs", "0"]),
    (["run", "{scenario}", "--bogus"], ["--bogus"]),
    (["frobnicate"], ["frobnicate"]),
    (["run"], ["scenario"]),
    ([], ["command"]),
]


@pytest.mark.parametrize("argv, names", BAD_INVOCATIONS, ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_bad_invocation_exit_2_one_message_nothing_written(tmp_path, monkeypatch, capsys, argv, names):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    argv = [a.replace("{scenario}", str(SCENARIO)) for a in argv]
    if argv and argv[0] == "run" and len(argv) > 1:
        argv += ["--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("ceasefire")
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_scenario_file_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    missing, out = tmp_path / "no_such.toml", tmp_path / "out"
    assert main(["run", str(missing), "--runs", "10", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{missing}: no such file"]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_invalid_scenario_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO.read_text().replace("deterrence = 0.75", "deterrence = 1.7"))
    assert "deterrence = 1.7" in bad.read_text()
    before = set(tmp_path.rglob("*"))
    out = tmp_path / "out"
    assert main(["run", str(bad), "--runs", "10", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{bad}: actors.turkey.deterrence: 1.7 is above the maximum 1.0"]
    assert not out.exists()
    assert set(tmp_path.rglob("*")) == before


# --- the installed console script ----------------------------------------------------------------

def test_console_script_end_to_end(tmp_path):
    exe = shutil.which("ceasefire")
    assert exe, "the ceasefire console script is not on PATH (pip install -e .)"
    out = tmp_path / "e2e"
    proc = subprocess.run([exe, "run", str(SCENARIO), "--runs", "200", "--seed", "3", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Results written to {out}"
    _, rows = read_csv(out / "runs.csv")
    assert len(rows) == 200
    assert json.loads((out / "summary.json").read_text())["runs"] == 200
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"].startswith("ceasefire run ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e2e"]


# --- ceasefire params -----------------------------------------------------------------------------

def _numeric(annotation) -> bool:
    """int or float, also inside Optional/Union (but not inside containers such as dict[str, float])."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in typing.get_args(annotation) if a is not type(None))
    return annotation in (int, float)


def _limits(field) -> tuple[float, float]:
    ge = next(m.ge for m in field.metadata if hasattr(m, "ge"))
    le = next(m.le for m in field.metadata if hasattr(m, "le"))
    return ge, le


def _sections(text: str) -> dict[str, list[str]]:
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            current = line
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def _parameter_tables():
    from sim.schema import ROLE_CLASSES, Agreement, CrossTheatreTension, Dynamics, Economy, OtherFronts
    tables = {f'[actors.<name>]  role = "{role}"': cls for role, cls in ROLE_CLASSES.items()}
    tables.update({"[agreement]": Agreement, "[processes.cross_theatre_tension]": CrossTheatreTension,
                   "[processes.economy]": Economy, "[processes.other_fronts]": OtherFronts, "[dynamics]": Dynamics})
    return tables


def test_params_prints_every_numeric_field_with_range_unit_and_source(capsys):
    assert main(["params"]) == 0
    sections = _sections(capsys.readouterr().out)
    checked = 0
    for header, cls in _parameter_tables().items():
        assert header in sections, header
        lines = sections[header]
        for name, field in cls.model_fields.items():
            if not _numeric(field.annotation):
                continue
            extra = field.json_schema_extra or {}
            unit, source = extra.get("unit"), extra.get("source")
            assert unit and source, f"{cls.__name__}.{name} has no unit or no source"
            at = [i for i, line in enumerate(lines) if line.startswith(f"  {name}: ")]
            assert len(at) == 1, f"{cls.__name__}.{name} not listed once under {header}"
            i = at[0]
            ge, le = _limits(field)
            assert lines[i].startswith(f"  {name}: {ge:g} to {le:g}, {unit}; "), lines[i]
            default = "required" if field.is_required() else f"default {field.default:g}"
            assert lines[i].endswith(default), lines[i]
            assert f"      source: {source}" in lines[i + 1:i + 3], (name, lines[i:i + 3])
            checked += 1
    assert checked >= 50


def test_every_numeric_schema_field_is_a_listed_parameter_or_a_known_setting():
    """A numeric field added to any schema class must either be a listed parameter or be added here."""
    import inspect

    from pydantic import BaseModel

    import sim.schema as schema
    listed = set(_parameter_tables().values())
    settings = {("Scenario", "horizon_months"), ("Scenario", "step_days"), ("Scenario", "fine_start_days"),
                ("Event", "month")}
    for _, cls in inspect.getmembers(schema, inspect.isclass):
        if not issubclass(cls, BaseModel) or cls.__module__ != schema.__name__ or cls in listed:
            continue
        for name, field in cls.model_fields.items():
            if _numeric(field.annotation):
                assert (cls.__name__, name) in settings, f"{cls.__name__}.{name} is numeric but not in `ceasefire params`"


def test_params_role_filter(capsys):
    assert main(["params", "--role", "pretext"]) == 0
    text = capsys.readouterr().out
    assert 'role = "pretext"' in text and "pretext_strength: " in text
    assert "deterrence: " not in text and "[dynamics]" not in text
    assert main(["params", "--role", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err
