"""Monte Carlo replications of a scenario, in blocks, on local processes (or Dask, for sweeps).

A block of ``BLOCK_SIZE`` replications is the unit of seeding; a task is a few consecutive blocks
that one model advances at once. Results depend only on the blocks, never on how they are grouped
into tasks or spread over workers.
"""

from __future__ import annotations

import functools
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from typing import TYPE_CHECKING

from sim import workers
from sim.draws import DrawPlan
from sim.outcomes import NOT_COLLAPSED, TRIGGERS
from sim.rng import BLOCK_SIZE, BlockStreams, blocks_for
from sim.schema import Scenario
from sim.summaries import MonthlyFan

if TYPE_CHECKING:   # the model (and Mesa) is imported where a model is built: in the workers
    from sim.model import CeasefireModel

MAX_BLOCKS_PER_TASK = 16   # replications one model advances at once: per-step overhead is paid once per task


@dataclass
class BatchOutput:
    """What one batch of blocks produced, compact enough to ship between processes."""

    blocks: list[tuple[int, int]]
    months: np.ndarray          # float64, time to the first collapse; the horizon where censored
    collapsed: np.ndarray       # bool
    initiator: np.ndarray       # int16 code into ``initiators``; -1 where censored
    trigger: np.ndarray         # int16 code into TRIGGERS; -1 where censored
    incidents: dict[str, np.ndarray]
    initiators: list[str]
    front_months: np.ndarray    # (replications, fronts): time to each front's collapse; NaN where it held
    front_initiator: np.ndarray  # (replications, fronts) int16; -1 where it held
    front_names: list[str]
    fan: MonthlyFan | None = None
    rendered: str | None = None  # what ``render`` made of this batch in the worker (e.g. its runs.csv rows)


def replication_indices(blocks) -> np.ndarray:
    """Replication numbers (within the run, or within a sweep point or calibration case) of the blocks."""
    parts = []
    for block, n in blocks:
        index = block[-1] if isinstance(block, tuple) else block
        parts.append(int(index) * BLOCK_SIZE + np.arange(n))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def build_model(scenario: Scenario, seed: int, blocks, horizon_months: float, plan: DrawPlan | None = None,
                overrides: dict | None = None) -> CeasefireModel:
    """A model over the given blocks, with the plan's draws for their replications (``overrides`` win)."""
    plan = plan or DrawPlan.for_run(scenario, seed=seed, posterior=None)
    merged = plan.overrides(replication_indices(blocks))
    merged.update(overrides or {})
    from sim.model import CeasefireModel
    return CeasefireModel(scenario, BlockStreams(seed, blocks), horizon_months=horizon_months, overrides=merged)


def simulate_batch(scenario: Scenario, seed: int, blocks: list[tuple[int, int]], horizon_months: float,
                   overrides: dict | None = None, record_fan: bool = True, plan: DrawPlan | None = None,
                   first_collapse_only: bool = False, render=None) -> BatchOutput:
    """Advance one model over the given blocks to the horizon; ``render(batch)``, if given, runs here too (in
    the worker) and its text travels with the batch as ``rendered``."""
    model = build_model(scenario, seed, blocks, horizon_months, plan, overrides)
    out = advance_to_horizon(model, blocks, record_fan, first_collapse_only=first_collapse_only)
    if render is not None:
        out.rendered = render(out)
    return out


COMPACT_BELOW = 0.85  # share of replications still simulated under which the finished ones are dropped
COMPACT_MIN = 32      # no compaction below this many replications (the saving would not pay)


@dataclass
class Work:
    """Replication-steps and random numbers spent by the batches advanced in this process (for the benchmark).

    ``holding_steps`` are the replication-steps of runs still holding when the step began; ``values_used`` the
    uniforms handed to the model out of ``values_drawn`` generated, ``values_in_gaps`` those generated between
    the columns still simulated (see ``sim.rng.BlockStreams``)."""

    replication_steps: int = 0
    holding_steps: int = 0
    values_drawn: int = 0
    values_used: int = 0
    values_in_gaps: int = 0

    def reset(self) -> None:
        self.replication_steps = self.holding_steps = self.values_drawn = self.values_used = self.values_in_gaps = 0


WORK = Work()


class _Outcomes:
    """Full-size outcome arrays, filled in as replications end (so the model can drop them)."""

    def __init__(self, model: CeasefireModel):
        r = model.replications
        self.origin = np.arange(r)
        self.collapse_month = np.full(r, np.nan)
        self.initiator = np.full(r, -1, dtype=np.int16)
        self.trigger = np.full(r, -1, dtype=np.int16)
        self.front_months = np.full((r, len(model.fronts)), np.nan)
        self.front_initiator = np.full((r, len(model.fronts)), -1, dtype=np.int16)
        self.incidents = {k: np.zeros(r, dtype=np.int32) for k in model.incident_totals()}

    def harvest(self, model: CeasefireModel, which: np.ndarray) -> None:
        """Copy the outcomes of the model's replications ``which`` (a mask) to their original places."""
        at = self.origin[which]
        self.collapse_month[at] = model.collapse_month[which]
        self.initiator[at] = model.initiator[which]
        self.trigger[at] = model.trigger[which]
        for f, front in enumerate(model.fronts):
            self.front_months[at, f] = front.collapse_month[which]
            self.front_initiator[at, f] = front.initiator[which]
        for k, v in model.incident_totals().items():
            self.incidents[k][at] = v[which]


def advance_to_horizon(model: CeasefireModel, blocks, record_fan: bool = True, compact: bool = True,
                       first_collapse_only: bool = False) -> BatchOutput:
    """Step the model to its horizon; replications that have ended stop being stepped (they are dropped from
    the model once fewer than ``COMPACT_BELOW`` of them are still simulated), which changes no result: each
    remaining replication draws the same numbers (``BlockStreams.select``).

    A replication has ended when every front has collapsed, or, with ``first_collapse_only`` (for callers that
    read only the first collapse: sweeps, calibration), at its first collapse; the per-front outcomes are then
    those up to the first collapse only.
    """
    horizon = model.horizon_months
    n_months = int(math.floor(horizon + 1e-9))
    fan = MonthlyFan(n_months) if record_fan else None
    monthly = {name: np.zeros(model.replications, dtype=np.int64) for name in model.incidents_now()}
    outcomes = _Outcomes(model)
    month_done = 0
    steps = holding_steps = 0
    if fan is not None:
        _snapshot(fan, model, 0, None)
    for _ in range(model.n_steps):
        holding_before = model.holding.copy()
        steps += model.replications
        holding_steps += int(np.count_nonzero(holding_before))
        model.step()
        if fan is not None and month_done < n_months:
            for name, values in model.incidents_now().items():
                monthly[name] += values * holding_before
            reached = min(int(math.floor(model.month_end + 1e-9)), n_months)
            while month_done < reached:
                month_done += 1
                _snapshot(fan, model, month_done, monthly)
                for values in monthly.values():
                    values[:] = 0
        going = model.holding if first_collapse_only else model.active
        n_going = int(np.count_nonzero(going))
        if not n_going:
            break
        if compact and model.replications >= COMPACT_MIN and n_going < COMPACT_BELOW * model.replications:
            outcomes.harvest(model, ~going)
            keep = np.flatnonzero(going)
            model.compact(keep)
            outcomes.origin = outcomes.origin[keep]
            monthly = {k: v[keep] for k, v in monthly.items()}
    WORK.replication_steps += steps
    WORK.holding_steps += holding_steps
    WORK.values_drawn += getattr(model.streams, "values_drawn", 0)
    WORK.values_used += getattr(model.streams, "values_used", 0)
    WORK.values_in_gaps += getattr(model.streams, "values_in_gaps", 0)
    outcomes.harvest(model, np.ones(model.replications, dtype=bool))
    collapsed = ~np.isnan(outcomes.collapse_month)
    return BatchOutput(
        blocks=list(blocks),
        months=np.where(collapsed, outcomes.collapse_month, horizon),
        collapsed=collapsed,
        initiator=outcomes.initiator,
        trigger=outcomes.trigger,
        incidents=outcomes.incidents,
        initiators=list(model.initiators),
        front_months=outcomes.front_months,
        front_initiator=outcomes.front_initiator,
        front_names=[f.name for f in model.fronts],
        fan=fan.compact() if fan is not None else None,
    )


def _snapshot(fan: MonthlyFan, model: CeasefireModel, month: int, monthly) -> None:
    """Quantiles are over the replications still holding at the end of the month."""
    holding = model.holding
    if not holding.any():
        return
    for name, values in model.state_snapshot().items():
        fan.add_index(name, month, np.asarray(values)[holding])
    if monthly is not None:
        for name, values in monthly.items():
            fan.add_count(f"{name}_per_month", month, values[holding])


# --- executing blocks -----------------------------------------------------------------------

def default_jobs() -> int:
    return workers.usable_cores()


EXECUTOR_STATS: list[dict] = []   # one entry per closed executor of this process (for ``ceasefire bench``)


def _timed(fn, args):
    """Run ``fn(*args)`` in a worker; its result and the seconds it took there."""
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def _warm_up() -> None:
    """Pool initializer: import the engine (Mesa, the model) while the parent prepares the tasks."""
    import sim.model  # noqa: F401


class LocalExecutor:
    """Worker processes started once per command and reused for every task of it.

    ``jobs`` is capped at a few times the cores, and no more workers start than there are tasks (``--jobs``
    beyond that would only sit idle). ``start`` starts them early, so that they import the engine while the
    caller still reads its inputs. The workers end with the command, even a killed one, and a map keeps no
    result once handed on (``sim.workers``). The seconds spent in tasks and in parallel maps are kept in
    ``stats``.
    """

    def __init__(self, jobs: int | None = None):
        if jobs is not None and int(jobs) < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = default_jobs() if jobs is None else workers.cap_jobs(jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._workers = 0
        self._beside = False    # tasks that would run here run in workers instead (start(beside=True))
        self.stats = {"jobs": self.jobs, "workers": 0, "tasks": 0, "task_seconds": 0.0, "map_seconds": 0.0}

    def start(self, tasks: int, *, beside: bool = False) -> None:
        """Start the workers for ``tasks`` tasks now (none if they would run in this process). With ``beside``,
        tasks that would run in this process (a single one, or any number at ``jobs`` 1) run in a worker instead
        wherever a second core is usable, so that this process can do other work meanwhile (import matplotlib
        for the report) instead of sharing its interpreter with the engine; still no more than ``jobs``
        workers compute. On one usable core they stay here."""
        if beside and self._pool is None and workers.usable_cores() >= 2:
            self._beside = True
        self._pool_for(tasks)

    @property
    def computes_elsewhere(self) -> bool:
        """Whether the tasks run in worker processes (started by :meth:`start`), leaving this process free.
        Only then is anything done in a background thread here (imports for the report): with the tasks run in
        this process, such a thread takes turns with the engine for the interpreter, and both end later than
        one after the other (measured: an import of matplotlib beside 10,000 runs computed here cost the command
        0.04 to 0.1 s more than the same import afterwards)."""
        return self._pool is not None

    def _pool_for(self, tasks: int) -> ProcessPoolExecutor | None:
        wanted = min(self.jobs, tasks)
        if wanted < (1 if self._beside else 2):     # a single task runs here, unless started beside this process
            return self._pool
        if self._pool is not None and self._workers < wanted:
            self.close()    # more tasks than workers now: a bigger pool
        if self._pool is None:   # workers that end with this process, and import the engine first
            self._pool = workers.process_pool(wanted, warm_up=_warm_up)
            self._workers = wanted
            self.stats["workers"] = max(self.stats["workers"], wanted)
        return self._pool

    def _inline(self, fn, tasks):
        fn = workers.collecting(fn)
        for task in tasks:
            result, seconds = _timed(fn, task)
            self.stats["tasks"] += 1
            self.stats["task_seconds"] += seconds
            yield result

    def _results(self, pool, fn, tasks, ordered: bool):
        """``fn`` over ``tasks`` (each a tuple of arguments) in the pool, at most a few tasks submitted ahead,
        so that no result stays referenced once handed on."""
        started = time.perf_counter()
        timed = functools.partial(_timed, workers.collecting(fn))
        # workers.ordered calls submit(fn, *item), workers.unordered submit(fn, item): either way timed(task)
        items = [(task,) for task in tasks] if ordered else tasks
        spread = workers.ordered if ordered else workers.unordered
        try:
            for result, seconds in spread(pool, timed, items, window=4 * self._workers):
                self.stats["tasks"] += 1
                self.stats["task_seconds"] += seconds
                yield result
        finally:
            self.stats["map_seconds"] += time.perf_counter() - started

    def map(self, fn, tasks):
        """Results of ``fn(*task)`` in task order; yields as soon as the next one in order is ready."""
        tasks = list(tasks)
        pool = self._pool_for(len(tasks)) if len(tasks) > 1 or self._beside else None
        if pool is None:
            yield from self._inline(fn, tasks)
            return
        yield from self._results(pool, fn, tasks, ordered=True)

    def map_unordered(self, fn, tasks):
        """Results of ``fn(task)`` as they finish (for sweeps, whose points carry their own index)."""
        tasks = list(tasks)
        pool = self._pool_for(len(tasks)) if len(tasks) > 1 or self._beside else None
        if pool is None:
            yield from self._inline(fn, [(task,) for task in tasks])
            return
        yield from self._results(pool, fn, [(task,) for task in tasks], ordered=False)

    def close(self, abrupt: bool = False) -> None:
        if self._pool is not None:
            workers.stop_pool(self._pool, abrupt=abrupt)
            self._pool = None
            self._workers = 0
            self._beside = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(abrupt=exc_type is not None)   # interrupted: stop the workers at once
        EXECUTOR_STATS.append(dict(self.stats))


MIN_BLOCKS_PER_TASK = 4     # the smallest task of a long run's tail (smaller models batch poorly)


def _even_split(blocks: list, k: int) -> list[list]:
    """``blocks`` in ``k`` consecutive tasks (fewer if there are fewer blocks) whose sizes differ by one block
    at most."""
    n = len(blocks)
    k = max(1, min(k, n))
    bounds = [n * i // k for i in range(k + 1)]
    return [blocks[bounds[i]:bounds[i + 1]] for i in range(k)]


def task_chunks(blocks: list[tuple[int, int]], jobs: int) -> list[list[tuple[int, int]]]:
    """Consecutive blocks grouped into tasks: big enough to batch well (up to ``MAX_BLOCKS_PER_TASK``), enough
    to keep every worker busy, and, in a long run, in rounds of one task per worker that shrink towards the end
    (about 1 / (2 jobs) of what is left, at least ``MIN_BLOCKS_PER_TASK``) so that the workers finish together.
    How blocks are grouped changes no result: each block draws from its own streams."""
    jobs = max(1, jobs)
    if len(blocks) <= jobs * MAX_BLOCKS_PER_TASK:    # one task per worker
        return _even_split(blocks, jobs)
    # rounds of one task per worker, the tasks of a round of equal size: workers that start a round together
    # finish it together, where a lone last task would keep one busy while the others wait
    tasks, i = [], 0
    while True:
        left = len(blocks) - i
        size = min(MAX_BLOCKS_PER_TASK, max(MIN_BLOCKS_PER_TASK, math.ceil(left / (2 * jobs))))
        if left - jobs * size < jobs * MIN_BLOCKS_PER_TASK:
            break       # this round and what would be left after it: the last round, shared out evenly
        for _ in range(jobs):
            tasks.append(blocks[i:i + size])
            i += size
    return tasks + _even_split(blocks[i:], jobs)


# --- a whole run -----------------------------------------------------------------------------

@dataclass
class Replications:
    """Per-replication outcomes of a run, in replication order."""

    months: np.ndarray
    collapsed: np.ndarray
    initiator: np.ndarray
    trigger: np.ndarray
    incidents: dict[str, np.ndarray]
    initiators: list[str]
    front_months: np.ndarray
    front_initiator: np.ndarray
    front_names: list[str]

    def __len__(self) -> int:
        return int(self.months.size)

    def initiator_labels(self) -> np.ndarray:
        labels = np.array([NOT_COLLAPSED, *self.initiators], dtype=object)
        return labels[self.initiator.astype(np.int64) + 1]

    def trigger_labels(self) -> np.ndarray:
        labels = np.array([NOT_COLLAPSED, *TRIGGERS], dtype=object)
        return labels[self.trigger.astype(np.int64) + 1]

    def concat(self, more: "Replications") -> "Replications":
        return Replications.from_outputs([self, more])

    @classmethod
    def from_outputs(cls, outputs: list) -> "Replications":
        """Concatenated in order; each item is a BatchOutput or Replications (same field names)."""
        first = outputs[0]
        return cls(np.concatenate([o.months for o in outputs]), np.concatenate([o.collapsed for o in outputs]),
                   np.concatenate([o.initiator for o in outputs]), np.concatenate([o.trigger for o in outputs]),
                   {k: np.concatenate([o.incidents[k] for o in outputs]) for k in first.incidents},
                   first.initiators, np.concatenate([o.front_months for o in outputs]),
                   np.concatenate([o.front_initiator for o in outputs]), first.front_names)


@dataclass
class SimulationRun:
    """Everything ``simulate`` produced; statistics live in ``sim.results``."""

    scenario: Scenario
    seed: int
    horizon_months: float
    replications: Replications
    fan: MonthlyFan
    wall_seconds: float
    jobs: int
    plan: DrawPlan
    first_replication: int = 0
    extra: dict = field(default_factory=dict)


def simulate(scenario: Scenario, *, runs: int, seed: int, horizon_months: float | None = None,
             executor: LocalExecutor | None = None, progress=None, first_replication: int = 0,
             plan: DrawPlan | None = None, on_batch=None, render_batch=None) -> SimulationRun:
    """Run ``runs`` replications (starting at ``first_replication``) and gather their outcomes.

    ``plan`` says which parameter and setting draws each replication uses (default: the scenario's
    uncertain settings, no posterior). ``progress(done, total)`` is called as replications finish, and
    ``on_batch(batch)`` with each ``BatchOutput`` in replication order as soon as it is in (e.g. to write
    ``runs.csv`` while the workers go on); ``render_batch(batch)`` (a module-level function) runs in the worker
    on each batch before it is sent back, and its text is ``batch.rendered`` for ``on_batch`` (so that formatting
    rows is part of the parallel work, not of this process's).
    """
    (run,) = simulate_scenarios([(scenario, plan)], runs=runs, seed=seed, horizon_months=horizon_months,
                                executor=executor, progress=progress, first_replication=first_replication,
                                on_batch=on_batch, render_batch=render_batch)
    return run


def simulate_scenarios(scenarios: list[tuple[Scenario, DrawPlan | None]], *, runs: int, seed: int,
                       horizon_months: float | None = None, executor: LocalExecutor | None = None, progress=None,
                       first_replication: int = 0, on_batch=None, render_batch=None) -> list[SimulationRun]:
    """``simulate`` for several (scenario, plan) pairs on the same replications, their tasks in one parallel map
    (a comparison's scenarios run side by side rather than one after the other). Each scenario's result is exactly
    what ``simulate`` gives it alone; ``progress(done, total)`` counts the replications of all of them."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    if seed is None or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    own = executor is None
    executor = executor or LocalExecutor(1)
    started = time.perf_counter()
    chunks = task_chunks(blocks_for(runs, first_replication), executor.jobs)
    plans, horizons, tasks, owner = [], [], [], []
    for i, (scenario, plan) in enumerate(scenarios):
        plan = plan if plan is not None else DrawPlan.for_run(scenario, seed=seed, posterior=None)
        horizon = float(scenario.horizon_months if horizon_months is None else horizon_months)
        plans.append(plan)
        horizons.append(horizon)
        tasks += [(scenario, seed, chunk, horizon, None, True, plan, False, render_batch) for chunk in chunks]
        owner += [i] * len(chunks)
    outputs: list[list] = [[] for _ in scenarios]
    fans = [MonthlyFan(int(math.floor(h + 1e-9))) for h in horizons]
    done = 0
    try:
        for i, out in zip(owner, executor.map(simulate_batch, tasks)):
            if out.fan is not None:
                fans[i].merge(out.fan)
            out.fan = None
            outputs[i].append(out)
            if on_batch is not None:
                on_batch(out)
            out.rendered = None
            done += out.months.size
            if progress is not None:
                progress(done, runs * len(scenarios))
    finally:
        if own:
            executor.close()
    wall = time.perf_counter() - started
    return [SimulationRun(scenario, seed, horizons[i], Replications.from_outputs(outputs[i]), fans[i], wall,
                          executor.jobs, plans[i], first_replication)
            for i, (scenario, _) in enumerate(scenarios)]


def replay(scenario: Scenario, *, seed: int, replication: int, horizon_months: float | None = None,
           plan: DrawPlan | None = None) -> list[dict]:
    """Month-by-month history of one replication, re-run exactly as in the full run (same plan)."""
    block, offset = divmod(replication, BLOCK_SIZE)
    horizon = float(scenario.horizon_months if horizon_months is None else horizon_months)
    model = build_model(scenario, seed, [(block, BLOCK_SIZE)], horizon, plan)
    rows = []
    n_months = int(math.floor(horizon + 1e-9))
    month_done = 0
    tally = {name: 0 for name in model.incidents_now()}

    def snapshot(month):
        row = {"month": month, "holding": bool(model.holding[offset])}
        row.update({k: float(np.asarray(v)[offset]) for k, v in model.state_snapshot().items()})
        row.update({f"{k}_in_month": v for k, v in tally.items()})
        for b in model.belligerents:
            row[f"ladder.{b.key}"] = int(b.escalation_level()[offset])
        return row

    rows.append(snapshot(0))
    for _ in range(model.n_steps):
        if month_done >= n_months:
            break
        model.step()
        for name, values in model.incidents_now().items():
            tally[name] += int(values[offset])
        reached = min(int(math.floor(model.month_end + 1e-9)), n_months)
        while month_done < reached:
            month_done += 1
            rows.append(snapshot(month_done))
            tally = dict.fromkeys(tally, 0)
    # finish the run so that a collapse launched before the horizon is seen as in the full run
    while model.steps < model.n_steps:
        model.step()
    collapsed = not np.isnan(model.collapse_month[offset])
    outcome = {
        "collapsed": collapsed,
        "months_to_collapse": float(model.collapse_month[offset]) if collapsed else horizon,
        "initiator": model.initiators[model.initiator[offset]] if collapsed else NOT_COLLAPSED,
        "trigger": TRIGGERS[model.trigger[offset]] if collapsed else NOT_COLLAPSED,
    }
    return rows, outcome
