"""What the speed work must not change: sim/rng.py (draws sized to the batch), sim/montecarlo.py (stopping
replications that have ended), and the imports of the command line. No timing here: speed is reported by
``ceasefire bench`` as ratios."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from scipy.special import ndtri

from sim.rng import BLOCK_SIZE, STEPS_PER_DRAW, BlockStreams, process_key

HEAVY = ("mesa", "scipy.stats", "matplotlib", "sim.model")


def _printed(probe: str):
    """What the Python code ``probe``, run in a fresh interpreter, printed as JSON on its last line."""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _modules_after(code: str) -> list[str]:
    return _printed(f"import sys\n{code}\n"
                    f"import json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["validate", "tests/data/two_sided.toml"],
                                  ["validate", "experiments/bench_sweep.toml"],
                                  ["validate", "experiments/calibration_cases.toml"]])
def test_help_and_validate_import_neither_mesa_nor_scipy_stats_nor_matplotlib(argv):
    code = ("from sim.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert _modules_after(code) == []


@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["sweep", "--help"], 0), (["--version"], 0), (["run"], 2),
                                        (["run", "x.toml", "--runs", "0"], 2)])
def test_help_version_and_usage_errors_import_neither_numpy_nor_pydantic(argv, code):
    """They answer from the argument parser alone (about 0.1 s rather than 0.4)."""
    probe = ("import sys, json, contextlib, io\n"
             "from sim.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
             "    try:\n"
             f"        rc = main({argv!r})\n"
             "    except SystemExit as exc:\n"
             "        rc = exc.code\n"
             "print(json.dumps([rc, [m for m in ('numpy', 'pydantic', 'sim.scenario') if m in sys.modules]]))")
    rc, heavy = _printed(probe)
    assert heavy == [] and rc == code


def test_a_parallel_run_without_a_report_keeps_the_heavy_imports_out_of_the_main_process(tmp_path):
    """With workers, the main process only reads, merges and writes: the engine (Mesa), scipy and matplotlib
    are imported in the workers or not at all, so they are not part of the command's serial time."""
    code = ("from sim.cli import main\n"
            f"main(['run', 'scenarios/idlib_2020_moscow.toml', '--runs', '2000', '--jobs', '2', '--quiet', "
            f"'--no-report', '--out', {str(tmp_path / 'r')!r}])\n"
            "assert not any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules)")
    assert _modules_after(code) == []
    assert (tmp_path / "r" / "summary.json").is_file()


def test_what_calibrate_imports_before_its_workers_start_leaves_out_scipy_stats():
    """`ceasefire calibrate` imports the calibration, the backtest's predictive runs and the tables before its first
    likelihood evaluation: scipy.stats (about a second) must wait until something needs it."""
    code = ("from sim.calibration import calibration_report, fit_report, load_calibration, reproducibility, run_smc\n"
            "from sim.backtest import predictive_runs\n"
            "from sim.tables import calibration_text\n"
            "load_calibration('experiments/calibration_cases.toml')")
    assert "scipy.stats" not in _modules_after(code)


def test_import_sim_is_light_and_its_names_still_work():
    assert _modules_after("import sim") == []
    import sim
    assert callable(sim.run) and callable(sim.load_scenario) and issubclass(sim.InputError, Exception)


def test_the_engine_loads_mesas_agent_and_model_only_and_the_rest_of_mesa_on_demand():
    """Mesa's package __init__ pulls pandas, scipy.spatial and networkx (about a second); the model needs
    none of them. Code that asks for the rest of Mesa still gets it, and the same Agent class."""
    probe = ("import sys, json\n"
             "from sim.api import run\n"
             "from sim.scenario import load_scenario\n"
             "result = run(load_scenario('tests/data/two_sided.toml'), runs=50, seed=1, jobs=1)\n"
             "light = [m for m in ('pandas', 'networkx', 'scipy.spatial') if m in sys.modules]\n"
             "import mesa\n"
             "from mesa import DataCollector, space\n"
             "from sim.actors.base import ActorAgent\n"
             "whole = issubclass(ActorAgent, mesa.Agent) and mesa.__version__ and 'pandas' in sys.modules\n"
             "print(json.dumps([light, bool(whole), len(result.simulation.replications.months)]))")
    light, whole, runs = _printed(probe)
    assert light == [] and whole and runs == 50


def test_mesas_module_loggers_keep_their_names_without_inspecting_the_stack():
    """Mesa names each module's logger from ``inspect.stack()``, which reads the source of every frame (tens of
    milliseconds in a process with many modules loaded). The engine's import names them from the caller's
    globals instead: the same loggers, also for the rest of Mesa loaded on demand, and no stack inspected."""
    probe = ("import sys, json, inspect, logging\n"
             "calls = []\n"
             "original = inspect.stack\n"
             "inspect.stack = lambda *a, **k: calls.append(1) or original(*a, **k)\n"
             "import sim.model\n"
             "light = sorted(n for n in logging.root.manager.loggerDict if n.startswith('MESA.'))\n"
             "import mesa\n"
             "from mesa import DataCollector\n"
             "whole = sorted(n for n in logging.root.manager.loggerDict if n.startswith('MESA.'))\n"
             "print(json.dumps([light, whole, len(calls)]))")
    light, whole, stack_calls = _printed(probe)
    plain = ("import json, logging, mesa, mesa.model\n"      # Mesa's own way, without the engine's import
             "print(json.dumps(sorted(n for n in logging.root.manager.loggerDict if n.startswith('MESA.'))))")
    mesas_own = _printed(plain)
    assert "MESA.mesa.model" in light and stack_calls == 0
    assert whole == mesas_own


def test_normals_and_test_statistics_use_scipys_compiled_functions_without_scipy_special_s_init():
    """``scipy.special``'s ``__init__`` (about 0.3 s: it walks numpy, importing numpy.f2py, and parses every
    docstring) is not run to draw normals or compute a comparison's tests; the functions are the same compiled
    ufuncs, so the numbers are bit for bit scipy's; and code asking for the rest of scipy.special, or for
    scipy.stats, afterwards gets the whole package."""
    probe = ("import sys, json\n"
             "import numpy as np\n"
             "from sim.rng import _SMALLEST_UNIFORM, normal_from_uniform\n"
             "from sim.survival import pearson_chi2\n"
             "u = np.random.default_rng(3).random(10_000)\n"
             "z = normal_from_uniform(u)\n"
             "chi2, dof, p = pearson_chi2(np.array([[30, 12], [25, 20]]))\n"
             "light = [m for m in ('numpy.f2py', 'scipy.special._support_alternative_backends', 'scipy.stats')\n"
             "         if m in sys.modules]\n"
             "import scipy.special\n"
             "same = bool(np.array_equal(z, scipy.special.ndtri(np.maximum(u, _SMALLEST_UNIFORM))))\n"
             "from scipy import stats\n"
             "same_p = p == stats.chi2_contingency(np.array([[30, 12], [25, 20]]), correction=False)[1]\n"
             "print(json.dumps([light, same, bool(same_p), float(scipy.special.gamma(5.0))]))")
    light, same, same_p, gamma5 = _printed(probe)
    assert light == [] and same and same_p and gamma5 == 24.0


def test_special_functions_fall_back_to_the_ordinary_import_where_scipy_is_laid_out_differently():
    probe = ("import sys, json\n"
             "sys.modules['scipy.special._ufuncs'] = None   # as if the compiled module could not be loaded alone\n"
             "from sim.lightimport import special_functions, WholeOnDemand\n"
             "ufuncs = special_functions()\n"
             "import scipy.special\n"
             "print(json.dumps([float(ufuncs.ndtri(0.975)), isinstance(scipy.special, WholeOnDemand),\n"
             "                  scipy.special.ndtri is not None]))")
    z, placeholder, whole = _printed(probe)
    assert z == 1.959963984540054 and not placeholder and whole


def test_the_installed_command_skips_the_final_collection_and_main_leaves_the_collector_alone():
    """``ceasefire`` (``sim.cli:command``) freezes what is alive before Python exits, so that the exit's full
    collection does not scan it; ``main``, which tests and notebooks call many times in one process, does not."""
    probe = ("import gc, json\n"
             "from importlib.metadata import entry_points\n"
             "from sim.cli import command, main\n"
             "codes = [main(['--version'])]\n"
             "after_main = gc.get_freeze_count()\n"
             "codes.append(command(['--version']))\n"
             "(entry,) = entry_points(group='console_scripts', name='ceasefire')\n"
             "print(json.dumps([codes, after_main, gc.get_freeze_count(), entry.value]))")
    codes, after_main, after_command, entry = _printed(probe)
    assert codes == [0, 0] and after_main == 0 and after_command > 1000
    assert entry == "sim.cli:command"


@contextlib.contextmanager
def _blocking_package(root, name: str, init: str, submodule: str | None = None):
    """A package ``name`` under ``root`` whose ``__init__`` (or ``submodule``) stops half way until the test says go:
    the code runs ``init`` after it. Yields the events (also in ``sys.modules['_lightimport_sync']``); the package's
    modules and the events leave ``sys.modules`` afterwards."""
    import types
    sync = types.SimpleNamespace(started=threading.Event(), go=threading.Event())
    sys.modules["_lightimport_sync"] = sync
    pause = ("import sys\nsync = sys.modules['_lightimport_sync']\nsync.started.set()\n"
             "assert sync.go.wait(30)\n")
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(pause + init if submodule is None else "")
    if submodule is not None:
        (root / name / f"{submodule}.py").write_text(pause + init)
    try:
        yield sync
    finally:
        for module in [m for m in sys.modules if m.startswith(name) or m == "_lightimport_sync"]:
            del sys.modules[module]


def _asked_while_loading(sync, first, second) -> tuple[dict, dict]:
    """``first()`` in a thread until the loading it starts pauses, then ``second()`` in another while it is paused;
    what each returned (``value``) or raised (``error``) once the loading is let go on."""
    def in_thread(fn) -> tuple[threading.Thread, dict]:
        out = {}

        def target():
            try:
                out["value"] = fn()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                out["error"] = exc
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread, out

    first_thread, first_out = in_thread(first)
    assert sync.started.wait(30)
    second_thread, second_out = in_thread(second)
    second_thread.join(0.3)    # long enough for a caller that does not wait to come back with something half made
    sync.go.set()
    first_thread.join(30)
    second_thread.join(30)
    return first_out, second_out


def test_a_submodule_another_thread_is_importing_is_waited_for_not_returned_half_made(tmp_path, monkeypatch):
    """``compare`` imports the statistics' special functions in a background thread while its engine, in the main
    thread, draws normals from the same module: the second caller must get the whole module."""
    from sim.lightimport import submodule_alone
    monkeypatch.syspath_prepend(str(tmp_path))
    with _blocking_package(tmp_path, "halfmade_pkg", "value = 42\n", submodule="_slow") as sync:
        first_out, second_out = _asked_while_loading(sync, lambda: submodule_alone("halfmade_pkg", "_slow"),
                                                     lambda: submodule_alone("halfmade_pkg", "_slow").value)
        assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
        assert second_out["value"] == 42 and first_out["value"].value == 42


def test_a_thread_asking_a_package_whose_init_another_thread_runs_waits_for_it(tmp_path, monkeypatch):
    from sim.lightimport import on_demand_package
    monkeypatch.syspath_prepend(str(tmp_path))
    with _blocking_package(tmp_path, "ondemand_pkg", "X = 1\nY = 2\n") as sync:
        package = on_demand_package("ondemand_pkg")
        first_out, second_out = _asked_while_loading(sync, lambda: package.X, lambda: package.Y)
        assert first_out == {"value": 1} and second_out == {"value": 2}, (first_out, second_out)
        with pytest.raises(AttributeError):
            package.Z       # loaded: a missing name is missing, without running the __init__ again


def test_a_failed_load_of_the_rest_of_mesa_is_retried_and_dunder_probes_load_nothing():
    probe = ("import sys, json\n"
             "import sim.model\n"
             "import mesa\n"
             "probe = hasattr(mesa, '__warningregistry__')\n"
             "light = 'pandas' not in sys.modules\n"
             "sys.modules['mesa.datacollection'] = None\n"
             "errors = []\n"
             "for _ in range(2):\n"
             "    try:\n"
             "        mesa.DataCollector\n"
             "    except Exception as exc:\n"
             "        errors.append(type(exc).__name__)\n"
             "del sys.modules['mesa.datacollection']\n"
             "from mesa import DataCollector\n"
             "print(json.dumps([probe, light, errors, DataCollector.__name__]))")
    probe_found, light, errors, name = _printed(probe)
    assert probe_found is False and light
    assert errors == ["ModuleNotFoundError", "ModuleNotFoundError"]
    assert name == "DataCollector"


def test_cyclic_garbage_made_between_collected_tasks_is_freed_by_the_periodic_full_collection():
    """Each task's collection scans only what the task made; older cyclic garbage waits for the full collection
    every FULL_COLLECTION_EVERY tasks (with automatic collection off, nothing else would free it)."""
    import gc
    import weakref

    from sim import workers

    class Node:
        pass

    task = workers.collecting(lambda: None)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        workers._tasks_since_full = 0
        node = Node()
        node.self = node
        ref = weakref.ref(node)
        del node
        for _ in range(workers.FULL_COLLECTION_EVERY - 1):
            task()
        assert ref() is not None        # the tasks' own collections did not look at it
        task()
        assert ref() is None            # the periodic full collection did
    finally:
        if was_enabled:
            gc.enable()


def _uniforms(seed, block, name, calls):
    """What the documented layout says column c gets at call t: position (t//K)*BLOCK*K + c*K + t%K."""
    gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block, process_key(name)))))
    seq = gen.random(-(-calls // STEPS_PER_DRAW) * BLOCK_SIZE * STEPS_PER_DRAW)
    t = np.arange(calls)[:, None]
    c = np.arange(BLOCK_SIZE)[None, :]
    return seq[(t // STEPS_PER_DRAW) * BLOCK_SIZE * STEPS_PER_DRAW + c * STEPS_PER_DRAW + t % STEPS_PER_DRAW]


def test_a_replication_draws_the_same_numbers_in_full_partial_and_thinned_blocks():
    calls = 3 * STEPS_PER_DRAW + 5
    full = _uniforms(4, 2, "offensive>opposition/regime", calls)          # (calls, BLOCK_SIZE)
    partial = BlockStreams(4, [(2, 137)])
    thinned = BlockStreams(4, [(2, 600)])
    alive = np.arange(600)
    rng = np.random.default_rng(0)
    for t in range(calls):
        np.testing.assert_array_equal(partial.uniform("offensive>opposition/regime"), full[t, :137])
        np.testing.assert_array_equal(thinned.uniform("offensive>opposition/regime"), full[t, alive])
        if t in (3, 11, 12, 20):      # replications end at any call, inside a group of draws or at its edge
            keep = np.sort(rng.choice(alive.size, alive.size * 2 // 3, replace=False))
            thinned.select(keep)
            alive = alive[keep]
    # nothing generated past the last replication still simulated: a partial block draws its share only
    assert partial.values_drawn == -(-calls // STEPS_PER_DRAW) * 137 * STEPS_PER_DRAW
    assert partial.values_used == calls * 137


def test_unused_draws_are_counted_as_gaps_or_as_the_rest_of_a_dropped_replications_group():
    k = STEPS_PER_DRAW
    s = BlockStreams(3, [(0, 10)])
    s.uniform("x")                         # one group generated for all 10 columns, one call handed out
    s.select(np.array([0, 5]))             # columns 1-4 lie between the two left; 6-9 lie past the last one
    for _ in range(2 * k - 1):             # the rest of this group, and the whole next one
        s.uniform("x")
    assert s.values_drawn == 10 * k + 6 * k          # the next group stops at column 5
    assert s.values_in_gaps == 4 * k                 # and generates columns 1-4 only because they are in the way
    assert s.values_used == 10 + 2 * (2 * k - 1)
    # the rest: the 8 dropped columns' values for the k - 1 calls of the first group they did not reach
    assert s.values_drawn - s.values_used - s.values_in_gaps == 8 * (k - 1)


def test_normals_are_the_inverse_normal_cdf_of_the_same_uniforms():
    calls = STEPS_PER_DRAW + 2
    full = _uniforms(6, 0, "tension", calls)
    s = BlockStreams(6, [(0, 250)])
    for t in range(calls):
        np.testing.assert_array_equal(s.normal("tension"), ndtri(full[t, :250]))


def test_blocks_emptied_by_select_are_never_drawn_from_again():
    s = BlockStreams(1, [(0, 1000), (1, 1000)])
    s.uniform("x")
    s.select(np.arange(1000, 2000))          # every replication of block 0 has ended
    drawn = s.values_drawn
    for _ in range(STEPS_PER_DRAW):
        s.uniform("x")
    assert s.values_drawn - drawn == 1000 * STEPS_PER_DRAW


# --- stopping replications that have ended -----------------------------------------------------------

@pytest.fixture(scope="module")
def scenario():
    from sim.scenario import load_scenario
    return load_scenario("tests/data/two_sided.toml")


def _batch(scenario, compact: bool, first_only: bool = False, record_fan: bool = True):
    from sim.montecarlo import advance_to_horizon, build_model
    blocks = [(0, 1000), (1, 700)]
    model = build_model(scenario, 3, blocks, 24.0)
    return advance_to_horizon(model, blocks, record_fan=record_fan, compact=compact, first_collapse_only=first_only)


def test_compaction_changes_no_outcome_and_no_fan_chart(scenario):
    a, b = _batch(scenario, compact=True), _batch(scenario, compact=False)
    assert 0.2 < a.collapsed.mean() < 1.0   # replications did end, so compaction happened
    for key in ("months", "collapsed", "initiator", "trigger", "front_months", "front_initiator"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    for key in a.incidents:
        np.testing.assert_array_equal(a.incidents[key], b.incidents[key], err_msg=key)
    assert list(a.fan.rows()) == list(b.fan.rows())


def test_a_fan_sent_between_processes_comes_back_exactly_and_smaller_than_its_tables(scenario):
    import pickle
    fan = _batch(scenario, compact=True).fan
    fan.hist["count:large"] = np.zeros((fan.months + 1, 3), dtype=np.int64)
    fan.hist["count:large"][2, 1] = 2**40        # counts beyond 32 bits survive too
    fan.hist["count:empty"] = np.zeros((fan.months + 1, 1), dtype=np.int64)
    sent = pickle.dumps(fan, protocol=pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(sent)
    assert back.months == fan.months and list(back.hist) == list(fan.hist)
    for name, table in fan.hist.items():
        assert back.hist[name].dtype == np.int64
        np.testing.assert_array_equal(back.hist[name], table, err_msg=name)
    assert len(sent) < sum(t.nbytes for t in fan.hist.values()) / 3


def test_stopping_at_the_first_collapse_keeps_every_first_collapse_outcome(scenario):
    a = _batch(scenario, compact=True, record_fan=False)
    b = _batch(scenario, compact=True, first_only=True, record_fan=False)
    for key in ("months", "collapsed", "initiator", "trigger"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    for key in a.incidents:
        np.testing.assert_array_equal(a.incidents[key], b.incidents[key], err_msg=key)


def test_a_finished_model_is_freed_so_a_worker_s_memory_stays_flat(scenario):
    """A calibration worker builds thousands of models; each must be garbage once its outcomes are read."""
    import gc
    import weakref

    from sim.montecarlo import advance_to_horizon, build_model
    blocks = [(0, 200)]
    model = build_model(scenario, 3, blocks, 6.0)
    advance_to_horizon(model, blocks, record_fan=False)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


# --- workers ---------------------------------------------------------------------------------------

def _pid():
    import os
    return os.getpid()


def _square(x):
    return x * x


def test_more_jobs_than_tasks_starts_no_idle_workers():
    from sim.montecarlo import LocalExecutor
    with LocalExecutor(8) as ex:
        assert sorted(ex.map_unordered(_square, [2, 3])) == [4, 9]
        assert ex.stats["workers"] == 2
        assert list(ex.map(_square, [(1,), (2,), (3,)])) == [1, 4, 9]   # a bigger map: a bigger pool
        assert ex.stats["workers"] == 3 and ex.stats["tasks"] == 5
    with LocalExecutor(4) as ex:
        ex.start(1)                       # one task runs in this process: no pool at all
        assert ex._pool is None and list(ex.map(_square, [(5,)])) == [25]


def test_tasks_run_beside_this_process_only_where_a_second_core_is_usable(monkeypatch):
    """start(n, beside=True) (a run with a report): tasks that would run in this process, a single one or any
    number at --jobs 1, run in one worker, so that this process imports matplotlib meanwhile; never more workers
    than --jobs; on one usable core they stay in this process."""
    import os

    from sim import workers
    from sim.montecarlo import LocalExecutor
    for jobs, tasks in ((2, 1), (1, 1), (1, 3)):
        with LocalExecutor(jobs) as ex:
            ex.start(tasks, beside=True)
            assert ex.stats["workers"] == 1 and ex.computes_elsewhere
            pids = list(ex.map(_pid, [()] * tasks))
            assert os.getpid() not in pids and len(set(pids)) == 1 and ex.stats["tasks"] == tasks
    with LocalExecutor(1) as ex:
        ex.start(1)                      # not beside: here
        assert ex._pool is None and not ex.computes_elsewhere and list(ex.map(_pid, [()])) == [os.getpid()]
    monkeypatch.setattr(workers, "usable_cores", lambda: 1)
    with LocalExecutor(2) as ex:
        ex.start(1, beside=True)
        assert ex._pool is None and not ex.computes_elsewhere and list(ex.map(_pid, [()])) == [os.getpid()]


@pytest.mark.parametrize("argv,jobs,cores,expected", [
    (["run", "tests/data/two_sided.toml", "--runs", "300"], "1", 1, []),
    (["run", "tests/data/two_sided.toml", "--runs", "300"], "1", 2, ["preload-report"]),
    (["run", "tests/data/two_sided.toml", "--runs", "300"], "2", 2, ["preload-report"]),
    (["compare", "tests/data/two_sided.toml", "tests/data/two_sided.toml", "--runs", "200"], "1", 1, []),
    (["compare", "tests/data/two_sided.toml", "tests/data/two_sided.toml", "--runs", "200"], "1", 2,
     ["preload-statistics", "preload-report"]),
    (["compare", "tests/data/two_sided.toml", "tests/data/two_sided.toml", "--runs", "200", "--no-report"], "1", 2,
     []),
    (["compare", "tests/data/two_sided.toml", "tests/data/two_sided.toml", "--runs", "200"], "2", 2,
     ["preload-statistics", "preload-report"]),
])
def test_imports_go_to_the_background_only_while_workers_compute(tmp_path, monkeypatch, argv, jobs, cores,
                                                                 expected):
    """With the engine in this process (on one usable core, or at --jobs 1 without a report) a background import
    would take turns with it for the interpreter, so the imports wait until they are needed; with workers
    computing, which a report asks for even at --jobs 1, they run meanwhile."""
    from sim import workers
    from sim.cli import main
    monkeypatch.setattr(workers, "usable_cores", lambda: cores)
    started = []
    real = workers.import_in_background

    def recorded(target, name):
        started.append(name)
        return real(target, name)
    monkeypatch.setattr(workers, "import_in_background", recorded)
    assert main([*argv, "--jobs", jobs, "--quiet", "--seed", "4", "--out", str(tmp_path / "out")]) == 0
    assert started == expected


def test_a_run_with_one_task_beside_this_process_gives_the_same_result(tmp_path):
    from sim.cli import main
    for jobs in ("1", "2"):
        assert main(["run", "tests/data/two_sided.toml", "--runs", "300", "--jobs", jobs, "--quiet", "--seed", "4",
                     "--out", str(tmp_path / jobs)]) == 0
    for name in ("runs.csv", "summary.json", "timeseries.csv"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


@pytest.mark.parametrize("runs,jobs", [(160_000, 2), (100_000, 16), (10_000, 2), (2_500, 4), (999, 3)])
def test_tasks_cover_every_block_once_in_order_and_stay_within_the_batch_size(runs, jobs):
    from sim.montecarlo import MAX_BLOCKS_PER_TASK, task_chunks
    from sim.rng import blocks_for
    blocks = blocks_for(runs)
    tasks = task_chunks(blocks, jobs)
    assert [b for t in tasks for b in t] == blocks
    assert all(1 <= len(t) <= MAX_BLOCKS_PER_TASK for t in tasks)
    assert len(tasks) >= min(jobs, len(blocks))      # every worker has something to do


@pytest.mark.parametrize("runs,jobs", [(160_000, 2), (100_000, 16), (97_000, 3), (33_000, 2), (1_000_000, 4)])
def test_a_long_run_goes_in_rounds_of_one_task_per_worker_so_that_no_worker_ends_alone(runs, jobs):
    # a lone last task keeps one worker busy while the others wait: the serial tail issue 16 measures
    from sim.montecarlo import MIN_BLOCKS_PER_TASK, task_chunks
    from sim.rng import blocks_for
    tasks = task_chunks(blocks_for(runs), jobs)
    assert len(tasks) % jobs == 0
    rounds = [[len(t) for t in tasks[k:k + jobs]] for k in range(0, len(tasks), jobs)]
    assert all(max(r) - min(r) <= 1 for r in rounds)
    assert all(max(b) <= min(a) + 1 for a, b in zip(rounds, rounds[1:]))   # rounds never grow
    assert min(rounds[-1]) >= min(MIN_BLOCKS_PER_TASK, runs // 1000 // jobs)


def test_bench_times_the_package_from_compiled_bytecode_even_where_the_interpreter_writes_none(tmp_path):
    # a copy of the package, so that the checkout's own caches play no part; the interpreter that compiles it
    # is told not to write bytecode, as on machines that set PYTHONDONTWRITEBYTECODE
    import importlib.util
    import os
    import shutil
    from pathlib import Path

    import sim
    copy = tmp_path / "sim"
    shutil.copytree(Path(sim.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import sim.bench as b, sim; "
            "assert sim.__file__.startswith(sys.argv[1]), sim.__file__; print(b.compile_bytecode())")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    cached = Path(importlib.util.cache_from_source(str(copy / "cli.py")))
    assert cached.exists(), "the CLI module was not compiled"


def test_amdahl_s_prediction_comes_from_the_median_repetition_with_the_range_of_single_ones(monkeypatch):
    from sim import bench
    samples = iter([{"wall_seconds": w, "task_seconds": t, "map_seconds": t / 2, "workers": 2, "tasks": 14}
                    for w, t in ((7.0, 13.0), (7.3, 13.2), (6.9, 12.9))])
    monkeypatch.setattr(bench, "command_seconds", lambda argv: next(samples))
    got = bench.amdahl(["run", "x.toml"], 2, 3)

    def predicted(wall, task):
        serial = wall - task / 2
        return (serial + task) / (serial + task / 16)
    assert got["serial_seconds"] == pytest.approx(7.0 - 13.0 / 2)      # the medians: 7.0 s wall, 13.0 s of tasks
    assert got["predicted_speedup_16"] == pytest.approx(predicted(7.0, 13.0))
    low, high = got["predicted_speedup_16_range"]
    assert low == pytest.approx(predicted(7.3, 13.2)) and high == pytest.approx(predicted(6.9, 12.9))
    assert low < got["predicted_speedup_16"] < high


@pytest.mark.parametrize("points,replications,jobs", [(14_336, 100, 2), (14_336, 100, 16), (500, 100, 2),
                                                      (81, 400, 16), (7, 100, 16), (1000, 1, 3)])
def test_sweep_tasks_come_in_whole_rounds_of_one_task_per_worker(points, replications, jobs):
    """A last round with fewer tasks than workers leaves the others idle for a whole task; tasks of a sweep come
    in whole rounds wherever there are more than the workers, every task within the batch size, sizes within
    one point of each other, every pending point in exactly one task."""
    from types import SimpleNamespace

    from sim.sweep import REPLICATIONS_PER_TASK, make_tasks, task_count
    loaded = SimpleNamespace(experiment=SimpleNamespace(replications=replications, seed=1, horizon_months=24.0,
                                                        factors={}, outcomes=["p_collapse"], keep_replications=False),
                             scenario=None)
    pending = list(range(points))
    n = task_count(loaded, points, jobs)
    tasks = make_tasks(loaded, np.zeros((points, 0)), pending, jobs)
    assert len(tasks) == n
    sizes = [len(t.points) for t in tasks]
    assert sorted(p for t in tasks for p in t.points) == pending
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) * replications <= max(REPLICATIONS_PER_TASK, replications)
    if n > jobs:
        assert n % jobs == 0 or n == points
