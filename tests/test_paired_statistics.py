"""Paired statistics on common random numbers: Newcombe's interval, the sign/McNemar tests, Shapley attribution."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api import compare
from sim.attribution import Setting, shapley
from sim.scenario import load_scenario, with_value
from sim.survival import paired_proportion_difference, paired_tests, sign_test

DATA = Path(__file__).resolve().parent / "data"
Z95 = stats.norm.ppf(0.975)


# --- an independent implementation of Newcombe (1998), method 10 -------------------------------------------

def _wilson(k, n, z=Z95):
    p = k / n
    centre = (2 * k + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * k * (1 - p)) / (2 * (n + z * z))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_method_10(a, b, c, d, z=Z95):
    """Interval for p2 - p1, p1 = (a+b)/n (first), p2 = (a+c)/n (second), as Newcombe (1998, Stat Med 17:2635),
    method 10: Wilson score limits of each proportion combined with the correlation phi of the paired table, phi
    computed with Newcombe's correction: if ad > bc the numerator is max(ad - bc - n/2, 0), else ad - bc; phi = 0
    when a margin is empty. (The same formulation as Fagerland, Lydersen & Laake's "Newcombe square-and-add".)
    Written from the paper's formulae, not from sim.survival."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, z)
    l2, u2 = _wilson(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        phi = 0.0
    else:
        num = a * d - b * c
        num = max(num - n / 2, 0.0) if num > 0 else num
        phi = num / math.sqrt(margins)
    theta = p2 - p1
    lower = theta - math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    upper = theta + math.sqrt((u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2)
    return theta, lower, upper


def _pairs(a, b, c, d):
    """Indicator vectors (base, other) of a paired table: a both, b base only, c other only, d neither."""
    base = np.r_[np.ones(a + b, bool), np.zeros(c + d, bool)]
    other = np.r_[np.ones(a, bool), np.zeros(b, bool), np.ones(c, bool), np.zeros(d, bool)]
    return base, other


def _interval(a, b, c, d):
    e = paired_proportion_difference(*_pairs(a, b, c, d)).difference
    return e.estimate, e.ci_low, e.ci_high


def test_identical_indicators_give_a_zero_estimate_but_not_a_zero_interval():
    """n pairs that all agree do not prove a difference of exactly 0 (the old normal interval said [0, 0])."""
    x = np.r_[np.ones(30, bool), np.zeros(70, bool)]        # a = 30, b = c = 0, d = 70
    e = paired_proportion_difference(x, x).difference
    assert e.estimate == 0.0
    assert e.ci_low < 0.0 < e.ci_high
    assert e.ci_high - e.ci_low < 0.05                       # but narrow: 100 agreeing pairs


def test_the_interval_contains_the_estimate_and_lies_in_minus_one_one():
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 80))
        a, b, c = rng.multinomial(n, rng.dirichlet(np.ones(4)))[:3]
        d = n - a - b - c
        est, low, high = _interval(a, b, c, d)
        assert est == pytest.approx((c - b) / n)
        assert -1 - 1e-12 <= low <= est <= high <= 1 + 1e-12


@pytest.mark.parametrize("table", [(2, 20, 25, 3), (0, 12, 3, 35), (36, 2, 12, 0), (0, 30, 0, 0), (1, 10, 8, 1),
                                   (0, 0, 10, 40), (3, 14, 9, 4)])
def test_agrees_with_method_10_where_the_correction_does_not_apply(table):
    a, b, c, d = table
    assert a * d - b * c <= 0          # phi's correction concerns ad > bc only
    np.testing.assert_allclose(_interval(*table), newcombe_method_10(*table), rtol=0, atol=1e-12)


@pytest.mark.parametrize("table", [(18, 2, 12, 18), (53, 0, 0, 1), (40, 3, 6, 151)])
def test_agrees_with_method_10_where_ad_exceeds_bc(table):
    a, b, c, d = table
    assert a * d > b * c
    np.testing.assert_allclose(_interval(*table), newcombe_method_10(*table), rtol=0, atol=1e-6)


COVERAGE_SETTINGS = [
    (0.30, 0.35, 0.5),    # moderate correlation, ~44 discordant pairs of 200
    (0.10, 0.12, 0.9),    # few discordant pairs (~4 of 200), one direction nearly empty
    (0.50, 0.50, 0.95),   # no difference, ~5 discordant pairs
    (0.05, 0.05, 0.0),    # rare outcome, independent
    (0.90, 0.80, 0.3),
]


@pytest.mark.parametrize("p1, p2, rho", COVERAGE_SETTINGS)
def test_coverage_of_the_true_difference(p1, p2, rho):
    """400 paired samples of n = 200 from a bivariate Bernoulli with the given margins and correlation.
    The bound allows 3 binomial standard errors below the nominal 95%: 0.95 - 3 sqrt(0.95 * 0.05 / 400)."""
    p11 = p1 * p2 + rho * math.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    probs = np.array([p11, p1 - p11, p2 - p11, 1 - p1 - p2 + p11])
    assert np.all(probs >= 0)
    rng = np.random.default_rng(np.random.SeedSequence(1998, spawn_key=(int(p1 * 100), int(p2 * 100), int(rho * 100))))
    covered = 0
    for _ in range(400):
        cell = rng.choice(4, size=200, p=probs)
        base, other = (cell == 0) | (cell == 1), (cell == 0) | (cell == 2)
        e = paired_proportion_difference(base, other).difference
        covered += e.ci_low <= p2 - p1 <= e.ci_high
    assert covered / 400 >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 400)


def test_the_paired_interval_is_narrower_than_the_unpaired_one_under_correlation():
    base, other = _pairs(40, 3, 6, 151)
    r = paired_proportion_difference(base, other)
    assert r.paired_ci_width < 0.5 * r.unpaired_ci_width


# --- sign test and McNemar ------------------------------------------------------------------------------

def test_sign_test_values():
    assert sign_test(0, 10) == pytest.approx(2 * 0.5 ** 10, rel=1e-12)
    assert sign_test(10, 0) == sign_test(0, 10)
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == 1.0
    for w, l in ((3, 9), (1, 20), (7, 8), (40, 60)):
        assert sign_test(w, l) == sign_test(l, w)
        assert sign_test(w, l) == pytest.approx(stats.binomtest(w, w + l, 0.5).pvalue, rel=1e-9)


def test_paired_tests_of_identical_scenarios_are_all_one():
    rng = np.random.default_rng(3)
    months = rng.uniform(0, 30, 500)
    events = months < 24
    months = np.where(events, months, 24.0)
    who = np.where(events, rng.choice(["regime", "opposition"], 500), "none").astype(object)
    out = paired_tests(months, events, months.copy(), events.copy(), who, who.copy(), horizon=24.0)
    assert out["collapse_by_horizon"]["p_value"] == 1.0
    assert out["time_to_collapse"]["p_value"] == 1.0
    assert out["collapse_by_horizon"]["base_only"] == out["collapse_by_horizon"]["other_only"] == 0
    assert all(v["p_value"] == 1.0 for v in out["initiators"]["by_initiator"].values())
    assert set(out["initiators"]["by_initiator"]) == {"regime", "opposition"}


def test_paired_tests_detect_a_scenario_that_always_collapses_earlier():
    rng = np.random.default_rng(4)
    base = rng.uniform(1, 20, 200)
    other = base - 0.5
    events = np.ones(200, bool)
    out = paired_tests(base, events, other, events, horizon=24.0)
    assert out["time_to_collapse"]["other_first"] == 200
    assert out["time_to_collapse"]["p_value"] == pytest.approx(2 * 0.5 ** 200, rel=1e-9)
    assert out["collapse_by_horizon"]["p_value"] == 1.0      # both always collapse within the horizon
    # one that collapses where the base holds: McNemar sees it
    held = np.zeros(200, bool)
    out = paired_tests(np.full(200, 24.0), held, other, events, horizon=24.0)
    assert out["collapse_by_horizon"]["other_only"] == 200 and out["collapse_by_horizon"]["p_value"] < 1e-50


# --- Shapley attribution on synthetic games ----------------------------------------------------------------

def _settings(n):
    return [Setting(f"s{i}", ("dynamics", f"s{i}"), True, float(i)) for i in range(n)]


def _by_name(result):
    return {e["setting"]: e for e in result["entries"]}


def test_shapley_of_an_additive_game_is_each_settings_own_effect():
    rng = np.random.default_rng(1)
    effects = rng.normal(size=(4, 50))
    base = rng.normal(size=50)
    result = shapley(_settings(4), lambda subset: base + effects[list(subset)].sum(axis=0))
    entries = _by_name(result)
    for i in range(4):
        assert entries[f"s{i}"]["contribution"] == pytest.approx(effects[i].mean(), abs=1e-12)
    assert result["hybrids"] == 16 and result["method"].startswith("exact")


def test_shapley_of_a_pure_interaction_splits_equally():
    # v = 1 only when all three settings are present
    result = shapley(_settings(3), lambda subset: np.full(10, float(len(subset) == 3)))
    for e in result["entries"]:
        assert e["contribution"] == pytest.approx(1 / 3, abs=1e-12)
    # two of three needed (a majority game): symmetric, also 1/3 each
    result = shapley(_settings(3), lambda subset: np.full(10, float(len(subset) >= 2)))
    assert [e["contribution"] for e in result["entries"]] == pytest.approx([1 / 3] * 3, abs=1e-12)


@pytest.mark.parametrize("n", [3, 6, 10])       # 10 > EXACT_MAX: sampled orders
def test_contributions_sum_to_the_total_difference_in_every_replication(n):
    rng = np.random.default_rng(n)
    reps = 7
    table = {}

    def v(subset):
        key = tuple(sorted(subset))
        if key not in table:
            table[key] = rng.integers(0, 2, reps).astype(float)     # an arbitrary 0/1 game per replication
        return table[key]

    result = shapley(_settings(n), v, permutations=16, seed=2)
    total = v(tuple(range(n))) - v(())
    assert result["sum_of_contributions"] == pytest.approx(result["total_difference"], abs=1e-12)
    assert result["total_difference"] == pytest.approx(total.mean(), abs=1e-12)
    for r in range(reps):       # Shapley values are linear in the game: one replication alone is its own game
        single = shapley(_settings(n), lambda subset: v(subset)[r:r + 1], permutations=16, seed=2)
        assert sum(e["contribution"] for e in single["entries"]) == pytest.approx(total[r], abs=1e-12)


def test_a_setting_that_changes_nothing_is_flagged():
    rng = np.random.default_rng(5)
    effects = rng.integers(-1, 2, size=(3, 40)).astype(float)
    effects[1] = 0.0        # s1 is inert

    for n in (3, 10):
        eff = np.vstack([effects, np.zeros((n - 3, 40))]) if n > 3 else effects
        result = shapley(_settings(n), lambda subset: eff[list(subset)].sum(axis=0), permutations=8)
        entries = _by_name(result)
        assert entries["s1"]["effect"] == "none: no replication changes"
        assert entries["s1"]["contribution"] == 0.0
        assert entries["s0"]["effect"] != "none: no replication changes"


def test_a_setting_whose_contributions_cancel_is_not_called_unchanging():
    # s0 changes v(()) -> v((0,)) from 0 to 1 and v((1, 2)) -> v((0, 1, 2)) from 1 to 0: Shapley weight 1/3 each
    values = {(): 0, (0,): 1, (1,): 0, (2,): 0, (0, 1): 0, (0, 2): 0, (1, 2): 1, (0, 1, 2): 0}
    result = shapley(_settings(3), lambda subset: np.full(5, float(values[tuple(sorted(subset))])))
    s0 = _by_name(result)["s0"]
    assert s0["contribution"] == pytest.approx(0.0, abs=1e-15)
    assert s0["effect"] != "none: no replication changes"


# --- attribution through the API -------------------------------------------------------------------------

def test_compare_attribution_sums_to_the_difference_and_flags_an_inert_change():
    """Two real changes and one inert: dynamics.mediation_effect is read only through mediators (launch hazards,
    renewal at a term's expiry) and two_sided.toml has neither a mediator nor a term, so no replication can change."""
    base = load_scenario(DATA / "two_sided.toml")
    assert not any("mediator" in a.roles for a in base.actors.values()) and base.agreement.term_months == 0
    other = with_value(base, {"actors.turkey.deterrence": 0.4, "actors.russia.interest_in_guarantor": 0.3,
                              "dynamics.mediation_effect": 0.8})
    c = compare(base, other, runs=400, seed=3, jobs=1, horizon_months=12.0, attribute=True)[0]
    entries = {e["setting"]: e for e in c.attribution["entries"]}
    assert set(entries) == {"actors.turkey.deterrence", "actors.russia.interest_in_guarantor",
                            "dynamics.mediation_effect"}
    total = c.p_collapse[c.main_key].difference.estimate
    assert sum(e["contribution"] for e in entries.values()) == pytest.approx(total, abs=1e-12)
    assert c.attribution["total_difference"] == pytest.approx(total, abs=1e-12)
    assert entries["dynamics.mediation_effect"]["effect"] == "none: no replication changes"
    assert entries["dynamics.mediation_effect"]["contribution"] == 0.0
    for key in ("actors.turkey.deterrence", "actors.russia.interest_in_guarantor"):
        assert entries[key]["effect"] == "increases"
    assert c.as_dict()["attribution"] == c.attribution["entries"]


def test_the_binomial_cdf_of_the_sign_test_is_scipy_stats_bit_for_bit():
    from scipy import stats

    from sim.survival import binomial_cdf, sign_test
    for n in [*range(1, 120), 999, 4000, 20001]:
        for k in sorted({0, 1, n // 3, n // 2 - 1, n // 2, n - 1} & set(range(n))):
            assert binomial_cdf(k, n, 0.5) == float(stats.binom.cdf(k, n, 0.5)), (k, n)
    assert sign_test(0, 0) == 1.0 and sign_test(10, 10) == 1.0
    assert sign_test(0, 10) == 2 * 0.5 ** 10


def test_the_chi_square_of_the_initiator_test_is_scipy_stats_bit_for_bit():
    from scipy import stats

    from sim.survival import pearson_chi2
    rng = np.random.default_rng(12)
    for _ in range(400):
        cols = int(rng.integers(2, 8))
        table = rng.integers(1, int(rng.choice([5, 50, 5000, 200000])), size=(2, cols))
        res = stats.chi2_contingency(table, correction=False)
        assert pearson_chi2(table) == (float(res.statistic), int(res.dof), float(res.pvalue)), table
