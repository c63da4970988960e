"""The committed reference results agree with a fresh, smaller run of the same commands.

A different seed makes the fresh run independent of the reference, so the two agree only within
sampling error: each figure must lie within 4 combined standard errors (from the two CIs) of the
committed one. A figure that moved further means the model or the scenarios changed without the
reference results being regenerated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.api import compare
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference"
Z = 1.959963984540054


def _se(entry: dict) -> float:
    return (entry["ci_high"] - entry["ci_low"]) / (2 * Z)


@pytest.mark.parametrize("directory", ["compare_doc000", "compare_doc003"])
def test_committed_comparison_agrees_with_a_fresh_smaller_run(directory):
    path = REFERENCE / directory / "comparison.json"
    ref = json.loads(path.read_text())
    base_name = ref["scenarios"]["base"]["name"]
    other_name = ref["scenarios"]["other"]["name"]
    base = load_scenario(ROOT / "scenarios" / f"{base_name}.toml")
    other = load_scenario(ROOT / "scenarios" / f"{other_name}.toml")
    fresh = compare(base, [other], runs=2000, seed=ref["seed"] + 1, jobs=2,
                    horizon_months=ref["horizon_months"])[0].as_dict()
    checked = 0
    for month, r in ref["differences"]["p_collapse"].items():
        f = fresh["differences"]["p_collapse"][month]
        tol = 4 * np.hypot(_se(r), _se(f)) + 1e-9
        assert abs(f["estimate"] - r["estimate"]) <= tol, (directory, "difference", month, f, r)
        for role in ("base", "other"):
            rr, ff = ref["p_collapse"][role][month], fresh["p_collapse"][role][month]
            tol = 4 * np.hypot(_se(rr), _se(ff)) + 1e-9
            assert abs(ff["estimate"] - rr["estimate"]) <= tol, (directory, role, month, ff, rr)
        checked += 1
    r, f = ref["differences"]["rmst"], fresh["differences"]["rmst"]
    assert abs(f["estimate"] - r["estimate"]) <= 4 * np.hypot(_se(r), _se(f)) + 1e-9
    assert checked >= 3
    # the parameters compared are still the ones the reference compared
    assert [d["key"] for d in fresh["parameter_diff"]] == [d["key"] for d in ref["parameter_diff"]]
