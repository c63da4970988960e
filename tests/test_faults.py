"""Faults: kills at several points of ``run`` and ``sweep``, orphaned workers, two writers on one
``--out``, SIGTERM, replacing results, leftovers of interrupted writes, internal errors, and memory
that stays flat in the number of runs.

Kill tests start the real CLI in a child process with one function replaced by one that touches a
marker file and sleeps, so the kill lands at exactly that point whatever the machine's speed; the
waits below are guards against a hang, never timing assertions.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from sim import store
from sim.cli import main
from sim.experiment import load_experiment
from sim.scenario import InputError, load_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "tests" / "data" / "two_sided.toml"
RUN_ARGS = ["--runs", "2000", "--horizon", "6", "--seed", "3", "--quiet", "--no-report"]
RUN_FILES = ["runs.csv", "survival.csv", "summary.json", "timeseries.csv"]
SWEEP_FILES = ["design.csv", "outcomes.csv", "sensitivity.csv", "sensitivity.json"]
GUARD_SECONDS = 120

# The CLI in a child process, with one function replaced by a wait at a chosen point.
CHILD = r"""
import os, pathlib, sys, time
marker, hook, argv = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]

def wait_here(what):
    (marker / f"{what}-{os.getpid()}").touch()
    time.sleep(600)

if hook == "simulate":                      # in each worker: its batch never finishes
    import sim.montecarlo as mc
    def simulate_batch(*args, **kwargs):
        wait_here("worker")
    mc.simulate_batch = simulate_batch
elif hook == "swap":                        # everything written, not yet swapped into place
    import sim.store as store
    def swap(tmp, final):
        wait_here("swap")
    store._swap_into_place = swap
elif hook == "report":                      # results in place, report.html being written
    import sim.report as report
    def write_report(directory):
        wait_here("report")
    report.write_report = write_report
elif hook == "sweep_point_4":               # in a worker: the task with point 4 never finishes
    import sim.sweep as sweep
    real = sweep.evaluate_points
    def evaluate_points(task):
        if 4 in task.points:
            wait_here("worker")
        return real(task)
    sweep.evaluate_points = evaluate_points
elif hook == "sweep_finish":                # design.csv written, outcomes.csv not yet
    import sim.store as store
    real_write_csv = store.write_csv
    def write_csv(path, *args, **kwargs):
        if pathlib.Path(path).name == "outcomes.csv":
            wait_here("finish")
        return real_write_csv(path, *args, **kwargs)
    store.write_csv = write_csv
from sim.cli import main
sys.exit(main(argv))
"""


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def start_child(tmp_path: Path, hook: str, *argv, marker_name: str, count: int = 1):
    """Start the CLI with ``hook``; return (process, marker directory, pids that reached the point)."""
    marker = tmp_path / f"markers-{hook}"
    marker.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), hook, *map(str, argv)], cwd=tmp_path,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + GUARD_SECONDS
    while len(list(marker.glob(f"{marker_name}-*"))) < count:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the child ended (rc {proc.returncode}) before reaching {hook}: {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the child did not reach {hook}")
        time.sleep(0.05)
    pids = [int(p.name.rsplit("-", 1)[1]) for p in marker.glob(f"{marker_name}-*")]
    return proc, pids


def alive(pid: int) -> bool:
    """Running (a zombie that its new parent has not reaped yet is not running)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return False


def assert_no_survivors(pids: list[int]) -> None:
    deadline = time.monotonic() + 30
    try:
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if alive(p)], "worker processes outlived their parent"
    finally:
        for p in pids:  # never leave them behind, even when the test fails
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def kill(proc: subprocess.Popen, sig=signal.SIGKILL) -> int:
    proc.send_signal(sig)
    proc.communicate(timeout=GUARD_SECONDS)
    return proc.returncode


def hidden_leftovers(place: Path, name: str) -> list[str]:
    return sorted(e for e in os.listdir(place) if e.startswith(f".{name}."))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert cli("run", SCENARIO, *RUN_ARGS, "--jobs", "1", "--out", out)[0] == 0
    return out


def same_run(a: Path, b: Path) -> None:
    for name in RUN_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# --- kills during `run`; orphans ------------------------------------------------------------------------

def test_sigkill_mid_run_leaves_no_result_no_orphan_and_the_rerun_cleans_up(tmp_path, reference_run):
    out = tmp_path / "r"
    proc, workers = start_child(tmp_path, "simulate", "run", SCENARIO, *RUN_ARGS, "--jobs", "2", "--out", out,
                                marker_name="worker", count=2)
    assert kill(proc) == -signal.SIGKILL
    assert_no_survivors(workers)                       # the workers died with their parent
    assert not out.exists()                            # nothing that looks finished
    assert hidden_leftovers(tmp_path, "r")             # what the kill left ...
    assert cli("run", SCENARIO, *RUN_ARGS, "--jobs", "2", "--out", out)[0] == 0
    assert hidden_leftovers(tmp_path, "r") == []       # ... is cleaned by the next run in that place
    same_run(out, reference_run)


def test_sigkill_before_the_swap_keeps_the_old_result(tmp_path, reference_run):
    out = tmp_path / "r"
    assert cli("run", SCENARIO, *RUN_ARGS, "--seed", "9", "--out", out)[0] == 0
    old = {name: (out / name).read_bytes() for name in RUN_FILES}
    proc, _ = start_child(tmp_path, "swap", "run", SCENARIO, *RUN_ARGS, "--force", "--out", out, marker_name="swap")
    assert kill(proc) == -signal.SIGKILL
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == old   # the old result, whole
    assert cli("run", SCENARIO, *RUN_ARGS, "--force", "--out", out)[0] == 0
    assert hidden_leftovers(tmp_path, "r") == []
    same_run(out, reference_run)


def test_sigkill_while_the_report_is_written_leaves_the_results_and_no_lock(tmp_path):
    out = tmp_path / "r"
    argv = [a for a in RUN_ARGS if a != "--no-report"]
    proc, _ = start_child(tmp_path, "report", "run", SCENARIO, *argv, "--out", out, marker_name="report")
    assert kill(proc) == -signal.SIGKILL
    assert all((out / name).is_file() for name in [*RUN_FILES, "manifest.json"]) and not (out / "report.html").exists()
    rc, _, err = cli("report", out)  # the dead writer's lock does not block anyone
    assert rc == 0, err
    assert (out / "report.html").is_file() and hidden_leftovers(tmp_path, "r") == []


def test_second_writer_is_refused_and_sigterm_cleans_up(tmp_path):
    out = tmp_path / "r"
    proc, workers = start_child(tmp_path, "simulate", "run", SCENARIO, *RUN_ARGS, "--jobs", "2", "--out", out,
                                marker_name="worker", count=2)
    try:
        rc, stdout, err = cli("run", SCENARIO, *RUN_ARGS, "--jobs", "1", "--out", out)
        assert rc == 2 and stdout == ""
        assert f"--out {out}: is being written by another ceasefire command (pid {proc.pid})" in err
        rc, _, err = cli("sweep", write_experiment(tmp_path), "--out", out, "--quiet")
        assert rc == 2 and "being written" in err
    finally:
        rc = kill(proc, signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM
    assert_no_survivors(workers)
    assert not out.exists() and hidden_leftovers(tmp_path, "r") == []  # no partial directory, no lock


# --- kills during `sweep`: resume byte-identical --------------------------------------------------------

def write_experiment(where: Path, name: str = "faults", file: str | None = None, **changes) -> Path:
    data = {"name": json.dumps(name), "scenario": json.dumps(str(SCENARIO)), "sampler": '"grid"', "points": "3",
            "replications": "20", "horizon_months": "6", "seed": "4", "outcomes": '["p_collapse", "rmst"]'}
    data.update({k: str(v) for k, v in changes.items()})
    text = "\n".join(f"{k} = {v}" for k, v in data.items()) + """
[factors.deterrence]
path = "actors.turkey.deterrence"
low = 0.2
high = 1.0

[factors.interest]
path = "actors.russia.interest_in_guarantor"
low = 0.2
high = 1.0
"""
    path = where / f"{file or name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_ref")
    exp = write_experiment(root)
    out = root / "out"
    assert cli("sweep", exp, "--out", out, "--jobs", "1", "--quiet", "--no-report")[0] == 0
    return exp, out


def same_sweep(a: Path, b: Path) -> None:
    for name in SWEEP_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_sigkill_mid_sweep_kills_its_workers_and_the_resume_is_identical(tmp_path, reference_sweep):
    exp, full = reference_sweep
    out = tmp_path / "out"
    proc, workers = start_child(tmp_path, "sweep_point_4", "sweep", exp, "--out", out, "--jobs", "2", "--quiet",
                                "--no-report", marker_name="worker")
    deadline = time.monotonic() + GUARD_SECONDS
    while not (out / "checkpoint.jsonl").exists() or not (out / "checkpoint.jsonl").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert kill(proc) == -signal.SIGKILL
    assert_no_survivors(workers)
    assert not (out / "outcomes.csv").exists()
    assert cli("sweep", exp, "--out", out, "--jobs", "1", "--quiet", "--no-report")[0] == 0
    same_sweep(out, full)


def test_sigkill_while_a_sweep_writes_its_results_then_resume_is_identical(tmp_path, reference_sweep):
    exp, full = reference_sweep
    out = tmp_path / "out"
    proc, _ = start_child(tmp_path, "sweep_finish", "sweep", exp, "--out", out, "--jobs", "1", "--quiet",
                          "--no-report", marker_name="finish")
    assert kill(proc) == -signal.SIGKILL
    assert (out / "design.csv").exists() and not (out / "outcomes.csv").exists()
    assert cli("sweep", exp, "--out", out, "--jobs", "1", "--quiet", "--no-report")[0] == 0
    same_sweep(out, full)
    assert not [e for e in os.listdir(out) if e.startswith(".")]


# --- output safety, in-process ------------------------------------------------------------------------------

def test_force_replaces_a_result_of_the_same_kind_and_nothing_else(tmp_path):
    out = tmp_path / "r"
    args = ["--runs", "200", "--horizon", "6", "--jobs", "1", "--quiet", "--no-report", "--out", out]
    assert cli("run", SCENARIO, *args)[0] == 0
    first = (out / "summary.json").read_bytes()
    rc, _, err = cli("run", SCENARIO, *args, "--seed", "5")
    assert rc == 2 and "--force" in err and (out / "summary.json").read_bytes() == first
    assert cli("run", SCENARIO, *args, "--seed", "5", "--force")[0] == 0
    assert (out / "summary.json").read_bytes() != first
    assert hidden_leftovers(tmp_path, "r") == []
    (out / "notes.txt").write_text("mine")  # a file the user added: the directory is no longer only ours
    rc, _, err = cli("run", SCENARIO, *args, "--force")
    assert rc == 2 and "notes.txt" in err and (out / "notes.txt").read_text() == "mine"
    rc, _, err = cli("sweep", write_experiment(tmp_path), "--out", out, "--quiet")  # another kind: never
    assert rc == 2 and "holds a run result, not a sweep" in err


def test_replacing_a_result_is_one_atomic_exchange(tmp_path):
    final, new = tmp_path / "r", tmp_path / ".r.partial-abcdefgh"
    final.mkdir()
    (final / "summary.json").write_text("old")
    new.mkdir()
    (new / "summary.json").write_text("new")
    assert store._exchange(new, final)  # renameat2(RENAME_EXCHANGE) works here: no moment without r
    assert (final / "summary.json").read_text() == "new" and (new / "summary.json").read_text() == "old"


def test_a_result_renamed_aside_by_a_crash_is_put_back(tmp_path):
    # Where renameat2 is missing, replacing takes two renames; a crash between them leaves r absent
    # and its content as .r.old-PID. The next command writing r puts it back and cleans the rest.
    old = tmp_path / ".r.old-12345"
    old.mkdir()
    (old / "summary.json").write_text("{}")
    partial = tmp_path / ".r.partial-abcd1234"
    partial.mkdir()
    (tmp_path / ".unrelated").write_text("x")
    (tmp_path / ".r.partial-not-ours").mkdir()
    from sim import outdir
    with outdir.claim(tmp_path / "r", "run", force=True):
        pass
    assert (tmp_path / "r" / "summary.json").read_text() == "{}"
    assert not old.exists() and not partial.exists()
    assert (tmp_path / ".unrelated").exists() and (tmp_path / ".r.partial-not-ours").exists()


def test_temporary_files_inside_a_result_are_cleaned_on_the_next_write(tmp_path, reference_sweep):
    exp, full = reference_sweep
    out = tmp_path / "out"
    assert cli("sweep", exp, "--out", out, "--jobs", "1", "--quiet", "--no-report")[0] == 0
    (out / ".outcomes.csv.k3j_x9q2").write_text("torn")
    (out / ".state.json.abcdefgh").write_text("torn")
    (out / "notes.md").write_text("the user's")
    assert cli("sweep", exp, "--out", out, "--jobs", "1", "--quiet", "--no-report")[0] == 0
    assert sorted(os.listdir(out)) == sorted(["checkpoint.jsonl", "state.json", "notes.md", *SWEEP_FILES,
                                              "manifest.json", "datadictionary.csv"])


def test_a_planted_checkpoint_symlink_is_not_followed(tmp_path, reference_sweep):
    exp, _ = reference_sweep
    loaded = load_experiment(exp)
    out = tmp_path / "out"
    out.mkdir()
    (out / "state.json").write_text(json.dumps({"fingerprint": loaded.fingerprint, "points": 9}))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / "checkpoint.jsonl").symlink_to(victim)
    sweep_store = store.SweepStore(out, loaded.fingerprint, 9)
    with pytest.raises(InputError) as info:
        sweep_store.completed()
    assert "symbolic link" in info.value.problems[0]
    with pytest.raises(InputError):
        sweep_store.append([{"point": 0, "values": [0.5, 0.5], "outcomes": None, "error": "x"}])
    assert victim.read_text() == "precious\n"


def test_names_from_files_cannot_leave_their_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "sweeps" / "earlier").mkdir(parents=True)
    for name in (".", "..", "../x", ""):
        rc, _, err = cli("sweep", write_experiment(tmp_path, name=name, file="exp"), "--quiet")
        assert rc == 2 and "name" in err, err
    assert os.listdir(tmp_path / "results" / "sweeps") == ["earlier"]
    assert os.listdir(tmp_path / "results") == ["sweeps"]


# --- internal errors, kinds, jobs ---------------------------------------------------------------------------

def test_an_internal_error_is_exit_1_with_a_log_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CEASEFIRE_LOG_DIR", str(tmp_path / "logs"))
    import sim.results

    def broken(self):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(sim.results.RunResult, "summary", broken)
    out = tmp_path / "work" / "r"
    rc, stdout, err = cli("run", SCENARIO, "--runs", "100", "--horizon", "6", "--jobs", "1", "--out", out)
    assert rc == 1 and "Traceback" not in err and len(err.splitlines()) == 1
    [log] = (tmp_path / "logs").iterdir()
    assert str(log) in err and "ZeroDivisionError: a bug" in err
    assert "Traceback" in log.read_text() and "def broken" not in err
    assert os.listdir(out.parent) == []  # the partial directory and the lock are gone


def test_a_report_that_fails_after_the_results_keeps_them_says_so_and_logs_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CEASEFIRE_LOG_DIR", str(tmp_path / "logs"))
    import sim.report

    def broken(directory, *args, **kwargs):
        raise ZeroDivisionError("a bug in the page")
    monkeypatch.setattr(sim.report, "write_report", broken)
    out = tmp_path / "r"
    rc, stdout, err = cli("run", SCENARIO, "--runs", "100", "--horizon", "6", "--jobs", "1", "--out", out)
    assert rc == 1 and "report.html not written (ZeroDivisionError: a bug in the page)" in err
    assert (out / "summary.json").exists() and (out / "runs.csv").exists() and not (out / "report.html").exists()
    [log] = (tmp_path / "logs").iterdir()
    assert str(log) in err and "ceasefire run" in log.read_text() and "--runs 100" in log.read_text()


def test_validate_tells_the_kinds_of_file_apart(tmp_path):
    exp = write_experiment(tmp_path)
    rc, out, err = cli("validate", SCENARIO, exp, REPO / "experiments" / "calibration_cases.toml",
                       REPO / "scenarios" / "calibrated_syria_as_of_2020-03-06.toml")
    assert rc == 0, err
    assert out.strip() == "4 file(s) valid: 1 scenario, 1 parameter fragment, 1 experiment, 1 calibration"


def test_jobs_are_capped_and_no_more_workers_start_than_tasks():
    from sim.montecarlo import LocalExecutor, simulate_batch
    from sim.workers import max_jobs
    scenario = load_scenario(SCENARIO)
    with LocalExecutor(100) as ex:
        assert ex.jobs == max_jobs() < 100
        tasks = [(scenario, 1, [(b, 10)], 1.0) for b in range(2)]
        assert len(list(ex.map(simulate_batch, tasks))) == 2
        assert ex._pool._max_workers == 2 and len(ex._pool._processes) <= 2


# --- flat memory in --runs ----------------------------------------------------------------------------------

def test_a_finished_batch_leaves_no_model_behind():
    from sim.model import CeasefireModel
    from sim.montecarlo import simulate_batch
    scenario = load_scenario(SCENARIO)
    for b in range(3):
        simulate_batch(scenario, 1, [(b, 10)], 2.0)
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, CeasefireModel)] == []


def test_the_pool_keeps_no_result_once_handed_on():
    from sim.montecarlo import LocalExecutor, simulate_batch
    scenario = load_scenario(SCENARIO)
    refs = []
    with LocalExecutor(2) as ex:
        for out in ex.map(simulate_batch, [(scenario, 1, [(b, 10)], 1.0) for b in range(6)]):
            refs.append(weakref.ref(out))
            del out
            gc.collect()  # while the map still runs: only the batch just handed on may still be referenced
            assert [r for r in refs[:-1] if r() is not None] == []
    assert len(refs) == 6


# A run keeps compact per-replication outcome arrays (tens of bytes per replication: the credible and
# settings intervals, per-front incidence and paired comparisons need them) and nothing else per replication.
MEMORY_PROBE = r"""
import resource, sys
from pathlib import Path
from sim import store
from sim.api import run
from sim.scenario import load_scenario
runs, out, scenario = int(sys.argv[1]), Path(sys.argv[2]), load_scenario(sys.argv[3])
store.save_run(run(scenario, runs=runs, seed=1, jobs=1, horizon_months=3), out)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # peak resident set, KiB
"""


def peak_kib(runs: int, out: Path) -> int:
    proc = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(runs), str(out), str(SCENARIO)], cwd=REPO,
                          capture_output=True, text=True, timeout=GUARD_SECONDS * 5)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split()[-1])


def test_a_run_keeps_a_few_compact_arrays_per_replication(tmp_path):
    small, large = peak_kib(10_000, tmp_path / "small"), peak_kib(100_000, tmp_path / "large")
    per_replication = (large - small) * 1024 / 90_000
    # 078cf9b: about 450 bytes per replication, and main before the Mesa fix about 780 (every batch's model
    # stayed alive); now about 160 at the peak (the arrays, their concatenation, the statistics' copies)
    assert per_replication < 300, f"{per_replication:.0f} bytes per replication ({small} -> {large} KiB)"
    assert large < 1.5 * small, (small, large)
    assert (tmp_path / "large" / "runs.csv").read_text().count("\n") == 100_001


# --- forking while a background thread imports ------------------------------------------------------------

def _value_of(module: str):
    import importlib
    return importlib.import_module(module).VALUE


def test_workers_forked_during_a_background_import_do_not_wait_for_it_for_ever(tmp_path, monkeypatch):
    """`run` and `sweep` import matplotlib in a thread while the workers compute. A worker forked while that
    thread held a module's import lock inherited the lock held and waited for it for ever as soon as it
    imported the same module (seen as a hung `ceasefire bench`). Pools now start their workers before such
    an import begins, or wait for it to finish."""
    from sim import workers
    (tmp_path / "slow_import_probe.py").write_text("import time\ntime.sleep(1.0)\nVALUE = 7\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_import_probe", raising=False)
    workers.import_in_background(lambda: __import__("slow_import_probe"), "probe-import")
    time.sleep(0.2)                  # the thread now holds the module's import lock
    pool = workers.process_pool(1)
    try:
        assert pool.submit(_value_of, "slow_import_probe").result(timeout=30) == 7
    finally:
        workers.stop_pool(pool, abrupt=True)
