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
    "batched_vs_batch_size_1": ">= 40",
    "jobs2_vs_jobs1": ">= 1.7",
    "memory_100k_mib": "< 1024",
    "memory_growth_10k_to_100k": "< 1.20",
}


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
        sweep(loaded, Path(tmp) / "s", jobs=jobs, figures=False)
        seconds = time.perf_counter() - start
    from sim.sweep import design_for
    points = design_for(loaded)[1].shape[0]
    return {"experiment": loaded.experiment.name, "points": points, "jobs": jobs, "seconds": seconds,
            "points_per_second": points / seconds}


def machine() -> dict:
    import mesa
    import scipy
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "mesa": mesa.__version__, "platform": platform.platform(),
            "processor": platform.processor()}


def bench(scenario, scenario_path: Path, *, runs: int, repeats: int = 3, single_runs: int = 200,
          horizon: float = 60.0, sweep_experiment: Path | None = None, report=print) -> dict:
    """Measure every ratio of the speed targets; ``report`` gets one line per figure as it comes."""
    results: dict = {"scenario": scenario.name, "horizon_months": horizon, "step_days": scenario.step_days,
                     "repeats": repeats, "machine": machine(), "targets": TARGETS}

    batched = throughput_batched(scenario, runs, horizon, repeats)
    single = throughput_single(scenario, single_runs, horizon, repeats)
    results["batched_vs_batch_size_1"] = {"batched_per_s": batched, "batch_size_1_per_s": single,
                                          "runs": runs, "batch_size_1_runs": single_runs, "ratio": batched / single}
    report(f"batched engine      {batched:>10,.0f} replications/s ({runs:,} runs)")
    report(f"batch size 1        {single:>10,.0f} replications/s ({single_runs:,} runs)   "
           f"ratio {batched / single:,.1f}x (target >= 40x)")

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
           f"(growth {mem_large / mem_small:.2f}x; targets < 1024 MiB, < 1.20x)")

    for jobs in (1, 2):
        sw = sweep_points_per_second(sweep_experiment, jobs)
        results[f"sweep_jobs{jobs}"] = sw
        if sw:
            report(f"sweep --jobs {jobs}       {sw['points_per_second']:>10,.1f} points/s ({sw['points']} points of "
                   f"{sw['experiment']})")
    if results.get("sweep_jobs1") and results.get("sweep_jobs2"):
        ratio = results["sweep_jobs2"]["points_per_second"] / results["sweep_jobs1"]["points_per_second"]
        results["sweep_jobs2_vs_jobs1"] = ratio
        report(f"sweep jobs ratio    {ratio:.2f}x (target >= 1.7x)")
    return results


def to_json(results: dict) -> str:
    return json.dumps(results, indent=2, default=float) + "\n"


__all__ = ["bench", "run_single_replications", "to_json"]
