"""Survival statistics on right-censored times to collapse. Pure functions on arrays.

Times are months from the start; ``events`` is True where a collapse was observed and False where
the replication was censored (at the horizon). Confidence intervals are 95% unless asked otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import stats

Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class KaplanMeier:
    times: np.ndarray      # distinct event times
    survival: np.ndarray   # S(t) just after each event time
    variance: np.ndarray   # Greenwood variance of S(t)
    n: int

    def at(self, t) -> np.ndarray:
        """S at the times ``t`` (right-continuous step function)."""
        idx = np.searchsorted(self.times, np.asarray(t, dtype=float), side="right") - 1
        return np.where(idx >= 0, self.survival[np.maximum(idx, 0)], 1.0)

    def variance_at(self, t) -> np.ndarray:
        idx = np.searchsorted(self.times, np.asarray(t, dtype=float), side="right") - 1
        return np.where(idx >= 0, self.variance[np.maximum(idx, 0)], 0.0)

    def confidence_interval(self, t, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Log-log interval for S(t), as scipy.stats.ecdf(...).sf.confidence_interval(method='log-log')."""
        z = stats.norm.ppf(0.5 + level / 2)
        s = self.at(t)
        var = self.variance_at(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s = np.log(s)
            se = np.sqrt(var / np.square(s)) / np.abs(log_s)
            low = np.exp(-np.exp(np.log(-log_s) + z * se))
            high = np.exp(-np.exp(np.log(-log_s) - z * se))
        degenerate = (s <= 0) | (s >= 1) | ~np.isfinite(se)
        low = np.where(degenerate, s, low)
        high = np.where(degenerate, s, high)
        return low, high

    def median(self) -> float:
        """First time S falls to 0.5 or below; inf when it never does within follow-up."""
        below = np.flatnonzero(self.survival <= 0.5 + 1e-12)  # S = 0.5 exactly can round to 0.5000000000000001
        return float(self.times[below[0]]) if below.size else float("inf")


def kaplan_meier(times, events) -> KaplanMeier:
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    if times.shape != events.shape or times.ndim != 1:
        raise ValueError("times and events must be 1-D arrays of the same length")
    if times.size == 0:
        raise ValueError("times must not be empty")
    order = np.argsort(times, kind="stable")
    t, e = times[order], events[order]
    distinct, first = np.unique(t, return_index=True)
    deaths = np.add.reduceat(e.astype(np.int64), first)
    return kaplan_meier_counts(distinct, deaths, np.diff(np.append(first, t.size)))


def kaplan_meier_counts(times, deaths, totals) -> KaplanMeier:
    """Kaplan-Meier from counts: at each distinct time (ascending), the collapses and the number of
    replications ending there (collapsed or censored). The same numbers as :func:`kaplan_meier` on the
    replications themselves, in memory that does not grow with their number."""
    distinct = np.asarray(times, dtype=float)
    deaths = np.asarray(deaths, dtype=np.int64)
    totals = np.asarray(totals, dtype=np.int64)
    n = int(totals.sum())
    if n == 0:
        raise ValueError("times must not be empty")
    if distinct.size > 1 and not np.all(np.diff(distinct) > 0):
        raise ValueError("times must be distinct and ascending")
    at_risk = n - np.concatenate([[0], np.cumsum(totals)[:-1]])
    keep = deaths > 0
    d, n_risk, tt = deaths[keep], at_risk[keep], distinct[keep]
    surv = np.cumprod(1.0 - d / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_risk > d, d / (n_risk * (n_risk - d)), np.inf)
        # where S reaches 0 the Greenwood sum is infinite: the variance there is 0 (0 * inf)
        variance = np.square(surv) * np.cumsum(terms)
    variance = np.where(np.isfinite(variance), variance, 0.0)
    return KaplanMeier(tt, surv, variance, n)


@dataclass(frozen=True)
class Estimate:
    estimate: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: _finite_or_none(v) for k, v in
                (("estimate", self.estimate), ("ci_low", self.ci_low), ("ci_high", self.ci_high))}


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def p_collapse_by(km: KaplanMeier, month: float) -> Estimate:
    """P(collapse by month) = 1 - S(month), with the log-log interval of S turned round."""
    s = float(km.at(month))
    low, high = km.confidence_interval(month)
    return Estimate(1.0 - s, 1.0 - float(high), 1.0 - float(low))


def rmst(times, horizon: float) -> Estimate:
    """Restricted mean survival time to the horizon; all censoring here is at the horizon,
    so it is the mean of min(T, horizon) and its standard error is that of a mean."""
    restricted = np.minimum(np.asarray(times, dtype=float), horizon)
    return _mean_ci(restricted)


def rmst_counts(times, counts, horizon: float) -> Estimate:
    """:func:`rmst` from distinct times and how many replications end at each, in exact arithmetic
    (so the result does not depend on the order the replications arrived in)."""
    values = [Fraction(min(float(t), horizon)) for t in times]
    counts = [int(c) for c in counts]
    n = sum(counts)
    if n == 0:
        raise ValueError("times must not be empty")
    mean = sum((v * c for v, c in zip(values, counts)), Fraction(0)) / n
    if n < 2:
        return Estimate(float(mean), float("nan"), float("nan"))
    variance = sum(((v - mean) ** 2 * c for v, c in zip(values, counts)), Fraction(0)) / (n - 1)
    se = math.sqrt(variance) / math.sqrt(n)
    return Estimate(float(mean), float(mean) - Z95 * se, float(mean) + Z95 * se)


def _mean_ci(x: np.ndarray) -> Estimate:
    mean = float(np.mean(x))
    se = float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return Estimate(mean, mean - Z95 * se, mean + Z95 * se)


def empirical_median(times, events) -> float:
    """Median time to collapse with censoring only at the horizon: inf if half never collapse."""
    t = np.sort(np.where(events, times, np.inf))
    n = t.size
    return float(t[(n - 1) // 2]) if n else float("nan")


# --- paired comparisons ----------------------------------------------------------------------

@dataclass(frozen=True)
class PairedDifference:
    difference: Estimate        # other minus base, paired by replication
    unpaired_ci_width: float    # width the CI would have if the runs were independent

    @property
    def paired_ci_width(self) -> float:
        return self.difference.ci_high - self.difference.ci_low

    def as_dict(self) -> dict:
        out = self.difference.as_dict()
        out["unpaired_ci_width"] = _finite_or_none(self.unpaired_ci_width)
        out["paired_ci_width"] = _finite_or_none(self.paired_ci_width)
        return out


def paired_difference(base_values, other_values) -> PairedDifference:
    """Difference of means of two outcomes observed on the same replications (common random numbers)."""
    a = np.asarray(base_values, dtype=float)
    b = np.asarray(other_values, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired outcomes need the same replications")
    diff = _mean_ci(b - a)
    n = a.size
    unpaired_se = np.sqrt(np.var(a, ddof=1) / n + np.var(b, ddof=1) / n) if n > 1 else float("nan")
    return PairedDifference(diff, 2 * Z95 * unpaired_se)


def collapse_indicator(times, events, month: float) -> np.ndarray:
    return (np.asarray(events, dtype=bool) & (np.asarray(times) <= month)).astype(float)


def bootstrap_median_difference(base_times, base_events, other_times, other_events, *,
                                n_boot: int = 1000, seed: int = 0) -> dict:
    """Difference of median times to collapse (other minus base), paired bootstrap percentile CI.

    A median beyond the horizon is infinite; the interval then says so with None.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x4D454449,)))
    a = np.where(base_events, base_times, np.inf)
    b = np.where(other_events, other_times, np.inf)
    n = a.size
    point = empirical_median(base_times, base_events), empirical_median(other_times, other_events)
    diffs = np.empty(n_boot)
    k = (n - 1) // 2
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        ma = np.partition(a[idx], k)[k]
        mb = np.partition(b[idx], k)[k]
        diffs[i] = mb - ma if np.isfinite(ma) and np.isfinite(mb) else np.nan
    finite = diffs[np.isfinite(diffs)]
    estimate = point[1] - point[0] if all(np.isfinite(point)) else float("nan")
    share_defined = finite.size / n_boot
    if share_defined < 0.95:
        low = high = float("nan")
    else:
        low, high = np.percentile(finite, [2.5, 97.5])
    return {"base_median": _finite_or_none(point[0]), "other_median": _finite_or_none(point[1]),
            **Estimate(estimate, low, high).as_dict(),
            "note": None if share_defined >= 0.95 else
            "median beyond the horizon in more than 5% of bootstrap samples: no interval"}


def logrank(base_times, base_events, other_times, other_events) -> tuple[float, float]:
    """Two-sided log-rank test: (chi-square statistic with 1 df, p-value)."""
    t = np.concatenate([base_times, other_times]).astype(float)
    e = np.concatenate([base_events, other_events]).astype(bool)
    g = np.concatenate([np.zeros(len(base_times), bool), np.ones(len(other_times), bool)])
    event_times = np.unique(t[e])
    if event_times.size == 0:
        return 0.0, 1.0
    # at risk at time u: those with t >= u
    ts = np.sort(t)
    ts_g = np.sort(t[g])
    n = ts.size - np.searchsorted(ts, event_times, side="left")
    n1 = ts_g.size - np.searchsorted(ts_g, event_times, side="left")
    d = np.searchsorted(np.sort(t[e]), event_times, side="right") - np.searchsorted(np.sort(t[e]), event_times, side="left")
    te_g = np.sort(t[e & g])
    d1 = np.searchsorted(te_g, event_times, side="right") - np.searchsorted(te_g, event_times, side="left")
    expected = d * n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1), 0.0)
    v = var.sum()
    if v <= 0:
        return 0.0, 1.0
    chi2 = float((d1.sum() - expected.sum()) ** 2 / v)
    return chi2, float(stats.chi2.sf(chi2, 1))


def initiator_test(base_counts: dict[str, int], other_counts: dict[str, int]) -> dict:
    """Chi-square test of independence between scenario and initiator, among collapses."""
    labels = sorted(k for k in set(base_counts) | set(other_counts)
                    if base_counts.get(k, 0) + other_counts.get(k, 0) > 0)
    table = np.array([[base_counts.get(k, 0) for k in labels], [other_counts.get(k, 0) for k in labels]])
    out = {"labels": labels, "counts": table.tolist()}
    if len(labels) < 2 or (table.sum(axis=1) == 0).any():
        return {**out, "chi2": None, "dof": 0, "p_value": None,
                "note": "fewer than two initiators or no collapses in one scenario: no test"}
    res = stats.chi2_contingency(table, correction=False)
    return {**out, "chi2": float(res.statistic), "dof": int(res.dof), "p_value": float(res.pvalue), "note": None}
