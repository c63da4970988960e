"""Out-of-sample forecasts of the historical cases from a calibration, scored against simple baselines.

Leave-one-out (LOO): case k is forecast from the posterior fitted without it. Refitting the sampler once per
case would cost as much as the calibration times the number of cases, so the posterior without case k is
obtained by Pareto-smoothed importance sampling (Vehtari, Gelman & Gabry 2017): the final particles are
reweighted by 1 / L_k (their likelihood of case k), the largest weights smoothed by a generalised Pareto
fit; the fit's shape k-hat says how reliable that is (above 0.7: not reliable, reported as such).
Leave-one-conflict-out (LOCO): every case of a conflict is forecast from the posterior reweighted by the
product of that conflict's likelihoods, with a fresh conflict effect drawn from its prior — the forecast a
user gets for a conflict the case base does not hold.

References the model must beat to claim skill: a literature base rate (a constant hazard; judgement from
[@prio-2021-06-syria-ceasefires] and [@stevenson-2016] that most ceasefires fail, and fast), the Kaplan-Meier
distribution of the other cases' outcomes, and a covariate baseline (``sim.covariates``: a Weibull
regression on features at signing, refitted without the forecast case or conflict).

A neutralisation check forecasts every case again with one input made uninformative (its values exchanged
between cases: the agreement's categories by shifts of the case order, the actors' values by permutations
across cases) and reports how much of the model's out-of-sample skill that input carries. Exact refits in
place of the importance sampling are in ``sim.exact_refits``.
"""

from __future__ import annotations

import math

import numpy as np

from sim import scoring
from sim.calibration import CALIBRATION_TAG, SMCResult, simulate_cases
from sim.covariates import FEATURES, features, fit_weibull, weibull_cdf
from sim.scenario import with_value

SCORE_MONTHS = (1, 3, 6, 12, 24)
BASE_RATE = (0.8, 12.0)          # P(collapse within 12 months) of the literature base-rate forecast
EMPIRICAL_FLOOR = 0.05
PREDICTIVE_EVALUATION = 900_001  # stream tags of the predictive runs, apart from the sampler's evaluations
PARETO_RELIABLE = 0.7
NEUTRAL_TAG = 0x4E455554         # "NEUT": the seeded exchanges of the neutralisation check
FORECASTS = ("model", "base_rate", "other_cases", "covariates")

AGREEMENT_SHIFTS = (1, 2, 3)   # cyclic shifts of the cases' agreement features: derangements of the case order
EXCHANGES = (1, 2, 3)          # the other inputs: three exchanges of actors' values between cases, scores averaged
NEUTRALISED_INPUTS = {
    "agreement": "the agreement's form, level, earlier failures and comprehensiveness (each case gets another "
                 "case's, by cyclic shifts of the case order, scores averaged over the shifts: the features keep "
                 "their spread and mean, so the check does not also move every case's commitment one way)",
    "monitoring": "monitors' presence (exchanged between the monitors of different cases)",
    "guarantor_deterrence": "guarantors' deterrence and resolve (exchanged, as a pair, between the guarantors of "
                            "different cases)",
    "patron_interest": "patrons' interest in the rival guarantor and distraction (exchanged, as a pair, between the "
                       "patrons of different cases)",
    "balance_of_forces": "belligerents' strength and readiness (exchanged, as a pair, between the belligerents of "
                         "different cases: a side may take the stronger or the weaker side's values)",
    "support_and_air": "supporters' strength and commitment, and patrons' air power (exchanged between the "
                       "supporters, and between the patrons, of different cases)",
    "pretext": "pretext groups' strength and transformation (exchanged, as a pair, between the pretext groups of "
               "different cases)",
}
# the actors' fields each input exchanges, by role; fields of one role move together, as one actor's values
EXCHANGED_FIELDS = {
    "monitoring": [("monitor", ("presence",))],
    "guarantor_deterrence": [("guarantor", ("deterrence", "resolve"))],
    "patron_interest": [("patron", ("interest_in_guarantor", "distraction"))],
    "balance_of_forces": [("belligerent", ("strength", "readiness"))],
    "support_and_air": [("supporter", ("strength", "commitment")), ("patron", ("air_power",))],
    "pretext": [("pretext", ("pretext_strength", "transformation"))],
}


def grid_months(horizon: float) -> np.ndarray:
    """Daily for the first two months, weekly after, to the horizon."""
    daily = np.arange(1, 61) / 30.4375
    weekly = np.arange(9, int(horizon * 30.4375 / 7) + 2) * 7 / 30.4375
    grid = np.unique(np.concatenate([daily, weekly]))
    return np.append(grid[grid < horizon], horizon)


# --- importance weights ------------------------------------------------------------------------

def psis_weights(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed normalised importance weights and the shape k-hat of the tail fit."""
    lr = log_ratios - log_ratios.max()
    w = np.exp(lr)
    n = w.size
    tail = int(min(0.2 * n, 3 * math.sqrt(n)))
    if tail < 5:
        return w / w.sum(), float("nan")
    order = np.argsort(w)
    cut = w[order[-tail - 1]]
    exceed = w[order[-tail:]] - cut
    if np.all(exceed <= 0):
        return w / w.sum(), 0.0
    from scipy import stats   # here: `ceasefire calibrate` imports this module, and scipy.stats takes about a second
    k, _, scale = stats.genpareto.fit(exceed, floc=0)
    probs = (np.arange(1, tail + 1) - 0.5) / tail
    smoothed = cut + stats.genpareto.ppf(probs, k, loc=0, scale=scale)
    w = w.copy()
    w[order[-tail:]] = np.minimum(smoothed, w.max())
    return w / w.sum(), float(k)


# --- predictive distributions ----------------------------------------------------------------

def predictive_runs(result: SMCResult, executor, *, new_conflict: bool, scenarios=None) -> list[dict]:
    """Runs of every case at every particle to the case's horizon (with the case's conflict effect, or a
    fresh one drawn from its prior for a new conflict)."""
    cases = result.cases
    z = new_conflict_z(result.seed, result.particles.shape[0]) if new_conflict and result.space.pooling else None
    return simulate_cases(cases, result.space, result.particles, seed=result.seed,
                          evaluation=PREDICTIVE_EVALUATION + int(new_conflict),
                          replications=result.cal.predictive_replications,
                          horizons=[float(c.scenario.horizon_months) for c in cases], executor=executor,
                          new_conflict_z=z, scenarios=scenarios)


def new_conflict_z(seed: int, particles: int) -> np.ndarray:
    """The conflict effect's standard normal draw per particle for a conflict the fit has not seen."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(CALIBRATION_TAG, 0x4C4F434F)))
    return rng.standard_normal(particles)


def predictive_cdf(sim: dict, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    months, collapsed = sim["months"], sim["collapsed"]
    reps = months.shape[1]
    cdf = np.zeros(grid.size)
    for j in np.flatnonzero(weights > 1e-12):
        t = np.sort(months[j][collapsed[j]])
        cdf += weights[j] * np.searchsorted(t, grid + 1e-9, side="right") / reps
    return cdf


def initiator_shares(sim: dict, weights: np.ndarray) -> dict[str, float]:
    labels = sim["initiator"]
    collapsed = sim["collapsed"]
    out = {}
    for who in sorted(set(labels[collapsed].tolist())):
        share = np.sum((labels == who) & collapsed, axis=1) / np.maximum(collapsed.sum(axis=1), 1)
        out[who] = float(np.sum(weights * share))
    return out


# --- scores ----------------------------------------------------------------------------------------

def score(grid, cdf, obs) -> dict:
    h = scoring.horizon_scores(grid, cdf, obs.months, not obs.collapsed, SCORE_MONTHS)
    return {"brier": h["brier"], "log": float(np.mean(list(h["log"].values()))) if h["log"] else None,
            "crps": scoring.crps(grid, cdf, obs.months, censored=not obs.collapsed),
            "pit": scoring.pit(grid, cdf, obs.months, censored=not obs.collapsed),
            "covered_50": scoring.covered(grid, cdf, obs.months, not obs.collapsed, 0.5),
            "covered_90": scoring.covered(grid, cdf, obs.months, not obs.collapsed, 0.9)}


def summarise(rows: list[dict], forecast: str) -> dict | None:
    s = [r["scores"][forecast] for r in rows if forecast in r["scores"]]
    if len(s) < len(rows) or not s:
        return None
    brier = {}
    for m in SCORE_MONTHS:
        vals = [x["brier"][str(m)] for x in s if str(m) in x["brier"]]
        brier[str(m)] = float(np.mean(vals)) if vals else None
    logs = [x["log"] for x in s if x["log"] is not None]
    return {"brier": brier, "log": float(np.mean(logs)) if logs else None,
            "crps": float(np.mean([x["crps"] for x in s])),
            "coverage": {"50": float(np.mean([x["covered_50"] for x in s])),
                         "90": float(np.mean([x["covered_90"] for x in s]))},
            "pit_histogram": np.histogram([x["pit"] for x in s], bins=5, range=(0, 1))[0].tolist()}


def reference_forecasts(k: int, cases, grid, others: list[int]) -> dict:
    case = cases[k]
    if len(others) < 2:   # nothing to learn the empirical and covariate references from
        return {"base_rate": scoring.exponential_cdf(grid, *BASE_RATE)}
    times = np.array([cases[i].observed.months for i in others])
    collapsed = np.array([cases[i].observed.collapsed for i in others])
    x = np.vstack([features(cases[i].scenario) for i in others])
    fit = fit_weibull(x, times, collapsed)
    return {"base_rate": scoring.exponential_cdf(grid, *BASE_RATE),
            "other_cases": scoring.kaplan_meier_cdf(grid, times, collapsed, floor=EMPIRICAL_FLOOR),
            "covariates": weibull_cdf(fit, features(case.scenario), grid)}


def case_row(case, grid, cdf, weights, sim, pareto_k, references) -> dict:
    row = {"name": case.name, "conflict": case.conflict,
           "observed": {"collapsed": case.observed.collapsed, "months": case.observed.months,
                        "initiator": case.observed.initiator},
           "predicted": {"p_collapse": {str(m): scoring.at(grid, cdf, m) for m in SCORE_MONTHS},
                         "median": _finite(scoring.quantile(grid, cdf, 0.5)),
                         "interval_50": [_finite(scoring.quantile(grid, cdf, 0.25)),
                                         _finite(scoring.quantile(grid, cdf, 0.75))],
                         "interval_90": [_finite(scoring.quantile(grid, cdf, 0.05)),
                                         _finite(scoring.quantile(grid, cdf, 0.95))],
                         "initiator_share": initiator_shares(sim, weights),
                         "survival": [[round(float(g), 4), round(float(1 - f), 5)] for g, f in zip(grid[::4], cdf[::4])]},
           "pareto_k": pareto_k,
           "reliable": bool(not pareto_k > PARETO_RELIABLE),
           "scores": {"model": score(grid, cdf, case.observed),
                      **{name: score(grid, f, case.observed) for name, f in references.items()}}}
    row["observed_percentile"] = row["scores"]["model"]["pit"]
    if case.alternative is not None:
        row["alternative"] = {"observed": {"collapsed": case.alternative.collapsed, "months": case.alternative.months,
                                           "initiator": case.alternative.initiator},
                              "scores": {"model": score(grid, cdf, case.alternative),
                                         **{n: score(grid, f, case.alternative) for n, f in references.items()}}}
    return row


def _finite(x: float):
    return float(x) if math.isfinite(x) else None


def loo_rows(result: SMCResult, sims: list[dict]) -> list[dict]:
    rows = []
    for k, case in enumerate(result.cases):
        grid = grid_months(case.scenario.horizon_months)
        weights, pk = psis_weights(-result.loglik[k])
        cdf = predictive_cdf(sims[k], weights, grid)
        others = [i for i in range(len(result.cases)) if i != k]
        rows.append(case_row(case, grid, cdf, weights, sims[k], pk, reference_forecasts(k, result.cases, grid, others)))
    return rows


def loco_rows(result: SMCResult, sims_new: list[dict]) -> list[dict]:
    rows = []
    conflicts = sorted({c.conflict for c in result.cases})
    for conflict in conflicts:
        members = [i for i, c in enumerate(result.cases) if c.conflict == conflict]
        others = [i for i, c in enumerate(result.cases) if c.conflict != conflict]
        weights, pk = psis_weights(-result.loglik[members].sum(axis=0))
        for k in members:
            case = result.cases[k]
            grid = grid_months(case.scenario.horizon_months)
            cdf = predictive_cdf(sims_new[k], weights, grid)
            rows.append(case_row(case, grid, cdf, weights, sims_new[k], pk,
                                  reference_forecasts(k, result.cases, grid, others)))
    return rows


def donors(owners: list[int], exchange: int) -> list[int]:
    """For each of a pooled list of actors (``owners``: the case of each), the actor whose values it takes: a
    permutation, fixed by ``exchange``, that takes no actor's values from its own case where the pool allows
    (among 200 seeded permutations, the first with the fewest own-case draws)."""
    n = len(owners)
    rng = np.random.default_rng(np.random.SeedSequence(NEUTRAL_TAG, spawn_key=(exchange, n)))
    best, best_same = list(range(n)), n + 1
    for _ in range(200):
        perm = rng.permutation(n).tolist()
        same = sum(owners[j] == owners[perm[j]] for j in range(n))
        if same < best_same:
            best, best_same = perm, same
        if same == 0:
            break
    return best


def neutralised_scenarios(cases, which: str, shift: int = 1) -> list:
    """Every case's scenario with one input made uninformative by exchange between cases, which keeps the
    input's values (their spread and mean) and breaks only their link to the case: for the agreement, whose
    features are categories, each case takes the features of the case ``shift`` places on (among the cases
    with an agreement); for the actors' inputs, each actor of the role takes another case's actor's values
    (``donors``, exchange number ``shift``). Setting an input to its mean or most common value instead moved
    every case's level at once (commitment, or the launch hazard, which is not linear in the inputs), so the
    score moved for a reason other than the input's information."""
    scenarios = [c.scenario for c in cases]
    if which == "agreement":
        bound = [i for i, s in enumerate(scenarios) if s.agreement is not None]
        features = ("form", "signatory_level", "earlier_failures", "comprehensive")
        donor = {i: scenarios[bound[(j + shift) % len(bound)]].agreement for j, i in enumerate(bound)}
        return [s.model_copy(update={"agreement": s.agreement.model_copy(
                    update={f: getattr(donor[i], f) for f in features})}) if i in donor else s
                for i, s in enumerate(scenarios)]
    changes: list[dict] = [{} for _ in scenarios]
    for role, fields in EXCHANGED_FIELDS[which]:
        pool = [(i, key, a) for i, s in enumerate(scenarios) for key, a in s.actors.items() if role in a.roles]
        if not pool:
            continue
        order = donors([i for i, _, _ in pool], shift)
        for (i, key, _), d in zip(pool, order):
            for field in fields:
                changes[i][f"actors.{key}.{field}"] = getattr(pool[d][2], field)
    return [with_value(s, ch) if ch else s for s, ch in zip(scenarios, changes)]


def backtest(result: SMCResult, executor, *, neutralise: bool = True, progress=None) -> dict:
    """LOO and LOCO forecasts of every case, scored with the references, and the neutralisation check."""
    sims = predictive_runs(result, executor, new_conflict=False)
    rows = loo_rows(result, sims)
    sims_new = predictive_runs(result, executor, new_conflict=True)
    loco = loco_rows(result, sims_new)
    out = {"cases": rows,
           "scores": {name: summarise(rows, name) for name in FORECASTS},
           "leave_one_conflict_out": {
               "cases": loco,
               "scores": {name: summarise(loco, name) for name in FORECASTS},
               "note": "a conflict's cases are forecast from the other conflicts only; a reference with no entry "
                       "could not be fitted (too few other cases)"},
           "method": {"loo": "Pareto-smoothed importance sampling of the final particles (weights 1 / L_case)",
                      "loco": "the same with the conflict's likelihoods, and a fresh conflict effect",
                      "score_months": list(SCORE_MONTHS), "log_score": "mean over the months where the outcome is known "
                      "of the binary log loss (probabilities clipped to [0.001, 0.999])",
                      "crps": "censored CRPS (see sim.scoring)", "covariate_features": list(FEATURES),
                      "base_rate": f"constant hazard, P(collapse within {BASE_RATE[1]:g} months) = {BASE_RATE[0]:g}"},
           "unreliable_loo_cases": [r["name"] for r in rows if not r["reliable"]]}
    out["coverage"] = out["scores"]["model"]["coverage"]
    alt = [r for r in rows if "alternative" in r]
    if alt:
        out["alternative_coding"] = {
            "cases": [r["name"] for r in alt],
            "scores": {name: {"log": float(np.nanmean([r["alternative"]["scores"][name]["log"] or np.nan for r in alt])),
                              "crps": float(np.mean([r["alternative"]["scores"][name]["crps"] for r in alt]))}
                       for name in FORECASTS if all(name in r["alternative"]["scores"] for r in alt)}}
    if neutralise:
        base_log = out["scores"]["model"]["log"]
        base_crps = out["scores"]["model"]["crps"]
        table = {}
        for i, which in enumerate(NEUTRALISED_INPUTS):
            scored = []
            for shift in (AGREEMENT_SHIFTS if which == "agreement" else EXCHANGES):
                scen = neutralised_scenarios(result.cases, which, shift)
                # the base forecast's random numbers (common random numbers): the difference is the input's
                n_sims = predictive_runs(result, executor, new_conflict=False, scenarios=scen)
                scored.append(summarise(loo_rows(result, n_sims), "model"))
            log = None if any(s["log"] is None for s in scored) else float(np.mean([s["log"] for s in scored]))
            crps = float(np.mean([s["crps"] for s in scored]))
            table[which] = {"what": NEUTRALISED_INPUTS[which], "log": log, "crps": crps,
                            "log_lost": None if log is None else log - base_log, "crps_lost": crps - base_crps}
            if progress is not None:
                progress(i + 1, len(NEUTRALISED_INPUTS))
        out["neutralisation"] = {"note": "Skill each input carries out of sample: the rise of the model's LOO log "
                                         "score and CRPS when the input's values are exchanged between cases "
                                         "(prediction only; the posterior is not refitted).", "inputs": table}
    return out
