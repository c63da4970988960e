"""Sensitivity sweeps: experiment validation, the files a sweep writes, identical results on any
number of local jobs and on a Dask cluster, resuming after an interruption or a SIGKILL, and points
whose model raises.

Every sweep here is tiny (2 factors, 50 replications, 12 months) and seeded; experiments are
written to tmp_path and point to the bundled scenario by an absolute path.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sim.sweep
from sim.api import sweep as api_sweep
from sim.cli import main
from sim.experiment import load_experiment
from sim.scenario import InputError, get_path
from sim.sensitivity import analyse
from sim.store import SweepStore
from sim.sweep import PointTask, design_for, wilson

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "tests" / "data" / "two_sided.toml"
OUTCOMES = ["p_collapse", "rmst", "p_collapse_by_6", "p_initiated_by:regime", "initiator_share:regime"]
# their CSV columns: R-safe names (':' would be mangled by R's read.csv)
COLUMNS = dict(zip(OUTCOMES, ["p_collapse", "rmst", "p_collapse_by_6", "p_initiated_by_regime",
                              "initiator_share_regime"]))
RESULT_FILES = ["design.csv", "outcomes.csv", "sensitivity.csv", "sensitivity.json"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- writing experiments -----------------------------------------------------------------------

def experiment(sampler: str = "grid", **top) -> dict:
    """A tiny experiment: 2 factors on the Moscow ceasefire, 50 replications, 12 months."""
    points = {"grid": 3, "sobol": 8, "morris": 4}[sampler]
    data = {"name": f"tiny_{sampler}", "scenario": str(SCENARIO), "sampler": sampler, "points": points,
            "replications": 50, "horizon_months": 12, "seed": 7, "outcomes": list(OUTCOMES),
            "factors": {"deterrence": {"path": "actors.turkey.deterrence", "low": 0.2, "high": 1.0},
                        "interest": {"path": "actors.russia.interest_in_guarantor", "low": 0.2, "high": 1.0}}}
    data.update(top)
    return data


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for the plain strings used here
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def write_experiment(path: Path, data: dict) -> Path:
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if k != "factors"]
    for name, factor in data.get("factors", {}).items():
        lines += ["", f"[factors.{name}]", *(f"{k} = {_toml_value(v)}" for k, v in factor.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sweep_cli(exp: Path, out: Path, *extra: str) -> int:
    return main(["sweep", str(exp), "--out", str(out), "--quiet", *extra])


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_same_files(a: Path, b: Path, names=RESULT_FILES) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between {a} and {b}"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    import matplotlib.image
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0, f"{path.name} is blank"


def interrupt_after_first_task():
    """A progress callback: the first call is the start; the next one (a task done) interrupts."""
    calls = []

    def progress(done, total):
        calls.append((done, total))
        if len(calls) > 1:
            raise KeyboardInterrupt
    return progress


def evaluated_points(monkeypatch) -> list[int]:
    """Record the points that _evaluate_together is asked for (jobs=1 runs in this process)."""
    seen: list[int] = []
    real = sim.sweep._evaluate_together

    def spy(task):
        seen.extend(task.points)
        return real(task)
    monkeypatch.setattr(sim.sweep, "_evaluate_together", spy)
    return seen


# --- reference runs, shared by the module ------------------------------------------------------

@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """One uninterrupted --jobs 1 run per sampler: {sampler: (experiment file, result directory)}."""
    root = tmp_path_factory.mktemp("ref")
    runs = {}
    for sampler in ("grid", "sobol", "morris"):
        exp = write_experiment(root / f"{sampler}.toml", experiment(sampler))
        out = root / f"{sampler}_out"
        assert sweep_cli(exp, out, "--jobs", "1") == 0
        runs[sampler] = (exp, out)
    return runs


# --- 1. validation -------------------------------------------------------------------------------

def _set(path: list, value):
    def mutate(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


VALIDATION_CASES = [
    ("unknown_top_key", _set(["replication"], 3),
     ["replication: unknown key", "did you mean 'replications'?"]),
    ("unknown_factor_key", _set(["factors", "deterrence", "soruce"], "x"),
     ["factors.deterrence.soruce: unknown key", "did you mean 'source'?"]),
    ("path_missing_key", _set(["factors", "deterrence", "path"], "actors.turkey.deterence"),
     ["factors.deterrence.path:", "'actors.turkey.deterence' does not exist", "did you mean 'deterrence'?"]),
    ("path_missing_actor", _set(["factors", "deterrence", "path"], "actors.turky.deterrence"),
     ["factors.deterrence.path:", "no 'turky' in actors", "did you mean 'turkey'?"]),
    ("path_not_numeric", _set(["factors", "deterrence", "path"], "actors.turkey.label"),
     ["factors.deterrence.path:", "'actors.turkey.label' is not a numeric parameter"]),
    ("path_bool", _set(["factors", "deterrence", "path"], "actors.regime.needs_air_cover"),
     ["factors.deterrence.path:", "is not a numeric parameter"]),
    ("path_table", _set(["factors", "deterrence", "path"], "actors.turkey"),
     ["factors.deterrence.path:", "is not a numeric parameter"]),
    ("low_equals_high", lambda d: d["factors"]["deterrence"].update(low=0.5, high=0.5),
     ["factors.deterrence:", "low (0.5) must be below high (0.5)"]),
    ("low_above_high", lambda d: d["factors"]["deterrence"].update(low=0.9, high=0.3),
     ["factors.deterrence:", "low (0.9) must be below high (0.3)"]),
    ("low_below_schema", _set(["factors", "deterrence", "low"], -0.1),
     ["factors.deterrence.low:", "-0.1 is below the minimum 0 of actors.turkey.deterrence"]),
    ("high_above_schema", _set(["factors", "interest", "high"], 1.5),
     ["factors.interest.high:", "1.5 is above the maximum 1 of actors.russia.interest_in_guarantor"]),
    ("high_above_process_schema", lambda d: d["factors"]["interest"].update(
        path="processes.cross_theatre_tension.reversion", low=0.1, high=6.0),
     ["factors.interest.high:", "6 is above the maximum 5 of processes.cross_theatre_tension.reversion"]),
    ("unknown_sampler", _set(["sampler"], "halton"),
     ["sampler:", "'halton'", "'grid', 'random', 'latin', 'sobol' or 'morris'"]),
    ("sobol_not_power_of_2", lambda d: d.update(sampler="sobol", points=6),
     ["points: 6 must be a power of 2 for the sobol sampler"]),
    ("unknown_outcome", _set(["outcomes"], ["p_collapse", "rmsd"]),
     ["outcomes: 'rmsd' is not an outcome"]),
    ("initiator_not_in_scenario", _set(["outcomes"], ["p_initiated_by:turkey"]),
     ["outcomes: 'p_initiated_by:turkey'", "'turkey' is not an initiator in the scenario", "regime"]),
    ("share_initiator_not_in_scenario", _set(["outcomes"], ["rmst", "initiator_share:hts"]),
     ["outcomes: 'initiator_share:hts'", "'hts' is not an initiator"]),
    ("collapse_by_beyond_horizon", _set(["outcomes"], ["p_collapse_by_13"]),
     ["outcomes: 'p_collapse_by_13' is beyond horizon_months 12"]),
]


@pytest.mark.parametrize("mutate, expected", [c[1:] for c in VALIDATION_CASES],
                         ids=[c[0] for c in VALIDATION_CASES])
def test_invalid_experiment_is_refused_naming_file_and_key(tmp_path, capsys, mutate, expected):
    data = copy.deepcopy(experiment())
    mutate(data)
    exp = write_experiment(tmp_path / "bad.toml", data)

    with pytest.raises(InputError) as info:
        load_experiment(exp)
    problems = info.value.problems
    assert problems and all(line.startswith(f"{exp}: ") for line in problems), problems
    assert any(all(part in line for part in expected) for line in problems), problems

    out = tmp_path / "out"
    assert sweep_cli(exp, out, "--jobs", "1") == 2
    err = capsys.readouterr().err
    for line in problems:
        assert line in err
    assert not out.exists()


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    data = experiment(sampler="sobol", points=6, outcomes=["p_collapse_by_13", "rmsd"])
    exp = write_experiment(tmp_path / "bad.toml", data)
    with pytest.raises(InputError) as info:
        load_experiment(exp)
    text = "\n".join(info.value.problems)
    assert "must be a power of 2" in text and "'rmsd' is not an outcome" in text
    assert "'p_collapse_by_13' is beyond horizon_months 12" in text


def test_missing_scenario_file_is_refused(tmp_path, capsys):
    missing = tmp_path / "no_such_scenario.toml"
    exp = write_experiment(tmp_path / "exp.toml", experiment(scenario=str(missing)))
    with pytest.raises(InputError) as info:
        load_experiment(exp)
    assert any(str(missing) in line and "no such file" in line for line in info.value.problems)
    out = tmp_path / "out"
    assert sweep_cli(exp, out) == 2
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()


def test_relative_scenario_path_is_read_beside_the_experiment(tmp_path):
    shutil.copy(SCENARIO, tmp_path / "base.toml")
    exp = write_experiment(tmp_path / "exp.toml", experiment(scenario="base.toml"))
    loaded = load_experiment(exp)
    assert loaded.scenario.name == "two_sided_test"


def test_missing_scenario_file_message_names_experiment_and_key(tmp_path):
    exp = write_experiment(tmp_path / "exp.toml", experiment(scenario="no_such_scenario.toml"))
    with pytest.raises(InputError) as info:
        load_experiment(exp)
    assert any(line.startswith(f"{exp}: scenario:") for line in info.value.problems), info.value.problems


def test_missing_experiment_file_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep_cli(tmp_path / "nope.toml", out) == 2
    assert f"{tmp_path / 'nope.toml'}: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_malformed_toml_is_refused(tmp_path, capsys):
    exp = tmp_path / "bad.toml"
    exp.write_text('name = "x"\nseed = = 7\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_experiment(exp)
    assert info.value.problems[0].startswith(f"{exp}: not valid TOML")
    assert "line 2" in info.value.problems[0]
    out = tmp_path / "out"
    assert sweep_cli(exp, out) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("path, low, high", [("step_days", 3, 14), ("horizon_months", 6, 60)])
def test_factor_the_model_ignores_is_rejected_or_has_an_effect(tmp_path, path, low, high):
    data = experiment()
    data["factors"]["deterrence"].update(path=path, low=low, high=high)
    exp = write_experiment(tmp_path / "exp.toml", data)
    try:
        loaded = load_experiment(exp)
    except InputError:
        return  # rejected: fine
    scenario, e = loaded.scenario, loaded.experiment

    def outcomes(value):
        task = PointTask(scenario, e.seed, e.horizon_months, 400, (path,), ("p_collapse", "rmst"), (0,),
                         ((float(value),),))
        return sim.sweep._evaluate_together(task)[0]["outcomes"]
    assert outcomes(low) != outcomes(high)


def test_a_swept_actor_parameter_changes_the_outcomes(ref):
    """The counterpart of the test above: the same point index with different values differs."""
    loaded = load_experiment(ref["grid"][0])
    e = loaded.experiment

    def outcomes(value):
        task = PointTask(loaded.scenario, e.seed, e.horizon_months, 400, ("actors.turkey.deterrence",),
                         ("p_collapse",), (0,), ((value,),))
        return sim.sweep._evaluate_together(task)[0]["outcomes"]["p_collapse"][0]
    assert outcomes(0.2) > outcomes(1.0) + 0.2


# --- 2. what a sweep writes ----------------------------------------------------------------------

INDEX_COLUMNS = {"grid": ("src", ["SRC", "SRC_ci_low", "SRC_ci_high"]),
                 "sobol": ("sobol", ["S1", "S1_ci_low", "S1_ci_high", "ST", "ST_ci_low", "ST_ci_high"]),
                 "morris": ("morris", ["mu", "mu_star", "mu_star_ci_low", "mu_star_ci_high", "sigma"])}
POINTS = {"grid": 9, "sobol": 8 * (2 + 2), "morris": 4 * (2 + 1)}


@pytest.mark.parametrize("sampler", ["grid", "sobol", "morris"])
def test_design_csv_has_one_row_per_point_inside_the_bounds(ref, sampler):
    _, out = ref[sampler]
    rows = read_csv(out / "design.csv")
    assert list(rows[0]) == ["point", "deterrence", "interest"]
    assert [int(r["point"]) for r in rows] == list(range(POINTS[sampler]))
    for r in rows:
        assert 0.2 <= float(r["deterrence"]) <= 1.0 and 0.2 <= float(r["interest"]) <= 1.0
    if sampler == "grid":
        grid = {(float(r["deterrence"]), float(r["interest"])) for r in rows}
        assert grid == {(a, b) for a in (0.2, 0.6, 1.0) for b in (0.2, 0.6, 1.0)}
    elif sampler == "sobol":  # the design spreads over the box, not a single value
        assert len({r["deterrence"] for r in rows}) > 3 and len({r["interest"] for r in rows}) > 3
    else:  # Morris: the 4-level grid, and each trajectory moves one factor per step
        levels = {"0.2", "0.466667", "0.733333", "1"}
        assert {r["deterrence"] for r in rows} <= levels and {r["interest"] for r in rows} <= levels
        for t in range(4):
            walk = [(r["deterrence"], r["interest"]) for r in rows[3 * t:3 * t + 3]]
            for a, b in zip(walk, walk[1:]):
                assert sum(x != y for x, y in zip(a, b)) == 1, walk


@pytest.mark.parametrize("sampler", ["grid", "sobol", "morris"])
def test_outcomes_csv_has_every_outcome_with_its_interval(ref, sampler):
    _, out = ref[sampler]
    design = read_csv(out / "design.csv")
    rows = read_csv(out / "outcomes.csv")
    expected = ["point", "deterrence", "interest", "status"]
    for o in OUTCOMES:
        expected += [COLUMNS[o], f"{COLUMNS[o]}_ci_low", f"{COLUMNS[o]}_ci_high"]
    assert list(rows[0]) == expected + ["error"]
    assert len(rows) == POINTS[sampler]
    for d, r in zip(design, rows):
        assert (r["point"], r["deterrence"], r["interest"]) == (d["point"], d["deterrence"], d["interest"])
        assert r["status"] == "ok" and r["error"] == ""
        for o in OUTCOMES:
            c = COLUMNS[o]
            est, lo, hi = float(r[c]), float(r[f"{c}_ci_low"]), float(r[f"{c}_ci_high"])
            if o == "initiator_share:regime" and np.isnan(est):
                continue  # undefined where nothing collapsed
            assert lo <= est <= hi, (r["point"], o, lo, est, hi)
            assert lo <= hi  # rmst's normal interval has width 0 where no replication collapsed
            if o != "rmst":
                assert 0 <= est <= 1
            else:
                assert 0 < est <= 12
        # collapse by month 6 is part of collapse by month 12, and the regime's part of both
        assert float(r["p_collapse_by_6"]) <= float(r["p_collapse"])
        assert float(r["p_initiated_by_regime"]) <= float(r["p_collapse"])
    # 50 replications per point: every probability is a multiple of 1/50
    for r in rows:
        assert float(r["p_collapse"]) * 50 == pytest.approx(round(float(r["p_collapse"]) * 50), abs=1e-6)


@pytest.mark.parametrize("sampler", ["grid", "sobol", "morris"])
def test_sensitivity_files_hold_the_indices_of_the_sampler(ref, sampler):
    exp, out = ref[sampler]
    method, columns = INDEX_COLUMNS[sampler]
    sens = json.loads((out / "sensitivity.json").read_text())
    assert sens["sampler"] == sampler and sens["points"] == POINTS[sampler]
    assert sens["failed_points"] == 0 and sens["failed_point_indices"] == []
    assert sens["analysed_outcome"] == "p_collapse" and sens["replications_per_point"] == 50
    assert list(sens["outcomes"]) == OUTCOMES
    for o, res in sens["outcomes"].items():
        assert res["method"] == method and res["n_points"] == POINTS[sampler]
        assert [f["name"] for f in res["factors"]] == ["deterrence", "interest"]
        for f in res["factors"]:
            assert set(columns) <= set(f)
        assert sorted(res["ranking"]) == [0, 1]
    p = {f["name"]: f for f in sens["outcomes"]["p_collapse"]["factors"]}
    for name in ("deterrence", "interest"):
        for key in columns:
            assert isinstance(p[name][key], float), (name, key)
    rows = read_csv(out / "sensitivity.csv")
    assert len(rows) == len(OUTCOMES) * 2
    assert {(r["outcome"], r["name"]) for r in rows} == {(COLUMNS[o], n) for o in OUTCOMES
                                                         for n in ("deterrence", "interest")}
    assert set(columns) <= set(rows[0])
    for r in rows:  # the CSV holds the JSON's numbers (an index the analysis says is undefined: blank)
        outcome = next(o for o in OUTCOMES if COLUMNS[o] == r["outcome"])
        f = next(x for x in sens["outcomes"][outcome]["factors"] if x["name"] == r["name"])
        if f[columns[0]] is None:
            assert r[columns[0]] == ""
            assert any("undefined" in n for n in sens["outcomes"][outcome]["notes"])
            continue
        assert float(r[columns[0]]) == pytest.approx(f[columns[0]], rel=1e-5)
    # Turkish deterrence is what most keeps this ceasefire (MODEL.md, factor 1): it lowers P(collapse)
    if sampler == "grid":
        assert p["deterrence"]["SRC_ci_high"] < 0 and sens["outcomes"]["p_collapse"]["ranking"][0] == 0
    elif sampler == "sobol":
        assert p["deterrence"]["ST"] > 0
    else:
        assert p["deterrence"]["mu"] < 0 and p["deterrence"]["mu_star"] > 0.3


@pytest.mark.parametrize("sampler", ["grid", "sobol", "morris"])
def test_figures(ref, sampler):
    _, out = ref[sampler]
    assert not list(out.glob("*.png"))                     # one set of figures: the report's, in figures/
    names = {p.name for p in (out / "figures").glob("*.png")}
    expected = {"indices.png", "tornado.png"} | ({"grid.png"} if sampler == "grid" else {"partial_dependence.png"})
    assert names == expected
    for name in expected:
        assert_png(out / "figures" / name)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["points"] == POINTS[sampler] and manifest["experiment"] == f"tiny_{sampler}"


# --- 3. identical on any number of jobs and on Dask ---------------------------------------------

@pytest.mark.parametrize("sampler", ["grid", "sobol"])
def test_jobs_2_gives_byte_identical_files(ref, tmp_path, sampler):
    exp, out1 = ref[sampler]
    out2 = tmp_path / "jobs2"
    assert sweep_cli(exp, out2, "--jobs", "2") == 0
    assert_same_files(out1, out2)


@pytest.fixture
def dask_cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        yield cluster


def test_dask_cluster_gives_byte_identical_files(ref, tmp_path, dask_cluster):
    exp, out1 = ref["grid"]
    out = tmp_path / "dask"
    assert sweep_cli(exp, out, "--scheduler", dask_cluster.scheduler_address) == 0
    assert_same_files(out1, out)
    assert_png(out / "figures" / "grid.png")


# --- 4. --scheduler without Dask, with --jobs, unreachable --------------------------------------

def _hide_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)


def test_scheduler_without_dask_says_how_to_install_it(ref, tmp_path, capsys, monkeypatch):
    _hide_dask(monkeypatch)
    assert sweep_cli(ref["grid"][0], tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1") == 2
    err = capsys.readouterr().err
    assert "pip install 'ceasefire-sim[distributed]'" in err
    assert "Traceback" not in err


def test_scheduler_error_writes_nothing(ref, tmp_path, monkeypatch):
    _hide_dask(monkeypatch)
    out = tmp_path / "out"
    assert sweep_cli(ref["grid"][0], out, "--scheduler", "tcp://127.0.0.1:1") == 2
    assert not out.exists()


def test_scheduler_and_jobs_together_are_refused(ref, tmp_path, capsys):
    out = tmp_path / "out"
    assert sweep_cli(ref["grid"][0], out, "--scheduler", "tcp://127.0.0.1:1", "--jobs", "2") == 2
    assert "either --jobs (local) or --scheduler (Dask), not both" in capsys.readouterr().err
    assert not out.exists()


def test_unreachable_scheduler_is_a_clear_error(ref, tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    # Dask's own connect timeout (10 s, set in sim/distributed.py) makes this the slowest test.
    assert sweep_cli(ref["grid"][0], tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9") == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler" in err
    assert "Traceback" not in err


# --- 5. resuming -------------------------------------------------------------------------------

def test_interrupted_sweep_resumes_to_identical_results(ref, tmp_path, monkeypatch):
    exp, full = ref["grid"]
    out = tmp_path / "out"
    loaded = load_experiment(exp)
    with pytest.raises(KeyboardInterrupt):
        api_sweep(loaded, out, jobs=1, progress=interrupt_after_first_task())
    done = SweepStore(out, loaded.fingerprint, 9).completed()
    assert 0 < len(done) < 9
    assert not any((out / name).exists() for name in RESULT_FILES)  # never looks finished

    seen = evaluated_points(monkeypatch)
    assert sweep_cli(exp, out, "--jobs", "1") == 0
    assert sorted(seen) == sorted(set(range(9)) - set(done))  # only the missing points ran again
    assert_same_files(full, out)


def test_ctrl_c_in_the_cli_keeps_the_checkpoint(ref, tmp_path, capsys, monkeypatch):
    exp, _ = ref["grid"]
    out = tmp_path / "out"
    real = sim.sweep._evaluate_together
    calls = []

    def second_task_interrupted(task):
        calls.append(task.points)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(sim.sweep, "_evaluate_together", second_task_interrupted)
    # without a report, --jobs 1 evaluates the points in this process, where the stand-in counts its calls
    assert sweep_cli(exp, out, "--jobs", "1", "--no-report") == 130
    assert "interrupted" in capsys.readouterr().err
    done = SweepStore(out, load_experiment(exp).fingerprint, 9).completed()
    assert sorted(done) == sorted(calls[0])
    assert not (out / "outcomes.csv").exists()


def test_ctrl_c_message_does_not_deny_the_checkpoint(ref, tmp_path, capsys, monkeypatch):
    exp, _ = ref["grid"]
    real = sim.sweep._evaluate_together
    calls = []

    def second_task_interrupted(task):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(sim.sweep, "_evaluate_together", second_task_interrupted)
    assert sweep_cli(exp, tmp_path / "out", "--jobs", "1") == 130
    assert "nothing was written" not in capsys.readouterr().err


# The child process: the real CLI, except that the second task blocks until the test kills the
# process group, so the kill lands after exactly one task whatever the machine's speed.
KILLED_CHILD = """
import sys, time
import sim.sweep
real = sim.sweep.evaluate_points
calls = []
def evaluate_points(task):
    calls.append(task.points)
    if len(calls) == 2:
        time.sleep(600)
    return real(task)
sim.sweep.evaluate_points = evaluate_points
from sim.cli import main
sys.exit(main(["sweep", sys.argv[1], "--out", sys.argv[2], "--jobs", "1", "--quiet"]))
"""


def _checkpoint_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if line.endswith("\n")]


def test_sigkill_then_rerun_gives_identical_results(ref, tmp_path):
    exp, full = ref["grid"]
    out = tmp_path / "out"
    checkpoint = out / "checkpoint.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(exp), str(out)], cwd=tmp_path,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not a timing assertion
        while not _checkpoint_lines(checkpoint):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sweep wrote no checkpoint line"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    loaded = load_experiment(exp)
    done = SweepStore(out, loaded.fingerprint, 9).completed()
    assert 0 < len(done) < 9
    assert not (out / "outcomes.csv").exists() and not (out / "design.csv").exists()

    with open(checkpoint, "a", encoding="utf-8") as fh:  # a kill in the middle of a write
        fh.write('{"error": null, "outcomes": {"p_collapse": [0.4')
    assert SweepStore(out, loaded.fingerprint, 9).completed().keys() == done.keys()

    # the same command again, in this process (a second interpreter start would only cost time)
    assert main(["sweep", str(exp), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    assert_same_files(full, out)


def test_rows_written_after_a_torn_line_are_kept(ref, tmp_path):
    exp, _ = ref["grid"]
    out = tmp_path / "out"
    loaded = load_experiment(exp)
    with pytest.raises(KeyboardInterrupt):
        api_sweep(loaded, out, jobs=1, progress=interrupt_after_first_task())
    with open(out / "checkpoint.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"error": null, "outcomes": {"p_collapse": [0.4')
    api_sweep(loaded, out, jobs=1)
    assert sorted(SweepStore(out, loaded.fingerprint, 9).completed()) == list(range(9))


def test_changed_experiment_needs_restart(tmp_path, capsys):
    data = experiment()
    exp = write_experiment(tmp_path / "exp.toml", data)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        api_sweep(load_experiment(exp), out, jobs=1, progress=interrupt_after_first_task())
    partial = (out / "checkpoint.jsonl").read_bytes()
    assert partial

    write_experiment(exp, {**data, "replications": 60})
    capsys.readouterr()
    assert sweep_cli(exp, out, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert "--restart" in err and str(exp) in err
    assert (out / "checkpoint.jsonl").read_bytes() == partial  # refused: nothing touched
    assert not (out / "outcomes.csv").exists()

    assert sweep_cli(exp, out, "--jobs", "1", "--restart") == 0
    fresh = tmp_path / "fresh"
    assert sweep_cli(exp, fresh, "--jobs", "1") == 0
    assert_same_files(fresh, out)
    assert json.loads((out / "sensitivity.json").read_text())["replications_per_point"] == 60


def test_rerunning_a_finished_sweep_evaluates_nothing(ref, tmp_path, monkeypatch):
    exp, full = ref["grid"]
    out = tmp_path / "out"
    shutil.copytree(full, out)
    seen = evaluated_points(monkeypatch)
    assert sweep_cli(exp, out, "--jobs", "1") == 0
    assert seen == []
    assert_same_files(full, out)


def test_interrupted_restart_leaves_no_stale_results(tmp_path):
    data = experiment()
    exp = write_experiment(tmp_path / "exp.toml", data)
    out = tmp_path / "out"
    api_sweep(load_experiment(exp), out, jobs=1)
    assert (out / "outcomes.csv").exists()
    write_experiment(exp, {**data, "replications": 60})
    with pytest.raises(KeyboardInterrupt):
        api_sweep(load_experiment(exp), out, jobs=1, restart=True, progress=interrupt_after_first_task())
    assert not (out / "outcomes.csv").exists() and not (out / "sensitivity.json").exists()


# --- 6. points whose model raises ----------------------------------------------------------------

@pytest.mark.parametrize("sampler, bad", [("grid", 4), ("sobol", 5)])
def test_failed_point_is_recorded_and_excluded(ref, tmp_path, monkeypatch, sampler, bad):
    # No legal parameter value makes the model raise (it clips and broadcasts), so a wrapper does.
    exp, full = ref[sampler]
    real = sim.sweep._evaluate_together

    def failing(task):
        if bad in task.points:
            raise FloatingPointError(f"model diverged at point {bad}")
        return real(task)
    monkeypatch.setattr(sim.sweep, "_evaluate_together", failing)
    out = tmp_path / "out"
    assert sweep_cli(exp, out, "--jobs", "1") == 0

    rows = read_csv(out / "outcomes.csv")
    m = POINTS[sampler]
    assert len(rows) == m
    failed = rows[bad]
    assert failed["status"] == "failed"
    assert failed["error"] == f"FloatingPointError: model diverged at point {bad}"
    assert all(failed[COLUMNS[o]] == "" for o in OUTCOMES)
    # the other points, including those that shared the failing task, are exactly as without the failure
    ref_lines = (full / "outcomes.csv").read_text().splitlines()
    got_lines = (out / "outcomes.csv").read_text().splitlines()
    assert [line for i, line in enumerate(got_lines) if i != bad + 1] == \
        [line for i, line in enumerate(ref_lines) if i != bad + 1]
    assert (out / "design.csv").read_bytes() == (full / "design.csv").read_bytes()

    sens = json.loads((out / "sensitivity.json").read_text())
    assert sens["failed_points"] == 1 and sens["failed_point_indices"] == [bad]
    loaded = load_experiment(exp)
    design, _ = design_for(loaded)
    ref_rows = SweepStore(full, loaded.fingerprint, m).completed()
    for o in OUTCOMES:
        y = np.array([ref_rows[p]["outcomes"][o][0] for p in range(m)])
        noise = np.array([ref_rows[p]["outcomes"][o][3] for p in range(m)])
        y[bad] = np.nan
        expected = analyse(design, y, noise_variance=np.where(np.isnan(noise), 0.0, noise),
                           seed=loaded.experiment.seed).as_dict(loaded.factor_names)
        got = sens["outcomes"][o]
        assert got["n_failed_points"] >= 1
        assert got["factors"] == expected["factors"]
        assert got["n_used"] == expected["n_used"]
    res = sens["outcomes"]["p_collapse"]
    if sampler == "grid":
        assert res["n_used"] == 8
    else:  # the failed point's whole Saltelli group is dropped
        assert res["n_groups_used"] == 7 and res["n_used"] == 7 * 4
    assert {p.name for p in (out / "figures").glob("*.png")} >= {"indices.png", "tornado.png"}


# --- 7. the bundled experiments ------------------------------------------------------------------

@pytest.mark.parametrize("name, points", [("four_factors_sobol", 2048 * (5 + 2)),
                                          ("deterrence_vs_interest_grid", 9 * 9)])
def test_bundled_experiments_load_and_their_paths_exist(name, points):
    loaded = load_experiment(REPO / "experiments" / f"{name}.toml")
    e = loaded.experiment
    assert e.name == name
    data = loaded.scenario.model_dump()
    for factor in e.factors.values():
        value = get_path(data, factor.path)
        assert isinstance(value, float), factor.path
        assert factor.low < factor.high
    _, values = design_for(loaded)
    assert values.shape == (points, len(e.factors))
    lows = np.array([f.low for f in e.factors.values()])
    highs = np.array([f.high for f in e.factors.values()])
    assert np.all(values >= lows) and np.all(values <= highs)


# --- the interval at the edges ------------------------------------------------------------------

def test_wilson_interval_contains_estimate_at_0_and_n(ref):
    for n in range(1, 201):
        assert wilson(0, n)[0] <= 0.0, n
        assert wilson(n, n)[1] >= 1.0, n
    for r in read_csv(ref["grid"][1] / "outcomes.csv"):
        for c in COLUMNS.values():
            if r[c] != "nan":
                assert float(r[f"{c}_ci_low"]) <= float(r[c]) <= float(r[f"{c}_ci_high"])


def test_wilson_interval_inside():
    for k, n in [(1, 50), (25, 50), (49, 50), (3, 7)]:
        lo, hi = wilson(k, n)
        assert 0 < lo < k / n < hi < 1
    lo, hi = wilson(25, 50)  # by hand: 0.5 -+ 1.96 sqrt(0.25/50 + 1.96^2/(4 * 50^2)) / (1 + 1.96^2/50)
    assert lo == pytest.approx(0.36645, abs=1e-5) and hi == pytest.approx(0.63355, abs=1e-5)


# --- per-replication rows on request; analyses that cannot be done --------------------------------

def test_keep_replications_writes_every_replication_consistent_with_the_outcomes(tmp_path):
    exp = write_experiment(tmp_path / "exp.toml", experiment(keep_replications=True))
    out = tmp_path / "out"
    assert sweep_cli(exp, out, "--jobs", "2", "--no-report") == 0
    reps = read_csv(out / "replications.csv")
    outcomes = read_csv(out / "outcomes.csv")
    assert len(reps) == len(outcomes) * 50
    for row in outcomes:
        mine = [r for r in reps if r["point"] == row["point"]]
        assert [int(r["replication"]) for r in mine] == list(range(50))
        share = sum(int(r["collapsed"]) for r in mine) / 50
        assert share == pytest.approx(float(row["p_collapse"]))
        assert all((r["initiator"] == "none") == (r["collapsed"] == "0") for r in mine)
    # not asked for: not written
    plain = tmp_path / "plain"
    assert sweep_cli(write_experiment(tmp_path / "p.toml", experiment()), plain, "--no-report") == 0
    assert not (plain / "replications.csv").exists()


def test_an_outcome_that_cannot_be_analysed_is_reported_not_fatal(tmp_path, capsys, monkeypatch):
    """An outcome can be undefined at most points (initiator_share where no run collapses): with too
    few defined points left the regression cannot be fitted. The sweep still completes and says why
    for that outcome, and analyses the others."""
    real = sim.sweep.point_outcomes

    def mostly_undefined(months, collapsed, initiators, horizon, outcomes):
        out = real(months, collapsed, initiators, horizon, outcomes)
        if months[0] != months[1]:  # true at all but (perhaps) a few points, whatever the model gives
            out["initiator_share:regime"] = [float("nan")] * 4
        return out
    monkeypatch.setattr(sim.sweep, "point_outcomes", mostly_undefined)
    data = experiment(outcomes=["p_collapse", "initiator_share:regime"], analyse="initiator_share:regime")
    exp = write_experiment(tmp_path / "exp.toml", data)
    out = tmp_path / "out"
    assert main(["sweep", str(exp), "--out", str(out), "--jobs", "1"]) == 0
    sens = json.loads((out / "sensitivity.json").read_text())
    res = sens["outcomes"]["initiator_share:regime"]
    assert res["method"] is None and "non-NaN values" in res["error"], res
    assert sens["outcomes"]["p_collapse"]["method"] == "src"
    assert "No sensitivity analysis of initiator_share:regime" in capsys.readouterr().out
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "No sensitivity analysis" in page and "non-NaN values" in page      # the page says why, too


def test_too_few_points_for_the_analysis_are_refused(tmp_path):
    data = experiment(points=1)
    data["factors"] = {"deterrence": data["factors"]["deterrence"]}
    with pytest.raises(InputError) as info:
        load_experiment(write_experiment(tmp_path / "exp.toml", data))
    assert any("points: 1 gives 1 design points" in p for p in info.value.problems)


def test_points_spread_over_posterior_draws_are_not_over_corrected_for_noise(tmp_path):
    """Replication i sits on posterior draw i mod G at every point, so a point's binomial variance overstates its
    noise: subtracting it drove total Sobol indices below first-order ones. Over a posterior the indices are left
    uncorrected and say so; on point values they are corrected."""
    from sim.api import sweep
    exp = tmp_path / "e.toml"
    scenario = (Path(__file__).resolve().parents[1] / "scenarios" / "idlib_2021_baseline.toml").as_posix()
    exp.write_text(f'name = "e"\nscenario = "{scenario}"\nsampler = "sobol"\npoints = 32\nreplications = 40\n'
                   'horizon_months = 12\nseed = 3\noutcomes = ["p_collapse"]\n\n'
                   '[factors.d]\npath = "actors.turkey.deterrence"\nlow = 0.3\nhigh = 1.0\n\n'
                   '[factors.i]\npath = "actors.russia.interest_in_guarantor"\nlow = 0.3\nhigh = 1.0\n')
    over = sweep(exp, tmp_path / "over", jobs=1).analysis["outcomes"]["p_collapse"]
    point = sweep(exp, tmp_path / "point", jobs=1, use_posterior=False).analysis["outcomes"]["p_collapse"]
    assert over["noise_corrected"] is False and any("posterior" in n for n in over["notes"])
    assert point["noise_corrected"] is True
    # uncorrected Jansen totals are sums of squared differences: never negative
    assert all(f["ST"] is None or f["ST"] >= 0 for f in over["factors"])
    # and the report says the noise is an upper bound, not removed (it said "is allowed for")
    from sim.report import write_report
    page = write_report(tmp_path / "over").read_text(encoding="utf-8")
    assert "at most" in page and "is not removed" in page and "is allowed for" not in page
