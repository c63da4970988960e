"""What each replication draws (sim.draws) and how results vary over groups of draws (sim.uncertainty)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim import uncertainty
from sim.api import run, run_plan
from sim.draws import DrawPlan, PosteriorDraws, group_counts, read_posterior
from sim.model import CeasefireModel
from sim.montecarlo import advance_to_horizon, build_model, replication_indices
from sim.rng import BlockStreams
from sim.scenario import load_scenario

DATA = Path(__file__).resolve().parent / "data"
THREE = DATA / "three_fronts.toml"


def three_fronts():
    return load_scenario(THREE)


def _posterior_csv(path: Path, draws: int = 7) -> Path:
    rows = ["draw,dynamics.offensive_rate_independent,dynamics.campaign_rate"]
    for j in range(draws):
        rows.append(f"{j},{0.2 + 0.4 * j},{0.3 + 0.5 * j}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _scenario_with_posterior(tmp_path: Path, source: Path, draws: int = 7):
    _posterior_csv(tmp_path / "mech_posterior.csv", draws)
    text, count = re.subn(r'(?m)^(name = ".*")$', r'\1\nposterior = "mech_posterior.csv"', source.read_text(), count=1)
    assert count == 1
    path = tmp_path / f"mech_{source.stem}_posterior.toml"
    path.write_text(text)
    return load_scenario(path)


# --- the plan -------------------------------------------------------------------------------------------

def test_parameter_and_setting_groups_are_coprime():
    for g in range(1, 151):
        posterior = PosteriorDraws(("dynamics.campaign_rate",), np.ones((g, 1)))
        groups, settings = group_counts(posterior, True)
        assert groups == min(g, 100)
        assert math.gcd(groups, settings) == 1 and settings in (61, 67, 71)
        assert group_counts(posterior, False) == (groups, 1)
    assert group_counts(None, True) == (1, 61)


def test_replication_i_uses_draw_i_mod_g_and_setting_group_i_mod_s(tmp_path):
    s = _scenario_with_posterior(tmp_path, THREE, draws=7)
    plan = run_plan(s, seed=5)
    assert (plan.parameter_groups, plan.setting_groups) == (7, 61)
    posterior = read_posterior(s.posterior)
    idx = np.arange(2500)
    over = plan.overrides(idx)
    for c, path in enumerate(posterior.paths):
        np.testing.assert_array_equal(over[path], posterior.values[idx % 7, c])
    values = plan.setting_values()
    assert set(values) == {"actors.russia.commitment", "events.russian_escalation.month",
                           "events.russian_escalation.set.actors.russia.arms_supply"}
    for key, per_group in values.items():
        assert per_group.shape == (61,)
        np.testing.assert_array_equal(over[key], per_group[idx % 61])
    # all (draw, setting group) pairs of the first G * S replications differ
    pairs = set(zip(plan.parameter_group(idx[:7 * 61]), plan.setting_group(idx[:7 * 61])))
    assert len(pairs) == 7 * 61


def test_block_overrides_equal_replication_by_replication(tmp_path):
    s = _scenario_with_posterior(tmp_path, THREE, draws=7)
    plan = run_plan(s, seed=5)
    idx = replication_indices([(2, 1000)])
    block = plan.overrides(idx)
    for pos in (0, 1, 60, 61, 419, 999):
        one = plan.overrides(np.array([idx[pos]]))
        assert set(one) == set(block)
        for key in block:
            assert one[key][0] == block[key][pos]


def test_setting_draws_lie_in_their_bounds_and_events_apply_at_each_replications_month():
    s = three_fronts()
    plan = DrawPlan.for_run(s, seed=9, posterior=None)
    values = plan.setting_values()
    months = values["events.russian_escalation.month"]
    arms = values["events.russian_escalation.set.actors.russia.arms_supply"]
    commitment = values["actors.russia.commitment"]
    assert np.all((3 <= months) & (months <= 12)) and np.ptp(months) > 4
    assert np.all((0.2 <= arms) & (arms <= 0.8))
    assert np.all((0.1 <= commitment) & (commitment <= 0.4))

    n = 200
    m = build_model(s, 9, [(0, n)], 13.0, plan)
    k = np.arange(n) % plan.setting_groups
    russia = m.patron["russia"]
    np.testing.assert_array_equal(russia.commitment, commitment[k])
    assert np.all(russia.arms_supply == 0.0)
    while m.month_end < 13.0:
        m.step()
        due = months[k] < m.month_end       # applied at the first step whose end passes the month
        np.testing.assert_array_equal(russia.arms_supply[due], arms[k][due])
        assert np.all(russia.arms_supply[~due] == 0.0)
    assert np.all(russia.arms_supply > 0)


def test_a_model_without_drawn_values_for_a_distribution_refuses_to_start():
    s = three_fronts()
    with pytest.raises(ValueError, match="russian_escalation.month") as info:
        CeasefireModel(s, BlockStreams(0, [(0, 10)]))
    assert "actors.russia.commitment" in str(info.value) and "DrawPlan" in str(info.value)
    partial = {"actors.russia.commitment": 0.2, "events.russian_escalation.month": 5.0}
    with pytest.raises(ValueError, match="arms_supply"):
        CeasefireModel(s, BlockStreams(0, [(0, 10)]), overrides=partial)


# --- runs with a posterior: jobs and run size do not matter --------------------------------------------------

def test_results_do_not_depend_on_jobs_or_run_size_with_a_posterior(tmp_path):
    s = _scenario_with_posterior(tmp_path, DATA / "two_sided.toml", draws=5)
    one = run(s, runs=2500, seed=2, jobs=1, horizon_months=4.0).simulation
    two = run(s, runs=2500, seed=2, jobs=2, horizon_months=4.0).simulation
    small = run(s, runs=1300, seed=2, jobs=1, horizon_months=4.0).simulation
    assert one.plan.parameter_groups == 5 and one.plan.posterior is not None
    a, b, c = one.replications, two.replications, small.replications
    for field in ("months", "collapsed", "initiator", "trigger", "front_months"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(getattr(a, field)[:1300], getattr(c, field))
    # the posterior is used: the draws with the highest rates collapse more often
    groups = np.arange(2500) % 5
    share = [a.collapsed[groups == j].mean() for j in range(5)]
    assert share[4] > share[0]


def test_dropping_finished_replications_changes_no_result():
    """advance_to_horizon stops stepping replications whose every front has collapsed (the model is compacted);
    the streams still draw whole blocks, so every outcome must equal the uncompacted run's."""
    for path, horizon in ((THREE, 24.0), (DATA / "two_sided.toml", 12.0)):
        s = load_scenario(path)
        blocks = [(0, 1000), (1, 300)]
        plan = DrawPlan.for_run(s, seed=8, posterior=None)
        a = advance_to_horizon(build_model(s, 8, blocks, horizon, plan), blocks, record_fan=True, compact=True)
        b = advance_to_horizon(build_model(s, 8, blocks, horizon, plan), blocks, record_fan=True, compact=False)
        assert a.collapsed.mean() > 0.3          # enough finish early for the compaction to happen
        for field in ("months", "collapsed", "initiator", "trigger", "front_months", "front_initiator"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        for k in a.incidents:
            np.testing.assert_array_equal(a.incidents[k], b.incidents[k])


# --- uncertainty.interval ------------------------------------------------------------------------------

G, PER_GROUP, REPEATS = 61, 300, 200


def _synthetic(rng, tau):
    """G groups with effects 0.4 + tau z, PER_GROUP Bernoulli replications each."""
    effects = 0.4 + tau * rng.standard_normal(G)
    groups = np.arange(G * PER_GROUP) % G
    values = (rng.random(groups.size) < effects[groups]).astype(float)
    return effects, values, groups


def test_shrunk_interval_recovers_the_between_group_spread():
    """Over REPEATS synthetic data sets the mean shrunk width should match the mean 90% range of the true group
    effects (the 'oracle', what it estimates) within 3 standard errors of the paired mean difference; that oracle is
    itself close to 2 * 1.645 * tau (within its own sampling error plus the small bias of a sample quantile range
    of 61 values, both estimated from the same simulation). The raw group estimates, noise included, are wider."""
    rng = np.random.default_rng(20240)
    tau = 0.06
    shrunk, oracle, raw = [], [], []
    for _ in range(REPEATS):
        effects, values, groups = _synthetic(rng, tau)
        low, high = uncertainty.interval(values, groups, G)
        est, _ = uncertainty.group_estimates(values, groups, G)
        shrunk.append(high - low)
        oracle.append(np.subtract(*np.quantile(effects, [0.95, 0.05])))
        raw.append(np.subtract(*np.quantile(est, [0.95, 0.05])))
    shrunk, oracle, raw = map(np.array, (shrunk, oracle, raw))
    true = 2 * 1.645 * tau
    d = shrunk - oracle
    assert abs(d.mean()) <= 3 * d.std(ddof=1) / np.sqrt(REPEATS)
    assert abs(oracle.mean() - true) <= 0.08 * true          # sample-quantile bias at G = 61 is about -5%
    assert abs(shrunk.mean() - true) <= 0.08 * true + 3 * shrunk.std(ddof=1) / np.sqrt(REPEATS)
    e = raw - oracle
    assert e.mean() > 3 * e.std(ddof=1) / np.sqrt(REPEATS)
    # a single data set: within 3 standard deviations of the width's sampling distribution
    assert abs(shrunk[0] - true) <= 3 * shrunk.std(ddof=1)


def test_without_between_group_spread_the_interval_is_narrow():
    """With tau = 0 the variance of the group estimates is the noise alone: (G-1) var / noise ~ chi2(G-1).
    The shrink factor sqrt(b / (b + noise)), b = max(0, var - noise), is 0 about half the time
    (P(chi2_60 / 60 < 1) ~ 0.52) and below sqrt(q / (1 + q)), q = chi2_60(0.999) / 60 - 1, all but 0.1%."""
    rng = np.random.default_rng(31)
    q = stats.chi2.ppf(0.999, G - 1) / (G - 1) - 1
    bound = np.sqrt(q / (1 + q))
    zero = 0
    for _ in range(REPEATS):
        _, values, groups = _synthetic(rng, 0.0)
        low, high = uncertainty.interval(values, groups, G)
        est, _ = uncertainty.group_estimates(values, groups, G)
        raw = np.subtract(*np.quantile(est, [0.95, 0.05]))
        assert high - low <= bound * raw + 1e-12
        zero += (high - low) == 0
    # expected about 52% of REPEATS; binomial standard error sqrt(0.25 / 200) = 3.5 points; 4 SE below
    assert zero / REPEATS >= 0.52 - 4 * 0.035


def test_interval_needs_five_groups():
    values = np.ones(40)
    assert uncertainty.interval(values, np.arange(40) % 4, 4) is None
    assert uncertainty.interval(values, np.arange(40) % 5, 5) == (1.0, 1.0)


def _shrunk_by_definition(estimates, noise):
    """One row's shrinkage towards its mean, as first written (scalars)."""
    if estimates.size < 2:
        return estimates
    centre = estimates.mean()
    total = estimates.var(ddof=1)
    mean_noise = float(np.mean(noise))
    between = max(0.0, total - mean_noise)
    factor = np.sqrt(between / (between + mean_noise)) if between + mean_noise > 0 else 0.0
    return centre + factor * (estimates - centre)


def _median_interval_by_definition(times, events, horizon, groups, n_groups, level=uncertainty.LEVEL):
    """median_interval as first written: group_estimates of the 0/1 collapse indicators at every grid time."""
    grid = np.unique(np.concatenate([times[events], [horizon]]))
    curves = []
    for m in grid:
        est, noise = uncertainty.group_estimates((events & (times <= m + 1e-9)).astype(float), groups, n_groups)
        curves.append(_shrunk_by_definition(est, noise))
    curves = np.maximum.accumulate(np.array(curves), axis=0)
    medians = np.array([grid[np.argmax(c >= 0.5)] if np.any(c >= 0.5) else np.inf for c in curves.T])
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return (float(low) if np.isfinite(low) else None), (float(high) if np.isfinite(high) else None)


def test_the_median_interval_from_cumulative_counts_is_the_definition_exactly():
    """The one-pass median interval gives the same numbers, bit for bit, as group estimates at every grid time
    (step-end times, an empty group, groups whose curve never reaches one half)."""
    rng = np.random.default_rng(5)
    steps = np.concatenate([np.arange(1, 29) / 30.44, 28 / 30.44 + np.arange(1, 300) * 7 / 30.44])
    for trial in range(30):
        n, n_groups = int(rng.integers(50, 5000)), int(rng.integers(5, 80))
        horizon = float(rng.choice([24.0, 36.0, 60.0]))
        times = rng.choice(steps, n)
        events = (rng.random(n) < rng.random()) & (times < horizon)
        times = np.where(events, times, horizon)
        groups = rng.integers(0, n_groups, n)
        groups[groups == 0] = 1 if trial % 3 == 0 else groups[groups == 0]
        assert (uncertainty.median_interval(times, events, horizon, groups, n_groups)
                == _median_interval_by_definition(times, events, horizon, groups, n_groups)), trial


def test_shrinking_rows_at_once_is_the_loop_over_rows_bit_for_bit():
    rng = np.random.default_rng(8)
    for trial in range(40):
        rows, cols = int(rng.integers(1, 400)), int(rng.integers(1, 200))
        est = rng.random((rows, cols)) * rng.choice([1e-6, 1.0, 30.0])
        noise = rng.random((rows, cols)) * rng.choice([0.0, 1e-4, 0.2])
        if trial % 5 == 0:
            est[0] = est[0, 0]      # a row without spread
        expected = np.array([_shrunk_by_definition(est[i], noise[i]) for i in range(rows)]).reshape(rows, -1)
        np.testing.assert_array_equal(uncertainty.shrunk_rows(est, noise), expected)
        np.testing.assert_array_equal(uncertainty.shrunk(est[-1], noise[-1]), expected[-1])
