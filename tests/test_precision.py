"""The sequential rule of ``compare --precision`` (sim.precision), on synthetic paired differences."""

import math

import numpy as np
import pytest

from sim.precision import GROWTH, Z95, RunningDifferences, run_until_precise


def test_running_differences_match_the_whole_sample():
    rng = np.random.default_rng(3)
    d = rng.choice([-1.0, 0.0, 1.0], size=2500, p=[0.1, 0.7, 0.2])
    s = RunningDifferences()
    for part in np.array_split(d, 7):
        s.add(part)
    assert s.n == d.size
    assert s.sd() == pytest.approx(np.std(d, ddof=1), rel=1e-12)
    assert s.runs_needed(0.01) == math.ceil((Z95 * np.std(d, ddof=1) / 0.01) ** 2)


def test_no_discordant_pair_plans_for_one_in_the_runs_so_far():
    s = RunningDifferences()
    s.add(np.zeros(1000))
    assert s.sd() == pytest.approx(1e-3)


def _stream(probs, seed):
    rng = np.random.default_rng(seed)
    seen = []

    def more(start, stop):
        assert start == sum(x.size for x in seen)      # each round adds only the replications after the last
        d = rng.choice([-1.0, 0.0, 1.0], size=stop - start, p=probs)
        seen.append(d)
        return [d]
    return more, seen


def test_rounds_grow_geometrically_in_whole_units_and_stop_at_the_precision():
    more, seen = _stream((0.1, 0.7, 0.2), 1)
    rounds = run_until_precise(more, first=130, precision=0.01, cap=10**6, unit=50)
    counts = rounds.counts
    assert counts[0] == 150                                            # the first round in whole units
    assert all(c % 50 == 0 for c in counts)
    assert all(b >= GROWTH * a for a, b in zip(counts, counts[1:]))
    assert rounds.reason == "precision reached"
    d = np.concatenate(seen)
    assert d.size == rounds.runs
    assert Z95 * np.std(d, ddof=1) / math.sqrt(d.size) <= 0.01
    # the round before the last had not reached it
    before = d[:counts[-2]]
    assert Z95 * np.std(before, ddof=1) / math.sqrt(before.size) > 0.01


def test_the_cap_ends_the_rounds():
    more, seen = _stream((0.1, 0.7, 0.2), 2)
    rounds = run_until_precise(more, first=100, precision=1e-4, cap=1234, unit=50)
    assert rounds.reason == "max_runs reached" and rounds.runs == 1234
    assert sum(x.size for x in seen) == 1234


def test_the_widest_pair_decides():
    rng = np.random.default_rng(4)

    def more(start, stop):
        n = stop - start
        return [rng.choice([-1.0, 0.0, 1.0], size=n, p=(0.01, 0.98, 0.01)),
                rng.choice([-1.0, 0.0, 1.0], size=n, p=(0.25, 0.5, 0.25))]
    rounds = run_until_precise(more, first=100, precision=0.02, cap=10**6, unit=100)
    # the second pair (sd about 0.71) needs about (1.96 * 0.71 / 0.02)^2 = 4,800 runs; the first alone about 100
    assert rounds.runs >= 4000


@pytest.mark.parametrize("probs,first,precision", [((0.1, 0.7, 0.2), 100, 0.02), ((0.25, 0.5, 0.25), 50, 0.05)])
def test_the_sequential_interval_keeps_its_coverage(probs, first, precision):
    """Keeping the earlier rounds' replications, the normal 95% interval at the stopping time still covers the
    true difference about 95% of the time (Chow and Robbins 1965: the rule depends on the data only through the
    spread). 2,000 repetitions: a standard error of 0.0049 on the coverage; the bound is 3 of them below 0.95."""
    rng = np.random.default_rng(11)
    truth = probs[2] - probs[0]
    repetitions, covered = 2000, 0
    for _ in range(repetitions):
        parts = []

        def more(start, stop):
            parts.append(rng.choice([-1.0, 0.0, 1.0], size=stop - start, p=probs))
            return [parts[-1]]
        run_until_precise(more, first=first, precision=precision, cap=10**6, unit=50)
        d = np.concatenate(parts)
        covered += abs(d.mean() - truth) <= Z95 * np.std(d, ddof=1) / math.sqrt(d.size)
    se = math.sqrt(0.95 * 0.05 / repetitions)
    assert covered / repetitions >= 0.95 - 3 * se
