"""Scenario discovery (sim.discovery): PRIM recovers a known region; soft labels; ceasefire discover on a sweep."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.cli import main
from sim.discovery import prim, soft_labels

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _synthetic(seed=3, m=400, n=50):
    """Three factors on [0, 1]; collapse is likely (90%) where x0 < 0.4 and x1 < 0.5, rare (15%) elsewhere."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (m, 3))
    region = (x[:, 0] < 0.4) & (x[:, 1] < 0.5)
    k = rng.binomial(n, np.where(region, 0.9, 0.15))
    return x, region, k, n


def _in_box(x, limits):
    return np.all((x >= limits[:, 0]) & (x <= limits[:, 1]), axis=1)


@pytest.mark.parametrize("seed", [3, 4])
def test_prim_recovers_a_known_collapse_region(seed):
    x, region, k, n = _synthetic(seed)
    res = prim(x, soft_labels(k / n, threshold=0.7, trials=n), bounds=np.array([[0.0, 1.0]] * 3),
               min_density=0.9)
    box = res.boxes[0]
    inside = _in_box(x, box.limits)
    coverage = (inside & region).sum() / region.sum()   # against the truth, not the soft labels
    density = (inside & region).sum() / inside.sum()
    assert coverage >= 0.8 and density >= 0.8, (coverage, density, box.limits)
    assert box.restricted == [0, 1]                      # the irrelevant factor is left alone
    assert box.limits[0, 1] == pytest.approx(0.4, abs=0.06) and box.limits[1, 1] == pytest.approx(0.5, abs=0.1)
    assert box.limits[0, 0] == 0.0 and box.limits[1, 0] == 0.0
    # the statistics PRIM reports are those of its box on the soft labels
    w = soft_labels(k / n, threshold=0.7, trials=n)
    assert box.coverage == pytest.approx(w[inside].sum() / w.sum())
    assert box.density == pytest.approx(w[inside].mean())
    assert box.mass == pytest.approx(inside.mean())
    # both restrictions matter: dropping either lowers the density a lot, and is very unlikely by chance
    for r in box.restrictions:
        assert r["density_without"] < box.density - 0.3 and r["quasi_p"] < 1e-6


def test_peeling_trajectory_trades_coverage_for_density():
    x, region, k, n = _synthetic()
    box = prim(x, soft_labels(k / n, threshold=0.7, trials=n), bounds=np.array([[0.0, 1.0]] * 3)).boxes[0]
    peel = [s for s in box.trajectory if s.phase in ("start", "peel")]
    assert peel[0].coverage == pytest.approx(1.0) and peel[0].mass == 1.0 and len(peel) > 5
    mass = [s.mass for s in peel]
    assert all(a > b for a, b in zip(mass, mass[1:]))            # each peel removes points
    assert peel[-1].density > peel[0].density + 0.5
    chosen = box.trajectory[box.chosen_step]
    # the box chosen is the first on the trajectory dense enough, i.e. the widest such box
    assert chosen.density >= 0.8 and all(s.density < 0.8 for s in peel[:box.chosen_step])


def test_pasting_undoes_a_peel_that_went_too_far():
    # one factor, every point in [0, 0.5] a case: a box cut at 0.3 must be pasted back out to 0.5
    x = np.linspace(0, 1, 101)[:, None]
    y = (x[:, 0] <= 0.5).astype(float)
    box = prim(x, y, bounds=np.array([[0.0, 1.0]]), min_density=0.99).boxes[0]
    assert box.limits[0, 1] == pytest.approx(0.5)
    assert box.coverage == pytest.approx(1.0) and box.density == pytest.approx(1.0)


def test_covering_finds_a_second_region():
    # PRIM peels from the edges: a compact region inside the space is found once the one at the edge
    # (found first) is set aside
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (800, 2))
    a = (x[:, 0] < 0.3) & (x[:, 1] < 0.4)
    b = (abs(x[:, 0] - 0.7) < 0.08) & (abs(x[:, 1] - 0.6) < 0.08)
    y = (a | b).astype(float)
    res = prim(x, y, bounds=np.array([[0.0, 1.0]] * 2), min_density=0.9, mass_min=0.02)
    assert len(res.boxes) == 2
    first, second = (_in_box(x, box.limits) for box in res.boxes)
    assert y[first].mean() >= 0.9 and (first & a).sum() >= 0.8 * a.sum()
    second &= ~first                                  # the second box is over the points left
    assert y[second].mean() >= 0.9 and (second & b).sum() >= 0.7 * b.sum()
    assert res.boxes[1].coverage == pytest.approx(y[second].sum() / y.sum())


def test_a_box_restricting_no_factor_is_described_as_the_whole_space():
    """Where collapse is likely everywhere, PRIM's box keeps every factor's whole range: the sentence says so
    (not "when anywhere") and gives the share of points that are such cases."""
    from sim.discovery import sentence
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (300, 2))
    y = (rng.uniform(size=300) < 0.97).astype(float)
    bounds = np.array([[0.0, 1.0], [0.0, 1.0]])
    box = prim(x, y, bounds=bounds).boxes[0]
    assert not box.restricted
    text = sentence(box, bounds, ["a", "b"], phrase="collapse within 24 months", share=True, threshold=0.5,
                    below=False, kind="share")
    assert text.startswith(f"Collapse within 24 months is likely (≥ 50%) across the whole space swept: "
                           f"{100 * box.density:.0f}% of its points are such cases (100% of the points swept).")
    assert "when" not in text


def test_soft_labels_are_posterior_probabilities_not_0_1():
    n = 50
    est = np.array([36, 34, 50, 0]) / n        # 72%, 68%, 100%, 0%
    w = soft_labels(est, threshold=0.7, trials=n)
    expected = stats.beta.sf(0.7, est * n + 0.5, n - est * n + 0.5)   # Jeffreys posterior, independently
    np.testing.assert_allclose(w, expected)
    assert 0.5 < w[0] < 0.75 and 0.25 < w[1] < 0.5 and w[2] > 0.99 and w[3] < 1e-6
    np.testing.assert_allclose(soft_labels(est, threshold=0.7, trials=n, below=True), 1 - expected)
    # more replications, surer labels
    assert soft_labels(np.array([0.72]), threshold=0.7, trials=2000)[0] > w[0]
    # normal approximation from a CI (RMST in months)
    w = soft_labels(np.array([20.0, 10.0]), threshold=12.0, ci_low=np.array([19.0, 9.0]),
                    ci_high=np.array([21.0, 11.0]))
    assert w[0] > 0.999 and w[1] < 0.01
    np.testing.assert_allclose(soft_labels(np.array([0.3, np.nan]), kind="probability"), [0.3, np.nan])


@pytest.mark.parametrize("call, message", [
    (lambda: prim(np.zeros((5,)), np.zeros(5)), "x must be two-dimensional"),
    (lambda: prim(np.zeros((5, 2)), np.zeros(4)), "y must have one value per row of x"),
    (lambda: prim(np.zeros((5, 2)), np.full(5, 2.0)), "y must be soft labels in [0, 1]"),
    (lambda: prim(np.random.default_rng(0).uniform(size=(5, 2)), np.zeros(5), peel_alpha=0.7),
     "peel_alpha must be in (0, 0.5]"),
    (lambda: soft_labels(np.array([0.5])), "threshold must be a finite number"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# --- ceasefire discover on a latin sweep of the Moscow scenario ------------------------------------

EXPERIMENT = """name = "moscow_latin"
scenario = "{scenario}"
sampler = "latin"
points = 64
replications = 50
horizon_months = 24
seed = 11
outcomes = ["p_collapse_by_24", "p_initiated_by:regime"]

[factors.turkish_deterrence]
path = "actors.turkey.deterrence"
low = 0.2
high = 1.0

[factors.russian_interest]
path = "actors.russia.interest_in_guarantor"
low = 0.2
high = 1.0
"""


@pytest.fixture(scope="module")
def latin_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("discover")
    exp = root / "latin.toml"
    exp.write_text(EXPERIMENT.format(scenario=(REPO / "scenarios" / "idlib_2020_moscow.toml").as_posix()))
    out = root / "sweep"
    assert main(["sweep", str(exp), "--out", str(out), "--jobs", "1", "--no-report", "--quiet"]) == 0
    return out


def _sweep_points(sweep: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    with open(sweep / "outcomes.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok"]
    factors = {k: np.array([float(r[k]) for r in rows]) for k in ("turkish_deterrence", "russian_interest")}
    return factors, np.array([float(r["p_collapse_by_24"]) for r in rows])


def test_discover_on_a_moscow_latin_sweep_writes_boxes(latin_sweep, capsys):
    # The cases of interest are the upper third of the points, whatever level the calibration puts collapse at:
    # this checks the discovery, not the calibration.
    factors, outcome = _sweep_points(latin_sweep)
    threshold = round(float(np.quantile(outcome, 2 / 3)), 2)
    assert main(["discover", str(latin_sweep), "--threshold", str(threshold), "--min-density", "0.5"]) == 0
    stdout = capsys.readouterr().out
    out = latin_sweep / "discovery"
    data = json.loads((out / "discovery.json").read_text())
    assert data["outcome"] == "p_collapse_by_24" and data["points_used"] == 64
    assert len(data["boxes"]) >= 1
    box = data["boxes"][0]
    assert set(box["limits"]) == {"turkish_deterrence", "russian_interest"}
    assert box["restricted_factors"] and 0 < box["coverage"] <= 1 and 0 < box["density"] <= 1
    assert box["density"] > data["base_density"]                 # the box is where collapse concentrates
    # A factor whose increase lowers collapse in the sweep (a clear negative rank correlation) is capped by the
    # box, never floored; one whose increase raises it is floored, never capped.
    for name, lim in box["limits"].items():
        rho = stats.spearmanr(factors[name], outcome).statistic
        if lim["restricted"] and rho < -0.3:
            assert lim["high"] < 1.0 and lim["low"] == pytest.approx(0.2), (name, rho, lim)
        if lim["restricted"] and rho > 0.3:
            assert lim["low"] > 0.2 and lim["high"] == pytest.approx(1.0), (name, rho, lim)
    assert box["trajectory"][0]["coverage"] == pytest.approx(1.0) and len(box["trajectory"]) > 2
    # the sentence says the same numbers
    assert box["sentence"].startswith("Collapse within 24 months is likely (≥ ")
    assert f"this box holds {100 * box['coverage']:.0f}% of such cases" in box["sentence"]
    assert box["sentence"] in stdout
    for name in ("discovery_tradeoff.png", "discovery_boxes.png"):
        assert (out / name).read_bytes()[:8] == PNG
    import html
    page = (out / "discovery.html").read_text()
    assert "<svg" in page and html.escape(box["sentence"]) in page
    import re
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)  # nothing loaded from elsewhere
    with open(out / "discovery_trajectory.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(len(b["trajectory"]) for b in data["boxes"])
    assert sum(r["chosen"] == "1" for r in rows) == len(data["boxes"])
    with open(out / "datadictionary.csv", newline="") as fh:
        described = {(r["file"], r["column"]) for r in csv.DictReader(fh) if r["meaning"] != "(undocumented)"}
    assert {("discovery_trajectory.csv", c) for c in rows[0]} <= described


def test_discover_json_and_unknown_outcome(latin_sweep, capsys, tmp_path):
    assert main(["discover", str(latin_sweep), "--outcome", "p_initiated_by_regime", "--threshold", "0.2",
                 "--out", str(tmp_path / "d"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "p_initiated_by:regime" and data["boxes"]
    assert main(["discover", str(latin_sweep), "--outcome", "p_collapse_by_12", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "no outcome 'p_collapse_by_12'" in err and "keep_replications" in err
    assert not (tmp_path / "e").exists()
    assert main(["discover", str(tmp_path)]) == 2
    assert "not a finished sweep directory" in capsys.readouterr().err
    assert main(["discover", str(latin_sweep), "--threshold", "1.5", "--out", str(tmp_path / "f")]) == 2
    assert "no point has p_collapse_by_24 at least 1.5: nothing to discover" in capsys.readouterr().err
