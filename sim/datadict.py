"""The data dictionary of a result directory: unit and meaning of every CSV column written there.

Every result directory (run, compare, sweep, calibration, backtest, discovery) gets a
``datadictionary.csv`` with the columns ``file, column, unit, meaning``, one row per column of each
CSV file in it, so that a table read into R, a spreadsheet or pandas says what its numbers are.
Columns named after scenario parameters (a sweep's factors, a calibration's free rates) take their
unit and meaning from the scenario schema. This module only describes; :mod:`sim.store` writes.
"""

from __future__ import annotations

import re
from typing import Any

HEADER = ["file", "column", "unit", "meaning"]
UNDOCUMENTED = "(undocumented)"

# (file name pattern, column pattern, unit, meaning): the first match wins. File patterns match
# the name alone (runs.csv of base/ and other/ alike); "{m}", "{who}" in meanings are filled from
# the column pattern's named groups.
_P = "probability (0-1)"
_CI = "95% confidence interval"
_POSTERIORS = "posterior.csv"   # also posterior_<conflict>.csv and posterior[_<conflict>]_as_of_<date>.csv
RULES: list[tuple[str, str, str, str]] = [
    # a run (and each half of a comparison)
    ("runs.csv", "replication", "index", "replication number, 0-based; seeds are derived from it, so it "
     "pairs the replications of two scenarios run with the same seed"),
    ("runs.csv", "collapsed", "0/1", "1 if the ceasefire collapsed before the horizon, 0 if the run was censored"),
    ("runs.csv", "months_to_collapse", "months", "time from the start to collapse; the horizon where censored"),
    ("runs.csv", "initiator", "label", "who collapsed it (a belligerent, or clash:<guarantor>-<patron>); "
     "'none' where censored"),
    ("runs.csv", "trigger", "label", "what collapsed it (e.g. ground_offensive, direct_clash); 'none' where censored"),
    ("runs.csv", "block", "index", "seeding block of the replication (replication // block size)"),
    ("runs.csv", "block_offset", "index", "position of the replication inside its block"),
    ("runs.csv", "violations", "count", "shelling and raids across the line over the whole run"),
    ("runs.csv", "air_strikes", "count", "the patron's air strikes over the whole run"),
    ("runs.csv", "spoiler_attacks", "count", "spoiler attacks on joint patrols over the whole run"),
    ("survival.csv", "month", "months", "months since the start of the ceasefire"),
    ("survival.csv", "survival", _P, "Kaplan-Meier probability that the ceasefire still holds at that month"),
    ("survival.csv", "ci_low", _P, f"lower bound of the {_CI} of survival (log-log)"),
    ("survival.csv", "ci_high", _P, f"upper bound of the {_CI} of survival (log-log)"),
    ("timeseries.csv", "month", "months", "months since the start of the ceasefire"),
    ("timeseries.csv", "variable", "label", "state variable or monthly count (e.g. tension, "
     "exhaustion.regime, violations_per_month); indices are 0-1, counts per month"),
    ("timeseries.csv", "n_holding", "count", "replications still holding at the end of the month "
     "(the quantiles are over these)"),
    ("timeseries.csv", r"q0?(?P<q>\d+)", "unit of the variable", "the {q}th percentile of the variable across "
     "the replications still holding"),
    # a sweep
    ("design.csv|outcomes.csv|replications.csv|replications.parquet", "point", "index",
     "design point number, 0-based"),
    ("outcomes.csv", "status", "label", "ok, or failed (the model raised at this point; see error)"),
    ("outcomes.csv", "error", "text", "the exception of a failed point; empty if ok"),
    ("outcomes.csv", "p_collapse", _P, "share of the point's replications that collapsed by the horizon"),
    ("outcomes.csv", r"p_collapse_by_(?P<m>[\d_]+)", _P,
     "share of the point's replications that collapsed within {m} months"),
    ("outcomes.csv", "rmst", "months", "restricted mean survival time: mean months holding up to the horizon"),
    ("outcomes.csv", r"initiator_share_(?P<who>.+)", _P,
     "share of the point's collapses initiated by {who} (undefined, nan, where none collapsed)"),
    ("outcomes.csv", r"p_initiated_by_(?P<who>.+)", _P,
     "share of the point's replications that collapsed by the horizon, initiated by {who}"),
    ("replications.csv|replications.parquet", "replication", "index", "replication number within the point"),
    ("replications.csv|replications.parquet", "collapsed", "0/1", "1 if it collapsed before the horizon"),
    ("replications.csv|replications.parquet", "months_to_collapse", "months",
     "time to collapse; the horizon where censored"),
    ("replications.csv|replications.parquet", "initiator", "label", "who collapsed it; 'none' where censored"),
    ("sensitivity.csv", "outcome", "label", "the outcome analysed: its column in outcomes.csv"),
    ("sensitivity.csv", "factor", "index", "factor number (order of the experiment file)"),
    ("sensitivity.csv", "name", "label", "factor name (its column in design.csv)"),
    ("sensitivity.csv", r"(?P<i>S1|ST|SRC|mu_star|mu|sigma)_ci_low", "unitless",
     "lower bound of the 95% bootstrap confidence interval of {i}"),
    ("sensitivity.csv", r"(?P<i>S1|ST|SRC|mu_star|mu|sigma)_ci_high", "unitless",
     "upper bound of the 95% bootstrap confidence interval of {i}"),
    ("sensitivity.csv", "S1", "share of variance", "Sobol first-order index"),
    ("sensitivity.csv", "ST", "share of variance", "Sobol total-order index"),
    ("sensitivity.csv", "SRC", "unitless", "standardised regression coefficient (linear fit on the factors)"),
    ("sensitivity.csv", "mu", "unit of the outcome", "Morris mean elementary effect (signed)"),
    ("sensitivity.csv", "mu_star", "unit of the outcome", "Morris mean absolute elementary effect"),
    ("sensitivity.csv", "sigma", "unit of the outcome", "Morris standard deviation of the elementary effects"),
    ("sensitivity.csv", "ee_noise_share", "share", "share of the elementary effects' variance due to "
     "replication noise"),
    ("sensitivity.csv", "method", "label", "sensitivity method (sobol, morris, src)"),
    # a calibration
    ("posterior.csv", "point", "index", "prior design point number, 0-based"),
    ("posterior.csv", "weight", "probability (sums to 1)", "posterior weight of the point"),
    ("posterior.csv", "loglik_total", "log-likelihood (nats)", "log-likelihood of all historical cases"),
    ("posterior.csv", r"loglik_(?P<case>.+)", "log-likelihood (nats)",
     "log-likelihood of the observed outcome of case {case}"),
    # the sampler's final particles and the posterior draws scenarios inherit
    ("particles.csv", r"x:dynamics\.(?P<p>.+)", "logit of the prior's unit value",
     "sampler coordinate of dynamics.{p}: logit of its position in the prior's range (log scale for log priors)"),
    ("particles.csv", "x:conflict_sigma", "log of a standard deviation",
     "sampler coordinate of conflict_sigma: log of the spread of the conflicts' effects on the launch rates"),
    ("particles.csv", r"x:conflict_effect\.(?P<c>.+)", "standard normal z",
     "conflict {c}'s effect on the launch rates, z (the rates are multiplied by exp(conflict_sigma z))"),
    ("particles.csv", r"loglik:(?P<case>.+)", "log-likelihood (nats)",
     "log-likelihood of the observed outcome of case {case} at the particle"),
    (_POSTERIORS, r"dynamics\.(?P<p>.+)", "as the parameter (ceasefire params)",
     "one equally weighted posterior draw of dynamics.{p} (for a conflict's file: times its conflict effect)"),
    # a backtest
    ("backtest.csv", "case", "label", "historical case (file in scenarios/history/)"),
    ("backtest.csv", "conflict", "label", "the conflict the case belongs to (its partial-pooling group)"),
    ("backtest.csv", "observed_collapsed", "0/1", "1 if the ceasefire collapsed, 0 if it was still holding (censored)"),
    ("backtest.csv", "observed_months", "months", "observed duration of the truce, or the time it had held when censored"),
    ("backtest.csv", "observed_initiator", "label", "who broke it, as observed"),
    ("backtest.csv", r"p_collapse_(?P<m>[\d.]+)", _P,
     "predicted probability of collapse within {m} months (leave-one-out fit)"),
    ("backtest.csv", "predicted_median", "months", "predicted median duration; empty if beyond the horizon"),
    ("backtest.csv", "observed_percentile", "probability (0-1)",
     "predicted probability of collapse by the observed duration (PIT value)"),
    ("backtest.csv", "pareto_k", "shape (above 0.7: unreliable)",
     "Pareto k-hat of the case's leave-one-out importance weights: above 0.7 the LOO forecast is unreliable"),
    ("backtest.csv", "predicted_share_observed_initiator", _P,
     "predicted share of collapses by the initiator that was observed"),
    ("scores.csv", "scope", "label",
     "leave_one_out (each case forecast without itself) or leave_one_conflict_out (without its conflict's cases), "
     "by importance sampling of the fit's particles; with the suffix _exact, the same with the forecasts of "
     "refits without the held-out cases in place (backtest --refit)"),
    ("scores.csv", "forecast", "label", "the forecast scored (the model, or a reference forecast)"),
    ("scores.csv", r"brier_(?P<m>[\d.]+)", "Brier score (0 best, 1 worst)",
     "Brier score of P(collapse within {m} months) over the cases"),
    ("scores.csv", "log_score", "nats (lower is better)",
     "mean binary log loss of P(collapse within 1, 3, 6, 12, 24 months) where the outcome is known"),
    ("scores.csv", "crps_months", "months (lower is better)", "mean continuous ranked probability score (censored)"),
    ("scores.csv", r"coverage_(?P<q>\d+)", "share of cases (0-1)",
     "share of the cases whose observation falls inside the central {q}% predictive interval"),
    # scenario discovery
    ("discovery_trajectory.csv", "box", "index", "box number (1 is the first box found)"),
    ("discovery_trajectory.csv", "step", "index", "peeling step along the trajectory (0: the whole space)"),
    ("discovery_trajectory.csv", "phase", "label", "start (the whole space), peel or paste"),
    ("discovery_trajectory.csv", "coverage", "share (0-1)",
     "share of all cases of interest (soft labels summed) that lie in the box"),
    ("discovery_trajectory.csv", "density", "share (0-1)", "share of the box's points that are cases of interest"),
    ("discovery_trajectory.csv", "mass", "share (0-1)", "share of all design points in the box"),
    ("discovery_trajectory.csv", "n_restricted", "count", "number of factors the box restricts"),
    ("discovery_trajectory.csv", "chosen", "0/1", "1 for the box reported (before pasting)"),
    ("discovery_trajectory.csv", r"(?P<f>.+)_low", "unit of factor {f}", "lower limit of the box on factor {f}"),
    ("discovery_trajectory.csv", r"(?P<f>.+)_high", "unit of factor {f}", "upper limit of the box on factor {f}"),
]


def describe(file: str, column: str, parameters: dict[str, dict] | None = None) -> tuple[str, str]:
    """(unit, meaning) of one column of a CSV file written in a result directory.

    ``parameters`` maps column names that are scenario parameters (factors, free rates) to their
    schema information (``unit``, ``doc``, ``path``). Unknown columns get ``UNDOCUMENTED``.
    """
    name = file.rsplit("/", 1)[-1]
    if re.fullmatch(r"posterior_[\w.-]+\.csv", name):
        name = _POSTERIORS
    info = (parameters or {}).get(column)
    if info is not None and name in ("design.csv", "outcomes.csv", "posterior.csv"):
        return info.get("unit") or "", f"{info.get('path', column)}: {info.get('doc', '')}".rstrip(": ")
    bound = re.fullmatch(r"(?P<o>.+)_ci_(?P<side>low|high)", column)
    if bound and name == "outcomes.csv":
        unit, meaning = describe(file, bound["o"], parameters)
        if meaning != UNDOCUMENTED:
            side = "lower" if bound["side"] == "low" else "upper"
            return unit, f"{side} bound of the {_CI} of {bound['o']} (Wilson score for shares, normal for rmst)"
    for files, pattern, unit, meaning in RULES:
        if name not in files.split("|"):
            continue
        m = re.fullmatch(pattern, column)
        if m:
            groups = m.groupdict()
            return unit.format(**groups), meaning.format(**groups)
    return UNDOCUMENTED, UNDOCUMENTED


def parameter_info(path: str, scenario: dict[str, Any] | None) -> dict[str, Any]:
    """Unit and meaning of the scenario parameter at a key path, from the schema."""
    from sim.params import path_info
    try:
        info = path_info(path, scenario)
    except KeyError:
        return {"path": path, "unit": "", "doc": "scenario parameter"}
    return {"path": path, "unit": info["unit"], "doc": info["doc"]}


def rows(files: dict[str, list[str]], parameters: dict[str, dict] | None = None) -> list[list[str]]:
    """Dictionary rows for the given files (relative path -> header), in file then column order."""
    out = []
    for file in sorted(files):
        for column in files[file]:
            unit, meaning = describe(file, column, parameters)
            out.append([file, column, unit, meaning])
    return out
