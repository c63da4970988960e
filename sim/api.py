"""The Python API. The command line is a thin layer over these functions."""

from __future__ import annotations

import numpy as np

from sim.draws import DrawPlan, PosteriorDraws, group_counts, read_posterior, setting_distributions
from sim.montecarlo import LocalExecutor, simulate, simulate_scenarios, task_chunks
from sim.results import RunResult
from sim.rng import BLOCK_SIZE, blocks_for
from sim.scenario import InputError
from sim.schema import Scenario


def posterior_of(scenario: Scenario, use_posterior: bool = True) -> PosteriorDraws | None:
    """The calibrated posterior draws the scenario names, or None (none named, or point values asked for)."""
    if not use_posterior or scenario.posterior is None:
        return None
    try:
        return read_posterior(scenario.posterior)
    except (OSError, ValueError) as exc:
        raise InputError([f"{scenario.name}: posterior: cannot read '{scenario.posterior}' ({exc})"]) from None


def run_plan(scenario: Scenario, *, seed: int, use_posterior: bool = True) -> DrawPlan:
    """The draw plan of a run: which parameter and setting draws each replication uses."""
    return DrawPlan.for_run(scenario, seed=seed, posterior=posterior_of(scenario, use_posterior))


def run(scenario: Scenario, *, runs: int = 1000, seed: int = 0, jobs: int | None = None,
        horizon_months: float | None = None, progress=None, executor: LocalExecutor | None = None,
        use_posterior: bool = True, on_batch=None, render_batch=None) -> RunResult:
    """Monte Carlo replications of one scenario.

    Replications are spread over the calibrated posterior's draws (unless ``use_posterior`` is false) and
    over the scenario's uncertain settings. The result is the same for any ``jobs``. ``on_batch`` gets each
    batch of replications in order as it comes in, with what ``render_batch`` made of it in the worker (see
    ``sim.montecarlo.simulate``).
    """
    plan = run_plan(scenario, seed=seed, use_posterior=use_posterior)
    if executor is not None:
        return RunResult(simulate(scenario, runs=runs, seed=seed, horizon_months=horizon_months,
                                  executor=executor, progress=progress, plan=plan, on_batch=on_batch,
                                  render_batch=render_batch))
    with LocalExecutor(jobs) as own:
        return RunResult(simulate(scenario, runs=runs, seed=seed, horizon_months=horizon_months,
                                  executor=own, progress=progress, plan=plan, on_batch=on_batch,
                                  render_batch=render_batch))


def comparison_plans(scenarios: list[Scenario], *, seed: int, use_posterior: bool) -> list[DrawPlan]:
    """One draw plan per scenario, with the same groups, so that replication i pairs the same draws."""
    posteriors = [posterior_of(s, use_posterior) for s in scenarios]
    shas = {p.sha256 if p is not None else None for p in posteriors}
    if len(shas) > 1:
        raise InputError([f"{s.name}: posterior: a comparison needs every scenario on the same calibrated "
                          f"posterior (or --no-posterior)" for s in scenarios[1:]])
    _, s_groups = group_counts(posteriors[0], any(setting_distributions(s) for s in scenarios))
    return [DrawPlan.for_run(s, seed=seed, posterior=p, setting_groups=s_groups) for s, p in zip(scenarios, posteriors)]


def compare(base: Scenario, others: list[Scenario] | Scenario, *, runs: int = 1000, seed: int = 0,
            jobs: int | None = None, horizon_months: float | None = None, precision: float | None = None,
            max_runs: int | None = None, progress=None, use_posterior: bool = True, attribute: bool = False,
            permutations: int = 64, preload_figures: bool = False):
    """Paired comparisons of each scenario in ``others`` with ``base`` on common random numbers.

    With ``precision``, ``runs`` is the first round (in whole blocks): rounds are added, each keeping the
    replications before it, until the 95% half-width of the headline difference (P(collapse by the horizon))
    is at most ``precision`` or ``max_runs`` (default 100 times ``runs``) have run (``sim.precision``). The
    result is exactly that of the final run count done at once.
    With ``attribute``, the headline difference is split into the Shapley contributions of the settings
    that differ (``sim.attribution``). ``preload_figures`` readies the report (matplotlib, its templates) in the
    background once the workers are started, and has the tasks computed in a worker even at ``jobs=1`` where a
    second core is usable (``sim.report.preload``). Returns a list of :class:`sim.comparison.Comparison`.
    """
    from sim.comparison import Comparison

    others = [others] if isinstance(others, Scenario) else list(others)
    if not others:
        raise ValueError("compare needs at least one other scenario")
    if precision is not None and not precision > 0:
        raise ValueError("precision must be positive")
    horizon = float(horizon_months if horizon_months is not None else base.horizon_months)
    scenarios = [base, *others]
    stopping = {"runs": runs, "reason": "fixed run count", "precision": precision, "max_runs": max_runs}
    with LocalExecutor(jobs) as executor:
        # the workers first (a fork must not meet a background import), then, while they compute, the imports
        # this process needs afterwards: the statistics' special functions and, for a report, matplotlib
        executor.start(len(scenarios) * len(task_chunks(blocks_for(runs), executor.jobs)), beside=preload_figures)
        from sim.workers import import_while_computing
        import_while_computing(executor, _import_statistics, "preload-statistics")
        if preload_figures:
            from sim.report import preload
            preload("compare", executor)
        if precision is None:
            results = _simulate_all(scenarios, runs, seed, horizon, executor, use_posterior, progress)
        else:
            cap = max_runs or 100 * runs
            sims, rounds = _simulate_until_precise(scenarios, runs, cap, precision, seed, horizon, executor,
                                                   use_posterior, progress)
            results = [RunResult(s) for s in sims]
            stopping = {"first_round_runs": rounds.counts[0], "rounds": rounds.counts, "runs": rounds.runs,
                        "precision": precision, "max_runs": cap, "reason": rounds.reason,
                        "rule": "rounds until the 95% half-width is reached (Chow-Robbins); every round keeps "
                                "the replications before it, so the result is the run of this size done at once"}
            runs = rounds.runs
        comparisons = [Comparison(results[0], r, {}) for r in results[1:]]
        stopping["headline_half_width"] = float(max(c.main_half_width() for c in comparisons))
        for c, other in zip(comparisons, others):
            c.stopping = stopping
            if attribute:
                c.attribution = attribute_difference(base, other, runs=runs, seed=seed, horizon=horizon,
                                                     executor=executor, use_posterior=use_posterior,
                                                     permutations=permutations)
    return comparisons


def _import_statistics() -> None:
    from sim.lightimport import special_functions
    special_functions()     # the comparison's tests (sim.survival)


def _simulate_all(scenarios, runs, seed, horizon, executor, use_posterior, progress):
    plans = comparison_plans(scenarios, seed=seed, use_posterior=use_posterior)
    return [RunResult(r) for r in simulate_scenarios(list(zip(scenarios, plans)), runs=runs, seed=seed,
                                                     horizon_months=horizon, executor=executor, progress=progress)]


def _simulate_until_precise(scenarios, first_round, cap, precision, seed, horizon, executor, use_posterior,
                            progress):
    """``sim.precision.run_until_precise`` on the headline paired differences (each other scenario minus the
    base, collapse by the horizon); each round runs only its new replications and adds them to the runs so far."""
    from sim.precision import run_until_precise
    from sim.survival import collapse_indicator
    sims: list = []
    plans = comparison_plans(scenarios, seed=seed, use_posterior=use_posterior)

    def more(start: int, stop: int) -> list[np.ndarray]:
        new = simulate_scenarios(list(zip(scenarios, plans)), runs=stop - start, seed=seed, horizon_months=horizon,
                                 executor=executor, first_replication=start,
                                 progress=_offset(progress, len(scenarios) * start, len(scenarios) * stop))
        if sims:
            for i, run in enumerate(new):
                sims[i] = _joined(sims[i], run)
        else:
            sims.extend(new)
        ind = [collapse_indicator(r.replications.months, r.replications.collapsed, horizon) for r in new]
        return [b.astype(float) - ind[0] for b in ind[1:]]

    rounds = run_until_precise(more, first=first_round, precision=precision, cap=cap, unit=BLOCK_SIZE)
    return sims, rounds


def _joined(before, after):
    """One simulation of replications ``before.first_replication ..`` through the end of ``after`` (which
    starts where ``before`` ends): what running them all at once gives."""
    from dataclasses import replace
    fan = type(before.fan)(before.fan.months)
    fan.merge(before.fan)
    fan.merge(after.fan)
    return replace(before, replications=before.replications.concat(after.replications), fan=fan,
                   wall_seconds=before.wall_seconds + after.wall_seconds)


def attribute_difference(base: Scenario, other: Scenario, *, runs: int, seed: int, horizon: float, executor,
                         use_posterior: bool = True, permutations: int = 64) -> dict:
    """Shapley attribution of P(collapse by the horizon), other minus base, to the settings that differ."""
    from sim.attribution import changed_settings, hybrid, shapley
    from sim.survival import collapse_indicator
    settings = changed_settings(base, other)
    plans = comparison_plans([base, other], seed=seed, use_posterior=use_posterior)
    s_groups = max(p.setting_groups for p in plans)
    posterior = plans[0].posterior

    def evaluate(subset) -> np.ndarray:
        scenario = hybrid(base, settings, subset, f"{base.name}-hybrid{len(subset)}")
        plan = DrawPlan.for_run(scenario, seed=seed, posterior=posterior, setting_groups=s_groups)
        r = simulate(scenario, runs=runs, seed=seed, horizon_months=horizon, executor=executor, plan=plan).replications
        return collapse_indicator(r.months, r.collapsed, horizon)

    result = shapley(settings, evaluate, permutations=permutations, seed=seed)
    result["outcome"] = f"P(collapse by month {horizon:g}), other minus base"
    return result


def _offset(progress, start: int, total: int):
    if progress is None:
        return None
    return lambda done, _n: progress(start + done, total)


def sweep(loaded, directory, *, jobs: int | None = None, scheduler: str | None = None, restart: bool = False,
          progress=None, replications_format: str = "csv", use_posterior: bool | None = None,
          preload_figures: bool = False):
    """Evaluate every point of an experiment (resuming from a checkpoint), then analyse and write.

    ``loaded`` is a :class:`sim.experiment.LoadedExperiment`, or a path or bundled name to load.
    Returns a :class:`sim.results.SweepResult`: ``.analysis`` is what ``sensitivity.json`` holds,
    ``.to_frame()`` the per-point outcomes. ``replications_format="parquet"`` writes the
    per-replication rows (``keep_replications = true``) as ``replications.parquet`` (needs pyarrow).
    ``preload_figures`` readies the report (matplotlib, its templates) in the background once the workers are
    started, and has the tasks computed in workers even at ``jobs=1`` where a second core is usable
    (``sim.report.preload``).
    """
    from sim.results import SweepResult
    if not hasattr(loaded, "experiment"):
        from sim.experiment import load_experiment
        loaded = load_experiment(loaded)
    if replications_format not in ("csv", "parquet"):
        raise ValueError("replications_format must be 'csv' or 'parquet'")
    if replications_format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError('Parquet output needs pyarrow: pip install ".[parquet]"') from None
    from sim.store import SweepStore
    from sim.sweep import analyse_outcomes, design_for, evaluate_points, make_tasks, sweep_plan, task_count

    if scheduler is not None:  # before anything is written: an unusable cluster leaves no trace
        design, values = design_for(loaded)
        from sim.distributed import DaskExecutor
        executor = DaskExecutor(scheduler)
    else:
        executor = LocalExecutor(jobs)
        from pathlib import Path
        if restart or not (Path(directory) / "checkpoint.jsonl").exists():
            # a fresh sweep has at least the experiment's ``points``: start that many tasks' workers now, so
            # that they import the engine while this process draws the design
            points = loaded.experiment.points
            executor.start(task_count(loaded, points, executor.jobs), beside=preload_figures)
        design, values = design_for(loaded)
    if preload_figures:   # matplotlib and the report's templates, readied while the workers compute (after they
        from sim.report import preload   # are forked: sim.workers.import_in_background)
        preload("sweep", executor)
    with executor:
        plan = sweep_plan(loaded, use_posterior)
        fingerprint = loaded.fingerprint if plan.posterior is not None or loaded.scenario.posterior is None \
            else loaded.fingerprint + ":point-values"
        store = SweepStore(directory, fingerprint, values.shape[0])
        rows = {p: {k: v for k, v in r.items() if k != "replications"}
                for p, r in store.open(restart, str(loaded.path)).items()}
        pending = [p for p in range(values.shape[0]) if p not in rows]
        tasks = make_tasks(loaded, values, pending, executor.jobs, plan)
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
    analysis = analyse_outcomes(loaded, design, rows, over_posterior=plan.posterior is not None)
    store.finish(loaded, design, values, rows, analysis, replications_format=replications_format)
    return SweepResult(store.directory, loaded, values, rows, analysis)


def variant(scenario, changes: dict[str, float], *, name: str | None = None, description: str | None = None):
    """A validated copy of a scenario with some parameters changed, by key path.

        sim.variant(moscow, {"actors.russia.interest_in_guarantor": 0.4}, name="russia_cools")

    ``scenario`` is a Scenario, or a path or bundled name to load. Unknown key paths and values out
    of range raise :class:`sim.InputError` naming the key. Without ``name``, the variant keeps the
    scenario's name (result directories would then not tell them apart).
    """
    from sim.scenario import load_scenario, with_value
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    try:
        changed = with_value(scenario, dict(changes))
    except KeyError as exc:
        from sim.scenario import InputError
        raise InputError([f"{scenario.name}: {exc.args[0]}"]) from None
    update = {}
    if name is not None:
        update["name"] = name
    if description is not None:
        update["description"] = description
    if update:
        changed = Scenario.model_validate({**changed.model_dump(mode="python"), **update})
    return changed


def save(result, directory):
    """Write a result to a directory as the command line does (``runs.csv``, ``summary.json``, ...).

    ``result`` is a RunResult (:func:`sim.store.save_run`) or a Comparison
    (:func:`sim.store.save_comparison`); a SweepResult is written by :func:`sweep` itself and is
    copied if another directory is given. Returns the directory. The figures are the report's
    (:func:`report` writes ``report.html`` and ``figures/``).
    """
    from pathlib import Path

    from sim import store
    from sim.comparison import Comparison
    from sim.results import SweepResult
    directory = Path(directory)
    if isinstance(result, RunResult):
        return store.save_run(result, directory)
    if isinstance(result, Comparison):
        return store.save_comparison(result, directory)
    if isinstance(result, SweepResult):
        if Path(result.directory).resolve() != directory.resolve():
            store.copy_directory(Path(result.directory), directory)
        return directory
    raise TypeError(f"save() takes a RunResult, a Comparison or a SweepResult, not {type(result).__name__}")


def report(directory, *, open_browser: bool = False):
    """Write ``directory/report.html`` for a result directory and return its path."""
    from sim.report import open_report, write_report
    path = write_report(directory)
    if open_browser:
        open_report(path)
    return path
