"""Forecast scores for times to collapse, with right-censored observations. Pure functions; lower is better.

A forecast of a time to collapse is a CDF F on a grid of months (F may stay below 1: the rest is the
probability of holding past the grid's end). An observation is a time of collapse t, or a censoring time
c (the ceasefire was still holding at c). Scores, as in the conflict-forecasting literature (ViEWS):

- Brier score at month m: (F(m) - 1[T <= m])^2; for an observation censored at c < m, not defined (skipped).
- Log score at month m: -log of the probability given to what happened (F(m) if T <= m, else 1 - F(m)),
  probabilities clipped to [eps, 1 - eps] so one confident miss is finite; censored as for Brier.
- CRPS: for a collapse at t, the integral over [0, end of grid] of (F(s) - 1[s >= t])^2; for an
  observation censored at c, the same integral over [0, c], where the outcome is known (the threshold-
  weighted CRPS of the censored part). An observed collapse past the end of the grid is an error: the
  forecast says nothing there.
- PIT: F(t) for a collapse; for a censored observation the middle of [F(c), 1], where the PIT must lie.
"""

from __future__ import annotations

import numpy as np

LOG_EPS = 1e-3


def brier(p_by_month: float, happened: bool) -> float:
    return float((p_by_month - float(happened)) ** 2)


def log_score(p_by_month: float, happened: bool, eps: float = LOG_EPS) -> float:
    p = min(max(p_by_month, eps), 1.0 - eps)
    return float(-np.log(p if happened else 1.0 - p))


def _check(grid, cdf):
    grid = np.asarray(grid, dtype=float)
    cdf = np.asarray(cdf, dtype=float)
    if grid.ndim != 1 or grid.shape != cdf.shape or grid.size == 0:
        raise ValueError("grid and cdf must be 1-D arrays of the same non-zero length")
    if np.any(np.diff(grid) <= 0):
        raise ValueError("grid must be strictly increasing")
    return grid, cdf


def at(grid, cdf, t: float) -> float:
    """F(t) of a right-continuous step CDF given on the grid (0 before the first point)."""
    idx = np.searchsorted(np.asarray(grid), t, side="right") - 1
    return float(cdf[idx]) if idx >= 0 else 0.0


def crps(grid: np.ndarray, cdf: np.ndarray, observed: float, censored: bool = False) -> float:
    """CRPS of a step CDF on ``grid`` (months) for a collapse at ``observed`` or a censoring there.

    The CDF is 0 before grid[0]. Exact for step functions.
    """
    grid, cdf = _check(grid, cdf)
    if not censored and observed > grid[-1] + 1e-9:
        raise ValueError(f"observed collapse at {observed:g} months lies past the forecast grid "
                         f"(ends at {grid[-1]:g}); extend the forecast horizon")
    end = min(observed, grid[-1]) if censored else grid[-1]
    points = np.unique(np.concatenate([[0.0], grid[grid < end], [min(observed, end), end]]))
    left = points[:-1]
    width = np.diff(points)
    idx = np.searchsorted(grid, left, side="right") - 1
    f = np.where(idx >= 0, cdf[np.maximum(idx, 0)], 0.0)
    step = np.zeros_like(f) if censored else (left >= observed).astype(float)
    return float(np.sum(width * (f - step) ** 2))


def pit(grid: np.ndarray, cdf: np.ndarray, observed: float, censored: bool = False) -> float:
    """Where the observation falls in the forecast distribution, in [0, 1]."""
    f = at(grid, cdf, observed)
    return (f + 1.0) / 2 if censored else f


def horizon_scores(grid, cdf, observed: float, censored: bool, months) -> dict:
    """Brier and log score at each month where the outcome is known and the forecast reaches."""
    out = {"brier": {}, "log": {}}
    for m in months:
        if (censored and observed < m) or m > grid[-1] + 1e-9:
            continue
        happened = (not censored) and observed <= m
        p = at(grid, cdf, m)
        out["brier"][str(m)] = brier(p, happened)
        out["log"][str(m)] = log_score(p, happened)
    return out


def quantile(grid, cdf, q: float) -> float:
    """The smallest grid time with F >= q (inf if F never reaches q within the grid)."""
    idx = np.flatnonzero(np.asarray(cdf) >= q - 1e-12)
    return float(grid[idx[0]]) if idx.size else float("inf")


def covered(grid, cdf, observed: float, censored: bool, level: float) -> bool:
    """Whether the observation is consistent with the central ``level`` predictive interval.

    A collapse at t is covered if the interval contains t; an observation censored at c is covered if the
    interval reaches past c (the outcome, T > c, is then consistent with it).
    """
    low = quantile(grid, cdf, (1 - level) / 2)
    high = quantile(grid, cdf, (1 + level) / 2)
    if censored:
        return high > observed
    return low - 1e-9 <= observed <= high + 1e-9


def exponential_cdf(grid: np.ndarray, p_by: float, month: float) -> np.ndarray:
    """A constant-hazard forecast with P(collapse by ``month``) = ``p_by``."""
    rate = -np.log(1.0 - p_by) / month
    return 1.0 - np.exp(-rate * np.asarray(grid, dtype=float))


def kaplan_meier_cdf(grid: np.ndarray, times, collapsed, floor: float = 0.0) -> np.ndarray:
    """1 - Kaplan-Meier survival of past outcomes (censored ones included) on the grid, mixed with ``floor``
    of a uniform spread over the grid so no outcome gets probability exactly 0 or 1."""
    from sim.survival import kaplan_meier
    grid = np.asarray(grid, dtype=float)
    km = kaplan_meier(np.asarray(times, dtype=float), np.asarray(collapsed, dtype=bool))
    cdf = 1.0 - km.at(grid)
    spread = np.clip(grid / grid[-1], 0.0, 1.0)
    return (1.0 - floor) * cdf + floor * spread


def empirical_cdf(grid: np.ndarray, durations, floor: float = 0.0) -> np.ndarray:
    """ECDF of past durations (all collapsed) on the grid, mixed with ``floor`` of a uniform spread."""
    return kaplan_meier_cdf(grid, durations, np.ones(len(durations), dtype=bool), floor)
