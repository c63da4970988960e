"""The figures of a Monte Carlo run: survival, P(collapse by month), median, initiator and trigger shares."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sim.montecarlo import SimulationRun
from sim.notebook import RunNotebook
from sim.survival import KaplanMeier, kaplan_meier, p_collapse_by, rmst

REPORT_MONTHS = (3, 6, 12, 24)


@dataclass(repr=False)  # the short repr and the notebook view come from RunNotebook
class RunResult(RunNotebook):
    """A run with its statistics. ``summary()`` is what ``summary.json`` holds."""

    simulation: SimulationRun

    def __post_init__(self):
        r = self.simulation.replications
        self.km: KaplanMeier = kaplan_meier(r.months, r.collapsed)

    @property
    def scenario(self):
        return self.simulation.scenario

    @property
    def horizon_months(self) -> float:
        return self.simulation.horizon_months

    @property
    def runs(self) -> int:
        return len(self.simulation.replications)

    def report_months(self) -> list[float]:
        months = [m for m in REPORT_MONTHS if m < self.horizon_months]
        return [*months, self.horizon_months]

    def p_collapse(self) -> dict[str, dict]:
        return {_month_key(m): p_collapse_by(self.km, m).as_dict() for m in self.report_months()}

    def median_months(self) -> float | None:
        med = self.km.median()
        return med if np.isfinite(med) else None

    def initiator_share(self) -> dict[str, float]:
        return self._shares(self.simulation.replications.initiator_labels())

    def trigger_share(self) -> dict[str, float]:
        return self._shares(self.simulation.replications.trigger_labels())

    def initiator_counts(self) -> dict[str, int]:
        r = self.simulation.replications
        counts = Counter(r.initiator_labels()[r.collapsed])
        return {k: int(counts.get(k, 0)) for k in r.initiators}

    def _shares(self, labels) -> dict[str, float]:
        r = self.simulation.replications
        collapsed = labels[r.collapsed]
        total = collapsed.size
        counts = Counter(collapsed)
        keys = sorted(counts)
        return {k: counts[k] / total for k in keys} if total else {}

    def survival_table(self) -> list[tuple[int, float, float, float]]:
        months = np.arange(0, int(np.floor(self.horizon_months + 1e-9)) + 1)
        s = self.km.at(months)
        low, high = self.km.confidence_interval(months)
        return [(int(m), float(a), float(b), float(c)) for m, a, b, c in zip(months, s, low, high)]

    def summary(self) -> dict:
        r = self.simulation.replications
        return {
            "scenario": self.scenario.name,
            "runs": self.runs,
            "seed": self.simulation.seed,
            "horizon_months": self.horizon_months,
            "collapsed": int(r.collapsed.sum()),
            "p_collapse": self.p_collapse(),
            "median_months_to_collapse": self.median_months(),
            "rmst_months": rmst(r.months, self.horizon_months).as_dict(),
            "initiator_share": self.initiator_share(),
            "trigger_share": self.trigger_share(),
            "mean_incidents_per_replication": {k: float(v.mean()) for k, v in r.incidents.items()},
        }


def _month_key(month: float) -> str:
    return str(int(month)) if float(month).is_integer() else f"{month:g}"


@dataclass(repr=False)
class SweepResult:
    """A finished sweep: where it was written, its design and per-point outcomes, and the analysis.

    ``analysis`` is what ``sensitivity.json`` holds (besides the experiment's description);
    ``values`` has shape (points, factors), in the order of ``factor_names``; ``rows`` maps each point
    to its outcomes (``{"outcomes": {name: [estimate, ci_low, ci_high, noise_variance]}, "error": ...}``).
    """

    directory: object
    loaded: object
    values: np.ndarray
    rows: dict
    analysis: dict

    @property
    def factor_names(self) -> list[str]:
        return self.loaded.factor_names

    def to_frame(self):
        """One row per design point with the columns of ``outcomes.csv``: point, the factors, status,
        each outcome (R-safe name) with its 95% CI, and error."""
        from sim.experiment import outcome_column
        from sim.notebook import require_pandas
        pd = require_pandas()
        e = self.loaded.experiment
        records = []
        for p in range(self.values.shape[0]):
            row = self.rows.get(p, {"outcomes": None, "error": "not evaluated"})
            rec = {"point": p, **{n: float(v) for n, v in zip(self.factor_names, self.values[p])},
                   "status": "failed" if row.get("error") else "ok"}
            for o in e.outcomes:
                c = outcome_column(o)
                est = row["outcomes"][o][:3] if row.get("outcomes") else [float("nan")] * 3
                rec.update({c: est[0], f"{c}_ci_low": est[1], f"{c}_ci_high": est[2]})
            rec["error"] = row.get("error") or ""
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def __repr__(self) -> str:
        e = self.loaded.experiment
        res = self.analysis["outcomes"].get(e.analysed_outcome, {})
        top = [self.factor_names[i] for i in res.get("ranking", [])[:3]]
        return (f"SweepResult({e.name}: {self.values.shape[0]:,} points x {e.replications} replications, "
                f"sampler {e.sampler}; {e.analysed_outcome} most sensitive to {', '.join(top) or 'n/a'}; "
                f"in {self.directory})")

    def __getitem__(self, key):
        """The analysis's entries (``result["outcomes"]``), as the dict sweep() used to return."""
        return self.analysis[key]
