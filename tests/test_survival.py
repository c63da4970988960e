"""Survival statistics (sim/survival.py) against scipy's reference implementations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from sim.survival import (bootstrap_median_difference, collapse_indicator, empirical_median, initiator_test,
                          kaplan_meier, logrank, p_collapse_by, paired_difference, rmst)


def censored_sample(seed: int, n: int, scale: float = 10.0, censor_max: float = 30.0, decimals: int = 0):
    """Exponential times with right censoring at random times; rounding makes ties (also between
    an event and a censoring at the same time)."""
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(scale, n), decimals) + 1
    c = np.round(rng.uniform(0, censor_max, n), decimals) + 1
    return np.minimum(t, c), t <= c


def horizon_sample(seed: int, n: int, horizon: float = 60.0, scale: float = 80.0):
    """Times censored only at the horizon, as in a Monte Carlo run."""
    rng = np.random.default_rng(seed)
    t = rng.exponential(scale, n)
    return np.minimum(t, horizon), t <= horizon


def scipy_km(times, events):
    return stats.ecdf(stats.CensoredData(uncensored=times[events], right=times[~events]))


SAMPLES = [(seed, n, dec) for seed, n, dec in [(1, 25, 0), (2, 200, 0), (3, 500, 1), (4, 60, 0), (5, 1000, 2)]]


# --- Kaplan-Meier -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed, n, decimals", SAMPLES)
def test_km_survival_equals_scipy_ecdf(seed, n, decimals):
    times, events = censored_sample(seed, n, decimals=decimals)
    assert 0 < events.sum() < n and len(np.unique(times)) < n  # censoring and ties are present
    km, ref = kaplan_meier(times, events), scipy_km(times, events)
    grid = np.concatenate([np.linspace(-1, times.max() + 5, 997), np.unique(times)])  # incl. every jump point
    np.testing.assert_allclose(km.at(grid), ref.sf.evaluate(grid), rtol=1e-10, atol=0)


@pytest.mark.parametrize("seed, n, decimals", SAMPLES)
def test_km_loglog_confidence_interval_equals_scipy(seed, n, decimals):
    times, events = censored_sample(seed, n, decimals=decimals)
    km, ref = kaplan_meier(times, events), scipy_km(times, events)
    grid = np.concatenate([np.linspace(0, times.max() + 5, 499), np.unique(times)])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns where S = 0; checked below
        ci = ref.sf.confidence_interval(0.95, method="log-log")
    low, high = km.confidence_interval(grid)
    ref_low, ref_high = ci.low.evaluate(grid), ci.high.evaluate(grid)
    s = km.at(grid)
    defined = np.isfinite(ref_low) & np.isfinite(ref_high)
    assert defined.sum() > 0.5 * grid.size
    np.testing.assert_allclose(low[defined], ref_low[defined], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(high[defined], ref_high[defined], rtol=1e-10, atol=1e-14)
    # scipy leaves the interval undefined only where S has fallen to 0; there it is the point 0
    assert np.all(s[~defined] == 0.0)
    assert np.all(low[~defined] == 0.0) and np.all(high[~defined] == 0.0)
    assert np.all(low <= s + 1e-15) and np.all(s <= high + 1e-15)


def test_km_other_confidence_level_equals_scipy():
    times, events = censored_sample(11, 300)
    km, ref = kaplan_meier(times, events), scipy_km(times, events)
    grid = np.unique(times[events])[:-1]
    ci = ref.sf.confidence_interval(0.8, method="log-log")
    low, high = km.confidence_interval(grid, level=0.8)
    np.testing.assert_allclose(low, ci.low.evaluate(grid), rtol=1e-10)
    np.testing.assert_allclose(high, ci.high.evaluate(grid), rtol=1e-10)
    low95, high95 = km.confidence_interval(grid)
    assert np.all(high - low < high95 - low95)


def test_km_curve_reaching_zero_matches_scipy_and_degenerates_to_a_point():
    times = np.array([1, 2, 2, 3, 4, 5, 5.0])
    events = np.array([1, 1, 0, 1, 0, 1, 1], bool)  # the last two at risk both collapse: S falls to 0
    km, ref = kaplan_meier(times, events), scipy_km(times, events)
    grid = np.array([0, 0.5, 1, 2, 2.5, 3, 4, 4.9, 5, 6])
    np.testing.assert_allclose(km.at(grid), ref.sf.evaluate(grid), rtol=1e-12)
    assert km.at(5.0) == 0.0
    low, high = km.confidence_interval(np.array([5.0, 6.0]))
    np.testing.assert_array_equal(low, [0.0, 0.0])
    np.testing.assert_array_equal(high, [0.0, 0.0])


def test_km_before_first_event_is_one_with_a_point_interval():
    times, events = censored_sample(6, 100)
    km = kaplan_meier(times, events)
    t0 = times[events].min() - 0.5
    assert km.at(t0) == 1.0
    low, high = km.confidence_interval(t0)
    assert (low, high) == (1.0, 1.0)


def test_km_without_censoring_is_the_empirical_survival_function():
    rng = np.random.default_rng(7)
    t = rng.integers(1, 40, 300).astype(float)
    km = kaplan_meier(t, np.ones(t.size, bool))
    grid = np.arange(0, 45, 0.5)
    np.testing.assert_allclose(km.at(grid), [(t > g).mean() for g in grid], rtol=1e-12)


def test_km_rejects_bad_input():
    with pytest.raises(ValueError):
        kaplan_meier([1.0, 2.0], [True])
    with pytest.raises(ValueError):
        kaplan_meier([], [])


# --- median -------------------------------------------------------------------------------------

def test_median_uncensored_odd_sample_is_the_middle_value():
    rng = np.random.default_rng(8)
    t = rng.exponential(5, 101)
    assert kaplan_meier(t, np.ones(101, bool)).median() == np.median(t)


def test_median_with_censoring_is_the_first_time_s_is_at_most_one_half():
    times, events = censored_sample(9, 400, decimals=1)
    km = kaplan_meier(times, events)
    s = scipy_km(times, events).sf
    jumps = np.unique(times[events])
    expected = jumps[np.flatnonzero(s.evaluate(jumps) <= 0.5)[0]]
    assert km.median() == expected
    assert km.at(km.median()) <= 0.5 < km.at(np.nextafter(km.median(), -np.inf))


def test_median_is_infinite_when_survival_stays_above_one_half():
    times, events = horizon_sample(10, 500, scale=400)  # about 14% collapse by the horizon
    assert kaplan_meier(times, events).median() == float("inf")
    assert empirical_median(times, events) == float("inf")


def test_km_median_equals_empirical_median_with_horizon_censoring_odd_n():
    for seed in range(20):
        times, events = horizon_sample(100 + seed, 301, scale=50)
        assert kaplan_meier(times, events).median() == empirical_median(times, events)


def test_km_median_when_survival_falls_exactly_to_one_half():
    t = np.arange(1, 25, dtype=float)                     # S(12) = 12/24 = 0.5 exactly
    ev = np.ones(t.size, bool)
    assert empirical_median(t, ev) == 12.0
    assert kaplan_meier(t, ev).median() == 12.0


# --- P(collapse by) and RMST ----------------------------------------------------------------------

def test_p_collapse_by_is_one_minus_survival_with_the_interval_turned_round():
    times, events = censored_sample(12, 300)
    km, ref = kaplan_meier(times, events), scipy_km(times, events)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # undefined where S = 0: not evaluated here
        ci = ref.sf.confidence_interval(0.95, method="log-log")
    for month in (2.0, 5.0, 9.5, 15.0):
        est = p_collapse_by(km, month)
        assert est.estimate == pytest.approx(1 - ref.sf.evaluate(month), rel=1e-10)
        assert est.ci_low == pytest.approx(1 - ci.high.evaluate(month), rel=1e-10)
        assert est.ci_high == pytest.approx(1 - ci.low.evaluate(month), rel=1e-10)
        assert est.ci_low <= est.estimate <= est.ci_high


def test_p_collapse_by_horizon_is_the_collapsed_share():
    times, events = horizon_sample(13, 999)
    assert p_collapse_by(kaplan_meier(times, events), 60.0).estimate == pytest.approx(events.mean(), rel=1e-12)
    np.testing.assert_array_equal(collapse_indicator(times, events, 60.0), events.astype(float))
    np.testing.assert_array_equal(collapse_indicator(times, events, 12.0), (events & (times <= 12)).astype(float))


def test_rmst_equals_the_area_under_the_km_curve_to_the_horizon():
    horizon = 60.0
    for seed in (14, 15, 16):
        times, events = horizon_sample(seed, 700, horizon)
        km = kaplan_meier(times, events)
        knots = np.concatenate([[0.0], km.times[km.times < horizon], [horizon]])
        area = float(np.sum(np.diff(knots) * km.at(knots[:-1])))  # step function: value on [a, b)
        est = rmst(times, horizon)
        assert est.estimate == pytest.approx(area, rel=1e-10)
        se = np.std(np.minimum(times, horizon), ddof=1) / np.sqrt(times.size)
        assert est.ci_high - est.ci_low == pytest.approx(2 * stats.norm.ppf(0.975) * se, rel=1e-10)


# --- log-rank and initiators ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [20, 21, 22, 23])
def test_logrank_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(30, 400, 2)
    a_t, a_e = censored_sample(seed, int(n1), scale=10)
    b_t, b_e = censored_sample(seed + 100, int(n2), scale=13)
    chi2, p = logrank(a_t, a_e, b_t, b_e)
    ref = stats.logrank(stats.CensoredData(uncensored=a_t[a_e], right=a_t[~a_e]),
                        stats.CensoredData(uncensored=b_t[b_e], right=b_t[~b_e]))
    # scipy reports the signed normal statistic; its square is the 1-df chi-square
    assert chi2 == pytest.approx(ref.statistic ** 2, rel=1e-8, abs=1e-8)
    assert p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-12)


def test_logrank_of_two_identical_samples_is_zero():
    t, e = censored_sample(24, 200)
    chi2, p = logrank(t, e, t, e)
    assert chi2 == pytest.approx(0.0, abs=1e-20) and p == pytest.approx(1.0)


def test_logrank_without_any_event_is_no_evidence():
    t = np.full(10, 60.0)
    assert logrank(t, np.zeros(10, bool), t, np.zeros(10, bool)) == (0.0, 1.0)


def test_initiator_test_equals_chi2_contingency():
    base = {"regime": 120, "opposition": 300, "clash:turkey-russia": 9}
    other = {"regime": 40, "opposition": 410, "clash:turkey-russia": 4}
    res = initiator_test(base, other)
    labels = sorted(base)
    table = np.array([[base[k] for k in labels], [other[k] for k in labels]])
    ref = stats.chi2_contingency(table, correction=False)
    assert res["labels"] == labels and res["counts"] == table.tolist()
    assert res["chi2"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert res["dof"] == ref.dof == 2


def test_initiator_test_drops_initiators_no_scenario_has():
    res = initiator_test({"regime": 30, "opposition": 50, "clash": 0}, {"regime": 10, "opposition": 70, "clash": 0})
    ref = stats.chi2_contingency(np.array([[50, 30], [70, 10]]), correction=False)
    assert res["labels"] == ["opposition", "regime"]
    assert res["chi2"] == pytest.approx(ref.statistic, rel=1e-12) and res["dof"] == 1


def test_initiator_test_without_collapses_in_one_scenario_gives_no_test():
    res = initiator_test({"regime": 5, "opposition": 3}, {"regime": 0, "opposition": 0})
    assert res["chi2"] is None and res["p_value"] is None and res["note"]


# --- paired differences ---------------------------------------------------------------------------

def test_paired_difference_of_identical_arrays_is_exactly_zero():
    rng = np.random.default_rng(30)
    x = (rng.random(1000) < 0.3).astype(float)
    res = paired_difference(x, x.copy())
    assert (res.difference.estimate, res.difference.ci_low, res.difference.ci_high) == (0.0, 0.0, 0.0)
    assert res.paired_ci_width == 0.0
    assert res.unpaired_ci_width > 0.0


def test_paired_difference_estimate_and_interval():
    rng = np.random.default_rng(31)
    a = rng.normal(0, 1, 2000)
    b = a + rng.normal(0.1, 0.5, 2000)
    res = paired_difference(a, b)
    d = b - a
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert res.difference.estimate == pytest.approx(d.mean(), rel=1e-12)
    assert res.difference.ci_low == pytest.approx(d.mean() - stats.norm.ppf(0.975) * se, rel=1e-10)
    assert res.difference.ci_high == pytest.approx(d.mean() + stats.norm.ppf(0.975) * se, rel=1e-10)


def test_paired_interval_narrower_than_unpaired_for_positively_correlated_data():
    rng = np.random.default_rng(32)
    common = rng.normal(0, 1, 3000)
    a = common + rng.normal(0, 0.3, 3000)
    b = common + 0.05 + rng.normal(0, 0.3, 3000)
    assert np.corrcoef(a, b)[0, 1] > 0.8
    res = paired_difference(a, b)
    assert res.paired_ci_width < 0.5 * res.unpaired_ci_width
    n = a.size
    expected_unpaired = 2 * stats.norm.ppf(0.975) * np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
    assert res.unpaired_ci_width == pytest.approx(expected_unpaired, rel=1e-10)


def test_paired_interval_about_as_wide_as_unpaired_for_independent_data():
    rng = np.random.default_rng(33)
    a, b = rng.normal(0, 1, 4000), rng.normal(0, 1, 4000)
    res = paired_difference(a, b)
    assert res.paired_ci_width == pytest.approx(res.unpaired_ci_width, rel=0.1)


def test_paired_difference_needs_the_same_replications():
    with pytest.raises(ValueError):
        paired_difference(np.zeros(3), np.zeros(4))


# --- bootstrap of the median --------------------------------------------------------------------------

def test_bootstrap_median_difference_is_deterministic_for_a_seed():
    a_t, a_e = horizon_sample(40, 600, scale=40)
    b_t, b_e = horizon_sample(41, 600, scale=55)
    first = bootstrap_median_difference(a_t, a_e, b_t, b_e, n_boot=300, seed=9)
    again = bootstrap_median_difference(a_t, a_e, b_t, b_e, n_boot=300, seed=9)
    other_seed = bootstrap_median_difference(a_t, a_e, b_t, b_e, n_boot=300, seed=10)
    assert first == again
    assert (first["ci_low"], first["ci_high"]) != (other_seed["ci_low"], other_seed["ci_high"])
    assert first["estimate"] == other_seed["estimate"]
    assert first["base_median"] == empirical_median(a_t, a_e)
    assert first["other_median"] == empirical_median(b_t, b_e)
    assert first["estimate"] == pytest.approx(first["other_median"] - first["base_median"])
    assert first["ci_low"] < first["estimate"] < first["ci_high"]


def test_bootstrap_median_beyond_the_horizon_gives_no_interval():
    a_t, a_e = horizon_sample(42, 300, scale=400)
    b_t, b_e = horizon_sample(43, 300, scale=400)
    res = bootstrap_median_difference(a_t, a_e, b_t, b_e, n_boot=100, seed=1)
    assert res["base_median"] is None and res["ci_low"] is None and res["ci_high"] is None
    assert res["note"]


def test_the_written_out_normal_quantile_is_scipys_bit_for_bit():
    """Z95 is a literal so that a run's main process need not import scipy; it must be ndtri's value exactly
    (every committed interval was computed with it)."""
    from scipy import special

    from sim.survival import Z95, normal_quantile_for
    assert Z95 == float(special.ndtri(0.975)) == float(special.ndtri(0.5 + 0.95 / 2))
    assert normal_quantile_for(0.95) == Z95
    assert normal_quantile_for(0.9) == float(special.ndtri(0.95))


def test_the_kaplan_meier_estimate_does_not_depend_on_how_tied_times_are_ordered():
    """It sorts with numpy's fast, unstable sort: the same estimate, bit for bit, as with a stable one."""
    rng = np.random.default_rng(12)
    steps = np.concatenate([np.arange(1, 29) / 30.44, 28 / 30.44 + np.arange(1, 300) * 7 / 30.44])
    for trial in range(20):
        n = int(rng.integers(2, 20_000))
        times = rng.choice(steps[: int(rng.integers(1, 300))], n)
        events = rng.random(n) < rng.random()
        events[0] = True
        order = np.argsort(times, kind="stable")
        t, e = times[order], events[order]
        distinct, first = np.unique(t, return_index=True)
        deaths = np.add.reduceat(e.astype(np.int64), first)
        keep = deaths > 0
        surv = np.cumprod(1.0 - deaths[keep] / (t.size - first)[keep])
        km = kaplan_meier(times, events)
        np.testing.assert_array_equal(km.times, distinct[keep])
        np.testing.assert_array_equal(km.survival, surv)
        shuffled = rng.permutation(n)
        again = kaplan_meier(times[shuffled], events[shuffled])
        np.testing.assert_array_equal(again.survival, km.survival)
        np.testing.assert_array_equal(again.variance, km.variance)
