"""Calibration: the case base, the calibration file, the likelihood, as-of fits, and the files scenarios inherit.

The sampler itself and the backtest are tested end to end in tests/test_backtest.py on small cases; here the
bundled case base is checked for what the issue promises (its size, conflicts and codings), and the CLI for
what it writes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sim.calibration import (Observed, allocate_replications, as_known_on, case_loglik, case_loglik_and_noise,
                             load_calibration, load_case)
from sim.cli import main
from sim.scenario import InputError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "scenarios" / "history"
FIXTURE = ROOT / "tests" / "data" / "two_sided.toml"


# --- the bundled case base -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def case_base():
    return [load_case(p) for p in sorted(HISTORY.glob("*.toml"))]


def test_the_case_base_has_at_least_18_cases_from_at_least_4_conflicts(case_base):
    assert len(case_base) >= 18
    assert len({c.conflict for c in case_base}) >= 4


def test_every_case_says_how_its_outcome_was_coded(case_base):
    for case in case_base:
        obs = case.scenario.observed
        assert obs.get("coding_rule"), case.name
        assert obs.get("source"), case.name
        assert case.observed.months > 0
        if case.observed.collapsed:
            assert case.observed.initiator in case.scenario.actors or case.observed.initiator.startswith("clash:")


def test_some_cases_carry_an_alternative_coding(case_base):
    assert sum(c.alternative is not None for c in case_base) >= 5


def test_the_bundled_calibration_file_loads_every_case(case_base):
    cal, priors, cases = load_calibration(ROOT / "experiments" / "calibration_cases.toml")
    assert {c.name for c in cases} == {c.name for c in case_base}
    assert all(p.low < p.high for p in priors)


# --- as of a date ----------------------------------------------------------------------------------

def test_as_of_leaves_out_later_cases_and_censors_later_outcomes():
    cal, _, cases = load_calibration(ROOT / "experiments" / "calibration_cases.toml", as_of=dt.date(2020, 3, 6))
    names = {c.name for c in cases}
    assert "moscow_2020" not in names                       # started on the date itself
    assert "gaza_2021_05_21" not in names
    daraa = next(c for c in cases if c.name == "syria_daraa_2018_07_06")
    assert not daraa.observed.collapsed                     # it collapsed in 2021: still holding on 6 March 2020
    assert daraa.observed.months == pytest.approx((dt.date(2020, 3, 6) - dt.date(2018, 7, 6)).days / 30.4375)
    sochi = next(c for c in cases if c.name == "sochi_2018")
    assert sochi.observed.collapsed                         # collapsed before the date: known then


def test_as_known_on_keeps_an_outcome_known_by_then():
    case = load_case(HISTORY / "sochi_2018.toml")
    assert as_known_on(case, dt.date(2025, 1, 1)) is case


# --- the likelihood ----------------------------------------------------------------------------------

def _sim(months, initiators):
    months = np.atleast_2d(np.asarray(months, dtype=float))
    init = np.atleast_2d(np.asarray(initiators, dtype=object))
    return {"months": months, "collapsed": init != "none", "initiator": init}


def test_the_kernel_prefers_runs_near_the_observed_time_with_its_initiator():
    obs = Observed(True, 6.0, "regime")
    near = _sim([[6.0, 6.5, 5.5, 7.0]], [["regime"] * 4])
    far = _sim([[0.5, 0.6, 40.0, 50.0]], [["regime"] * 4])
    wrong = _sim([[6.0, 6.5, 5.5, 7.0]], [["opposition"] * 4])
    ll = {k: case_loglik(obs, s, 0.35, 0.02, 2)[0] for k, s in (("near", near), ("far", far), ("wrong", wrong))}
    assert ll["near"] > ll["far"] and ll["near"] > ll["wrong"]
    # runs with the wrong initiator count for nothing but the defensive floor
    floor = math.log(0.02 / (6.0 * math.log(60 / 0.01) * 2))
    assert ll["wrong"] == pytest.approx(floor)


def test_a_censored_case_counts_the_runs_still_holding_then():
    obs = Observed(False, 24.0, None)
    sim = _sim([[3.0, 30.0, 60.0, 60.0]], [["regime", "regime", "none", "none"]])
    # 3 of 4 runs hold past 24 months: (3 + 0.5) / 5, mixed with the reference's P(T > 24)
    reference = math.log(60 / 24) / math.log(60 / 0.01)
    assert case_loglik(obs, sim, 0.35, 0.02, 2)[0] == pytest.approx(math.log(0.98 * 3.5 / 5 + 0.02 * reference))


def test_the_split_half_noise_predicts_the_spread_of_repeated_estimates():
    # A censored case holding with probability 0.3 and a collapsed one whose runs rarely match: the variance
    # the split-half estimate predicts for 40 runs, averaged over many particles, is the variance of 40-run
    # estimates measured over those repetitions, within the sampling error of 2,000 of them (sd about 3%: the
    # lower bound is 3 sd), plus the log's curvature, larger at half the runs: a small excess for a common
    # outcome, up to twice (second-order term of var(log mean) ~ v/m + 1.5 (v/m)^2) when hits are rare.
    rng = np.random.default_rng(11)
    k, reps = 2000, 40
    held = Observed(False, 24.0, None)
    months = np.where(rng.random((k, reps)) < 0.3, 30.0, 3.0)
    sim = {"months": months, "collapsed": np.ones((k, reps), bool), "initiator": np.full((k, reps), "regime")}
    ll, unit = case_loglik_and_noise(held, sim, 0.35, 0.02, 2)
    assert 0.9 < float(unit.mean() / reps) / float(ll.var()) < 1.3
    rare = Observed(True, 6.0, "regime")
    months = np.exp(rng.normal(math.log(6.0), 1.0, (k, reps)))
    who = np.where(rng.random((k, reps)) < 0.15, "regime", "opposition")
    sim = {"months": months, "collapsed": np.ones((k, reps), bool), "initiator": who}
    ll, unit = case_loglik_and_noise(rare, sim, 0.35, 0.02, 2)
    assert 0.9 < float(unit.mean() / reps) / float(ll.var()) < 2.0


def test_runs_go_to_the_noisy_and_cheap_cases_for_the_same_budget():
    unit = np.array([[4.0, 4.0], [1.0, 1.0], [0.0, 0.0]])     # a noisy, a quiet and a noiseless case
    costs = [10.0, 10.0, 10.0]
    reps = allocate_replications(unit, costs, 40)
    assert reps[0] > reps[1] >= reps[2] == 10                 # the noiseless case keeps a quarter of the base
    assert sum(r * c for r, c in zip(reps, costs)) == pytest.approx(40 * sum(costs), rel=0.02)
    assert reps[0] == pytest.approx(2 * reps[1], rel=0.05)    # in proportion to the noise's standard deviation
    cheap = allocate_replications(np.array([[1.0], [1.0]]), [1.0, 4.0], 40)
    assert cheap[0] == pytest.approx(2 * cheap[1], rel=0.05)  # ... and to one over the square root of the cost
    assert allocate_replications(np.zeros((2, 3)), [1.0, 1.0], 40) == [40, 40]


# --- the calibration file --------------------------------------------------------------------------

def test_calibration_file_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncases = ["a.toml"]\n[free.a]\npath = "actors.turkey.deterrence"\n')
    with pytest.raises(InputError) as err:
        load_calibration(bad)
    assert "free.a.path" in err.value.problems[0] and "dynamics" in err.value.problems[0]
    bad.write_text('name = "x"\ncases = ["a.toml"]\n[free.a]\npath = "dynamics.halt_rate"\nlow = 0.1\nhigh = 900\n')
    with pytest.raises(InputError) as err:
        load_calibration(bad)
    assert "leaves the range" in err.value.problems[0]
    bad.write_text('name = "x"\ncases = ["nothing_*.toml"]\n[free.a]\npath = "dynamics.halt_rate"\n')
    with pytest.raises(InputError) as err:
        load_calibration(bad)
    assert "matches no file" in err.value.problems[0]
    # a scenario given where a calibration file is expected says so
    assert main(["calibrate", str(FIXTURE), "--out", str(tmp_path / "o")]) == 2
    assert "scenario file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_design_flags_replace_the_files_design_and_are_checked_like_it(tmp_path, capsys):
    cal = tmp_path / "cal.toml"
    cal.write_text('name = "x"\ncases = ["c.toml", "d.toml"]\nparticles = 24\nreplications = 6\n'
                   '[free.a]\npath = "dynamics.halt_rate"\n')
    for name in ("c", "d"):
        _case(tmp_path, name, "a", 'months_to_collapse = 2.0\ninitiator = "regime"\n')
    given, _, _ = load_calibration(cal, design={"particles": 64, "replications": None})
    assert (given.particles, given.replications) == (64, 6)
    assert main(["calibrate", str(cal), "--particles", "5", "--out", str(tmp_path / "o")]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("--particles") and "16" in first
    assert not (tmp_path / "o").exists()


def test_a_case_without_an_observed_table_or_conflict_is_refused(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text(FIXTURE.read_text())
    with pytest.raises(InputError) as err:
        load_case(plain)
    assert "observed" in err.value.problems[0]


# --- the CLI writes what scenarios inherit ----------------------------------------------------------

def _case(tmp_path: Path, name: str, conflict: str, observed: str) -> Path:
    text = FIXTURE.read_text().replace('name = "two_sided_test"', f'name = "{name}"\nconflict = "{conflict}"')
    path = tmp_path / f"{name}.toml"
    path.write_text(text + "\n[observed]\n" + observed)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tinycal")
    (d / "cases").mkdir()
    _case(d / "cases", "fast", "a", 'months_to_collapse = 2.0\ninitiator = "regime"\n')
    _case(d / "cases", "slow", "a", 'status = "censored"\ncensored_at = 2021-03-06\n')
    _case(d / "cases", "other", "b", 'months_to_collapse = 9.0\ninitiator = "regime"\n')
    cal = d / "cal.toml"
    cal.write_text('name = "tiny"\ncases = ["cases/*.toml"]\nparticles = 24\nreplications = 6\nmoves = 1\nseed = 3\n'
                   "predictive_replications = 3\n[free.halt_rate]\npath = \"dynamics.halt_rate\"\n")
    out = d / "out"
    assert main(["calibrate", str(cal), "--out", str(out), "--jobs", "1", "--quiet", "--no-report"]) == 0
    return d, cal, out


def test_calibrate_writes_posteriors_fragments_and_a_reproducibility_check(tiny):
    _, _, out = tiny
    report = json.loads((out / "calibration.json").read_text())
    assert set(report["reproducibility"]) >= {"max_shift", "seeds", "shift"}
    assert report["diagnostics"]["effective_sample_size"] > 0
    for name in ("posterior.csv", "posterior_a.csv", "posterior_b.csv", "calibrated_a.toml",
                 "calibrated_new_conflict.toml", "particles.csv"):
        assert (out / name).is_file(), name
    p = report["parameters"]["dynamics.halt_rate"]
    assert p["q05"] <= p["median"] <= p["q95"]


def test_a_scenario_inheriting_a_fragment_spreads_its_runs_over_the_posterior(tiny, tmp_path):
    _, _, out = tiny
    variant = tmp_path / "variant.toml"
    variant.write_text(f'base = ["{out / "calibrated_a.toml"}", "{FIXTURE}"]\nname = "with_posterior"\n')
    s = load_scenario(variant)
    assert s.posterior is not None and Path(s.posterior).name == "posterior_a.csv"
    from sim.api import run
    r = run(s, runs=60, seed=1, jobs=1, horizon_months=6)
    u = r.summary()["uncertainty"]
    assert u["posterior"]["draws"] == 24 and u["parameter_groups"] == 24
    point = run(s, runs=60, seed=1, jobs=1, horizon_months=6, use_posterior=False)
    assert point.summary()["uncertainty"]["posterior"] is None


def test_backtest_from_a_calibration_directory(tiny, tmp_path):
    _, cal, out = tiny
    bt = tmp_path / "bt"
    assert main(["backtest", "--calibration", str(cal), "--from", str(out), "--out", str(bt), "--jobs", "1",
                 "--quiet", "--no-report", "--no-neutralise"]) == 0
    data = json.loads((bt / "backtest.json").read_text())
    assert {c["name"] for c in data["cases"]} == {"fast", "slow", "other"}
    assert {c["conflict"] for c in data["cases"]} == {"a", "b"}
    assert "leave_one_conflict_out" in data and set(data["coverage"]) == {"50", "90"}
    # particles from another calibration are refused, with the file named
    other = tmp_path / "other.toml"
    other.write_text(cal.read_text().replace("halt_rate", "campaign_rate"))
    assert main(["backtest", "--calibration", str(other), "--from", str(out), "--out", str(tmp_path / "x"),
                 "--quiet", "--no-report"]) == 2


def test_the_prior_densities_written_out_equal_scipy_stats_bit_for_bit():
    """Space.log_prior writes the normal and half-normal densities out (reading a calibration need not import
    scipy.stats); a difference in the last bit would change which moves a calibration accepts."""
    from scipy import stats

    from sim.calibration import _halfnormal_logpdf, _normal_logpdf
    rng = np.random.default_rng(11)
    x = rng.normal(size=(500, 6)) * 3
    assert np.array_equal(_normal_logpdf(x), stats.norm.logpdf(x))
    sigma = np.abs(rng.normal(size=500)) * 2
    for scale in (0.3, 1.0, 2.5):
        assert np.array_equal(_halfnormal_logpdf(sigma, scale), stats.halfnorm.logpdf(sigma, scale=scale))
    assert _halfnormal_logpdf(np.array([-0.1]), 1.0)[0] == -np.inf
