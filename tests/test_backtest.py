"""Forecast scores, importance weights, the covariate baseline, and a tiny calibration + backtest end to end."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from sim import scoring
from sim.backtest import backtest, grid_months, predictive_cdf, psis_weights, score, summarise
from sim.calibration import load_calibration, reproducibility, run_smc
from sim.covariates import fit_weibull, weibull_cdf
from sim.montecarlo import LocalExecutor

DATA = Path(__file__).resolve().parent / "data"


def _step_cdf(seed=0, points=25, end=30.0):
    rng = np.random.default_rng(seed)
    grid = np.sort(rng.uniform(0.2, end, points))
    grid[-1] = end
    cdf = np.sort(rng.uniform(0, 0.9, points))
    return grid, cdf


def _integral(grid, cdf, upper, observed=None, h=1e-4):
    """Midpoint rule for the integral over [0, upper] of (F(s) - 1[s >= observed])^2 (observed None: F^2), F the
    right-continuous step CDF. The integrand is a step function: each jump spoils at most one cell, by at most h,
    and the last partial cell at most h more: tolerance (jumps + 2) h."""
    s = (np.arange(int(upper / h)) + 0.5) * h
    idx = np.searchsorted(grid, s, side="right") - 1
    f = np.where(idx >= 0, cdf[np.maximum(idx, 0)], 0.0)
    step = 0.0 if observed is None else (s >= observed).astype(float)
    jumps = int(np.sum(grid <= upper)) + (observed is not None)
    return float(np.sum((f - step) ** 2) * h), (jumps + 2) * h


# --- scores ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("censored_at", [0.1, 7.3, 18.0, 30.0])
def test_censored_crps_is_the_integral_of_f_squared_up_to_the_censoring_time(censored_at):
    grid, cdf = _step_cdf()
    value, tol = _integral(grid, cdf, censored_at)
    assert scoring.crps(grid, cdf, censored_at, censored=True) == pytest.approx(value, abs=tol)


@pytest.mark.parametrize("observed", [0.05, 4.2, 29.99, 30.0])
def test_crps_of_a_collapse_matches_numerical_integration(observed):
    grid, cdf = _step_cdf(seed=1)
    value, tol = _integral(grid, cdf, grid[-1], observed)
    assert scoring.crps(grid, cdf, observed) == pytest.approx(value, abs=tol)


def test_a_collapse_past_the_grid_is_an_error_and_a_censoring_there_is_not():
    grid, cdf = _step_cdf()
    with pytest.raises(ValueError, match="past the forecast grid"):
        scoring.crps(grid, cdf, 30.5)
    assert scoring.crps(grid, cdf, 30.5, censored=True) == pytest.approx(scoring.crps(grid, cdf, 30.0, censored=True))


def test_covered_semantics():
    grid = np.arange(1, 61, dtype=float)
    cdf = np.minimum(grid / 40, 1.0)            # 90% interval [2, 38], 50% interval [10, 30]
    assert scoring.quantile(grid, cdf, 0.05) == 2 and scoring.quantile(grid, cdf, 0.95) == 38
    assert scoring.covered(grid, cdf, 20.0, False, 0.9)
    assert scoring.covered(grid, cdf, 2.0, False, 0.9) and scoring.covered(grid, cdf, 38.0, False, 0.9)
    assert not scoring.covered(grid, cdf, 1.0, False, 0.9)
    assert not scoring.covered(grid, cdf, 45.0, False, 0.9)
    assert not scoring.covered(grid, cdf, 35.0, False, 0.5)
    # censored at c: covered when the interval reaches past c (T > c is consistent with it)
    assert scoring.covered(grid, cdf, 20.0, True, 0.9)
    assert scoring.covered(grid, cdf, 1.0, True, 0.9)          # early censoring is consistent with anything
    assert not scoring.covered(grid, cdf, 38.0, True, 0.9)
    assert not scoring.covered(grid, cdf, 45.0, True, 0.9)
    # a forecast that never reaches the upper quantile: any censoring is covered
    low_cdf = 0.8 * np.minimum(grid / 40, 1.0)
    assert scoring.covered(grid, low_cdf, 59.0, True, 0.9)
    assert scoring.covered(grid, low_cdf, 59.0, False, 0.9)


def test_pit_of_a_censored_observation_is_the_middle_of_its_range():
    grid, cdf = _step_cdf()
    for c in (0.1, 5.0, 12.5, 30.0):
        f = scoring.at(grid, cdf, c)
        assert scoring.pit(grid, cdf, c, censored=True) == pytest.approx((f + 1) / 2)
        assert scoring.pit(grid, cdf, c, censored=False) == pytest.approx(f)


def test_horizon_scores_skip_the_months_after_a_censoring_time():
    grid = np.arange(1, 61, dtype=float)
    cdf = np.minimum(grid / 40, 1.0)
    months = (1, 3, 6, 12, 24)
    censored = scoring.horizon_scores(grid, cdf, 6.0, True, months)
    assert list(censored["brier"]) == list(censored["log"]) == ["1", "3", "6"]
    assert censored["brier"]["6"] == pytest.approx((6 / 40) ** 2)          # still holding at 6: did not happen
    collapsed = scoring.horizon_scores(grid, cdf, 6.0, False, months)
    assert list(collapsed["brier"]) == ["1", "3", "6", "12", "24"]
    assert collapsed["brier"]["3"] == pytest.approx((3 / 40) ** 2)
    assert collapsed["brier"]["6"] == pytest.approx((6 / 40 - 1) ** 2)
    assert collapsed["log"]["24"] == pytest.approx(-math.log(24 / 40))


def test_horizon_scores_do_not_score_past_the_forecast():
    grid = grid_months(3.0)
    cdf = np.minimum(grid / 6, 1.0)
    try:
        out = scoring.horizon_scores(grid, cdf, 1.5, False, (1, 3, 6, 12, 24))
    except ValueError:
        return
    assert set(out["brier"]) <= {"1", "3"}


def test_grid_months():
    grid = grid_months(60.0)
    assert np.all(np.diff(grid) > 0) and grid[-1] == 60.0
    days = grid * 30.4375
    np.testing.assert_allclose(days[:60], np.arange(1, 61))        # daily for two months
    assert np.allclose(np.diff(days[60:-1]), 7)                     # weekly after
    short = grid_months(3.0)
    assert short[-1] == 3.0 and np.all(short <= 3.0)


def test_predictive_cdf_is_the_weighted_mix_of_the_particles_ecdfs():
    rng = np.random.default_rng(2)
    months = rng.uniform(0, 12, (4, 10))
    collapsed = rng.random((4, 10)) < 0.7
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    grid = grid_months(12.0)
    cdf = predictive_cdf({"months": months, "collapsed": collapsed}, weights, grid)
    expected = sum(w * np.mean(collapsed[j][None, :] & (months[j][None, :] <= grid[:, None] + 1e-9), axis=1)
                   for j, w in enumerate(weights))
    np.testing.assert_allclose(cdf, expected, atol=1e-12)
    assert np.all(np.diff(cdf) >= 0) and cdf[-1] <= 1.0


def test_summarise_needs_every_row():
    grid = np.arange(1, 61, dtype=float)
    cdf = np.minimum(grid / 40, 1.0)

    class Obs:
        def __init__(self, months, collapsed):
            self.months, self.collapsed = months, collapsed

    rows = [{"scores": {"model": score(grid, cdf, Obs(5.0, True)), "ref": score(grid, cdf, Obs(5.0, True))}},
            {"scores": {"model": score(grid, cdf, Obs(30.0, False))}}]
    s = summarise(rows, "model")
    assert s["crps"] == pytest.approx(np.mean([r["scores"]["model"]["crps"] for r in rows]))
    assert sum(s["pit_histogram"]) == 2
    assert s["brier"]["24"] == pytest.approx(np.mean([rows[0]["scores"]["model"]["brier"]["24"],
                                                      rows[1]["scores"]["model"]["brier"]["24"]]))
    assert summarise(rows, "ref") is None


# --- Pareto-smoothed importance weights --------------------------------------------------------------------

def test_equal_log_ratios_give_uniform_weights():
    for n in (10, 100, 1000):
        w, k = psis_weights(np.full(n, -3.7))
        np.testing.assert_allclose(w, 1.0 / n, rtol=1e-12)
        assert (np.isnan(k) if n < 25 else k < 0.5)


def test_weights_sum_to_one_and_do_not_depend_on_a_shift():
    rng = np.random.default_rng(0)
    for n in (8, 60, 400):
        lr = rng.normal(0, 2, n)
        w, k = psis_weights(lr)
        assert w.sum() == pytest.approx(1.0, abs=1e-12) and np.all(w > 0)
        w2, k2 = psis_weights(lr + 123.0)
        np.testing.assert_allclose(w, w2, rtol=1e-9)
        assert np.argmax(w) == np.argmax(lr)


def test_one_huge_log_ratio_is_smoothed():
    rng = np.random.default_rng(1)
    lr = rng.normal(0, 1, 200)
    lr[7] = 40.0
    raw = np.exp(lr - lr.max())
    raw /= raw.sum()
    w, k = psis_weights(lr)
    assert raw.max() > 0.999
    assert w.max() < raw.max() and w.max() < 0.9
    assert np.argmax(w) == 7 and w.sum() == pytest.approx(1.0)
    assert k > 0.7           # and the fit says the estimate is not reliable


# --- the covariate baseline ---------------------------------------------------------------------------------

def test_fit_weibull_recovers_known_coefficients():
    """log T = b0 + b.z + s W (W standard minimum-Gumbel), z the standardised features, n = 400, a quarter censored
    at random times. Tolerance: 4 asymptotic standard errors from the observed information (the Hessian of the
    censored log-likelihood, written here independently); the ridge (1.0 on b) shifts b by about 2 b / information,
    under a tenth of a standard error here."""
    rng = np.random.default_rng(2024)
    n = 400
    x = np.column_stack([rng.normal(0, 1, n), rng.uniform(0, 3, n)])
    z = (x - x.mean(0)) / x.std(0)
    b0, b, s = 1.5, np.array([0.6, -0.4]), 0.5
    t = np.exp(b0 + z @ b + s * np.log(rng.exponential(size=n)))
    c = np.exp(rng.uniform(0.5, 3.5, n))
    times, collapsed = np.minimum(t, c), t <= c
    assert 0.6 < collapsed.mean() < 0.9
    fit = fit_weibull(x, times, collapsed)
    theta = np.array([fit["b0"], *fit["b"], fit["log_s"]])

    def nll(th):
        w = (np.log(times) - th[0] - z @ th[1:3]) / np.exp(th[3])
        return -np.sum(np.where(collapsed, w - np.exp(w) - th[3] - np.log(times), -np.exp(w)))

    h = 1e-4
    eye = np.eye(4)
    hess = np.array([[(nll(theta + h * eye[i] + h * eye[j]) - nll(theta + h * eye[i] - h * eye[j])
                       - nll(theta - h * eye[i] + h * eye[j]) + nll(theta - h * eye[i] - h * eye[j])) / (4 * h * h)
                      for j in range(4)] for i in range(4)])
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    truth = np.array([b0, *b, np.log(s)])
    assert np.all(np.abs(theta - truth) < 4 * se), (theta, truth, se)
    # the fit is the optimum of its own (penalised) likelihood: the unpenalised one is flat there up to the ridge
    grad = optimize.approx_fprime(theta, nll, 1e-6)
    np.testing.assert_allclose(grad[1:3], -2 * 1.0 * theta[1:3], atol=0.05)


def test_weibull_cdf_is_a_cdf():
    fit = {"b0": 1.0, "b": [0.5, -0.2], "log_s": -0.3, "mean": [0.0, 1.0], "sd": [1.0, 2.0]}
    grid = np.geomspace(1e-4, 1e4, 500)
    for x in ([0.0, 0.0], [2.0, -3.0], [-5.0, 8.0]):
        f = weibull_cdf(fit, np.array(x), grid)
        assert np.all(np.diff(f) >= 0) and np.all((0 <= f) & (f <= 1))
        assert f[0] < 1e-3 and f[-1] > 1 - 1e-9
    # median: log T = mu + s log(log 2)
    mu = 1.0 + 0.5 * 0 - 0.2 * (0 - 1) / 2
    median = math.exp(mu + math.exp(-0.3) * math.log(math.log(2)))
    assert weibull_cdf(fit, np.array([0.0, 0.0]), np.array([median]))[0] == pytest.approx(0.5)


# --- a tiny calibration and backtest, end to end ---------------------------------------------------------------

def _case(text, name, conflict, observed):
    """two_sided.toml renamed, with a conflict, a 3-month horizon and an [observed] table."""
    text, named = re.subn(r'(?m)^name = ".*"$', f'name = "{name}"\nconflict = "{conflict}"', text, count=1)
    text, horizon = re.subn(r"(?m)^horizon_months = .*$", "horizon_months = 3", text, count=1)
    assert named == horizon == 1
    return text + "\n[observed]\n" + observed


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    d = tmp_path_factory.mktemp("mech_calibration")
    base = (DATA / "two_sided.toml").read_text()
    (d / "mech_case_a1.toml").write_text(_case(base, "mech_case_a1", "alpha",
                                               'status = "collapsed"\nmonths_to_collapse = 1.5\n'
                                               'initiator = "regime"\n'))
    (d / "mech_case_a2.toml").write_text(_case(base, "mech_case_a2", "alpha",
                                               'status = "censored"\ncensored_at = 2020-06-01\n'))
    (d / "mech_case_b1.toml").write_text(_case(base, "mech_case_b1", "beta",
                                               'status = "collapsed"\nmonths_to_collapse = 0.8\n'
                                               'initiator = "opposition"\n'))
    (d / "mech_calibration.toml").write_text(
        'name = "mech_tiny"\ncases = ["mech_case_*.toml"]\nparticles = 32\nreplications = 8\n'
        'predictive_replications = 4\nmoves = 1\nseed = 3\n'
        '[free.covered]\npath = "dynamics.offensive_rate_covered"\nlow = 0.5\nhigh = 40.0\nscale = "log"\n'
        '[free.campaign]\npath = "dynamics.campaign_rate"\nlow = 0.1\nhigh = 10.0\nscale = "log"\n')
    cal, priors, cases = load_calibration(d / "mech_calibration.toml")
    with LocalExecutor(1) as one:
        a = run_smc(cal, priors, cases, one)
        b = run_smc(cal, priors, cases, one, seed=4)
        report = backtest(a, one, neutralise=False)
    with LocalExecutor(2) as two:
        a2 = run_smc(cal, priors, cases, two)
        noisy2 = run_smc(cal.model_copy(update={"allocation": "noise"}), priors, cases, two)
    with LocalExecutor(1) as one:
        noisy1 = run_smc(cal.model_copy(update={"allocation": "noise"}), priors, cases, one)
    return {"cal": cal, "priors": priors, "cases": cases, "a": a, "a2": a2, "b": b, "backtest": report,
            "noisy": (noisy1, noisy2), "file": d / "mech_calibration.toml"}


def test_calibration_particles_stay_in_the_prior_box(calibration):
    a = calibration["a"]
    assert a.particles.shape == (32, a.space.dim) and a.space.dim == 2 + 1 + 2      # 2 rates, sigma, 2 conflicts
    values = a.space.values(a.particles)
    for prior in calibration["priors"]:
        v = values[prior.path]
        assert np.all((prior.low <= v) & (v <= prior.high)), prior.path
    assert np.all(a.space.sigma(a.particles) > 0)
    assert a.stages and a.stages[-1]["temperature"] == 1.0
    assert np.all(np.isfinite(a.loglik)) and a.loglik.shape == (3, 32)


def test_calibration_is_identical_on_one_or_two_workers(calibration):
    a, a2 = calibration["a"], calibration["a2"]
    np.testing.assert_array_equal(a.particles, a2.particles)
    np.testing.assert_array_equal(a.loglik, a2.loglik)
    assert a.stages == a2.stages


def test_likelihood_tasks_are_handed_out_costliest_first(calibration):
    """The chunk that runs last, while the other workers may wait, should be a short one: tasks go out in decreasing
    runs x months, every (case, chunk) once, whatever the cases' order."""
    from sim.calibration import _expected_cost, simulate_cases

    class Recorder:
        def map_unordered(self, fn, tasks):
            self.tasks = list(tasks)
            return iter(())

    a, cases = calibration["a"], calibration["cases"]
    recorder = Recorder()
    horizons = [2.0 + 3.0 * i for i in range(len(cases))]      # in case order, each case costs more than the last
    simulate_cases(cases, a.space, a.particles, seed=1, evaluation=0, replications=[8, 200, 8][:len(cases)],
                   horizons=horizons, executor=recorder)
    costs = [_expected_cost(t) for t in recorder.tasks]
    assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]
    pairs = [(t.case_index, t.chunk) for t in recorder.tasks]
    assert len(set(pairs)) == len(pairs) and {c for c, _ in pairs} == set(range(len(cases)))
    assert [c for c, _ in pairs] != sorted(c for c, _ in pairs)    # not simply case order


def test_runs_shared_out_by_noise_are_identical_on_one_or_two_workers(calibration):
    one, two = calibration["noisy"]
    np.testing.assert_array_equal(one.particles, two.particles)
    assert one.stages == two.stages and one.stages[-1]["temperature"] == 1.0
    first = one.stages[0]["replications"]
    assert first != {c.name: 8 for c in calibration["cases"]}, "the noisiest case should get more runs than 8"


def test_backtest_scores_every_case_and_leaves_conflicts_out(calibration):
    out = calibration["backtest"]
    names = {c.name for c in calibration["cases"]}
    assert {r["name"] for r in out["cases"]} == names
    for row in out["cases"]:
        for forecast in ("model", "base_rate"):
            s = row["scores"][forecast]
            assert math.isfinite(s["crps"]) and s["crps"] >= 0 and 0 <= s["pit"] <= 1
        assert 0 <= row["predicted"]["p_collapse"]["1"] <= row["predicted"]["p_collapse"]["3"] <= 1
    loco = out["leave_one_conflict_out"]
    assert {r["name"] for r in loco["cases"]} == names
    assert loco["scores"]["model"] is not None and loco["scores"]["base_rate"] is not None
    # beta's only case is forecast from the two alpha cases: the empirical and covariate references exist there
    beta = next(r for r in loco["cases"] if r["conflict"] == "beta")
    assert {"other_cases", "covariates"} <= set(beta["scores"])
    assert out["scores"]["model"]["coverage"] == out["coverage"]
    assert "neutralisation" not in out


def test_reproducibility_of_two_seeds(calibration):
    rep = reproducibility(calibration["a"], calibration["b"])
    assert rep["seeds"] == [3, 4]
    assert math.isfinite(rep["max_shift"]) and rep["max_shift"] >= 0
    assert set(rep["shift"]) >= {p.path for p in calibration["priors"]}
    assert rep["max_shift_including_conflict_effects"] >= rep["max_shift"]
    assert not np.array_equal(calibration["a"].particles, calibration["b"].particles)


def test_neutralising_the_agreement_exchanges_features_between_cases_and_keeps_their_spread():
    """Each case takes another case's agreement features (a derangement for every shift used), so the set of
    features across the case base is unchanged: the check removes the link to the case, not the average level."""
    from sim.backtest import AGREEMENT_SHIFTS, neutralised_scenarios
    _, _, cases = load_calibration(Path(__file__).parent.parent / "experiments" / "calibration_cases.toml")
    features = ("form", "signatory_level", "earlier_failures", "comprehensive")
    own = [tuple(getattr(c.scenario.agreement, f) for f in features) for c in cases]
    assert len(set(own)) > 3
    for shift in AGREEMENT_SHIFTS:
        taken = [tuple(getattr(s.agreement, f) for f in features) for s in neutralised_scenarios(cases, "agreement", shift)]
        assert sorted(taken) == sorted(own)
        assert taken == own[shift:] + own[:shift]
        moved = [a != b for a, b in zip(taken, own)]
        assert sum(moved) >= len(cases) // 2


def test_neutralising_an_actor_input_exchanges_values_between_actors_of_different_cases():
    """On the case base: every actor of the role takes the values of an actor of another case (fields of one role
    move together), and the pooled values are the same before and after: spread and mean kept."""
    from sim.backtest import EXCHANGED_FIELDS, EXCHANGES, neutralised_scenarios
    _, _, cases = load_calibration(Path(__file__).parent.parent / "experiments" / "calibration_cases.toml")
    for which, groups in EXCHANGED_FIELDS.items():
        for exchange in EXCHANGES:
            scen = neutralised_scenarios(cases, which, exchange)
            for role, fields in groups:
                pairs = [(i, tuple(getattr(a, f) for f in fields), tuple(getattr(b, f) for f in fields))
                         for i, (c, s) in enumerate(zip(cases, scen))
                         for a, b in zip(c.scenario.actors.values(), s.actors.values()) if role in a.roles]
                own = [p[1] for p in pairs]
                taken = [p[2] for p in pairs]
                assert sorted(own) == sorted(taken), (which, role)
                moved = sum(v != w for _, v, w in pairs)
                assert moved >= len(pairs) // 2, (which, role, moved, len(pairs))
            # the other roles' fields are untouched
            touched = {f for _, fs in groups for f in fs}
            for c, s in zip(cases, scen):
                for a, b in zip(c.scenario.actors.values(), s.actors.values()):
                    for f in ("ambition", "exhaustion", "leverage", "restraint"):
                        if f not in touched and hasattr(a, f):
                            assert getattr(a, f) == getattr(b, f)


def test_the_exchange_never_takes_an_actors_values_from_its_own_case_where_the_pool_allows():
    from sim.backtest import donors
    owners = [0, 0, 1, 1, 2, 3, 3, 3]
    for exchange in (1, 2, 3):
        d = donors(owners, exchange)
        assert sorted(d) == list(range(len(owners)))
        assert all(owners[j] != owners[d[j]] for j in range(len(owners)))
    assert donors(owners, 1) == donors(owners, 1) and donors(owners, 1) != donors(owners, 2)
    # a single case: nothing else to take from, the exchange is still a permutation
    assert sorted(donors([0, 0, 0], 1)) == [0, 1, 2]


def test_the_neutralisation_check_uses_the_base_forecasts_random_numbers(calibration):
    """The three tiny cases share every input, so an exchange between cases changes no scenario, except where
    it gives one side the other side's values (the balance of forces): on the base forecast's random numbers
    nothing else is lost. With other streams the differences would be Monte Carlo noise posing as skill."""
    from sim.backtest import EXCHANGES, neutralised_scenarios
    with LocalExecutor(1) as one:
        out = backtest(calibration["a"], one, neutralise=True)
    assert out["scores"]["model"] == calibration["backtest"]["scores"]["model"]
    cases = calibration["cases"]
    for which, row in out["neutralisation"]["inputs"].items():
        shifts = EXCHANGES if which != "agreement" else (1, 2, 3)
        unchanged = all(s == c.scenario for k in shifts for s, c in zip(neutralised_scenarios(cases, which, k), cases))
        if unchanged:
            assert abs(row["crps_lost"]) <= 1e-9, which
            assert row["log_lost"] is None or abs(row["log_lost"]) <= 1e-9, which
    assert not all(s == c.scenario for s, c in zip(neutralised_scenarios(cases, "balance_of_forces", 1), cases))


# --- exact refits in place of importance sampling ---------------------------------------------------------------

def test_a_refits_seed_depends_on_the_held_out_names_only():
    from sim.exact_refits import refit_seed
    assert refit_seed(3, ["a", "b"]) == refit_seed(3, ["b", "a"])
    assert len({refit_seed(3, ["a"]), refit_seed(3, ["b"]), refit_seed(4, ["a"]), refit_seed(3, ["a", "b"])}) == 4


def test_an_exact_refit_never_sees_the_held_out_outcome(calibration):
    """The refit's forecast of a case is the same, bit for bit, whatever that case's recorded outcome: the
    importance-sampled LOO cannot promise this (its particles were moved with the case in the likelihood)."""
    from dataclasses import replace

    from sim.exact_refits import refit_without
    a = calibration["a"]
    flipped = replace(a.cases[0], observed=replace(a.cases[0].observed, collapsed=False, months=3.0, initiator=None))
    other = replace(a, cases=[flipped, *a.cases[1:]])
    with LocalExecutor(1) as one:
        fit, sims = refit_without(a, [0], one)
        fit_b, sims_b = refit_without(other, [0], one)
    with LocalExecutor(2) as two:
        fit_2, sims_2 = refit_without(a, [0], two)
    assert fit["cases"] == [c.name for c in a.cases[1:]] and fit["held_out"] == [a.cases[0].name]
    for got in (sims_b, sims_2):
        np.testing.assert_array_equal(sims[0]["months"], got[0]["months"])
        np.testing.assert_array_equal(sims[0]["collapsed"], got[0]["collapsed"])
        np.testing.assert_array_equal(sims[0]["initiator"], got[0]["initiator"])
    assert fit == fit_2
    assert sims[0]["months"].shape == (a.cal.particles, a.cal.predictive_replications)


def test_a_cached_refit_is_reused_only_while_nothing_it_depends_on_changes(calibration, tmp_path):
    from dataclasses import replace

    from sim.exact_refits import refit_without
    a = calibration["a"]
    with LocalExecutor(1) as one:
        fit, sims = refit_without(a, [2], one, particles=16, cache=tmp_path)
        stored = sorted(tmp_path.glob("refit-*.npz"))
        assert len(stored) == 1
        again, sims_again = refit_without(a, [2], one, particles=16, cache=tmp_path)    # read, not rerun
        assert again == fit
        for key in ("months", "collapsed", "initiator"):
            np.testing.assert_array_equal(sims[0][key], sims_again[0][key])
        assert sims_again[0]["initiator"].dtype == object
        # a training case's outcome changes: a new refit, stored beside the first
        moved = replace(a.cases[0], observed=replace(a.cases[0].observed, months=a.cases[0].observed.months / 2))
        refit_without(replace(a, cases=[moved, *a.cases[1:]]), [2], one, particles=16, cache=tmp_path)
        # another design: another refit too
        refit_without(a, [2], one, particles=8, cache=tmp_path)
    assert len(list(tmp_path.glob("refit-*.npz"))) == 3
    assert not list(tmp_path.glob(".*")), "no temporary file left behind"


def test_exact_forecasts_replace_the_importance_sampled_ones(calibration):
    from sim.exact_refits import exact_forecasts
    a, bt = calibration["a"], calibration["backtest"]
    with LocalExecutor(2) as two:
        out = exact_forecasts(a, bt, two, which="all", particles=16)
    names = [c.name for c in calibration["cases"]]
    assert out["design"]["particles"] == 16
    for kind in ("loo", "loco"):
        part = out[kind]
        assert sorted(r["name"] for r in part["cases"]) == sorted(names)
        assert set(part["importance_sampled"]) == set(names)
        assert part["scores"]["model"] is not None and part["scores"]["base_rate"] is not None
        for r in part["cases"]:
            assert r["pareto_k"] is None and r["reliable"]
            assert 0 <= r["predicted"]["p_collapse"]["1"] <= r["predicted"]["p_collapse"]["3"] <= 1
    held = {r["name"]: r["refit"]["held_out"] for r in out["loco"]["cases"]}
    assert held["mech_case_b1"] == ["mech_case_b1"]
    assert sorted(held["mech_case_a1"]) == ["mech_case_a1", "mech_case_a2"]
    # the base rate does not depend on the fit: its score over the cases is the importance-sampled backtest's
    assert out["loo"]["scores"]["base_rate"] == bt["scores"]["base_rate"]
    # only the unreliable cases are refitted when asked for those
    with LocalExecutor(1) as one:
        few = exact_forecasts(a, {**bt, "unreliable_loo_cases": ["mech_case_a2"]}, one, which="unreliable",
                              particles=16)
    assert [r["name"] for r in few["loo"]["cases"]] == ["mech_case_a2"] and "loco" not in few


def test_cli_backtest_refits_each_conflict_and_writes_the_exact_scores(calibration, tmp_path):
    import csv
    import json

    from sim.cli import main
    out = tmp_path / "bt"
    rc = main(["backtest", "--calibration", str(calibration["file"]), "--refit", "conflicts", "--refit-particles", "16",
               "--no-neutralise", "--no-report", "--jobs", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    data = json.loads((out / "backtest.json").read_text())
    exact = data["exact_refits"]
    assert exact["which"] == "conflicts" and "loo" not in exact and exact["design"]["particles"] == 16
    assert sorted(r["name"] for r in exact["loco"]["cases"]) == sorted(c.name for c in calibration["cases"])
    with open(out / "scores.csv", newline="") as fh:
        scopes = {row["scope"] for row in csv.DictReader(fh)}
    assert scopes == {"leave_one_out", "leave_one_conflict_out", "leave_one_conflict_out_exact"}
