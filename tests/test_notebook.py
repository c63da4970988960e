"""The notebook API: DataFrames, short reprs, the HTML view, sim.variant/save/report, and the example
notebook under examples/, executed cell by cell in-process (no nbconvert)."""

from __future__ import annotations

import ast
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.store import RUNS_HEADER

REPO = Path(__file__).resolve().parents[1]
MOSCOW = REPO / "scenarios" / "idlib_2020_moscow.toml"
pandas = pytest.importorskip("pandas", reason='the notebook API needs pandas: pip install ".[notebook]"')


@pytest.fixture(scope="module")
def pair():
    moscow = sim.load_scenario(MOSCOW)
    cooler = sim.variant(moscow, {"actors.russia.interest_in_guarantor": 0.4}, name="russia_cools")
    [c] = sim.compare(moscow, [cooler], runs=300, seed=2, jobs=1, horizon_months=24)
    return c


def test_run_frames_hold_what_the_files_hold(pair, tmp_path):
    result = pair.base
    frame = result.to_frame()
    assert list(frame.columns) == RUNS_HEADER and len(frame) == 300
    out = sim.save(result, tmp_path / "r")
    with open(out / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["collapsed"]) for r in rows] == frame["collapsed"].astype(int).tolist()
    np.testing.assert_allclose([float(r["months_to_collapse"]) for r in rows], frame["months_to_collapse"], rtol=1e-5)
    assert [r["initiator"] for r in rows] == frame["initiator"].tolist()
    surv = result.survival_frame()
    assert list(surv.columns) == ["month", "survival", "ci_low", "ci_high"] and len(surv) == 25
    assert surv["survival"].tolist() == [row[1] for row in result.survival_table()]
    # P(collapse by 24) from the frame agrees with the summary (no censoring before the horizon)
    assert frame["collapsed"].mean() == pytest.approx(result.p_collapse()["24"]["estimate"])


def test_reprs_are_short_and_html_has_table_and_figure(pair):
    text = repr(pair.base)
    assert len(text) < 200 and text.startswith("RunResult(idlib_2020_moscow: 300 runs, seed 2, 24 months")
    assert f"{100 * pair.base.p_collapse()['24']['estimate']:.1f}%" in text
    assert len(repr(pair)) < 250 and repr(pair).startswith("Comparison(russia_cools vs idlib_2020_moscow")
    for page in (pair.base._repr_html_(), pair._repr_html_()):
        assert "<table>" in page and "<svg" in page and "P(collapse by 24 months)" in page


def test_comparison_frames(pair):
    frame = pair.to_frame()
    assert list(frame.columns[:2]) == ["role", "scenario"] and len(frame) == 600
    assert set(frame["scenario"]) == {"idlib_2020_moscow", "russia_cools"}
    wide = frame.pivot(index="replication", columns="role", values="collapsed")
    d = pair.as_dict()["differences"]["p_collapse"]["24"]["estimate"]
    assert (wide["other"].astype(int) - wide["base"].astype(int)).mean() == pytest.approx(d)
    diffs = pair.differences_frame().set_index("outcome")
    assert diffs.loc["p_collapse_by_24", "ci_low"] == pytest.approx(pair.as_dict()["differences"]["p_collapse"]["24"]["ci_low"])
    assert diffs.loc["rmst_months", "estimate"] == pytest.approx(pair.as_dict()["differences"]["rmst"]["estimate"])


def test_without_pandas_the_error_says_what_to_install(pair, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    for call in (pair.base.to_frame, pair.base.survival_frame, pair.to_frame):
        with pytest.raises(ImportError, match=r'pip install "\.\[notebook\]"'):
            call()


def test_variant_changes_only_what_it_is_told_and_checks_it():
    moscow = sim.load_scenario("idlib_2020_moscow")            # a bundled name
    v = sim.variant(moscow, {"actors.russia.interest_in_guarantor": 0.4}, name="cool")
    assert v.name == "cool" and v.actors["russia"].interest_in_guarantor == 0.4
    from sim.scenario import diff
    assert [k for k, _, _ in diff(moscow, v)] == ["actors.russia.interest_in_guarantor", "name"]
    with pytest.raises(sim.InputError, match="did you mean 'interest_in_guarantor'"):
        sim.variant(moscow, {"actors.russia.interest_in_guarantr": 0.4})
    with pytest.raises(sim.InputError, match="above the maximum 1"):
        sim.variant(moscow, {"actors.russia.interest_in_guarantor": 1.4})


def test_save_and_report(pair, tmp_path):
    out = sim.save(pair, tmp_path / "c")
    assert (out / "comparison.json").is_file() and (out / "base" / "runs.csv").is_file()
    assert (out / "other" / "runs.csv").is_file() and (out / "datadictionary.csv").is_file()
    page = sim.report(out)
    assert page == out / "report.html" and page.is_file()
    import sim.report as module                              # still the module, and still callable
    assert module is sim.report and callable(module.write_report)
    with pytest.raises(TypeError, match="RunResult, a Comparison or a SweepResult"):
        sim.save({"not": "a result"}, tmp_path / "x")


def test_sweep_result_frame_is_outcomes_csv(tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text(f'name = "e"\nscenario = "{MOSCOW.as_posix()}"\nsampler = "latin"\npoints = 8\nreplications = 20\n'
                   f'horizon_months = 12\noutcomes = ["p_collapse", "p_initiated_by:regime"]\n\n'
                   f'[factors.d]\npath = "actors.turkey.deterrence"\nlow = 0.2\nhigh = 1.0\n')
    res = sim.sweep(exp, tmp_path / "s", jobs=1)
    assert repr(res).startswith("SweepResult(e: 8 points x 20 replications, sampler latin")
    assert res["outcomes"] is res.analysis["outcomes"]     # indexing gives the analysis, as before
    frame = res.to_frame()
    with open(tmp_path / "s" / "outcomes.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(frame.columns) == list(rows[0])
    assert "p_initiated_by_regime_ci_low" in frame.columns
    np.testing.assert_allclose(frame["p_collapse"], [float(r["p_collapse"]) for r in rows], rtol=1e-5)
    copy = sim.save(res, tmp_path / "copy")
    assert (copy / "outcomes.csv").read_bytes() == (tmp_path / "s" / "outcomes.csv").read_bytes()
    assert not (copy / "checkpoint.jsonl").exists()


def test_example_notebook_runs(tmp_path, monkeypatch):
    """Every code cell of examples/quickstart.ipynb, in order, in one namespace (as a kernel would)."""
    nb = json.loads((REPO / "examples" / "quickstart.ipynb").read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 5
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        assert not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()), "no magics"
        tree = ast.parse(source, filename=f"quickstart.ipynb cell {i}")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"quickstart.ipynb cell {i}", "exec"), namespace)
        if last is not None:  # the cell's displayed value, evaluated as Jupyter would
            value = eval(compile(ast.Expression(last.value), f"quickstart.ipynb cell {i}", "eval"), namespace)
            if hasattr(value, "_repr_html_"):
                value._repr_html_()
    # the notebook ran ≤ 2,000 replications per scenario and wrote its comparison and report
    assert namespace["result"].runs <= 2000
    assert (tmp_path / "results" / "notebook" / "russia_cools" / "report.html").is_file()
