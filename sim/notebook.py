"""Results in a notebook: DataFrames, a short ``repr`` and an HTML view (headline table and survival curve).

Mixins for :class:`sim.results.RunResult` and :class:`sim.comparison.Comparison`, kept apart from the
statistics so those classes stay small. pandas is an optional dependency (``pip install ".[notebook]"``):
it is imported only when a ``*_frame()`` method is called.

    >>> import sim
    >>> r = sim.run(sim.load_scenario("idlib_2020_moscow"), runs=2000)
    >>> r                    # RunResult(idlib_2020_moscow: 2,000 runs, seed 0, 60 months; P(collapse by 24) = ...)
    >>> r.to_frame()         # one row per replication, the columns of runs.csv
    >>> r.survival_frame()   # month, survival, ci_low, ci_high
"""

from __future__ import annotations

import html
import io

NOTEBOOK_EXTRA = 'pip install ".[notebook]"'


def require_pandas():
    """The pandas module, or an ImportError that says how to install it."""
    try:
        import pandas
    except ImportError:
        raise ImportError(f"DataFrames need pandas, an optional dependency of ceasefire-sim: {NOTEBOOK_EXTRA} "
                          "(or pip install pandas)") from None
    return pandas


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _svg(fig) -> str:
    """A matplotlib figure as inline SVG text (no XML prologue), the figure closed."""
    from sim.plots import _pyplot
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]


def _headline(result) -> tuple[str, str]:
    """(the headline month's key, its estimate) of a run: 24 months if within the horizon, else the horizon."""
    p = result.p_collapse()
    key = "24" if "24" in p else list(p)[-1]
    return key, p[key]["estimate"]


class RunNotebook:
    """DataFrames and notebook display of a :class:`sim.results.RunResult`."""

    def to_frame(self):
        """One row per replication, with the columns of ``runs.csv`` (``replication`` as a column)."""
        pd = require_pandas()
        from sim.rng import BLOCK_SIZE
        r = self.simulation.replications
        import numpy as np
        index = np.arange(len(r))
        data = {"replication": index, "collapsed": r.collapsed.astype(bool), "months_to_collapse": r.months,
                "initiator": r.initiator_labels().astype(str), "trigger": r.trigger_labels().astype(str),
                "block": index // BLOCK_SIZE, "block_offset": index % BLOCK_SIZE}
        data.update({k: v for k, v in r.incidents.items()})
        return pd.DataFrame(data)

    def survival_frame(self):
        """The Kaplan-Meier curve by month: ``month, survival, ci_low, ci_high`` (``survival.csv``)."""
        pd = require_pandas()
        return pd.DataFrame(self.survival_table(), columns=["month", "survival", "ci_low", "ci_high"])

    def __repr__(self) -> str:
        key, est = _headline(self)
        return (f"{type(self).__name__}({self.scenario.name}: {self.runs:,} runs, seed {self.simulation.seed}, "
                f"{self.horizon_months:g} months; P(collapse by {key}) = {_pct(est)})")

    def headline_rows(self) -> list[tuple[str, str]]:
        rows = [(f"P(collapse by {k} months)", f"{_pct(v['estimate'])} [{_pct(v['ci_low'])}, {_pct(v['ci_high'])}]")
                for k, v in self.p_collapse().items()]
        med = self.median_months()
        rows.append(("median months to collapse", "beyond the horizon" if med is None else f"{med:.1f}"))
        rows.append(("initiators", ", ".join(f"{k} {_pct(v)}" for k, v in self.initiator_share().items()) or "none"))
        rows.append(("triggers", ", ".join(f"{k} {_pct(v)}" for k, v in self.trigger_share().items()) or "none"))
        return rows

    def _repr_html_(self) -> str:
        from sim.plots import report_survival_figure
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>"
                       for a, b in self.headline_rows())
        fig = report_survival_figure([(self.scenario.name, self.survival_table())],
                                     f"{self.scenario.name}: survival of the ceasefire ({self.runs:,} runs)")
        return (f"<div class='ceasefire-run'><p><strong>{html.escape(self.scenario.name)}</strong>: "
                f"{self.runs:,} runs, seed {self.simulation.seed}, horizon {self.horizon_months:g} months "
                f"(95% confidence intervals)</p><table>{body}</table>{_svg(fig)}</div>")


class ComparisonNotebook:
    """DataFrames and notebook display of a :class:`sim.comparison.Comparison`."""

    def to_frame(self):
        """Both scenarios' replications, one row per (role, replication): ``role`` ('base' or 'other'),
        ``scenario``, then the columns of ``runs.csv``. Replication i of both roles drew the same random
        numbers (common random numbers), so ``pivot`` on ``replication`` gives the paired data."""
        pd = require_pandas()
        frames = []
        for role, result in (("base", self.base), ("other", self.other)):
            f = result.to_frame()
            f.insert(0, "scenario", result.scenario.name)
            f.insert(0, "role", role)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def differences_frame(self):
        """The headline differences (other minus base): one row per outcome with estimate and 95% CI."""
        pd = require_pandas()
        d = self.as_dict()["differences"]
        rows = [{"outcome": f"p_collapse_by_{k}", **{x: v[x] for x in ("estimate", "ci_low", "ci_high")}}
                for k, v in d["p_collapse"].items()]
        rows.append({"outcome": "rmst_months", **{x: d["rmst"][x] for x in ("estimate", "ci_low", "ci_high")}})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        key = self.main_key
        d = self.p_collapse[key].difference
        return (f"{type(self).__name__}({self.other.scenario.name} vs {self.base.scenario.name}: "
                f"{self.base.runs:,} paired runs; P(collapse by {key}) difference {100 * d.estimate:+.1f} points "
                f"[{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}])")

    def _repr_html_(self) -> str:
        from sim.plots import report_survival_figure
        rows = []
        for k, v in self.p_collapse.items():
            d = v.difference
            rows.append((f"P(collapse by {k} months)", _pct(self.base.p_collapse().get(k, {}).get("estimate")),
                         _pct(self.other.p_collapse().get(k, {}).get("estimate")),
                         f"{100 * d.estimate:+.1f} [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}] points"))
        r = self.rmst
        rows.append(("mean months holding (RMST)", "", "",
                     f"{r.difference.estimate:+.2f} [{r.difference.ci_low:+.2f}, {r.difference.ci_high:+.2f}]"))
        head = "".join(f"<th>{html.escape(h)}</th>" for h in
                       ("", self.base.scenario.name, self.other.scenario.name, "difference (95% CI)"))
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        fig = report_survival_figure([(self.base.scenario.name, self.base.survival_table()),
                                      (self.other.scenario.name, self.other.survival_table())],
                                     f"{self.other.scenario.name} vs {self.base.scenario.name} "
                                     f"({self.base.runs:,} paired runs)")
        first = self.tests["time_to_collapse"]
        return (f"<div class='ceasefire-comparison'><p>Paired comparison on common random numbers; the other "
                f"scenario collapses first in {first['other_first']:,} pairs, the base in {first['base_first']:,} "
                f"(sign test p = {first['p_value']:.3g})</p><table><tr>{head}</tr>{body}</table>{_svg(fig)}</div>")
