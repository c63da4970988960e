"""Paired comparison of two scenarios run on common random numbers. Statistics only.

Replication i of both scenarios draws the same numbers for the same random process, so the
per-replication differences isolate the effect of the scenario; the paired confidence intervals are
then narrower than independent runs would give, and the report says by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.notebook import ComparisonNotebook
from sim.results import RunResult
from sim.scenario import diff
from sim.survival import (bootstrap_median_difference, collapse_indicator, initiator_test, logrank,
                          paired_difference)

COMPARE_MONTHS = (6, 12, 24)


def compare_months(horizon: float) -> list[float]:
    return [*(m for m in COMPARE_MONTHS if m < horizon), horizon]


def _key(month: float) -> str:
    return str(int(month)) if float(month).is_integer() else f"{month:g}"


@dataclass(repr=False)  # the short repr, to_frame() and the notebook view come from ComparisonNotebook
class Comparison(ComparisonNotebook):
    base: RunResult
    other: RunResult
    stopping: dict

    def __post_init__(self):
        a, b = self.base.simulation.replications, self.other.simulation.replications
        if len(a) != len(b):
            raise ValueError("paired comparison needs the same replications in both scenarios")
        if self.base.horizon_months != self.other.horizon_months:
            raise ValueError("paired comparison needs the same horizon in both scenarios")
        self.horizon = self.base.horizon_months
        self.p_collapse = {
            _key(m): paired_difference(collapse_indicator(a.months, a.collapsed, m),
                                       collapse_indicator(b.months, b.collapsed, m))
            for m in compare_months(self.horizon)}
        self.rmst = paired_difference(np.minimum(a.months, self.horizon), np.minimum(b.months, self.horizon))
        self.median = bootstrap_median_difference(a.months, a.collapsed, b.months, b.collapsed, seed=0)
        self.logrank_chi2, self.logrank_p = logrank(a.months, a.collapsed, b.months, b.collapsed)
        self.initiators = initiator_test(self.base.initiator_counts(), self.other.initiator_counts())
        self.parameter_diff = diff(self.base.scenario, self.other.scenario)

    @property
    def main_key(self) -> str:
        """The headline difference: P(collapse by the horizon)."""
        return _key(self.horizon)

    def main_half_width(self) -> float:
        d = self.p_collapse[self.main_key].difference
        return (d.ci_high - d.ci_low) / 2

    def variance_reduction(self) -> dict:
        main = self.p_collapse[self.main_key]
        paired, unpaired = main.paired_ci_width, main.unpaired_ci_width
        outcome = f"p_collapse by month {self.main_key}"
        if not unpaired > 0:  # every run collapses (or none) in both: the RMST still varies
            paired, unpaired = self.rmst.paired_ci_width, self.rmst.unpaired_ci_width
            outcome = "rmst"
        ratio = paired / unpaired if unpaired > 0 else None
        return {
            "outcome": outcome,
            "paired_ci_width": paired,
            "unpaired_ci_width": unpaired,
            "width_ratio": ratio,
            "variance_reduction": None if ratio is None else 1.0 - ratio ** 2,
            "rmst_width_ratio": (self.rmst.paired_ci_width / self.rmst.unpaired_ci_width
                                 if self.rmst.unpaired_ci_width > 0 else None),
        }

    def as_dict(self) -> dict:
        return {
            "scenarios": {
                "base": {"name": self.base.scenario.name, "description": self.base.scenario.description},
                "other": {"name": self.other.scenario.name, "description": self.other.scenario.description},
            },
            "runs": self.base.runs,
            "seed": self.base.simulation.seed,
            "horizon_months": self.horizon,
            "stopping": self.stopping,
            "differences": {
                "direction": "other minus base",
                "p_collapse": {k: v.as_dict() for k, v in self.p_collapse.items()},
                "rmst": self.rmst.as_dict(),
                "median": self.median,
            },
            "p_collapse": {"base": self.base.p_collapse(), "other": self.other.p_collapse()},
            "logrank_p": self.logrank_p,
            "logrank_chi2": self.logrank_chi2,
            "initiator_test": {**self.initiators,
                               "base_share": self.base.initiator_share(),
                               "other_share": self.other.initiator_share()},
            "variance_reduction": self.variance_reduction(),
            "parameter_diff": [{"key": k, "base": a, "other": b} for k, a, b in self.parameter_diff],
        }
