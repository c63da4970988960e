"""``ceasefire bench``: throughput ratios measured side by side in one invocation.

Benchmarks are not tests: nothing here asserts a time. Each figure is the median of several
repetitions, and what matters is the ratio of two figures taken on the same machine minutes apart.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sim.montecarlo import LocalExecutor, advance_to_horizon, simulate
from sim.draws import DrawPlan
from sim.model import CeasefireModel
from sim.rng import SingleReplicationStreams

TARGETS = {
    "end_to_end.engine_share": ">= 0.6",
    "useful_step_share": ">= 0.9",
    "draws_used_share": ">= 0.9",
    "precision_overhead": "<= 1.3",
    "batched_vs_batch_size_1": ">= 40",
    "jobs2_vs_jobs1": ">= 1.7",
    "memory_100k_mib": "< 1024",
    "amdahl_16.run": ">= 10",
    "amdahl_16.sweep": ">= 8",
}
CORES_PREDICTED = 16
PARALLEL_RUNS = 160_000

def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_single_replications(scenario, seed: int, runs: int, horizon: float, first: int = 0) -> dict:
    """Batch size 1: one Mesa model per replication, the classic way (replications first .. first+runs-1)."""
    months = np.empty(runs)
    collapsed = np.empty(runs, dtype=bool)
    initiator = np.empty(runs, dtype=np.int16)
    plan = DrawPlan.for_run(scenario, seed=seed, posterior=None)
    for k, i in enumerate(range(first, first + runs)):
        model = CeasefireModel(scenario, SingleReplicationStreams(seed, i), horizon_months=horizon,
                               overrides=plan.overrides(np.array([i])))
        out = advance_to_horizon(model, [(i, 1)], record_fan=False)
        months[k], collapsed[k], initiator[k] = out.months[0], out.collapsed[0], out.initiator[0]
    return {"months": months, "collapsed": collapsed, "initiator": initiator, "initiators": model.initiators}


def throughput_batched(scenario, runs: int, horizon: float, repeats: int) -> float:
    def once():
        simulate(scenario, runs=runs, seed=1, horizon_months=horizon, executor=LocalExecutor(1))
    return runs / median_time(once, repeats)


def throughput_single(scenario, runs: int, horizon: float, repeats: int) -> float:
    return runs / median_time(lambda: run_single_replications(scenario, 1, runs, horizon), repeats)


def throughput_jobs(scenario, runs: int, horizon: float, jobs: int, repeats: int) -> float:
    def once():
        with LocalExecutor(jobs) as ex:
            simulate(scenario, runs=runs, seed=1, horizon_months=horizon, executor=ex)
    return runs / median_time(once, repeats)


def peak_memory_mib(scenario_path: Path, runs: int, horizon: float | None) -> float:
    """Peak resident memory of a whole ``ceasefire run`` command: its own process plus its largest worker."""
    with tempfile.TemporaryDirectory() as tmp:
        args = ["run", str(scenario_path), "--runs", str(runs), "--quiet", "--out", os.path.join(tmp, "r")]
        if horizon is not None:
            args += ["--horizon", str(horizon)]
        code = (
            "import resource, sys\n"
            "from sim.cli import main\n"
            f"rc = main({args!r})\n"
            "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print('MAXRSS', own, kids, file=sys.stderr)\n"
            "sys.exit(rc)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = [ln for ln in out.stderr.splitlines() if ln.startswith("MAXRSS")][-1]
    own_kib, kids_kib = (int(x) for x in line.split()[1:])
    return (own_kib + kids_kib) / 1024


def sweep_points_per_second(experiment_path: Path | None, jobs: int) -> dict | None:
    from sim.api import sweep
    from sim.experiment import load_experiment
    if experiment_path is None or not Path(experiment_path).exists():
        return None
    loaded = load_experiment(experiment_path)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sweep(loaded, Path(tmp) / "s", jobs=jobs)
        seconds = time.perf_counter() - start
    from sim.sweep import design_for
    points = design_for(loaded)[1].shape[0]
    return {"experiment": loaded.experiment.name, "points": points, "jobs": jobs, "seconds": seconds,
            "points_per_second": points / seconds}


def machine() -> dict:
    from importlib.metadata import version
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": version("scipy"), "mesa": version("mesa"), "platform": platform.platform(),
            "processor": platform.processor()}


# --- a whole command in its own process ---------------------------------------------------------------

_PROBE = (
    "import json, sys, time\n"
    "from sim.cli import command\n"
    "rc = command(json.loads(sys.argv[1]))   # as the installed command runs it\n"
    "from sim.montecarlo import EXECUTOR_STATS\n"
    "print('EXECUTORS ' + json.dumps(EXECUTOR_STATS), file=sys.stderr)\n"
    "sys.exit(rc)\n")


def command_seconds(argv: list[str]) -> dict:
    """Wall seconds of ``ceasefire ARGV`` in a fresh interpreter (start-up and imports included), with the
    seconds its executors spent in tasks (summed over workers) and in parallel maps."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"ceasefire {' '.join(argv)} failed: {out.stderr[-2000:]}")
    line = [ln for ln in out.stderr.splitlines() if ln.startswith("EXECUTORS ")][-1]
    stats = json.loads(line.removeprefix("EXECUTORS "))
    return {"wall_seconds": wall, "task_seconds": sum(s["task_seconds"] for s in stats),
            "map_seconds": sum(s["map_seconds"] for s in stats), "workers": max((s["workers"] for s in stats), default=0),
            "tasks": sum(s["tasks"] for s in stats)}


def _median_of(samples: list[dict]) -> dict:
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def end_to_end(scenario_path: Path, runs: int, repeats: int) -> dict:
    """``ceasefire run --runs N --jobs 1`` with its report: the engine's share of the command's wall time."""
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            samples.append(command_seconds(["run", str(scenario_path), "--runs", str(runs), "--jobs", "1", "--quiet",
                                            "--out", os.path.join(tmp, f"r{i}")]))
    m = _median_of(samples)
    return {"runs": runs, "jobs": 1, "report": True, "wall_seconds": m["wall_seconds"],
            "engine_seconds": m["task_seconds"], "engine_share": m["task_seconds"] / m["wall_seconds"]}


def amdahl(argv: list[str], jobs: int, repeats: int) -> dict:
    """Time inside the parallel part (task seconds summed over workers) and the serial remainder (wall time
    less the parallel work divided among the workers: start-up, imports, reading, merging, writing, analysis,
    waiting for the slowest task), and the speed-up Amdahl's law predicts from them at 16 cores: from the medians
    of the repetitions, with the least and greatest prediction of any single repetition beside it (the serial
    remainder varies with which worker ends last, and how late)."""
    samples = [command_seconds([*argv, "--jobs", str(jobs)]) for _ in range(repeats)]

    def split(sample: dict) -> tuple[float, float, float]:
        parallel = sample["task_seconds"]
        serial = max(sample["wall_seconds"] - parallel / jobs, 0.0)
        return parallel, serial, (serial + parallel) / (serial + parallel / CORES_PREDICTED)

    m = _median_of(samples)
    parallel, serial, predicted = split(m)
    each = [split(s)[2] for s in samples]
    return {"jobs": jobs, "wall_seconds": m["wall_seconds"], "parallel_seconds": parallel,
            "parallel_wall_seconds": m["map_seconds"], "serial_seconds": serial,
            "serial_fraction": serial / (serial + parallel), "workers": m["workers"], "tasks": m["tasks"],
            f"predicted_speedup_{CORES_PREDICTED}": predicted,
            f"predicted_speedup_{CORES_PREDICTED}_range": [min(each), max(each)]}


# --- ratios inside the engine --------------------------------------------------------------------------

def useful_step_share(calibration_path: Path | None, particles: int = 48) -> dict | None:
    """One likelihood evaluation of a calibration (every case, ``particles`` particles): the replication-steps
    spent on runs still holding, of all replication-steps."""
    from sim import montecarlo
    from sim.calibration import Space, likelihood_horizon, load_calibration, simulate_cases
    if calibration_path is None or not Path(calibration_path).exists():
        return None
    cal, priors, cases = load_calibration(calibration_path)
    space = Space(tuple(priors), tuple(sorted({c.conflict for c in cases})), cal.pooling, cal.pooling_scale)
    x = space.sample_prior(particles, np.random.default_rng(cal.seed))
    horizons = [likelihood_horizon(c, cal.bandwidth) for c in cases]
    montecarlo.WORK.reset()
    start = time.perf_counter()
    simulate_cases(cases, space, x, seed=cal.seed, evaluation=1, replications=cal.replications, horizons=horizons,
                   executor=LocalExecutor(1))
    seconds = time.perf_counter() - start
    w = montecarlo.WORK
    return {"calibration": cal.name, "cases": len(cases), "particles": particles, "replications": cal.replications,
            "seconds": seconds, "replication_steps": w.replication_steps,
            "useful_step_share": w.holding_steps / w.replication_steps,
            "draws_used_share": w.values_used / w.values_drawn, **_unused_draws(w)}


def sweep_points_per_second(experiment_path: Path | None, jobs: int) -> dict | None:
    """A sweep through the API (no figures); at ``--jobs 1`` also the share of the generated random numbers
    that the model used."""
    from sim import montecarlo
    from sim.api import sweep
    from sim.experiment import load_experiment
    if experiment_path is None or not Path(experiment_path).exists():
        return None
    loaded = load_experiment(experiment_path)
    montecarlo.WORK.reset()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sweep(loaded, Path(tmp) / "s", jobs=jobs)
        seconds = time.perf_counter() - start
    from sim.sweep import design_for
    points = design_for(loaded)[1].shape[0]
    out = {"experiment": loaded.experiment.name, "points": points, "jobs": jobs, "seconds": seconds,
           "points_per_second": points / seconds}
    w = montecarlo.WORK
    if jobs == 1 and w.values_drawn:
        out.update({"values_drawn": w.values_drawn, "values_used": w.values_used,
                    "draws_used_share": w.values_used / w.values_drawn,
                    **_unused_draws(w),
                    "useful_step_share": w.holding_steps / w.replication_steps})
    return out


def _unused_draws(w) -> dict:
    """Where the unused random numbers lie, as shares of those generated. Draws are sized to the replications a
    task simulates, so each unused one belongs to a replication dropped at its collapse: either it lies between
    replications still simulated (generating it costs less than a call to skip it), or it was generated for a
    replication dropped before the end of its group of ``STEPS_PER_DRAW`` steps."""
    return {"values_in_gaps": w.values_in_gaps,
            "unused_in_gaps_share": w.values_in_gaps / w.values_drawn,
            "unused_rest_of_group_share": (w.values_drawn - w.values_used - w.values_in_gaps) / w.values_drawn}


def precision_overhead(base: Path, other: Path, precision: float, first_round: int, horizon: float | None,
                       repeats: int) -> dict | None:
    """Time of ``compare --precision`` (rounds from a first one of ``first_round`` runs until the half-width is
    reached) over the time of the same final run count done at once."""
    from sim.api import compare
    from sim.scenario import load_scenario
    if not (Path(base).exists() and Path(other).exists()):
        return None
    a, b = load_scenario(base), load_scenario(other)
    found = {}

    def adaptive():
        (c,) = compare(a, [b], runs=first_round, seed=11, jobs=1, horizon_months=horizon, precision=precision)
        found["runs"], found["rounds"] = c.stopping["runs"], c.stopping["rounds"]

    adaptive()      # warm: imports and caches paid once, by neither of the timed variants
    t_adaptive = median_time(adaptive, repeats)
    t_once = median_time(lambda: compare(a, [b], runs=found["runs"], seed=11, jobs=1, horizon_months=horizon),
                         repeats)
    return {"base": Path(base).name, "other": Path(other).name, "precision": precision,
            "first_round_runs": first_round, "final_runs": found["runs"], "rounds": found["rounds"],
            "seconds_precision": t_adaptive, "seconds_at_once": t_once, "overhead": t_adaptive / t_once}


def compile_bytecode() -> bool:
    """Byte-compile the package, as ``pip install`` does for an installed one, so that the timed commands load
    cached bytecode even in a checkout whose interpreter may not write it (``PYTHONDONTWRITEBYTECODE``): else each
    command would count compiling the package's sources as its own serial time. False where it cannot be written."""
    import compileall

    import sim
    try:
        return bool(compileall.compile_dir(Path(sim.__file__).parent, quiet=2))
    except OSError:
        return False


def bench(scenario, scenario_path: Path, *, runs: int, repeats: int = 3, single_runs: int = 200,
          horizon: float = 60.0, sweep_experiment: Path | None = None, calibration: Path | None = None,
          compare_pair: tuple[Path, Path] | None = None, report=print) -> dict:
    """Measure every ratio of the speed targets; ``report`` gets one line per figure as it comes."""
    from sim import montecarlo
    results: dict = {"scenario": scenario.name, "horizon_months": horizon, "step_days": scenario.step_days,
                     "repeats": repeats, "machine": machine(), "targets": TARGETS,
                     "bytecode_compiled": compile_bytecode()}

    e2e = end_to_end(scenario_path, 10_000, repeats)
    results["end_to_end"] = e2e
    report(f"end to end          {e2e['wall_seconds']:>10.2f} s for ceasefire run --runs 10,000 --jobs 1 with its "
           f"report; engine {e2e['engine_seconds']:.2f} s, share {e2e['engine_share']:.2f} (target >= 0.6)")

    montecarlo.WORK.reset()
    batched = throughput_batched(scenario, runs, horizon, repeats)
    steps_per_s = montecarlo.WORK.replication_steps / repeats / (runs / batched)
    single = throughput_single(scenario, single_runs, horizon, repeats)
    results["replication_steps_per_s"] = steps_per_s
    results["batched_vs_batch_size_1"] = {"batched_per_s": batched, "batch_size_1_per_s": single,
                                          "runs": runs, "batch_size_1_runs": single_runs, "ratio": batched / single}
    report(f"batched engine      {batched:>10,.0f} replications/s ({runs:,} runs), "
           f"{steps_per_s:,.0f} replication-steps/s")
    report(f"batch size 1        {single:>10,.0f} replications/s ({single_runs:,} runs)   "
           f"ratio {batched / single:,.1f}x (target >= 40x)")

    cal = useful_step_share(calibration)
    if cal:
        results["calibration"] = cal
        results["useful_step_share"] = cal["useful_step_share"]
        report(f"calibration         {cal['useful_step_share']:>10.3f} of replication-steps on runs still holding "
               f"(target >= 0.9)")

    for jobs in (1, 2):
        sw = sweep_points_per_second(sweep_experiment, jobs)
        results[f"sweep_jobs{jobs}"] = sw
        if sw:
            report(f"sweep --jobs {jobs}       {sw['points_per_second']:>10,.1f} points/s ({sw['points']} points of "
                   f"{sw['experiment']})")
    if results.get("sweep_jobs1"):
        results["draws_used_share"] = results["sweep_jobs1"]["draws_used_share"]
        sw1 = results["sweep_jobs1"]
        report(f"sweep draws         {results['draws_used_share']:>10.3f} of the generated random numbers used "
               f"(target >= 0.9); unused: {sw1['unused_in_gaps_share']:.3f} between replications still simulated, "
               f"{sw1['unused_rest_of_group_share']:.3f} for replications dropped within a group of draws")
    if results.get("sweep_jobs1") and results.get("sweep_jobs2"):
        ratio = results["sweep_jobs2"]["points_per_second"] / results["sweep_jobs1"]["points_per_second"]
        results["sweep_jobs2_vs_jobs1"] = ratio
        report(f"sweep jobs ratio    {ratio:.2f}x")

    if compare_pair:
        prec = precision_overhead(*compare_pair, precision=0.01, first_round=1000, horizon=None, repeats=repeats)
        if prec:
            results["precision"] = prec
            results["precision_overhead"] = prec["overhead"]
            report(f"--precision         {prec['overhead']:>10.2f}x the time of its {prec['final_runs']:,} runs done at "
                   f"once (rounds {prec['rounds']}; target <= 1.3)")

    jobs_runs = max(runs * 2, 20_000)
    one = throughput_jobs(scenario, jobs_runs, horizon, 1, repeats)
    two = throughput_jobs(scenario, jobs_runs, horizon, 2, repeats)
    results["jobs2_vs_jobs1"] = {"runs": jobs_runs, "jobs1_per_s": one, "jobs2_per_s": two, "ratio": two / one}
    report(f"--jobs 1            {one:>10,.0f} replications/s ({jobs_runs:,} runs)")
    report(f"--jobs 2            {two:>10,.0f} replications/s   ratio {two / one:.2f}x (target >= 1.7x)")

    small, large = 10_000, 100_000
    mem_small = peak_memory_mib(scenario_path, small, horizon)
    mem_large = peak_memory_mib(scenario_path, large, horizon)
    results["memory"] = {"runs_small": small, "runs_large": large, "peak_mib_small": mem_small,
                         "peak_mib_large": mem_large, "growth": mem_large / mem_small}
    report(f"peak memory         {mem_small:>10,.0f} MiB at {small:,} runs, {mem_large:,.0f} MiB at {large:,} "
           f"(target < 1024 MiB)")

    with tempfile.TemporaryDirectory() as tmp:
        par = {"run": amdahl(["run", str(scenario_path), "--runs", str(PARALLEL_RUNS), "--quiet", "--no-report",
                              "--out", os.path.join(tmp, "run"), "--force"], 2, repeats)}  # repeats: same --out
        if sweep_experiment is not None and Path(sweep_experiment).exists():
            par["sweep"] = amdahl(["sweep", str(sweep_experiment), "--quiet", "--no-report", "--restart",
                                   "--out", os.path.join(tmp, "sweep")], 2, repeats)
    results["parallel"] = par
    results["amdahl_16"] = {k: v[f"predicted_speedup_{CORES_PREDICTED}"] for k, v in par.items()}
    for k, v in par.items():
        low, high = v[f"predicted_speedup_{CORES_PREDICTED}_range"]
        report(f"amdahl {k:<12} {v['parallel_seconds']:>10.2f} s of parallel work, {v['serial_seconds']:.2f} s serial at "
               f"--jobs 2: predicted {v[f'predicted_speedup_{CORES_PREDICTED}']:.1f}x at {CORES_PREDICTED} cores "
               f"({low:.1f}-{high:.1f} in single repetitions; target >= {TARGETS[f'amdahl_16.{k}'].split()[-1]})")
    return results


def to_json(results: dict) -> str:
    return json.dumps(results, indent=2, default=float) + "\n"


__all__ = ["bench", "run_single_replications", "to_json"]
