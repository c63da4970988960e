"""A covariate baseline: a Weibull survival regression on features observable at signing. Pure functions.

The model must beat this to claim skill: it uses the same information the case files hold about the
agreement and the outside parties, with no mechanism at all. Features (each from the case file, never
from its outcome):

- ``agreement_strength``: form score x level score ([@fortna-2003]: stronger agreements last longer;
  [@clayton-sticher-2021]: written definitive agreements outlast plain cessations);
- ``earlier_failures``: log(1 + agreements in the conflict that had already failed);
- ``monitoring``: the largest monitor presence ([@fortna-2004]; [@mattes-savun-2010]);
- ``guarantor_troops``: the largest deterrence of a guarantor that protects a side ([@walter-2002]).

Weibull accelerated failure time: log T = b0 + b.x + s W, W standard minimum-Gumbel; right-censored
likelihood, maximised with a ridge penalty on b (standardised features) so that a handful of cases
cannot give extreme coefficients.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

FEATURES = ("agreement_strength", "earlier_failures", "monitoring", "guarantor_troops")
RIDGE = 1.0


def features(scenario) -> np.ndarray:
    a = scenario.agreement
    strength = a.strength if a is not None else 0.0
    failures = np.log1p(a.earlier_failures) if a is not None else 0.0
    monitoring = max([x.presence for x in scenario.actors.values() if "monitor" in x.roles], default=0.0)
    troops = max([x.deterrence for x in scenario.actors.values() if "guarantor" in x.roles], default=0.0)
    return np.array([strength, failures, monitoring, troops], dtype=float)


def fit_weibull(x: np.ndarray, times: np.ndarray, collapsed: np.ndarray, ridge: float = RIDGE) -> dict:
    """Penalised maximum-likelihood fit; returns the coefficients and the standardisation."""
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    z = (x - mean) / sd
    log_t = np.log(np.maximum(times, 1e-3))

    def negloglik(theta):
        b0, b, log_s = theta[0], theta[1:-1], theta[-1]
        s = np.exp(log_s)
        w = (log_t - b0 - z @ b) / s
        # log density of T: w - exp(w) - log s - log t ; log survival: -exp(w)
        ll = np.where(collapsed, w - np.exp(w) - log_s - log_t, -np.exp(w))
        return -ll.sum() + ridge * np.sum(b * b)

    start = np.concatenate([[log_t.mean()], np.zeros(x.shape[1]), [0.0]])
    res = optimize.minimize(negloglik, start, method="L-BFGS-B",
                            bounds=[(None, None)] * (x.shape[1] + 1) + [(-5, 5)])
    return {"b0": float(res.x[0]), "b": res.x[1:-1].tolist(), "log_s": float(res.x[-1]),
            "mean": mean.tolist(), "sd": sd.tolist()}


def weibull_cdf(fit: dict, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    z = (np.asarray(x, float) - np.asarray(fit["mean"])) / np.asarray(fit["sd"])
    mu = fit["b0"] + z @ np.asarray(fit["b"])
    s = np.exp(fit["log_s"])
    w = (np.log(np.asarray(grid, float)) - mu) / s
    return -np.expm1(-np.exp(w))
