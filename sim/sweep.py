"""Sensitivity sweeps: sample the design, evaluate its points in batches, analyse the outcomes.

Every point has its own blocks of random streams (named by the point's index), so a point's
outcomes depend only on the experiment's seed and the point: not on which other points share its
batch, on the order in which points finish, or on the machine that ran it. That is what makes
sweeps resumable and identical on local cores and on a Dask cluster.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass

import numpy as np

from sim.experiment import LoadedExperiment
from sim.survival import wilson
from sim.draws import DrawPlan
from sim.montecarlo import advance_to_horizon, build_model
from sim.rng import BLOCK_SIZE

SWEEP_TAG = 0x5357  # separates sweep-point streams from run blocks
REPLICATIONS_PER_TASK = 16000   # as many as a run's model advances at once


def design_for(loaded: LoadedExperiment):
    """The sampler's design in the unit cube and the factor values of every point, shape (m, d)."""
    from sim.sensitivity import sample
    e = loaded.experiment
    d = len(e.factors)
    design = sample(e.sampler, np.array([[0.0, 1.0]] * d), n=e.points, seed=e.seed, levels=e.levels)
    unit = np.clip(design.points, 0.0, 1.0)
    values = np.column_stack([f.from_unit(unit[:, i]) for i, f in enumerate(e.factors.values())])
    return design, values


def point_blocks(point: int, replications: int) -> list[tuple[tuple[int, int, int], int]]:
    blocks = []
    for j in range(math.ceil(replications / BLOCK_SIZE)):
        blocks.append(((SWEEP_TAG, point, j), min(BLOCK_SIZE, replications - j * BLOCK_SIZE)))
    return blocks


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to evaluate some points: small and picklable."""

    scenario: object
    seed: int
    horizon_months: float
    replications: int
    paths: tuple[str, ...]
    outcomes: tuple[str, ...]
    points: tuple[int, ...]
    values: tuple[tuple[float, ...], ...]
    keep_replications: bool = False
    plan: DrawPlan | None = None


def evaluate_points(task: PointTask) -> list[dict]:
    """Outcomes of each point of the task; a point whose model raises is recorded with its error."""
    try:
        return _evaluate_together(task)
    except Exception:  # isolate the failing point(s): evaluate one by one
        rows = []
        for p, v in zip(task.points, task.values):
            single = PointTask(task.scenario, task.seed, task.horizon_months, task.replications, task.paths,
                               task.outcomes, (p,), (v,), task.keep_replications, task.plan)
            try:
                rows.extend(_evaluate_together(single))
            except Exception as exc:
                rows.append({"point": p, "values": list(v), "outcomes": None,
                             "error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc(limit=3)})
        return rows


def _evaluate_together(task: PointTask) -> list[dict]:
    reps = task.replications
    blocks = [b for p in task.points for b in point_blocks(p, reps)]
    values = np.asarray(task.values, dtype=float)
    overrides = {path: np.repeat(values[:, i], reps) for i, path in enumerate(task.paths)}
    model = build_model(task.scenario, task.seed, blocks, task.horizon_months, task.plan, overrides)
    out = advance_to_horizon(model, blocks, record_fan=False, first_collapse_only=True)
    rows = []
    for k, p in enumerate(task.points):
        sl = slice(k * reps, (k + 1) * reps)
        labels = np.array(["none", *out.initiators], dtype=object)[out.initiator[sl].astype(np.int64) + 1]
        row = {"point": p, "values": list(task.values[k]), "error": None,
               "outcomes": point_outcomes(out.months[sl], out.collapsed[sl], labels, task.horizon_months,
                                          task.outcomes)}
        if task.keep_replications:
            row["replications"] = {"months": out.months[sl].tolist(), "collapsed": out.collapsed[sl].tolist(),
                                   "initiator": labels.tolist()}
        rows.append(row)
    return rows


def point_outcomes(months, collapsed, initiators, horizon: float, outcomes) -> dict[str, list[float]]:
    """Each outcome as [estimate, ci_low, ci_high, noise_variance of the estimate]."""
    n = months.size
    result = {}
    for name in outcomes:
        if name == "rmst":
            x = np.minimum(months, horizon)
            mean, var = float(x.mean()), float(x.var(ddof=1) / n) if n > 1 else float("nan")
            half = 1.959963984540054 * math.sqrt(var) if np.isfinite(var) else float("nan")
            result[name] = [mean, mean - half, mean + half, var]
            continue
        if name.startswith("initiator_share:"):
            who = name.split(":", 1)[1]
            k, total = int(np.sum(collapsed & (initiators == who))), int(collapsed.sum())
        elif name.startswith("p_initiated_by:"):
            who = name.split(":", 1)[1]
            k, total = int(np.sum(collapsed & (initiators == who))), n
        else:
            month = horizon if name == "p_collapse" else float(name.removeprefix("p_collapse_by_"))
            k, total = int(np.sum(collapsed & (months <= month + 1e-9))), n
        if total == 0:
            result[name] = [float("nan")] * 4
            continue
        p = k / total
        low, high = wilson(k, total)
        result[name] = [p, low, high, p * (1 - p) / total]
    return result


def sweep_plan(loaded: LoadedExperiment, use_posterior: bool | None = None) -> DrawPlan:
    """Every point spreads its replications over the same parameter and setting draws (common to all points)."""
    from sim.api import posterior_of
    e = loaded.experiment
    use = e.use_posterior if use_posterior is None else use_posterior
    return DrawPlan.for_run(loaded.scenario, seed=e.seed, posterior=posterior_of(loaded.scenario, use))


TASKS_PER_WORKER = 2


def points_per_task(loaded: LoadedExperiment, pending: int, jobs: int) -> int:
    """Points per task: up to ``REPLICATIONS_PER_TASK`` replications for one model, and ``TASKS_PER_WORKER``
    tasks per worker. Each model pays a fixed cost per step whatever its size, so fewer, bigger tasks do less
    work: two per worker rather than four made the bundled sweeps 15-20% faster, and the points, dealt out in
    turn, make tasks of about equal cost, so that the workers still finish together."""
    per_task = max(1, REPLICATIONS_PER_TASK // loaded.experiment.replications)
    return max(1, min(per_task, math.ceil(pending / max(1, TASKS_PER_WORKER * jobs))))


def task_count(loaded: LoadedExperiment, pending: int, jobs: int) -> int:
    """How many tasks ``pending`` points make: at most ``points_per_task`` points each, and a whole number of rounds
    of one task per worker where there are more tasks than workers, so that no worker starts a last round alone
    while the others wait (with 16 workers, 90 tasks would leave 6 idle for the whole of the sixth round; 96
    slightly smaller ones do not)."""
    n = math.ceil(pending / points_per_task(loaded, pending, jobs))
    if n > jobs:
        n = min(pending, jobs * math.ceil(n / jobs))
    return n


def make_tasks(loaded: LoadedExperiment, values: np.ndarray, pending: list[int], jobs: int,
               plan: DrawPlan | None = None) -> list[PointTask]:
    e = loaded.experiment
    n_tasks = task_count(loaded, len(pending), jobs)
    paths = tuple(f.path for f in e.factors.values())
    tasks = []
    # Points are dealt out in turn: neighbouring points (a grid row, say) often cost alike, so
    # consecutive chunks would leave one worker with all the slow ones.
    for i in range(n_tasks):
        chunk = pending[i::n_tasks]
        tasks.append(PointTask(loaded.scenario, e.seed, e.horizon_months, e.replications, paths, tuple(e.outcomes),
                               tuple(chunk), tuple(tuple(float(x) for x in values[p]) for p in chunk),
                               e.keep_replications, plan))
    return tasks


def analyse_outcomes(loaded: LoadedExperiment, design, rows: dict[int, dict], *, over_posterior: bool = False) -> dict:
    """Sensitivity indices of each outcome, corrected for Monte Carlo noise where that noise is known.

    A point's binomial variance p(1 - p)/n is its noise only when its replications are independent draws of
    one distribution. Spread evenly over the posterior's parameter draws (``over_posterior``: replication i
    on draw i mod G at every point), a point is a stratified estimate whose noise is smaller by the spread of
    the outcome across draws, which the point alone cannot measure. Subtracting the binomial variance then
    over-corrects (total indices below first-order ones, even negative), so there the indices are left
    uncorrected (the usual estimators: ST biased up, S1 down, by at most ``noise_share``) and a note says so.
    Failed points are excluded and counted.
    """
    from sim.sensitivity import analyse
    e = loaded.experiment
    m = design.points.shape[0]
    failed = sorted(p for p, r in rows.items() if r["error"] is not None)
    analysis = {"sampler": e.sampler, "points": m, "failed_points": len(failed),
                "failed_point_indices": failed[:100], "outcomes": {}}
    for name in e.outcomes:
        y = np.full(m, np.nan)
        noise = np.full(m, np.nan)
        for p, r in rows.items():
            if r["outcomes"] is not None:
                y[p] = r["outcomes"][name][0]
                noise[p] = r["outcomes"][name][3]
        undefined = int(np.sum(np.isnan(y))) - len(failed)
        try:
            res = analyse(design, y, noise_variance=np.where(np.isnan(noise), 0.0, noise), seed=e.seed,
                          correct_noise=not over_posterior)
        except ValueError as exc:  # e.g. too many failed points left: say so instead of guessing
            analysis["outcomes"][name] = {"method": None, "factors": [], "ranking": [], "noise_share": None,
                                          "undefined_points": undefined, "error": str(exc)}
            continue
        out = res.as_dict(loaded.factor_names)
        out["undefined_points"] = undefined
        out["noise_corrected"] = not over_posterior
        if over_posterior:
            out["notes"] = [*out["notes"],
                            "replications are spread over the posterior's parameter draws, so the binomial noise "
                            "variance overstates the noise: indices are not noise-corrected and noise_share is an "
                            "upper bound (ST biased up and S1 down by at most that share)"]
        analysis["outcomes"][name] = out
    return analysis


from sim._callable import make_callable  # noqa: E402  (sim.sweep(experiment, dir) runs a sweep)
make_callable(__name__, "sweep")
