"""Calibration and backtest: scores on hand-made forecasts, the leave-one-out split, the outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim import scoring
from sim.calibration import calibrate, load_calibration, posterior_weights
from sim.cli import main
from sim.montecarlo import LocalExecutor
from sim.scenario import InputError

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "scenarios" / "history"


# --- scores on forecasts with known values ------------------------------------------------------

def test_brier_and_log_score_known_values():
    assert scoring.brier(0.8, True) == pytest.approx(0.04)
    assert scoring.brier(0.8, False) == pytest.approx(0.64)
    assert scoring.brier(0.0, False) == 0.0
    assert scoring.log_score(0.8, True) == pytest.approx(-np.log(0.8))
    assert scoring.log_score(0.8, False) == pytest.approx(-np.log(0.2))
    # a certain miss is finite: probabilities are clipped to [1e-3, 1 - 1e-3]
    assert scoring.log_score(0.0, True) == pytest.approx(-np.log(1e-3))


def test_crps_of_a_point_forecast_is_the_absolute_error():
    grid = np.arange(1, 61, dtype=float)
    cdf = (grid >= 10).astype(float)      # all mass at 10 months
    assert scoring.crps(grid, cdf, 4.0) == pytest.approx(6.0)
    assert scoring.crps(grid, cdf, 25.0) == pytest.approx(15.0)
    assert scoring.crps(grid, cdf, 10.0) == pytest.approx(0.0)


def test_crps_of_a_two_point_forecast():
    # half the mass at 2, half at 6; observed 4: integral of F^2 on [2,4) plus (1-F)^2 on [4,6)
    grid = np.array([2.0, 6.0])
    cdf = np.array([0.5, 1.0])
    assert scoring.crps(grid, cdf, 4.0) == pytest.approx(2 * 0.25 + 2 * 0.25)
    # observed beyond the grid: F stays at 1 after 6, no extra penalty; before 2 F = 0
    assert scoring.crps(grid, cdf, 10.0) == pytest.approx(4 * 0.25 + 4 * 1.0)


def test_crps_matches_numerical_integration_of_an_exponential():
    grid = np.linspace(0.01, 200, 20000)
    cdf = scoring.exponential_cdf(grid, 0.8, 12.0)
    rate = -np.log(0.2) / 12
    # closed form for the exponential: y + (2 e^{-rate y} - 1.5) / rate
    y = 7.0
    exact = y + (2 * np.exp(-rate * y) - 1.5) / rate
    assert scoring.crps(grid, cdf, y) == pytest.approx(exact, abs=0.02)


def test_pit_and_empirical_reference():
    grid = np.array([1.0, 2.0, 3.0, 4.0])
    cdf = scoring.empirical_cdf(grid, [1.0, 3.0], floor=0.0)
    assert list(cdf) == [0.5, 0.5, 1.0, 1.0]
    assert scoring.pit(grid, cdf, 2.5) == 0.5
    assert scoring.pit(grid, cdf, 0.5) == 0.0
    mixed = scoring.empirical_cdf(grid, [1.0, 3.0], floor=0.1)
    assert np.all((mixed > 0) & (mixed <= 1))


def test_posterior_weights_follow_likelihood_ratios():
    w = posterior_weights(np.array([0.0, np.log(3.0), -1000.0]))
    assert w[1] / w[0] == pytest.approx(3.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[2] < 1e-300


# --- a small calibration over three real cases ------------------------------------------------

@pytest.fixture(scope="module")
def small_calibration(tmp_path_factory):
    d = tmp_path_factory.mktemp("cal")
    cases = [HISTORY / n for n in ("truce_2019_08_01.toml", "sochi_2018.toml", "ceasefire_2019_08_31.toml")]
    text = "\n".join([
        'name = "small"',
        "cases = [" + ", ".join(f'"{c}"' for c in cases) + "]",
        "points = 24", "replications = 60", "horizon_months = 12", "seed = 5",
        "[free.offensive_rate]", 'path = "dynamics.offensive_rate"', "low = 0.5", "high = 30.0", 'scale = "log"',
        "[free.cover_threshold]", 'path = "dynamics.cover_threshold"', "low = -0.5", "high = 1.0",
    ])
    path = d / "cal.toml"
    path.write_text(text)
    cal, loaded = load_calibration(path)
    with LocalExecutor(1) as ex:
        result = calibrate(cal, loaded, ex)
    return path, cal, loaded, result


def test_fit_excluding_a_case_uses_only_the_others(small_calibration):
    _, _, cases, result = small_calibration
    for k, case in enumerate(cases):
        fit = result.fit(exclude=k)
        assert case.name not in fit["cases_used"]
        assert len(fit["cases_used"]) == len(cases) - 1
        others = [c for c in range(len(cases)) if c != k]
        np.testing.assert_allclose(fit["weights"], posterior_weights(result.loglik[others].sum(axis=0)))


def test_held_out_outcome_cannot_leak_into_its_own_prediction(small_calibration):
    """Changing what was observed in case k changes nothing in k's leave-one-out prediction."""
    import copy
    result = copy.deepcopy(small_calibration[3])
    cases = result.cases
    before = result.backtest()
    k = 1
    cases[k].observed_months = 0.5 if cases[k].observed_months > 1 else 9.0
    from sim.calibration import case_loglik
    result.loglik[k] = case_loglik(cases[k], result.sims[k], result.cal.window, cases[k].scenario.dt_months)
    after = result.backtest()
    assert after["cases"][k]["predicted"] == before["cases"][k]["predicted"]
    # ... while the other cases' predictions do use case k, so they move
    moved = [after["cases"][i]["predicted"] != before["cases"][i]["predicted"] for i in range(len(cases)) if i != k]
    assert any(moved)


def test_predictions_are_distributions(small_calibration):
    _, _, cases, result = small_calibration
    bt = result.backtest()
    for row in bt["cases"]:
        p = row["predicted"]["p_collapse"]
        assert 0 <= p["1"] <= p["3"] <= p["6"] <= p["12"] <= 1
        assert 0 <= row["observed_percentile"] <= 1
        shares = row["predicted"]["initiator_share"]
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9) or sum(shares.values()) == 0
    assert set(bt["scores"]) == {"model", "base_rate", "other_cases"}


def test_calibration_is_deterministic_and_jobs_independent(small_calibration):
    path, cal, cases, result = small_calibration
    _, fresh_cases = load_calibration(path)
    with LocalExecutor(2) as ex:
        again = calibrate(cal, fresh_cases, ex)
    np.testing.assert_array_equal(again.loglik, result.loglik)


def test_cli_calibrate_writes_an_inheritable_parameter_file(small_calibration, tmp_path):
    path, *_ = small_calibration
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    report = json.loads((out / "calibration.json").read_text())
    assert set(report["parameters"]) == {"offensive_rate", "cover_threshold"}
    for p in report["parameters"].values():
        assert p["q05"] <= p["q50"] <= p["q95"]
    # a scenario inheriting the fitted rates gets them
    variant = tmp_path / "variant.toml"
    variant.write_text(f'base = ["{out / "calibrated_dynamics.toml"}", "{HISTORY / "sochi_2018.toml"}"]\n'
                       'name = "sochi_calibrated"\n')
    from sim.scenario import load_scenario
    s = load_scenario(variant)
    assert s.dynamics.offensive_rate == pytest.approx(report["parameters"]["offensive_rate"]["map"], rel=1e-5)


def test_calibration_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncases = ["a.toml", "b.toml"]\n[free.a]\npath = "actors.turkey.deterrence"\n'
                   "low = 0.1\nhigh = 0.9\n")
    with pytest.raises(InputError) as err:
        load_calibration(bad)
    assert "free.a.path" in err.value.problems[0] and "dynamics" in err.value.problems[0]
    bad.write_text('name = "x"\ncases = ["a.toml", "b.toml"]\n[free.a]\npath = "dynamics.offensive_rate"\n'
                   "low = 0.1\nhigh = 900\n")
    with pytest.raises(InputError) as err:
        load_calibration(bad)
    assert "leaves the range" in err.value.problems[0]
    assert main(["backtest", "--calibration", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
