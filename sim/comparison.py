"""Paired comparison of two scenarios run on common random numbers. Statistics only.

Replication i of both scenarios draws the same numbers for the same random process, and the same
parameter and setting draws, so the per-replication differences isolate the effect of the scenario.
Every interval and test here respects that pairing; the tests that would treat the runs as independent
samples are kept only under ``as_if_independent_runs``, labelled as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim import uncertainty
from sim.notebook import ComparisonNotebook
from sim.results import RunResult
from sim.scenario import diff
from sim.survival import (bootstrap_median_difference, collapse_indicator, initiator_test, logrank,
                          paired_difference, paired_proportion_difference, paired_tests)

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
    attribution: dict | None = field(default=None)

    def __post_init__(self):
        a, b = self.base.simulation.replications, self.other.simulation.replications
        if len(a) != len(b):
            raise ValueError("paired comparison needs the same replications in both scenarios")
        if self.base.horizon_months != self.other.horizon_months:
            raise ValueError("paired comparison needs the same horizon in both scenarios")
        self.horizon = self.base.horizon_months
        self.p_collapse = {}
        self.p_spread = {}
        for m in compare_months(self.horizon):
            xa = collapse_indicator(a.months, a.collapsed, m)
            xb = collapse_indicator(b.months, b.collapsed, m)
            self.p_collapse[_key(m)] = paired_proportion_difference(xa > 0, xb > 0)
            self.p_spread[_key(m)] = {**self._spread(xb - xa), "discordant_pairs": int(np.sum(xa != xb))}
        self.identical = bool(np.array_equal(a.months, b.months) and np.array_equal(a.collapsed, b.collapsed)
                              and np.array_equal(a.initiator, b.initiator))
        restricted_a, restricted_b = np.minimum(a.months, self.horizon), np.minimum(b.months, self.horizon)
        self.rmst = paired_difference(restricted_a, restricted_b)
        self.rmst_spread = self._spread(restricted_b - restricted_a)
        self.median = bootstrap_median_difference(a.months, a.collapsed, b.months, b.collapsed, seed=0)
        self.tests = paired_tests(a.months, a.collapsed, b.months, b.collapsed, a.initiator_labels(),
                                  b.initiator_labels(), horizon=self.horizon)
        self.logrank_chi2, self.logrank_p = logrank(a.months, a.collapsed, b.months, b.collapsed)
        self.initiators = initiator_test(self.base.initiator_counts(), self.other.initiator_counts())
        self.parameter_diff = diff(self.base.scenario, self.other.scenario)

    def _spread(self, differences: np.ndarray) -> dict:
        """The paired difference's range over parameter groups (credible) and setting groups."""
        plan = self.base.simulation.plan
        idx = self.base.simulation.first_replication + np.arange(differences.size)
        out = {}
        for name, groups, n in (("credible", plan.parameter_group(idx), plan.parameter_groups),
                                ("settings", plan.setting_group(idx), plan.setting_groups)):
            res = uncertainty.interval(differences, groups, n) if n > 1 else None
            if res is not None:
                out[f"{name}_low"], out[f"{name}_high"] = res
        return out

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
        out = {
            "scenarios": {
                "base": {"name": self.base.scenario.name, "title": self.base.scenario.title,
                         "description": self.base.scenario.description},
                "other": {"name": self.other.scenario.name, "title": self.other.scenario.title,
                          "description": self.other.scenario.description},
            },
            "runs": self.base.runs,
            "seed": self.base.simulation.seed,
            "horizon_months": self.horizon,
            "stopping": self.stopping,
            "differences": {
                "direction": "other minus base",
                "interval_method": "p_collapse: Newcombe's hybrid score interval for paired proportions (95%); "
                                   "rmst: normal interval of the paired mean difference (95%); credible/settings: "
                                   "90% range over parameter/setting groups, paired within groups",
                "p_collapse": {k: {**v.as_dict(), **self.p_spread[k]} for k, v in self.p_collapse.items()},
                "rmst": {**self.rmst.as_dict(), **self.rmst_spread},
                "median": self.median,
            },
            "p_collapse": {"base": self.base.p_collapse(), "other": self.other.p_collapse()},
            "tests": self.tests,
            "initiator_share": {"base": self.base.initiator_share(), "other": self.other.initiator_share()},
            "as_if_independent_runs": {
                "note": "These tests treat the paired runs as independent samples; they ignore the common random "
                        "numbers and are kept for comparison with other tools only.",
                "logrank_p": self.logrank_p, "logrank_chi2": self.logrank_chi2,
                "initiator_chi_square": self.initiators},
            "variance_reduction": {**self.variance_reduction(), "identical_outcomes": self.identical},
            "uncertainty": self.base.simulation.plan.describe(),
            "parameter_diff": [{"key": k, "base": a, "other": b} for k, a, b in self.parameter_diff],
        }
        if self.attribution is not None:
            out["attribution"] = self.attribution["entries"]
            out["attribution_method"] = {k: v for k, v in self.attribution.items() if k != "entries"}
        return out
