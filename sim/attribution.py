"""What drives a difference between two scenarios: Shapley values over the settings that differ.

A *setting* is one thing the other scenario changes: a parameter (``actors.russia.interest_in_guarantor``),
an event (``events.hts_pretext_pressed``), an uncertain setting, an actor or front added or removed. For
a set S of settings, v(S) is the headline outcome (collapse by the horizon) of the base scenario with the
settings in S taken from the other scenario, run on the same replications (common random numbers). The
Shapley value of setting i averages its marginal contribution v(S + i) - v(S) over the orders in which
settings can be added; the values sum to v(all) - v(none), the total difference.

Because every hybrid runs on the same replications, the contributions are computed per replication and
their Monte Carlo interval is that of a paired mean. Exact over all 2^n subsets up to ``EXACT_MAX``
settings; above that, over ``permutations`` random orders (the interval then adds the sampling of orders).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from itertools import combinations
from typing import Callable

import numpy as np

from sim.scenario import InputError, _validate_model
from sim.schema import Scenario
from sim.survival import Z95

EXACT_MAX = 8
IGNORED = {"name", "title", "description", "sources", "observed", "conflict"}


@dataclass(frozen=True)
class Setting:
    """One difference between the scenarios: a path into the resolved data, and what other has there."""

    name: str
    path: tuple[str, ...]
    present_in_other: bool
    other_value: object


def _dump(s: Scenario) -> dict:
    return s.model_dump(mode="python", exclude_none=True)


def changed_settings(base: Scenario, other: Scenario) -> list[Setting]:
    """The settings in which ``other`` differs from ``base``, each named by its key path."""
    a, b = _dump(base), _dump(other)
    for key in ("start", "horizon_months", "step_days", "posterior"):
        if a.get(key) != b.get(key):
            raise InputError([f"attribution: the scenarios differ in '{key}' ({a.get(key)} vs {b.get(key)}); "
                              f"a paired comparison needs them equal"])
    out: list[Setting] = []

    def leaf_settings(prefix: tuple[str, ...], x: dict, y: dict, depth: int) -> None:
        for key in sorted(set(x) | set(y), key=str):
            path = (*prefix, key)
            if key not in y:
                out.append(Setting(".".join(path), path, False, None))
            elif key not in x:
                out.append(Setting(".".join(path), path, True, copy.deepcopy(y[key])))
            elif x[key] != y[key]:
                if depth > 1 and isinstance(x[key], dict) and isinstance(y[key], dict):
                    leaf_settings(path, x[key], y[key], depth - 1)
                else:
                    out.append(Setting(".".join(path), path, True, copy.deepcopy(y[key])))

    for top in sorted(set(a) | set(b)):
        if top in IGNORED or top in ("start", "horizon_months", "step_days", "posterior"):
            continue
        x, y = a.get(top, {}), b.get(top, {})
        if top in ("actors", "processes"):
            leaf_settings((top,), x, y, 2)          # actors.<key>.<field>, processes.<table>.<field>
        elif top in ("dynamics", "agreement", "uncertain"):
            leaf_settings((top,), x or {}, y or {}, 1)
        elif top in ("events", "fronts"):
            leaf_settings((top,), x, y, 1)          # a whole event or front is one setting
        elif x != y:
            out.append(Setting(top, (top,), top in b, copy.deepcopy(y)))
    return _merge_dependent(out, a, b)


def _merge_dependent(settings: list[Setting], a: dict, b: dict) -> list[Setting]:
    """An actor added or removed carries the settings that name it (they cannot be applied alone)."""
    whole = {s.path[1] for s in settings if s.path[0] == "actors" and len(s.path) == 2}
    if not whole:
        return settings
    merged = []
    for s in settings:
        if s.path[0] == "actors" and len(s.path) == 2:
            merged.append(s)
            continue
        text = repr(s.other_value) + repr(_get(a, s.path))
        if any(f"'{k}'" in text for k in whole) and s.path[:2] not in {("actors", k) for k in whole}:
            raise InputError([f"attribution: setting '{s.name}' refers to an actor that only one scenario declares; "
                              f"attribute with the actor declared in both"])
        merged.append(s)
    return merged


def _get(data: dict, path: tuple[str, ...]):
    node = data
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def hybrid(base: Scenario, settings: list[Setting], subset, name: str) -> Scenario:
    """The base scenario with the settings in ``subset`` taken from the other scenario."""
    data = _dump(base)
    for i in subset:
        s = settings[i]
        node = data
        for p in s.path[:-1]:
            node = node.setdefault(p, {})
        if s.present_in_other:
            node[s.path[-1]] = copy.deepcopy(s.other_value)
        else:
            node.pop(s.path[-1], None)
    data["name"] = name
    return _validate_model(data, f"hybrid {name}")


def shapley(settings: list[Setting], evaluate: Callable[[tuple[int, ...]], np.ndarray], *,
            permutations: int = 64, seed: int = 0) -> dict:
    """Shapley contributions of each setting to v(all) - v(none), per replication.

    ``evaluate(subset)`` returns the per-replication outcome (0/1 or a number) of the hybrid with that
    subset of settings. Returns the method, the number of hybrids run and one entry per setting.
    """
    n = len(settings)
    if n == 0:
        return {"method": "none: the scenarios do not differ", "hybrids": 0, "entries": []}
    cache: dict[tuple[int, ...], np.ndarray] = {}

    def v(subset) -> np.ndarray:
        key = tuple(sorted(subset))
        if key not in cache:
            cache[key] = np.asarray(evaluate(key), dtype=float)
        return cache[key]

    moved = np.zeros(n, dtype=bool)    # does adding the setting ever change a replication's outcome?
    if n <= EXACT_MAX:
        per_rep = np.zeros((n, v(()).size))
        for i in range(n):
            others = [j for j in range(n) if j != i]
            for size in range(n):
                weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                for subset in combinations(others, size):
                    marginal = v((*subset, i)) - v(subset)
                    moved[i] |= bool(np.any(marginal != 0))
                    per_rep[i] += weight * marginal
        method = f"exact Shapley values over all {2 ** n} subsets of {n} settings"
        perm_var = np.zeros(n)
    else:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5348,)))
        draws = np.zeros((permutations, n, v(()).size))
        for m in range(permutations):
            order = rng.permutation(n)
            before = ()
            for i in order:
                after = (*before, int(i))
                draws[m, i] = v(after) - v(before)
                moved[i] |= bool(np.any(draws[m, i] != 0))
                before = after
        per_rep = draws.mean(axis=0)
        perm_var = draws.mean(axis=2).var(axis=0, ddof=1) / permutations
        method = f"sampled Shapley values over {permutations} random orders of {n} settings"
    total = v(tuple(range(n))) - v(())
    entries = []
    for i, s in enumerate(settings):
        x = per_rep[i]
        mean = float(x.mean())
        se = math.sqrt(float(x.var(ddof=1)) / x.size + float(perm_var[i])) if x.size > 1 else 0.0
        low, high = mean - Z95 * se, mean + Z95 * se
        if not moved[i]:
            effect = "none: no replication changes"
        elif low <= 0 <= high:
            effect = "none detected"
        else:
            effect = "increases" if mean > 0 else "decreases"
        entries.append({"setting": s.name, "contribution": mean, "ci_low": low, "ci_high": high, "effect": effect})
    return {"method": method, "hybrids": len(cache), "total_difference": float(total.mean()),
            "sum_of_contributions": float(sum(e["contribution"] for e in entries)), "entries": entries}
