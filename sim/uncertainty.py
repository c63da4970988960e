"""How a result varies over groups of replications: the calibrated parameters, the uncertain settings.

Pure functions on arrays. Replications are grouped by the parameter draw (or the setting draw) they
used (``sim.draws``). Each group's estimate carries Monte Carlo noise as well as the group's own value;
the spread of the raw group estimates would overstate the doubt. So the between-group variance is
estimated by subtracting the mean Monte Carlo variance from the variance of the group estimates, and the
group estimates are shrunk towards their mean by sqrt(tau^2 / (tau^2 + mean noise)) before taking
quantiles (a method-of-moments empirical Bayes correction). The interval returned says how far the
quantity moves over parameters (credible) or settings (range); the Monte Carlo interval of the pooled
estimate is reported beside it, never folded into it.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.9


def group_estimates(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group mean of ``values`` and the Monte Carlo variance of that mean; groups with < 2 members dropped."""
    values = np.asarray(values, dtype=float)
    counts = np.bincount(groups, minlength=n_groups).astype(float)
    sums = np.bincount(groups, weights=values, minlength=n_groups)
    squares = np.bincount(groups, weights=values * values, minlength=n_groups)
    keep = counts >= 2
    return _mean_and_noise(sums[keep], squares[keep], counts[keep])


def _mean_and_noise(sums, squares, counts) -> tuple[np.ndarray, np.ndarray]:
    """Means of groups from their sums, sums of squares and sizes (at least 2), and the Monte Carlo variance
    of each mean; arrays broadcast (e.g. several outcomes per group at once)."""
    mean = sums / counts
    var = (squares - counts * mean * mean) / (counts - 1)
    return mean, np.maximum(var, 0.0) / counts


def shrunk(estimates: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Group estimates pulled towards their mean so their spread estimates the between-group spread only."""
    return shrunk_rows(estimates[None, :], noise[None, :])[0]


def shrunk_rows(estimates: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Each row of ``estimates`` (the groups' estimates of one quantity) pulled towards the row's mean by
    sqrt(between / (between + mean noise)), where ``between`` is the row's variance less the mean of its row of
    ``noise``, at least 0 (no variance at all: the row's mean); all rows in a few array operations, each giving the
    same numbers as on its own (its mean and variance are reduced along the row)."""
    if estimates.shape[1] < 2:
        return estimates
    centre = estimates.mean(axis=1)
    total = estimates.var(axis=1, ddof=1)
    mean_noise = noise.mean(axis=1)
    between = np.maximum(total - mean_noise, 0.0)
    whole = between + mean_noise
    factor = np.sqrt(np.divide(between, whole, out=np.zeros_like(whole), where=whole > 0))
    return centre[:, None] + factor[:, None] * (estimates - centre[:, None])


def interval(values: np.ndarray, groups: np.ndarray, n_groups: int, level: float = LEVEL):
    """(low, high) of the quantity over groups, or None with fewer than 5 usable groups."""
    if n_groups < 5:
        return None
    est, noise = group_estimates(values, groups, n_groups)
    if est.size < 5:
        return None
    s = shrunk(est, noise)
    low, high = np.quantile(s, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, groups: np.ndarray, n_groups: int,
                   level: float = LEVEL):
    """(low, high) of a per-group ratio of counts (e.g. an initiator's share of collapses) over groups."""
    if n_groups < 5:
        return None
    num = np.bincount(groups, weights=np.asarray(numerator, float), minlength=n_groups)
    den = np.bincount(groups, weights=np.asarray(denominator, float), minlength=n_groups)
    keep = den >= 2
    if keep.sum() < 5:
        return None
    share = num[keep] / den[keep]
    noise = share * (1 - share) / den[keep]
    s = shrunk(share, noise)
    low, high = np.quantile(s, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def curve_interval(times: np.ndarray, events: np.ndarray, months: list[float], groups: np.ndarray,
                   n_groups: int, level: float = LEVEL) -> dict[float, tuple[float, float]] | None:
    """Interval over groups of P(collapse by m) for each month m (censoring only at the horizon)."""
    if n_groups < 5:
        return None
    out = {}
    for m in months:
        hit = (events & (times <= m + 1e-9)).astype(float)
        out[m] = interval(hit, groups, n_groups, level)
    return out


def _cumulative_hits(times: np.ndarray, events: np.ndarray, grid: np.ndarray, groups: np.ndarray,
                     n_groups: int) -> np.ndarray:
    """(len(grid), n_groups): each group's count of collapses by each grid time (``times <= m + 1e-9``), from one
    pass over the runs instead of one per grid time."""
    hit_times = times[events]
    order = np.argsort(hit_times)    # sorted, they are found in the grid several times faster (the counts are the same)
    first = np.searchsorted(grid + 1e-9, hit_times[order], side="left")   # the first grid time that counts each
    counts = np.bincount(first * n_groups + groups[events][order], minlength=(grid.size + 1) * n_groups)
    return np.cumsum(counts.reshape(grid.size + 1, n_groups)[:-1], axis=0)


def median_interval(times: np.ndarray, events: np.ndarray, horizon: float, groups: np.ndarray, n_groups: int,
                    level: float = LEVEL):
    """Interval over groups of the median time to collapse, read off the groups' shrunk collapse curves.

    A group whose curve stays below one half within the horizon has a median beyond it; the interval's
    upper end is then None. Each group's point on the curve is :func:`group_estimates` of the 0/1 collapse
    indicators, computed here from cumulative counts (the same numbers: sums of 0/1 values are exact).
    """
    if n_groups < 5:
        return None
    grid = np.unique(np.concatenate([times[events], [horizon]]))
    counts = np.bincount(groups, minlength=n_groups).astype(float)
    keep = counts >= 2
    n = counts[keep]
    hits = _cumulative_hits(times, events, grid, groups, n_groups)[:, keep].astype(float)
    mean, noise = _mean_and_noise(hits, hits, n)   # for 0/1 values the sum of squares is the sum
    curves = shrunk_rows(mean, noise)
    curves = np.maximum.accumulate(curves, axis=0)   # (grid, groups), kept non-decreasing
    if curves.shape[1] < 5:
        return None
    medians = np.array([grid[np.argmax(c >= 0.5)] if np.any(c >= 0.5) else np.inf for c in curves.T])
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return (float(low) if np.isfinite(low) else None), (float(high) if np.isfinite(high) else None)
