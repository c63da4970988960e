"""Counting incidents from one uniform per replication, so draws stay common random numbers."""

from __future__ import annotations

import numpy as np


def poisson_from_uniform(u: np.ndarray, mean) -> np.ndarray:
    """Poisson counts by inversion of the CDF at ``u``.

    numpy's own Poisson sampler consumes a varying number of draws per value, so a parameter change
    would shift every later draw of the stream; inversion uses exactly one uniform per replication.
    The loop touches only the values not yet resolved, so its cost grows with the counts.
    """
    mean = np.broadcast_to(np.asarray(mean, dtype=float), u.shape)
    counts = np.zeros(u.shape, dtype=np.int32)
    prob = np.exp(-mean)
    cdf = prob.copy()
    todo = np.flatnonzero(u > cdf)
    k = 0
    while todo.size:
        k += 1
        counts[todo] = k
        prob_t = prob[todo] * mean[todo] / k
        prob[todo] = prob_t
        cdf[todo] += prob_t
        # prob_t underflowing to 0 ends the tail where rounding keeps the CDF just below u
        still = (u[todo] > cdf[todo]) & (prob_t > 0)
        todo = todo[still]
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
