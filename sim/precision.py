"""``compare --precision``: how many replications give a 95% half-width of P on a paired difference.

A fixed-width sequential interval (Chow and Robbins 1965, [@chow-robbins-1965]): run a first round, estimate
the standard deviation of the paired differences from every replication so far, and stop at the first round
whose run count ``n`` satisfies ``n >= (z sd / P)^2``; otherwise grow to that count, at least ``GROWTH`` times
the current one, in whole blocks. Every round keeps the replications before it, so what is reported is exactly
the run of that size done at once (replication ``i`` draws the same numbers whatever the run's size), and the
statistics the rule needs (count, sum and sum of squares of the differences) are updated with each round's new
replications only. The rule depends on the data only through the spread of the differences; its coverage tends to
the nominal level as P shrinks (ibid.), and ``tests/test_precision.py`` checks it at the sizes used here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959963984540054
GROWTH = 1.5     # each round at least this many times the last: the number of rounds is logarithmic in the cap


@dataclass
class RunningDifferences:
    """Count, sum and sum of squares of paired differences, updated round by round."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, d: np.ndarray) -> None:
        d = np.asarray(d, dtype=float)
        self.n += int(d.size)
        self.total += float(d.sum())
        self.squares += float(d @ d)

    def sd(self) -> float:
        if self.n < 2:
            return 1.0
        var = (self.squares - self.total * self.total / self.n) / (self.n - 1)
        # no discordant pair so far: plan for one in this many runs rather than for none
        return max(math.sqrt(max(var, 0.0)), 1.0 / self.n)

    def runs_needed(self, precision: float) -> int:
        """Run count whose normal 95% half-width on the mean difference is ``precision``, at the current sd."""
        return max(1, math.ceil((Z95 * self.sd() / precision) ** 2))


def whole_units(n: int, unit: int) -> int:
    return -(-int(n) // unit) * unit


@dataclass
class Rounds:
    """What the sequential rule did: the run count after each round, and why it stopped."""

    counts: list[int] = field(default_factory=list)
    reason: str = ""

    @property
    def runs(self) -> int:
        return self.counts[-1]


def run_until_precise(more, *, first: int, precision: float, cap: int, unit: int) -> Rounds:
    """Call ``more(start, stop)`` for replications ``start .. stop - 1`` round by round until the 95% half-width
    of every paired difference it returns (a list of arrays, one per pair) is at most ``precision``, or ``cap``
    replications have run. ``first`` is the first round's size, rounded up to whole ``unit``s (blocks), so that
    every later round starts a block; later rounds end at the estimated need, at least ``GROWTH`` times the last
    count, rounded up to whole units, and never past ``cap``."""
    if not precision > 0:
        raise ValueError("precision must be positive")
    cap = max(int(cap), 1)
    rounds = Rounds()
    stats: list[RunningDifferences] = []
    done, target = 0, min(whole_units(first, unit), cap)
    while True:
        differences = more(done, target)
        if not stats:
            stats = [RunningDifferences() for _ in differences]
        for s, d in zip(stats, differences):
            s.add(d)
        done = target
        rounds.counts.append(done)
        needed = max(s.runs_needed(precision) for s in stats)
        if needed <= done:
            rounds.reason = "precision reached"
            return rounds
        if done >= cap:
            rounds.reason = "max_runs reached"
            return rounds
        target = min(cap, whole_units(max(needed, math.ceil(GROWTH * done)), unit))
