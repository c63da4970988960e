"""Counting incidents from one uniform per replication, so draws stay common random numbers."""

from __future__ import annotations

import math

import numpy as np


def poisson_from_uniform(u: np.ndarray, mean) -> np.ndarray:
    """Poisson counts by inversion of the CDF at ``u``: the smallest k with u <= P(X <= k).

    numpy's own Poisson sampler consumes a varying number of draws per value, so a parameter change
    would shift every later draw of the stream; inversion uses exactly one uniform per replication.
    The CDF is summed term by term, p_k = p_(k-1) * mean / k from p_0 = exp(-mean), in the same order of
    floating-point operations for every value, so a count depends on its uniform and its mean only. With one
    mean for all values the CDF is tabulated once and looked up; otherwise the terms are added for all
    values still unresolved at once, packing them together as they thin out. A term that underflows to 0 ends
    the sum where rounding keeps the CDF just below ``u``.
    """
    mean = np.asarray(mean, dtype=float)
    if not mean.ndim or u.size < 2:
        return _poisson_one_mean(u, mean.reshape(-1)[0] if mean.ndim else mean)
    if mean.shape != u.shape:
        mean = np.broadcast_to(mean, u.shape)
    counts = np.zeros(u.shape, dtype=np.int32)
    # exp(-mean) >= 1 - mean: below that (less a margin far wider than rounding) the count is 0, which
    # spares the exponential for most values at small means
    todo = np.flatnonzero(u >= (1.0 - mean) - 1e-12)
    mu = mean[todo]
    p = np.exp(-mu)
    uu = u[todo]
    above = uu > p
    if not above.all():
        todo, uu, mu, p = todo[above], uu[above], mu[above], p[above]
    if not todo.size:
        return counts
    if _terms_one_by_one_cost_less(mu):
        counts[todo] = _counts_one_by_one(uu.tolist(), mu.tolist(), p.tolist())
        return counts
    cdf = p.copy()
    n = np.zeros(todo.size, dtype=np.int32)     # terms added while still below u
    still = np.empty(todo.size, dtype=bool)
    positive = np.empty(todo.size, dtype=bool)
    k = 0
    while True:
        k += 1
        # in place, the same operations in the same order: p = p * mean / k, cdf += p
        np.multiply(p, mu, out=p)
        np.divide(p, k, out=p)
        np.add(cdf, p, out=cdf)
        np.greater(uu, cdf, out=still)
        np.greater(p, 0.0, out=positive)
        np.logical_and(still, positive, out=still)
        n += still
        left = int(np.count_nonzero(still))
        if not left:
            break
        if 3 * left < still.size:   # pack the unresolved values (their count so far is k)
            counts[todo] = n + 1
            todo, uu, mu, p, cdf = todo[still], uu[still], mu[still], p[still], cdf[still]
            n = np.full(todo.size, k, dtype=np.int32)
            still = np.empty(todo.size, dtype=bool)
            positive = np.empty(todo.size, dtype=bool)
    counts[todo] = n + 1
    return counts


# One vectorised round over all the values still unresolved (about ten numpy calls, whatever their number) costs
# as much as this many terms added one value at a time in Python: measured, about 6 and 0.1 microseconds.
_ROUND_COST_IN_TERMS = 60.0


def _terms_one_by_one_cost_less(mu: np.ndarray) -> bool:
    """Whether summing each value's terms in Python beats the vectorised rounds: few values, or small means.
    A value needs about ``mean + 1`` terms; the rounds go on until the largest mean's value is resolved, about
    ``mean + 3 sqrt(mean) + 2`` of them. Either way the counts are the same."""
    top = float(mu.max())
    return float(mu.sum()) + mu.size < _ROUND_COST_IN_TERMS * (top + 3.0 * math.sqrt(top) + 2.0)


def _counts_one_by_one(u: list[float], mean: list[float], p0: list[float]) -> list[int]:
    """The counts of ``poisson_from_uniform`` for values above their first term ``p0`` (= exp(-mean), computed
    by numpy), term by term per value: Python's float arithmetic is the same IEEE double arithmetic, in the same
    order, so each count is the vectorised loop's."""
    counts = []
    for ui, mi, p in zip(u, mean, p0):
        cdf = p
        k = 0
        while True:
            k += 1
            p = p * mi / k
            cdf += p
            if not (ui > cdf and p > 0.0):
                break
        counts.append(k)
    return counts


def _poisson_one_mean(u: np.ndarray, mean) -> np.ndarray:
    """``poisson_from_uniform`` for one mean: the CDF's terms once, then a sorted search."""
    p = np.exp(-mean)
    cdf = [float(p)]
    top = float(np.max(u)) if u.size else 0.0
    k = 0
    while cdf[-1] < top:
        k += 1
        p = p * mean / k
        if not p > 0:
            break
        cdf.append(float(cdf[-1] + p))
    if len(cdf) > 8:
        return np.minimum(np.searchsorted(np.asarray(cdf), u, side="left"), k).astype(np.int32)
    counts = np.zeros(u.shape, dtype=np.int32)    # a short table: count the terms below u
    for c in cdf:
        counts += u > c
    return counts


def fade_and_add(level, added, dt: float, memory):
    """A salience that fades with time constant ``memory`` (months) and gains ``added`` during a step of ``dt``.

    What arrives during the step arrives, on average, half-way through it: it is faded by the mean of
    exp(-s / memory) over the step, (1 - exp(-x)) / x with x = dt / memory, so the level does not depend on
    the length of the step.
    """
    x = dt / np.asarray(memory, dtype=float)
    fade = np.exp(-x)
    return level * fade + added * (-np.expm1(-x) / x)
