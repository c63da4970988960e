"""The figures of a Monte Carlo run: survival, P(collapse by month), median, initiator and trigger shares."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sim.model import NOT_COLLAPSED, TRIGGERS
from sim.montecarlo import SimulationRun
from sim.survival import Estimate, KaplanMeier, kaplan_meier_counts, p_collapse_by, rmst_counts

REPORT_MONTHS = (3, 6, 12, 24)


class RunCounts:
    """What a run's statistics need, gathered batch by batch: counts per distinct time to collapse,
    per initiator and trigger, and incident totals. Its size depends on the number of distinct times
    (at most the steps to the horizon), not on the number of replications, so a run of any length can
    stream its replications to ``runs.csv`` and keep only this."""

    def __init__(self, horizon_months: float):
        self.horizon_months = float(horizon_months)
        self.n = 0
        self.initiators: list[str] = []
        self._deaths: dict[float, int] = {}
        self._ending: dict[float, int] = {}
        self._initiator: Counter = Counter()
        self._trigger: Counter = Counter()
        self.incidents: dict[str, int] = {}

    @classmethod
    def of(cls, replications, horizon_months: float) -> "RunCounts":
        counts = cls(horizon_months)
        counts.add(replications)
        return counts

    def add(self, batch) -> None:
        """Count a batch: a ``BatchOutput`` or ``Replications`` (months, collapsed, codes, incidents)."""
        self.initiators = list(batch.initiators)
        months = np.asarray(batch.months, dtype=float)
        collapsed = np.asarray(batch.collapsed, dtype=bool)
        self.n += int(months.size)
        for value, ending, deaths in zip(*_grouped(months, collapsed)):
            self._ending[value] = self._ending.get(value, 0) + ending
            self._deaths[value] = self._deaths.get(value, 0) + deaths
        labels_i = np.array([NOT_COLLAPSED, *self.initiators], dtype=object)
        labels_t = np.array([NOT_COLLAPSED, *TRIGGERS], dtype=object)
        for codes, labels, counter in ((batch.initiator, labels_i, self._initiator),
                                       (batch.trigger, labels_t, self._trigger)):
            values, k = np.unique(np.asarray(codes)[collapsed].astype(np.int64), return_counts=True)
            for code, c in zip(values, k):
                counter[labels[code + 1]] += int(c)
        for name, values in batch.incidents.items():
            self.incidents[name] = self.incidents.get(name, 0) + int(np.sum(values, dtype=np.int64))

    @property
    def collapsed(self) -> int:
        return sum(self._deaths.values())

    def kaplan_meier(self) -> KaplanMeier:
        times = sorted(self._ending)
        return kaplan_meier_counts(times, [self._deaths[t] for t in times], [self._ending[t] for t in times])

    def rmst(self) -> Estimate:
        times = sorted(self._ending)
        return rmst_counts(times, [self._ending[t] for t in times], self.horizon_months)

    def initiator_counts(self) -> dict[str, int]:
        return {k: int(self._initiator.get(k, 0)) for k in self.initiators}

    def initiator_share(self) -> dict[str, float]:
        return _shares(self._initiator)

    def trigger_share(self) -> dict[str, float]:
        return _shares(self._trigger)

    def mean_incidents(self) -> dict[str, float]:
        return {k: v / self.n for k, v in self.incidents.items()}


def _grouped(months: np.ndarray, collapsed: np.ndarray):
    """Distinct times, how many replications end at each, and how many of those collapse."""
    order = np.argsort(months, kind="stable")
    t = months[order]
    distinct, first = np.unique(t, return_index=True)
    ending = np.diff(np.append(first, t.size))
    deaths = np.add.reduceat(collapsed[order].astype(np.int64), first) if t.size else np.zeros(0, np.int64)
    return distinct.tolist(), ending.tolist(), deaths.tolist()


def _shares(counter: Counter) -> dict[str, float]:
    total = sum(counter.values())
    return {k: counter[k] / total for k in sorted(counter)} if total else {}


@dataclass
class RunResult:
    """A run with its statistics. ``summary()`` is what ``summary.json`` holds.

    ``counts`` is given when the replications were streamed (``simulation.replications`` is then
    None); otherwise it is computed from the replications.
    """

    simulation: SimulationRun
    counts: RunCounts | None = None

    def __post_init__(self):
        if self.counts is None:
            self.counts = RunCounts.of(self.simulation.replications, self.simulation.horizon_months)
        self.km: KaplanMeier = self.counts.kaplan_meier()

    @property
    def scenario(self):
        return self.simulation.scenario

    @property
    def horizon_months(self) -> float:
        return self.simulation.horizon_months

    @property
    def runs(self) -> int:
        return self.counts.n

    def report_months(self) -> list[float]:
        months = [m for m in REPORT_MONTHS if m < self.horizon_months]
        return [*months, self.horizon_months]

    def p_collapse(self) -> dict[str, dict]:
        return {_month_key(m): p_collapse_by(self.km, m).as_dict() for m in self.report_months()}

    def median_months(self) -> float | None:
        med = self.km.median()
        return med if np.isfinite(med) else None

    def initiator_share(self) -> dict[str, float]:
        return self.counts.initiator_share()

    def trigger_share(self) -> dict[str, float]:
        return self.counts.trigger_share()

    def initiator_counts(self) -> dict[str, int]:
        return self.counts.initiator_counts()

    def survival_table(self) -> list[tuple[int, float, float, float]]:
        months = np.arange(0, int(np.floor(self.horizon_months + 1e-9)) + 1)
        s = self.km.at(months)
        low, high = self.km.confidence_interval(months)
        return [(int(m), float(a), float(b), float(c)) for m, a, b, c in zip(months, s, low, high)]

    def summary(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "runs": self.runs,
            "seed": self.simulation.seed,
            "horizon_months": self.horizon_months,
            "collapsed": self.counts.collapsed,
            "p_collapse": self.p_collapse(),
            "median_months_to_collapse": self.median_months(),
            "rmst_months": self.counts.rmst().as_dict(),
            "initiator_share": self.initiator_share(),
            "trigger_share": self.trigger_share(),
            "mean_incidents_per_replication": self.counts.mean_incidents(),
        }


def _month_key(month: float) -> str:
    return str(int(month)) if float(month).is_integer() else f"{month:g}"
