"""The Python API. The command line is a thin layer over these functions."""

from __future__ import annotations

from sim.montecarlo import LocalExecutor, simulate
from sim.results import RunResult
from sim.schema import Scenario


def run(scenario: Scenario, *, runs: int = 1000, seed: int = 0, jobs: int | None = None,
        horizon_months: float | None = None, progress=None, executor: LocalExecutor | None = None) -> RunResult:
    """Monte Carlo replications of one scenario.

    The result is the same for any ``jobs``: replications are seeded by blocks from ``seed``.
    """
    if executor is not None:
        return RunResult(simulate(scenario, runs=runs, seed=seed, horizon_months=horizon_months,
                                  executor=executor, progress=progress))
    with LocalExecutor(jobs) as own:
        return RunResult(simulate(scenario, runs=runs, seed=seed, horizon_months=horizon_months,
                                  executor=own, progress=progress))
