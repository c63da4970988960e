"""What kind of input file a parsed TOML table is, told apart by its keys.

Scenarios, experiments, calibrations and parameter fragments are all TOML files; a command given
the wrong kind should say so ("this is a scenario file, not a calibration file") instead of listing
every key of it as unknown.
"""

from __future__ import annotations

from typing import Any

# Keys only one kind has. Shared keys (name, description, points, replications, horizon_months,
# seed) say nothing.
DISTINCT = {
    "scenario": {"actors", "start", "base", "events", "step_days", "sources", "observed", "dynamics",
                 "processes", "agreement", "conflict", "fronts", "uncertain", "posterior", "fine_start_days",
                 "title"},
    "experiment": {"sampler", "factors", "outcomes", "analyse", "keep_replications", "levels", "question",
                   "scenario", "use_posterior"},
    "calibration": {"free", "cases", "particles", "bandwidth", "defensive", "ess_fraction", "moves", "pooling",
                    "pooling_scale", "predictive_replications", "as_of", "max_moves", "unmoved_share"},
}
FRAGMENT_TABLES = {"dynamics", "processes", "posterior"}  # as sim.scenario.FRAGMENT_TABLES

DESCRIPTION = {
    "scenario": "a scenario file (actors, start, horizon_months; for 'ceasefire run', 'compare', 'diff')",
    "fragment": "a parameter fragment (only [dynamics]/[processes] tables and a posterior, inherited with base = ...)",
    "experiment": "an experiment file (scenario, sampler, factors; for 'ceasefire sweep')",
    "calibration": "a calibration file (cases, free, particles; for 'ceasefire calibrate' and 'backtest')",
}


def kind_of(raw: Any) -> str | None:
    """'scenario', 'fragment', 'experiment' or 'calibration'; None when the keys do not tell."""
    if not isinstance(raw, dict):
        return None
    keys = set(raw)
    if keys and "name" not in keys and keys <= FRAGMENT_TABLES:
        return "fragment"
    scores = {kind: len(keys & distinct) for kind, distinct in DISTINCT.items()}
    best = max(scores.values())
    winners = [kind for kind, score in scores.items() if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def wrong_kind(raw: Any, expected: str, path) -> str | None:
    """The message for a file of another kind than ``expected`` (None when it may be the right one)."""
    kind = kind_of(raw)
    if kind is None or kind == expected:
        return None
    article = "an" if expected[0] in "aeiou" else "a"
    return f"{path}: this looks like {DESCRIPTION[kind]}, not {article} {expected} file"
