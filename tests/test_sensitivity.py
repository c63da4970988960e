"""Tests for sim.sensitivity: analytic answers (Ishigami, linear models), scipy as a reference
implementation, failure and noise handling, determinism and error messages."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.sensitivity import SAMPLERS, Design, analyse, sample

# --- Ishigami (a=7, b=0.1) on [-pi, pi]^3, closed-form indices ---------------------------------

A_ISH, B_ISH = 7.0, 0.1
ISHIGAMI_BOUNDS = np.array([[-np.pi, np.pi]] * 3)


def ishigami(x):
    return np.sin(x[:, 0]) + A_ISH * np.sin(x[:, 1]) ** 2 + B_ISH * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices():
    a, b, pi = A_ISH, B_ISH, np.pi
    v = a ** 2 / 8 + b * pi ** 4 / 5 + b ** 2 * pi ** 8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    s1 = np.array([v1, v2, 0.0]) / v
    st = np.array([v1 + v13, v2, v13]) / v
    return v, s1, st


def test_ishigami_closed_form_is_the_textbook_value():
    _, s1, st = ishigami_indices()
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=1e-4)


@pytest.fixture(scope="module")
def ishigami_sobol():
    design = sample("sobol", ISHIGAMI_BOUNDS, n=2 ** 13, seed=0)
    return design, ishigami(design.points)


def test_sobol_ishigami_matches_analytic_indices(ishigami_sobol):
    design, y = ishigami_sobol
    res = analyse(design, y, seed=0)
    _, s1, st = ishigami_indices()
    # Tolerance: the i.i.d. bootstrap puts the standard error at n = 2**13 between 0.005 (ST3) and
    # 0.016 (ST1), so 0.03 is at least ~2 standard errors even for plain Monte Carlo; scrambled
    # Sobol' points make the real error several times smaller (about 0.001 here), so the test fails
    # only if an estimator is wrong (e.g. a missing factor 2 in Jansen's ST is off by 0.1-0.3).
    assert np.all(np.abs(res.column("S1") - s1) < 0.03)
    assert np.all(np.abs(res.column("ST") - st) < 0.03)
    # The percentile intervals resample base rows as if i.i.d., so they are conservative for QMC.
    assert np.all((res.column("S1_ci_low") <= s1) & (s1 <= res.column("S1_ci_high")))
    assert np.all((res.column("ST_ci_low") <= st) & (st <= res.column("ST_ci_high")))
    assert res.ranking == (0, 1, 2)
    assert res.method == "sobol" and res.n_failed_points == 0
    assert res.n_used == design.m and res.n_groups_used == 2 ** 13
    assert res.noise_share is None


def test_sobol_point_estimates_equal_scipy_sobol_indices(ishigami_sobol):
    """Independent reference: scipy.stats.sobol_indices (Saltelli 2010 + Jansen, centred)."""
    design, y = ishigami_sobol
    n, d = design.n, design.d
    blocks = y.reshape(d + 2, n)                       # documented order [A; B; AB_1; ...; AB_d]
    ref = stats.sobol_indices(func={"f_A": blocks[0][None], "f_B": blocks[1][None],
                                    "f_AB": blocks[2:][:, None, :]}, n=n)
    res = analyse(design, y, n_boot=0)
    np.testing.assert_allclose(res.column("S1"), np.ravel(ref.first_order), rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.column("ST"), np.ravel(ref.total_order), rtol=0, atol=1e-12)
    assert np.all(np.isnan(res.column("S1_ci_low")))   # n_boot=0: no interval, and it shows


def test_sobol_noise_correction_removes_the_bias():
    v, s1, st = ishigami_indices()
    design = sample("sobol", ISHIGAMI_BOUNDS, n=2 ** 14, seed=0)
    rng = np.random.default_rng(np.random.SeedSequence(7))
    # Heteroscedastic replication noise with mean variance v/4: true noise share 0.25/1.25 = 0.2.
    noise_var = (v / 4) * rng.uniform(0.5, 1.5, design.m)
    y = ishigami(design.points) + rng.normal(0.0, np.sqrt(noise_var))
    corrected = analyse(design, y, noise_variance=noise_var, seed=0)
    naive = analyse(design, y, seed=0)
    # Noise spoils the QMC advantage, so the error is Monte Carlo: the bootstrap standard error at
    # n = 2**14 is <= 0.011 for every index, and 0.03 is ~3 standard errors.
    assert np.all(np.abs(corrected.column("S1") - s1) < 0.03)
    assert np.all(np.abs(corrected.column("ST") - st) < 0.03)
    # Uncorrected, S1 is attenuated by V / (V + s^2) = 0.8: x1 and x2 are 0.06 and 0.09 low,
    # beyond the tolerance the corrected estimates meet, and ST is pushed up by s^2 / (V + s^2).
    assert np.all(naive.column("S1")[:2] < s1[:2] - 0.03)
    np.testing.assert_allclose(naive.column("S1")[:2], 0.8 * s1[:2], atol=0.03)
    assert np.all(naive.column("ST") > st + 0.05)
    # noise_share = mean(s^2) / var(y): var(y) over 2 * 2**14 points has relative SE ~1%.
    true_share = noise_var.mean() / (v + noise_var.mean())
    assert abs(corrected.noise_share - true_share) < 0.01
    assert naive.noise_share is None


def test_sobol_noise_can_be_reported_without_being_removed():
    """correct_noise=False (the noise is only an upper bound): the indices are the uncorrected ones, the
    noise share is still reported by the same definition."""
    v, _, _ = ishigami_indices()
    design = sample("sobol", ISHIGAMI_BOUNDS, n=2 ** 10, seed=0)
    rng = np.random.default_rng(np.random.SeedSequence(8))
    noise_var = np.full(design.m, v / 4)
    y = ishigami(design.points) + rng.normal(0.0, np.sqrt(noise_var))
    kept = analyse(design, y, noise_variance=noise_var, seed=0, correct_noise=False)
    naive = analyse(design, y, seed=0)
    corrected = analyse(design, y, noise_variance=noise_var, seed=0)
    np.testing.assert_array_equal(kept.column("S1"), naive.column("S1"))
    np.testing.assert_array_equal(kept.column("ST"), naive.column("ST"))
    assert kept.noise_share == corrected.noise_share and kept.noise_share > 0


def test_sobol_failed_points_drop_their_base_rows(ishigami_sobol):
    design, y = ishigami_sobol
    n, d = design.n, design.d
    y = y.copy()
    failed = np.random.default_rng(3).choice(design.m, size=200, replace=False)
    y[failed] = np.nan
    dropped = np.unique(failed % n)                    # the base row each failed point belongs to
    res = analyse(design, y, seed=0)
    assert res.n_failed_points == 200
    assert res.n_groups_used == n - dropped.size
    assert res.n_used == (n - dropped.size) * (d + 2)
    _, s1, st = ishigami_indices()
    # Dropping ~2% of rows at random leaves an unbiased estimator on ~8000 rows; same tolerance
    # reasoning as the clean test (it loses some of the QMC balance, not the MC accuracy).
    assert np.all(np.abs(res.column("S1") - s1) < 0.03)
    assert np.all(np.abs(res.column("ST") - st) < 0.03)


def test_sobol_all_failed_raises(ishigami_sobol):
    design, y = ishigami_sobol
    with pytest.raises(ValueError, match="outputs has fewer than 2 complete groups"):
        analyse(design, np.full_like(y, np.nan))


def test_sobol_noise_larger_than_variance_is_reported_not_hidden():
    design = sample("sobol", ISHIGAMI_BOUNDS, n=64, seed=0)
    y = ishigami(design.points)
    res = analyse(design, y, noise_variance=np.full(design.m, 1e3), n_boot=20)
    assert np.all(np.isnan(res.column("S1"))) and res.notes
    assert res.noise_share > 1


# --- Morris ---------------------------------------------------------------------------------

C_LINEAR = np.array([5.0, -2.0, 0.5, 0.0])


def test_morris_linear_model_effects_are_the_coefficients():
    design = sample("morris", np.array([[0.0, 1.0]] * 4), n=20, seed=0)
    res = analyse(design, design.points @ C_LINEAR, seed=0)
    # Exact up to rounding: a linear model has the same elementary effect everywhere.
    np.testing.assert_allclose(res.column("mu"), C_LINEAR, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.column("mu_star"), np.abs(C_LINEAR), rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.column("sigma"), 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.column("mu_star_ci_low"), np.abs(C_LINEAR), rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.column("mu_star_ci_high"), np.abs(C_LINEAR), rtol=0, atol=1e-12)
    assert res.ranking == (0, 1, 2, 3)
    assert res.delta == pytest.approx(2 / 3)
    assert res.n_used == design.m == 20 * 5


def test_morris_effects_are_per_unit_of_normalised_range():
    bounds = np.array([[0.0, 1.0], [10.0, 20.0], [-1.0, 1.0], [0.0, 0.1]])
    design = sample("morris", bounds, n=10, seed=2, levels=6)
    res = analyse(design, design.points @ C_LINEAR, n_boot=0)
    span = bounds[:, 1] - bounds[:, 0]
    np.testing.assert_allclose(res.column("mu"), C_LINEAR * span, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.column("mu_star"), np.abs(C_LINEAR) * span, rtol=1e-12, atol=1e-12)


def test_morris_trajectories_are_one_at_a_time_on_the_grid():
    levels, d, r = 4, 3, 50
    bounds = np.array([[0.0, 2.0], [-1.0, 1.0], [5.0, 6.0]])
    design = sample("morris", bounds, n=r, seed=1, levels=levels)
    span = bounds[:, 1] - bounds[:, 0]
    unit = ((design.points - bounds[:, 0]) / span).reshape(r, d + 1, d)
    np.testing.assert_allclose(unit * (levels - 1), np.round(unit * (levels - 1)), atol=1e-9)
    steps = np.diff(unit, axis=1)                                        # (r, d, d)
    moved = np.abs(steps) > 1e-9
    assert np.all(moved.sum(axis=2) == 1)                               # one factor per step
    assert np.all(np.sort(design.step_factor, axis=1) == np.arange(d))  # each factor once
    np.testing.assert_allclose(np.abs(design.step_delta), levels / (2 * (levels - 1)))
    assert np.all(design.groups == np.arange(r * (d + 1)).reshape(r, d + 1))
    # both directions and all factor orders occur
    assert (design.step_delta > 0).any() and (design.step_delta < 0).any()
    assert len({tuple(row) for row in design.step_factor}) == 6


def test_morris_interaction_gives_sigma_and_unused_factor_gives_zero():
    design = sample("morris", np.array([[0.0, 1.0]] * 3), n=30, seed=4)
    x = design.points
    res = analyse(design, x[:, 0] * x[:, 1], seed=0)
    sigma, mu_star = res.column("sigma"), res.column("mu_star")
    assert sigma[0] > 0.1 and sigma[1] > 0.1        # the effect of x0 depends on x1: EE in {0, 1/3, 2/3, 1}
    assert mu_star[2] == 0.0 and sigma[2] == 0.0


def test_morris_failed_points_drop_whole_trajectories():
    design = sample("morris", np.array([[0.0, 1.0]] * 4), n=20, seed=0)
    y = design.points @ C_LINEAR
    y[[0, 1, 7, 50]] = np.nan                       # trajectories 0, 0, 1, 10
    res = analyse(design, y, seed=0)
    assert res.n_failed_points == 4
    assert res.n_groups_used == 17 and res.n_used == 17 * 5
    np.testing.assert_allclose(res.column("mu"), C_LINEAR, rtol=0, atol=1e-12)


def test_morris_noise_share_of_elementary_effects():
    r, s2 = 1600, 0.25
    design = sample("morris", np.array([[0.0, 1.0]] * 4), n=r, seed=5)
    y = design.points @ C_LINEAR + np.random.default_rng(9).normal(0, np.sqrt(s2), design.m)
    res = analyse(design, y, noise_variance=np.full(design.m, s2), seed=0)
    noise_ee = 2 * s2 / res.delta ** 2              # variance of the noise in one EE: 1.125
    mean_sq = C_LINEAR ** 2 + noise_ee              # E[EE^2] with EE ~ N(c_i, noise_ee)
    expected = noise_ee / mean_sq
    # The share's sampling error is that of mean(EE^2) over r independent trajectories:
    # var(EE^2) = 2 noise_ee^2 + 4 c^2 noise_ee (normal EE), so by the delta method
    # SE(share) = share * sqrt(var(EE^2) / r) / E[EE^2] = 0.001, 0.010, 0.029, 0.035 here.
    se = expected * np.sqrt((2 * noise_ee ** 2 + 4 * C_LINEAR ** 2 * noise_ee) / r) / mean_sq
    got = res.column("ee_noise_share")
    assert np.all(np.abs(got - expected) < 4 * se)
    assert res.noise_share is not None and 0 < res.noise_share < 1
    assert analyse(design, y, n_boot=0).factors[0]["ee_noise_share"] is None


# --- SRC (grid, random, latin) --------------------------------------------------------------

def test_src_ranks_latin_linear_model_by_coefficient_times_range():
    bounds = np.array([[0.0, 1.0], [0.0, 10.0], [0.0, 2.0], [-1.0, -0.5]])
    c = np.array([5.0, -2.0, 0.5, 4.0])
    design = sample("latin", bounds, n=256, seed=0)
    res = analyse(design, design.points @ c, seed=0)
    weight = np.abs(c) * (bounds[:, 1] - bounds[:, 0])          # 5, 20, 1, 2
    assert res.ranking == tuple(np.argsort(-weight))            # (1, 0, 3, 2)
    assert res.method == "src" and res.r_squared == pytest.approx(1.0, abs=1e-12)
    # For independent uniform factors SRC_i = c_i range_i / sqrt(sum (c_j range_j)^2); the sample
    # standard deviations of 256 Latin-hypercube points are within ~0.2% of range/sqrt(12).
    expected = c * (bounds[:, 1] - bounds[:, 0]) / np.sqrt(np.sum(weight ** 2))
    np.testing.assert_allclose(res.column("SRC"), expected, atol=0.01)
    assert np.all((res.column("SRC_ci_low") <= expected) & (expected <= res.column("SRC_ci_high")))


@pytest.mark.parametrize("sampler, kw", [("grid", {"n": 5}), ("random", {"n": 300})])
def test_src_every_sampler_gives_a_ranking_with_failures_and_noise(sampler, kw):
    bounds = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    design = sample(sampler, bounds, seed=0, **kw)
    y = design.points @ np.array([1.0, 3.0, 0.2])
    y[:3] = np.nan
    res = analyse(design, y, noise_variance=np.full(design.m, 0.01), seed=0)
    assert res.ranking == (1, 0, 2)
    assert res.n_failed_points == 3 and res.n_used == design.m - 3
    assert res.noise_share == pytest.approx(0.01 / np.nanvar(y))


# --- samplers -------------------------------------------------------------------------------

BOUNDS3 = np.array([[0.0, 1.0], [-5.0, 5.0], [100.0, 101.0]])
EXPECTED_ROWS = {"grid": 4 ** 3, "random": 16, "latin": 16, "sobol": 16 * 5, "morris": 16 * 4}


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sampler_shape_bounds_and_determinism(sampler):
    n = 4 if sampler == "grid" else 16
    design = sample(sampler, BOUNDS3, n=n, seed=11)
    assert isinstance(design, Design) and design.sampler == sampler
    assert design.points.shape == (EXPECTED_ROWS[sampler], 3)
    assert np.all(design.points >= BOUNDS3[:, 0]) and np.all(design.points <= BOUNDS3[:, 1])
    again = sample(sampler, BOUNDS3, n=n, seed=11)
    np.testing.assert_array_equal(design.points, again.points)
    other = sample(sampler, BOUNDS3, n=n, seed=12)
    if sampler == "grid":                       # deterministic by construction
        np.testing.assert_array_equal(design.points, other.points)
    else:
        assert not np.array_equal(design.points, other.points)
    with pytest.raises(ValueError):
        design.points[0, 0] = 1.0               # read-only: the design cannot drift from its structure


def test_seed_zero_is_a_seed():
    a = sample("random", BOUNDS3, n=8, seed=0).points
    np.testing.assert_array_equal(a, sample("random", BOUNDS3, n=8, seed=0).points)
    expected = np.random.default_rng(np.random.SeedSequence(0)).random((8, 3))
    np.testing.assert_allclose(a, BOUNDS3[:, 0] + expected * (BOUNDS3[:, 1] - BOUNDS3[:, 0]))


def test_sobol_design_blocks_follow_the_documented_order():
    n, d = 8, 3
    design = sample("sobol", BOUNDS3, n=n, seed=1)
    blocks = design.points.reshape(d + 2, n, d)
    a, b = blocks[0], blocks[1]
    for i in range(d):
        expected = a.copy()
        expected[:, i] = b[:, i]
        np.testing.assert_array_equal(blocks[2 + i], expected)
    np.testing.assert_array_equal(design.groups[:, 0], np.arange(n))
    np.testing.assert_array_equal(design.groups[5], 5 + n * np.arange(d + 2))


def test_grid_is_full_factorial_including_bounds():
    design = sample("grid", BOUNDS3, n=3, seed=0, grid_levels=[2, 3, 4])
    assert design.points.shape == (24, 3) and design.grid_levels == (2, 3, 4)
    assert len({tuple(p) for p in design.points}) == 24
    np.testing.assert_array_equal(np.unique(design.points[:, 0]), [0.0, 1.0])
    np.testing.assert_allclose(np.unique(design.points[:, 1]), [-5.0, 0.0, 5.0])
    np.testing.assert_allclose(np.unique(design.points[:, 2]), [100.0, 100 + 1 / 3, 100 + 2 / 3, 101.0])
    np.testing.assert_array_equal(design.points[:4, 2], np.unique(design.points[:, 2]))  # last fastest


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, kw, message", [
    (("latin", np.zeros((3, 3))), {"n": 4, "seed": 0}, r"bounds must have shape \(d, 2\)"),
    (("latin", [0.0, 1.0]), {"n": 4, "seed": 0}, r"bounds must have shape \(d, 2\)"),
    (("latin", [[0.0, 1.0], [2.0, 2.0]]), {"n": 4, "seed": 0}, r"bounds must have low < high .* \[1\]"),
    (("latin", [[1.0, 0.0]]), {"n": 4, "seed": 0}, r"bounds must have low < high"),
    (("latin", [[0.0, np.inf]]), {"n": 4, "seed": 0}, r"bounds must be finite"),
    (("halton", [[0.0, 1.0]]), {"n": 4, "seed": 0}, r"sampler must be one of .*got 'halton'"),
    (("sobol", [[0.0, 1.0]]), {"n": 100, "seed": 0}, r"n must be a power of 2 .*got 100"),
    (("sobol", [[0.0, 1.0]]), {"n": 1, "seed": 0}, r"n must be a power of 2"),
    (("random", [[0.0, 1.0]]), {"n": 0, "seed": 0}, r"n must be at least 1"),
    (("random", [[0.0, 1.0]]), {"n": 4.0, "seed": 0}, r"n must be an integer"),
    (("random", [[0.0, 1.0]]), {"n": 4, "seed": -1}, r"seed must be at least 0"),
    (("random", [[0.0, 1.0]]), {"n": 4, "seed": None}, r"seed must be an integer"),
    (("morris", [[0.0, 1.0]]), {"n": 4, "seed": 0, "levels": 5}, r"levels must be even"),
    (("grid", [[0.0, 1.0]]), {"n": 4, "seed": 0, "grid_levels": [2, 2]}, r"grid_levels must have one entry"),
    (("grid", [[0.0, 1.0]] * 8), {"n": 10, "seed": 0}, r"n gives a grid of 100000000 points"),
    (("latin", [[0.0, 1.0]]), {"n": 4, "seed": 0, "grid_levels": [3]}, r"grid_levels is only used by"),
])
def test_sample_rejects_bad_input_naming_the_argument(args, kw, message):
    with pytest.raises(ValueError, match=message):
        sample(*args, **kw)


@pytest.mark.parametrize("outputs, kw, message", [
    (np.zeros(10), {}, r"outputs must have shape \(20,\)"),
    (np.zeros((20, 1)), {}, r"outputs must have shape \(20,\)"),
    (np.r_[np.zeros(19), np.inf], {}, r"outputs must be finite or NaN"),
    (np.arange(20.0), {"noise_variance": np.zeros(3)}, r"noise_variance must have shape \(20,\)"),
    (np.arange(20.0), {"noise_variance": -np.ones(20)}, r"noise_variance must be finite and >= 0"),
    (np.arange(20.0), {"confidence": 1.0}, r"confidence must be a number in \(0, 1\)"),
    (np.arange(20.0), {"n_boot": -1}, r"n_boot must be at least 0"),
])
def test_analyse_rejects_bad_input_naming_the_argument(outputs, kw, message):
    design = sample("latin", [[0.0, 1.0]], n=20, seed=0)
    with pytest.raises(ValueError, match=message):
        analyse(design, outputs, **kw)


def test_analyse_rejects_a_non_design():
    with pytest.raises(ValueError, match="design must be a Design"):
        analyse(np.zeros((4, 1)), np.zeros(4))


# --- result object --------------------------------------------------------------------------

def test_result_rows_and_json_and_bootstrap_determinism():
    design = sample("sobol", ISHIGAMI_BOUNDS, n=256, seed=0)
    y = ishigami(design.points)
    y[3] = np.nan
    res = analyse(design, y, n_boot=100, seed=5)
    again = analyse(design, y, n_boot=100, seed=5)
    other = analyse(design, y, n_boot=100, seed=6)
    assert res.factors == again.factors
    assert res.factors[0]["S1_ci_low"] != other.factors[0]["S1_ci_low"]
    rows = res.as_rows(["x1", "x2", "x3"])
    assert [r["name"] for r in rows] == ["x1", "x2", "x3"]
    assert set(rows[0]) == {"method", "factor", "name", "S1", "S1_ci_low", "S1_ci_high",
                            "ST", "ST_ci_low", "ST_ci_high"}
    out = json.loads(json.dumps(res.as_dict()))
    assert out["noise_share"] is None and "noise_share" in out       # always present
    assert out["n_failed_points"] == 1 and out["n_groups_used"] == 255
    assert out["ranking"] == list(res.ranking)
    with pytest.raises(ValueError, match="names must have one entry per factor"):
        res.as_rows(["x1"])


@pytest.mark.parametrize("method, corrected, wording", [
    ("sobol", True, "(corrected for in the indices)"),
    ("sobol", False, "at most 21.4% of the variance"),
    ("src", False, "at most 21.4% of the variance"),
    ("src", True, "(not removed from the indices)")])
def test_the_terminal_summary_says_what_was_done_with_the_replication_noise(method, corrected, wording):
    """A sweep over the posterior does not correct its Sobol indices for noise (sim.sweep); the terminal summary
    said 'corrected for in the indices' for every Sobol sweep."""
    from sim.experiment import load_experiment
    from sim.tables import sensitivity_text
    loaded = load_experiment(Path(__file__).parent.parent / "experiments" / "four_factors_sobol.toml")
    cols = ["S1", "ST"] if method == "sobol" else ["SRC"]
    factors = [{c: 0.1 for c in cols} for _ in loaded.factor_names]
    res = {"method": method, "ranking": list(range(len(factors))), "factors": factors, "noise_share": 0.2144,
           "noise_corrected": corrected}
    text = sensitivity_text(loaded, {"points": 10, "failed_points": 0,
                                     "outcomes": {loaded.experiment.analysed_outcome: res}})
    assert wording in text
    assert ("corrected for in the indices" in text) == (method == "sobol" and corrected)


@pytest.mark.parametrize("n,d,seed", [(1, 1, 0), (7, 3, 5), (500, 3, 5), (64, 6, 123)])
def test_latin_and_random_designs_are_scipys_numbers_without_importing_scipy_stats(n, d, seed):
    """sim.sensitivity writes out scipy.stats.qmc's Latin hypercube and scaling (so that such sweeps need not
    import scipy.stats); the points must be scipy's, bit for bit, or every committed Latin sweep would move."""
    from scipy.stats import qmc
    rng_kw = "rng" if "rng" in inspect.signature(qmc.LatinHypercube).parameters else "seed"
    bounds = np.column_stack([np.linspace(-1.0, 2.0, d), np.linspace(0.5, 7.0, d)])
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    expected = qmc.scale(qmc.LatinHypercube(d, **{rng_kw: rng}).random(n), bounds[:, 0], bounds[:, 1])
    np.testing.assert_array_equal(sample("latin", bounds, n=n, seed=seed).points, expected)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    expected = qmc.scale(rng.random((n, d)), bounds[:, 0], bounds[:, 1])
    np.testing.assert_array_equal(sample("random", bounds, n=n, seed=seed).points, expected)


@pytest.mark.parametrize("n,d,seed", [(2, 1, 0), (8, 2, 3), (2048, 5, 2021), (256, 20, 123), (1 << 14, 3, 7)])
def test_sobol_design_is_scipys_numbers_without_importing_scipy_stats(n, d, seed):
    """The Saltelli design's base, a scrambled Sobol' sequence of 2d dimensions, is written out with numpy from
    the direction numbers scipy ships; the points must be scipy.stats.qmc.Sobol's, bit for bit, or every committed
    Sobol sweep would move."""
    from scipy.stats import qmc
    rng_kw = "rng" if "rng" in inspect.signature(qmc.Sobol).parameters else "seed"
    bounds = np.column_stack([np.linspace(-1.0, 2.0, d), np.linspace(0.5, 7.0, d)])
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    base = qmc.Sobol(2 * d, scramble=True, **{rng_kw: rng}).random_base2(n.bit_length() - 1)
    design = sample("sobol", bounds, n=n, seed=seed)
    a, b = base[:, :d], base[:, d:]
    expected = [a, b]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        expected.append(ab)
    np.testing.assert_array_equal(design.points, qmc.scale(np.concatenate(expected), bounds[:, 0], bounds[:, 1]))


def test_a_sobol_sweep_design_does_not_import_scipy_stats():
    experiment = str(Path(__file__).parent.parent / "experiments" / "four_factors_sobol.toml")
    code = ("import sys\n"
            "from sim.experiment import load_experiment\n"
            "from sim.sweep import design_for\n"
            f"design_for(load_experiment({experiment!r}))\n"
            "assert 'scipy.stats' not in sys.modules, 'scipy.stats was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_batched_src_bootstrap_agrees_with_one_fit_per_resample():
    """The bootstrap fits all resamples from their weighted moments; each must match its own least-squares fit,
    including resamples that fall back to it (a constant output, a factor that does not vary)."""
    from sim.sensitivity import _src, _src_resampled
    rng = np.random.default_rng(8)
    for m, d in ((300, 3), (40, 5)):
        x = 0.3 + 0.7 * rng.random((m, d))
        y = x @ np.arange(1.0, d + 1) + rng.normal(0.0, 0.5, m)
        idx = rng.integers(0, m, (200, m))
        expected = np.array([_src(x[i], y[i])[0] for i in idx])
        np.testing.assert_allclose(_src_resampled(x, y, idx), expected, rtol=0, atol=1e-12)
    grid = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    out = grid @ [1.0, 1.0]
    degenerate = np.array([[0, 0, 1, 1], [0, 0, 0, 0], [2, 2, 3, 3], [0, 1, 2, 3]])
    expected = np.array([_src(grid[i], out[i])[0] for i in degenerate])
    np.testing.assert_allclose(_src_resampled(grid, out, degenerate), expected, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(expected[1]).all() and not np.isnan(expected[3]).any()
