"""Forecast scores for times to collapse. Pure functions; lower is better for all three.

A forecast of a time to collapse is a CDF on a grid of months. The scores, as in the ViEWS
forecasting literature (HISTORY.md):

- Brier score at month m: (F(m) - 1[T <= m])^2, the squared error of P(collapse by m).
- Log score at month m: -log of the probability given to what happened (F(m) if T <= m, else
  1 - F(m)), with probabilities clipped to [eps, 1 - eps] so one confident miss is finite.
- CRPS: the integral over t of (F(t) - 1[T <= t])^2, in months (the mean absolute error of a
  point forecast, generalised to distributions).
"""

from __future__ import annotations

import numpy as np

LOG_EPS = 1e-3


def brier(p_by_month: float, happened: bool) -> float:
    return float((p_by_month - float(happened)) ** 2)


def log_score(p_by_month: float, happened: bool, eps: float = LOG_EPS) -> float:
    p = min(max(p_by_month, eps), 1.0 - eps)
    return float(-np.log(p if happened else 1.0 - p))


def crps(grid: np.ndarray, cdf: np.ndarray, observed: float) -> float:
    """CRPS of a CDF given as a right-continuous step function on ``grid`` (months, increasing).

    The CDF is taken as 0 before grid[0] and as cdf[-1] after grid[-1]; the integral runs from 0 to
    max(grid[-1], observed). Exact for step functions.
    """
    grid = np.asarray(grid, dtype=float)
    cdf = np.asarray(cdf, dtype=float)
    if grid.ndim != 1 or grid.shape != cdf.shape or grid.size == 0:
        raise ValueError("grid and cdf must be 1-D arrays of the same non-zero length")
    if np.any(np.diff(grid) <= 0):
        raise ValueError("grid must be strictly increasing")
    end = max(grid[-1], observed)
    # breakpoints: 0, grid points, the observation, end
    points = np.unique(np.concatenate([[0.0], grid[grid < end], [observed, end]]))
    left = points[:-1]
    width = np.diff(points)
    idx = np.searchsorted(grid, left, side="right") - 1
    f = np.where(idx >= 0, cdf[np.maximum(idx, 0)], 0.0)
    step = (left >= observed).astype(float)
    return float(np.sum(width * (f - step) ** 2))


def pit(grid: np.ndarray, cdf: np.ndarray, observed: float) -> float:
    """Where the observation falls in the forecast distribution: F(observed), in [0, 1]."""
    idx = np.searchsorted(np.asarray(grid), observed, side="right") - 1
    return float(cdf[idx]) if idx >= 0 else 0.0


def exponential_cdf(grid: np.ndarray, p_by: float, month: float) -> np.ndarray:
    """A constant-hazard forecast with P(collapse by ``month``) = ``p_by``."""
    rate = -np.log(1.0 - p_by) / month
    return 1.0 - np.exp(-rate * np.asarray(grid, dtype=float))


def empirical_cdf(grid: np.ndarray, durations, floor: float = 0.0) -> np.ndarray:
    """ECDF of past durations on the grid, mixed with ``floor`` of a uniform-over-grid spread so no
    outcome gets probability exactly 0 or 1."""
    durations = np.sort(np.asarray(durations, dtype=float))
    grid = np.asarray(grid, dtype=float)
    ecdf = np.searchsorted(durations, grid, side="right") / durations.size
    spread = np.clip(grid / grid[-1], 0.0, 1.0)
    return (1.0 - floor) * ecdf + floor * spread
