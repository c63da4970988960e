"""The four factors of document 000 move the outcome in the direction the document argues.

Each test runs the bundled Moscow scenario twice with one factor low and high and everything else
equal, on the same seed: replication i of both runs draws the same random numbers (common random
numbers), so the per-replication difference of the outcome indicator is paired. The effect must be in
the stated direction by more than 3 paired standard errors (a one-sided z > 3; with no real effect
this fails by chance with probability ~0.001 for a given seed, and the seeds are fixed).

The outcome is "the ceasefire collapsed within the 60-month horizon and <initiator> initiated it".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.api import run
from sim.scenario import load_scenario, resolved_dict, validate_raw, with_value

REPO = Path(__file__).resolve().parents[1]
N = 2000        # replications per arm; each test runs 2 x N (about 1 s)
SEED = 20240305
Z = 3.0


@pytest.fixture(scope="module")
def moscow():
    s = load_scenario(REPO / "scenarios" / "idlib_2020_moscow.toml")
    assert s.horizon_months == 60
    return s


@pytest.fixture(scope="module")
def moscow_without_events(moscow):
    """The bundled scenario without its scheduled events.

    Its Caesar Act event sets processes.economy.sanctions = 0.8 at month 3.4 in BOTH arms, which
    would pull a "low exhaustion" regime back up to high exhaustion (exhaustion follows economic
    stress, which reverts to the sanctions level: BelligerentAgent.update_state). The event's key is
    a dotted string inside `set`, which with_value cannot address, so the events are dropped here.
    """
    data = resolved_dict(moscow)
    assert set(data["events"]) == {"caesar_act"}, "update this fixture if the scenario's events change"
    data["events"] = {}
    return validate_raw(data, "idlib_2020_moscow_without_events")


def indicator(scenario, changes: dict, initiator: str) -> np.ndarray:
    result = run(with_value(scenario, changes), runs=N, seed=SEED, jobs=1)
    r = result.simulation.replications
    assert len(r) == N
    return (r.collapsed & (r.initiator_labels() == initiator)).astype(float)


def paired_z(low: np.ndarray, high: np.ndarray) -> tuple[float, float, float]:
    """(mean of high - low, its paired standard error, z)."""
    d = high - low
    se = d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(se), float(d.mean() / se) if se > 0 else 0.0


def assert_effect(low, high, direction: int, what: str):
    diff, se, z = paired_z(low, high)
    msg = (f"{what}: P(low) {low.mean():.4f}, P(high) {high.mean():.4f}, paired difference {diff:+.4f} "
           f"(SE {se:.4f}, z {z:+.1f}); needed {'+' if direction > 0 else '-'}{Z:g} SE")
    assert se > 0, msg
    assert direction * diff > Z * se, msg


def exhaustion(level: float) -> dict:
    """Regime exhaustion at ``level``, and the economy it follows starting and staying there."""
    return {"actors.regime.exhaustion": level, "processes.economy.initial_stress": level,
            "processes.economy.sanctions": level}


# --- factor 1: Turkish deterrence --------------------------------------------------------------------

def test_higher_turkish_deterrence_lowers_regime_initiated_collapse(moscow):
    low = indicator(moscow, {"actors.turkey.deterrence": 0.4}, "regime")
    high = indicator(moscow, {"actors.turkey.deterrence": 0.95}, "regime")
    assert_effect(low, high, -1, "turkey.deterrence 0.4 -> 0.95")


# --- factor 2: Russia's interest in Ankara ------------------------------------------------------------

def test_higher_russian_interest_in_turkey_lowers_regime_initiated_collapse(moscow):
    low = indicator(moscow, {"actors.russia.interest_in_guarantor": 0.3}, "regime")
    high = indicator(moscow, {"actors.russia.interest_in_guarantor": 0.95}, "regime")
    assert_effect(low, high, -1, "russia.interest_in_guarantor 0.3 -> 0.95")


# --- factor 3: regime exhaustion -------------------------------------------------------------------

def test_higher_regime_exhaustion_lowers_regime_initiated_collapse(moscow_without_events):
    low = indicator(moscow_without_events, exhaustion(0.1), "regime")
    high = indicator(moscow_without_events, exhaustion(0.8), "regime")
    assert_effect(low, high, -1, "regime exhaustion (and economy) 0.1 -> 0.8")


def test_exhaustion_stays_near_its_setting_when_the_economy_is_set_alike(moscow_without_events):
    """The premise of the test above: without the economy set alike, exhaustion would revert."""
    from sim.montecarlo import replay
    for level in (0.1, 0.8):
        rows, _ = replay(with_value(moscow_without_events, exhaustion(level)), seed=SEED, replication=0)
        path = np.array([row["exhaustion.regime"] for row in rows])
        assert np.all(np.abs(path - level) < 0.1), (level, path.min(), path.max())


# --- factor 4: HTS as a pretext ---------------------------------------------------------------------

def test_stronger_hts_pretext_raises_regime_initiated_collapse(moscow):
    assert moscow.actors["hts"].transformation < 1  # kept at the scenario's value: the pretext is not discounted away
    low = indicator(moscow, {"actors.hts.pretext_strength": 0.1}, "regime")
    high = indicator(moscow, {"actors.hts.pretext_strength": 0.95}, "regime")
    assert_effect(low, high, +1, "hts.pretext_strength 0.1 -> 0.95")


# --- 2024: an exhausted regime, a distracted patron and a ready opposition -------------------------------

def test_exhaustion_distraction_and_readiness_raise_opposition_initiated_collapse(moscow_without_events):
    low = {**exhaustion(0.1), "actors.russia.distraction": 0.05, "actors.opposition.readiness": 0.1}
    high = {**exhaustion(0.8), "actors.russia.distraction": 0.8, "actors.opposition.readiness": 0.8}
    a = indicator(moscow_without_events, low, "opposition")
    b = indicator(moscow_without_events, high, "opposition")
    assert_effect(a, b, +1, "exhaustion, distraction, opposition readiness all low -> all high")


# --- common random numbers ----------------------------------------------------------------------------

def test_identical_scenarios_give_exactly_zero_difference(moscow):
    a = indicator(moscow, {"actors.turkey.deterrence": 0.75}, "regime")
    b = indicator(moscow, {}, "regime")
    assert 0 < a.mean() < 1  # a non-degenerate outcome
    assert np.array_equal(a, b)
    assert paired_z(a, b)[:2] == (0.0, 0.0)


def test_common_random_numbers_correlate_the_two_arms(moscow):
    """Pairing is what makes 3 SE reachable with a few thousand runs: on common random numbers the
    outcomes of the two arms are positively correlated replication by replication. Under independent
    runs the sample correlation is ~N(0, 1/N); here it must exceed 3/sqrt(N), and so the paired
    standard error must be below the unpaired one."""
    a = indicator(moscow, {"actors.turkey.deterrence": 0.75}, "regime")
    b = indicator(moscow, {"actors.turkey.deterrence": 0.85}, "regime")
    assert not np.array_equal(a, b)
    corr = np.corrcoef(a, b)[0, 1]
    assert corr > Z / np.sqrt(N), corr
    # fewer replications change outcome than independent runs with the same probabilities would
    pa, pb = a.mean(), b.mean()
    assert np.mean(a != b) < pa * (1 - pb) + pb * (1 - pa)
    paired_se = paired_z(a, b)[1]
    unpaired_se = np.sqrt(a.var(ddof=1) / N + b.var(ddof=1) / N)
    assert paired_se < unpaired_se
