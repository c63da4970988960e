"""The Python API. The command line is a thin layer over these functions."""

from __future__ import annotations

from sim.montecarlo import LocalExecutor, simulate
from sim.results import RunResult
from sim.schema import Scenario


def run(scenario: Scenario, *, runs: int = 1000, seed: int = 0, jobs: int | None = None,
        horizon_months: float | None = None, progress=None, executor: LocalExecutor | None = None,
        on_batch=None) -> RunResult:
    """Monte Carlo replications of one scenario.

    The result is the same for any ``jobs``: replications are seeded by blocks from ``seed``.
    With ``on_batch``, every batch of replications is handed to it in order (e.g.
    :class:`sim.store.RunsCsv` writing ``runs.csv``) and only counts are kept: memory stays flat in
    ``runs``, and ``result.simulation.replications`` is None.
    """
    counts = None
    if on_batch is not None:
        from sim.results import RunCounts
        counts = RunCounts(scenario.horizon_months if horizon_months is None else horizon_months)
        handler = on_batch

        def on_batch(out):
            counts.add(out)
            handler(out)
    if executor is not None:
        return RunResult(simulate(scenario, runs=runs, seed=seed, horizon_months=horizon_months,
                                  executor=executor, progress=progress, on_batch=on_batch), counts)
    with LocalExecutor(jobs) as own:
        return RunResult(simulate(scenario, runs=runs, seed=seed, horizon_months=horizon_months,
                                  executor=own, progress=progress, on_batch=on_batch), counts)


def compare(base: Scenario, others: list[Scenario] | Scenario, *, runs: int = 1000, seed: int = 0,
            jobs: int | None = None, horizon_months: float | None = None, precision: float | None = None,
            max_runs: int | None = None, progress=None):
    """Paired comparisons of each scenario in ``others`` with ``base`` on common random numbers.

    With ``precision``, replications are added in whole blocks of ``runs`` (rounded up to the block
    size) until the 95% CI half-width of every headline difference, P(collapse by the horizon), is at
    most ``precision``, or ``max_runs`` is reached. Returns a list of
    :class:`sim.comparison.Comparison`, one per other scenario.
    """
    from sim.comparison import Comparison
    from sim.rng import BLOCK_SIZE

    others = [others] if isinstance(others, Scenario) else list(others)
    if not others:
        raise ValueError("compare needs at least one other scenario")
    if precision is not None and not precision > 0:
        raise ValueError("precision must be positive")
    horizon = float(horizon_months if horizon_months is not None else base.horizon_months)
    scenarios = [base, *others]
    if precision is not None:
        runs = -(-runs // BLOCK_SIZE) * BLOCK_SIZE
        max_runs = max(runs, -(-(max_runs or 100 * runs) // BLOCK_SIZE) * BLOCK_SIZE)
    total = runs
    with LocalExecutor(jobs) as executor:
        sims = [simulate(s, runs=runs, seed=seed, horizon_months=horizon, executor=executor,
                         progress=_offset(progress, i * runs, len(scenarios) * runs))
                for i, s in enumerate(scenarios)]
        while True:
            results = [RunResult(s) for s in sims]
            comparisons = [Comparison(results[0], r, {}) for r in results[1:]]
            if precision is None:
                reason = "fixed run count"
                break
            worst = max(c.main_half_width() for c in comparisons)
            if worst <= precision:
                reason = "precision reached"
                break
            if total >= max_runs:
                reason = "max_runs reached"
                break
            step = min(runs, max_runs - total)
            more = [simulate(s, runs=step, seed=seed, horizon_months=horizon, executor=executor,
                             first_replication=total) for s in scenarios]
            sims = [extend(a, b) for a, b in zip(sims, more)]
            total += step
    stopping = {"runs": total, "reason": reason, "precision": precision, "max_runs": max_runs,
                "headline_half_width": max(c.main_half_width() for c in comparisons)}
    for c in comparisons:
        c.stopping = stopping
    return comparisons


def _offset(progress, start: int, total: int):
    if progress is None:
        return None
    return lambda done, _n: progress(start + done, total)


def extend(first, more):
    """A simulation run followed by more replications of the same scenario and seed."""
    from dataclasses import replace
    first.fan.merge(more.fan)
    return replace(first, replications=first.replications.concat(more.replications),
                   wall_seconds=first.wall_seconds + more.wall_seconds)


def sweep(loaded, directory, *, jobs: int | None = None, scheduler: str | None = None, restart: bool = False,
          progress=None, figures: bool = True) -> dict:
    """Evaluate every point of an experiment (resuming from a checkpoint), then analyse and write.

    Returns the sensitivity analysis (what ``sensitivity.json`` holds).
    """
    from sim.store import SweepStore
    from sim.sweep import analyse_outcomes, design_for, evaluate_points, make_tasks

    design, values = design_for(loaded)
    if scheduler is not None:  # before anything is written: an unusable cluster leaves no trace
        from sim.distributed import DaskExecutor
        executor = DaskExecutor(scheduler)
    else:
        executor = LocalExecutor(jobs)
    with executor:
        store = SweepStore(directory, loaded.fingerprint, values.shape[0])
        rows = {p: {k: v for k, v in r.items() if k != "replications"}
                for p, r in store.open(restart, str(loaded.path)).items()}
        pending = [p for p in range(values.shape[0]) if p not in rows]
        tasks = make_tasks(loaded, values, pending, executor.jobs)
        done = len(rows)
        if progress is not None:
            progress(done, values.shape[0])
        for task_rows in executor.map_unordered(evaluate_points, tasks):
            store.append(task_rows)
            for r in task_rows:  # per-replication rows stay in the checkpoint only: memory stays flat
                rows[r["point"]] = {k: v for k, v in r.items() if k != "replications"}
            done += len(task_rows)
            if progress is not None:
                progress(done, values.shape[0])
    analysis = analyse_outcomes(loaded, design, rows)
    store.finish(loaded, design, values, rows, analysis, figures=figures)
    return analysis
