"""``report.html``: one self-contained page per result directory, for readers who never run a command.

The page is built from the files in the directory only (the model is never re-run). It needs no
network: inline CSS, figures as inline SVG (matplotlib, text drawn as paths, so no font is fetched),
no script. A PNG copy of every figure is written to ``DIR/figures/<name>.png`` for slides.

Kinds of result directory, detected from their files:

* run: ``manifest.json``, ``summary.json``, ``survival.csv`` (and ``runs.csv``, ``timeseries.csv``);
* compare: ``comparison.json`` with ``base/`` and ``other/`` run files;
* sweep: ``sensitivity.json``, ``design.csv``, ``outcomes.csv``, ``manifest.json``;
* calibration: ``calibration.json`` (and ``posterior.csv``), as ``ceasefire calibrate`` writes them;
* backtest: ``backtest.json`` (optionally ``manifest.json``), at least::

      {"cases": [{"name": str, "observed_months": float, "observed_initiator": str,
                  "predicted": {"survival": [[month, S], ...],          # predicted P(still holding)
                                "p_collapse": {"<month>": p, ...},      # P(collapse by month)
                                "median_months": float | null},         # ("median" is accepted too)
                  "observed_percentile": float}, ...],                  # optional: PIT of the observation
       "scores": {"<forecast>": {"brier": {"<month>": x}, "log": x, "crps": x}, ...},
       "reference_forecasts": {"<forecast>": "what it is"}}             # optional

  which is what :meth:`sim.calibration.CalibrationResult.backtest` returns.

Every headline number in the page is a ``<span data-key="json.path" data-source="file.json"
data-format="pct">`` so tests (and readers' tools) can check it against the JSON it came from; the
formats are in :data:`FORMATS`.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sim import store
from sim.experiment import outcome_column  # sweep CSV columns of named outcomes
from sim.params import field_info
from sim.plots import INDEX_COLUMNS, PALETTE
from sim.resultfiles import check_main_file, damaged_if_unreadable, read_json_object
from sim.schema import ROLE_CLASSES, CrossTheatreTension, Dynamics, Economy, OtherFronts

REPORT_NAME = "report.html"
FIGURE_DIR = "figures"
PROCESS_CLASSES = {"cross_theatre_tension": CrossTheatreTension, "economy": Economy, "other_fronts": OtherFronts}
REPO = Path(__file__).resolve().parents[1]


class NotAResultDirectory(ValueError):
    pass


# --- number formats: the text a data-key element shows for its JSON value -----------------------

FORMATS: dict[str, Callable[[float], str]] = {
    "pct": lambda x: f"{100 * x:.1f}%",          # a probability or share
    "pp": lambda x: f"{100 * x:+.1f}",           # a difference of probabilities, in percentage points
    "months": lambda x: f"{x:.1f}",              # a duration in months
    "num1": lambda x: f"{x:.1f}",                # any other number, one decimal
    "signed": lambda x: f"{x:+.2f}",             # a signed difference in months
    "index": lambda x: f"{x:.3f}",               # a sensitivity index or score
    "p": lambda x: f"{x:.3g}",                   # a p-value
    "int": lambda x: f"{int(x):,}",              # a count
}


def fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return FORMATS[kind](value)


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


# --- entry points --------------------------------------------------------------------------------

def detect_kind(directory: Path) -> str:
    d = Path(directory)
    if (d / "comparison.json").is_file():
        return "compare"
    if (d / "sensitivity.json").is_file():
        return "sweep"
    if (d / "backtest.json").is_file():
        return "backtest"
    if (d / "calibration.json").is_file():
        return "calibration"
    if (d / "summary.json").is_file() and (d / "manifest.json").is_file():
        return "run"
    raise NotAResultDirectory(
        f"{d}: not a result directory (expected summary.json and manifest.json, comparison.json, "
        f"sensitivity.json, backtest.json or calibration.json)")


def build_report(directory: Path) -> str:
    """The HTML text of the report of a result directory (figures inline; nothing written)."""
    return _render(Path(directory), png=False).html


def write_report(directory: Path) -> Path:
    """Write ``DIR/figures/<name>.png`` and then ``DIR/report.html``; return the report's path."""
    directory = Path(directory)
    page = _render(directory, png=True)
    for name, data in page.pngs.items():
        store.write_bytes_atomic(directory / FIGURE_DIR / f"{name}.png", data)
    path = directory / REPORT_NAME
    store.write_text_atomic(path, page.html)
    return path


def open_report(path: Path) -> bool:
    import webbrowser
    return webbrowser.open(Path(path).resolve().as_uri())


# --- reading the directory -----------------------------------------------------------------------

def _json(path: Path) -> Any:
    return read_json_object(path)  # a damaged file: one message naming it (sim.resultfiles)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def survival_rows(path: Path) -> list[tuple[float, float, float, float]]:
    return [(_float(r["month"]), _float(r["survival"]), _float(r["ci_low"]), _float(r["ci_high"]))
            for r in _csv(path)]


def hazard_by_month(rows: list[tuple[float, float, float, float]]) -> tuple[list[float], list[float]]:
    """1 - S(m)/S(m-1): the share of ceasefires holding at the start of month m that collapse in it."""
    months, hazard = [], []
    for prev, cur in zip(rows, rows[1:]):
        months.append(cur[0])
        hazard.append(1.0 - cur[1] / prev[1] if prev[1] > 0 else math.nan)
    return months, hazard


# --- the page being built ------------------------------------------------------------------------

@dataclass
class _Page:
    directory: Path
    png: bool
    title: str = ""
    kind_label: str = ""
    sections: list[tuple[str, str, str]] = field(default_factory=list)   # (id, heading, html)
    figures: int = 0
    pngs: dict[str, bytes] = field(default_factory=dict)
    html: str = ""

    def num(self, value: Any, key: str, kind: str, source: str) -> str:
        """A headline number, marked with the JSON path it came from."""
        return (f'<span class="num" data-key="{esc(key)}" data-source="{esc(source)}" data-format="{kind}">'
                f"{esc(fmt(value, kind))}</span>")

    def ci(self, est: dict, key: str, kind: str, source: str, unit: str = "") -> str:
        """'12.8% (95% CI 11.8% to 13.8%)' with each number marked."""
        text = self.num(est.get("estimate"), f"{key}.estimate", kind, source) + unit
        if est.get("ci_low") is not None and est.get("ci_high") is not None:
            text += (f" (95% CI {self.num(est['ci_low'], f'{key}.ci_low', kind, source)}{unit} to "
                     f"{self.num(est['ci_high'], f'{key}.ci_high', kind, source)}{unit})")
        return text

    def section(self, ident: str, heading: str, body: str) -> None:
        self.sections.append((ident, heading, body))

    def figure(self, fig, name: str, alt: str, caption: str) -> str:
        """Inline SVG (with alt text) plus caption; the PNG copy is kept for write_report."""
        import matplotlib.pyplot as plt
        self.figures += 1
        try:
            svg = _svg_text(fig, name, alt)
            if self.png:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
                self.pngs[name] = buf.getvalue()
        finally:
            plt.close(fig)
        link = f' <a href="{FIGURE_DIR}/{esc(name)}.png">PNG copy for slides</a>.'
        return (f'<figure id="fig-{esc(name)}">\n{svg}\n<figcaption><strong>Figure {self.figures}.</strong> '
                f"{caption}{link}</figcaption>\n</figure>")


def _svg_text(fig, name: str, alt: str) -> str:
    """The figure as an <svg> element for inline use: deterministic, ids prefixed per figure, alt text."""
    import matplotlib.pyplot as plt
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "ceasefire-sim"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    prefix = f"{name}-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    head_end = text.index(">") + 1
    head = text[:head_end].replace(
        "<svg ", f'<svg class="chart" role="img" aria-labelledby="{esc(prefix)}title" aria-label="{esc(alt)}" ', 1)
    return f'{head}\n <title id="{esc(prefix)}title">{esc(alt)}</title>{text[head_end:].rstrip()}'


def _render(directory: Path, png: bool) -> _Page:
    kind = detect_kind(directory)
    check_main_file(directory, kind)
    page = _Page(directory, png)
    with damaged_if_unreadable(directory, kind):
        {"run": _run_report, "compare": _compare_report, "sweep": _sweep_report,
         "backtest": _backtest_report, "calibration": _calibration_report}[kind](page)
    page.html = _document(page)
    return page


# --- pieces shared by the kinds --------------------------------------------------------------------

def _table(head: list[str], rows: list[list[str]], caption: str = "", row_classes: list[str] | None = None,
           row_header: bool = True, cls: str = "", widths: list[int] | None = None) -> str:
    """A table; cells are HTML already. The first cell of each row is a row header when row_header.
    ``widths``: column widths in percent (the table then has a fixed layout)."""
    out = [f'<div class="table-wrap"><table{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}'
           f'{" style=" + chr(34) + "table-layout: fixed; width: 100%" + chr(34) if widths else ""}>']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    if widths:
        out.append("<colgroup>" + "".join(f'<col style="width: {w}%">' for w in widths) + "</colgroup>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in head) + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        c = (row_classes or [""] * len(rows))[i]
        cells = []
        for j, cell in enumerate(row):
            if j == 0 and row_header:
                cells.append(f'<th scope="row">{cell}</th>')
            else:
                cells.append(f"<td>{cell}</td>")
        out.append(f'<tr{f" class={chr(34)}{c}{chr(34)}" if c else ""}>' + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _breakable(name: str) -> str:
    """An identifier that may wrap after its underscores."""
    return "_<wbr>".join(esc(p) for p in name.split("_"))


def _path(path: str) -> str:
    """A key path in <code>, breakable after its dots."""
    return "<code>" + "<wbr>".join(esc(p) + ("." if i < len(path.split(".")) - 1 else "")
                                   for i, p in enumerate(path.split("."))) + "</code>"


def _value_text(v: Any) -> str:
    if v is None:
        return '<span class="muted">not set</span>'
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return esc(f"{v:g}")
    if isinstance(v, list):
        return esc(", ".join(str(x) for x in v)) if v else '<span class="muted">none</span>'
    if isinstance(v, dict):
        return esc(", ".join(f"{k} = {x}" for k, x in v.items()))
    return esc(v)


def _numeric_fields(cls) -> list[str]:
    return [n for n, f in cls.model_fields.items() if (f.json_schema_extra or {}).get("unit")]


def _range_text(info: dict) -> str:
    lo, hi = info.get("minimum"), info.get("maximum")
    return "" if lo is None or hi is None else f"{lo:g} to {hi:g}"


def _parameter_specs(scenario: dict) -> list[tuple[str, str, str, type]]:
    """(group heading, key path, field name, schema class) of every numeric parameter."""
    specs = []
    for key, actor in (scenario.get("actors") or {}).items():
        cls = ROLE_CLASSES.get(actor.get("role"))
        if cls is None:
            continue
        group = f"{actor.get('label') or key} ({actor.get('role')}; actors.{key})"
        specs += [(group, f"actors.{key}.{n}", n, cls) for n in _numeric_fields(cls)]
    for pname, cls in PROCESS_CLASSES.items():
        group = f"{(cls.__doc__ or pname).strip().splitlines()[0].rstrip('.')} (processes.{pname})"
        specs += [(group, f"processes.{pname}.{n}", n, cls) for n in _numeric_fields(cls)]
    specs += [("Dynamics: global rates and thresholds (dynamics)", f"dynamics.{n}", n, Dynamics)
              for n in _numeric_fields(Dynamics)]
    return specs


def _get(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _parameter_tables(scenarios: list[tuple[str, dict]], highlight: set[str] | None = None,
                      highlight_label: str = "differs") -> str:
    """Every numeric parameter: value(s), scale, range, meaning, source claim; one table per group.

    With two scenarios, rows whose values differ are highlighted (and say so in words)."""
    specs: dict[str, tuple[str, str, type]] = {}
    for _, scen in scenarios:
        for group, path, name, cls in _parameter_specs(scen):
            specs.setdefault(path, (group, name, cls))
    groups: dict[str, list[str]] = {}
    for path, (group, _, _) in specs.items():
        groups.setdefault(group, []).append(path)
    out = []
    changed_total = 0
    for group, paths in groups.items():
        rows, classes = [], []
        for path in paths:
            _, name, cls = specs[path]
            info = field_info(cls, name)
            values = [_get(s, path) for _, s in scenarios]
            differs = len(scenarios) > 1 and any(v != values[0] for v in values[1:])
            marked = differs or (highlight is not None and path in highlight)
            changed_total += marked
            flag = f' <span class="flag">{esc(highlight_label)}</span>' if marked else ""
            rows.append([f"<code>{_breakable(name)}</code>{flag}", *(f'<span class="val">{_value_text(v)}</span>'
                                                               for v in values),
                         esc(info["unit"]), esc(_range_text(info)), esc(info["doc"]), esc(info["source"])])
            classes.append("changed" if marked else "")
        values_head = [esc(label) for label, _ in scenarios] if len(scenarios) > 1 else ["value"]
        head = ["parameter", *values_head, "scale (unit)", "allowed range", "what it means", "source claim"]
        widths = [16, 8, 17, 8, 29, 22] if len(scenarios) == 1 else [15, 7, 7, 15, 8, 27, 21]
        out.append(f"<h3>{esc(group)}</h3>")
        out.append(_table(head, rows, row_classes=classes, cls="params", widths=widths))
    return "\n".join(out)


def _events_table(scenarios: list[tuple[str, dict]]) -> str:
    keys: list[str] = []
    for _, s in scenarios:
        keys += [k for k in (s.get("events") or {}) if k not in keys]
    if not keys:
        return "<p>No scheduled events: the parameters stay as set for the whole horizon.</p>"
    rows, classes = [], []
    for key in keys:
        evs = [(s.get("events") or {}).get(key) for _, s in scenarios]
        cells = []
        for ev in evs:
            if ev is None:
                cells.append('<span class="muted">not in this scenario</span>')
                continue
            when = ev.get("at") if ev.get("at") else f"month {ev.get('month'):g}"
            changes = "; ".join(f"<code>{esc(k)}</code> = {esc(f'{v:g}' if isinstance(v, float) else v)}"
                                for k, v in (ev.get("set") or {}).items())
            cells.append(f"{esc(ev.get('label') or key)} <br><small>{esc(when)}</small>: {changes}")
        differs = len(evs) > 1 and any(e != evs[0] for e in evs[1:])
        rows.append([_path(key) + (' <span class="flag">differs</span>' if differs else ""), *cells])
        classes.append("changed" if differs else "")
    head = ["event", *((f"{esc(label)}" for label, _ in scenarios) if len(scenarios) > 1 else ["what and when"])]
    return _table(head, rows, row_classes=classes)


RELATION_KEYS = ("protects", "backs", "guarantor", "opposes", "needs_air_cover", "hosted_by", "supports")


def _actors_table(scen: dict) -> str:
    rows = []
    for key, a in (scen.get("actors") or {}).items():
        rel = []
        for k in RELATION_KEYS:
            if k in a and a[k] not in ("", None, []):
                rel.append(f"{k.replace('_', ' ')}: {_value_text(a[k])}")
        rows.append([f"<code>{esc(key)}</code>", esc(a.get("label", "")), esc(a.get("role", "")), "; ".join(rel)])
    return _table(["actor", "name", "role", "relations"], rows)


def _scenario_block(scen: dict, heading_level: int = 3, title: str | None = None) -> str:
    h = f"h{heading_level}"
    sources = scen.get("sources") or []
    src = ("<ul>" + "".join(f"<li><code>{esc(s)}</code></li>" for s in sources) + "</ul>") if sources else \
        '<p class="muted">No sources listed.</p>'
    return (f"<{h}>{esc(title or scen.get('name'))}</{h}>\n"
            f"<p>{esc(scen.get('description', ''))}</p>\n"
            f'<dl class="facts"><dt>Name</dt><dd><code>{esc(scen.get("name"))}</code></dd>'
            f"<dt>Start</dt><dd>{esc(scen.get('start'))}</dd>"
            f"<dt>Horizon in the file</dt><dd>{esc(scen.get('horizon_months'))} months</dd>"
            f"<dt>Time step</dt><dd>{esc(scen.get('step_days'))} days</dd></dl>\n"
            f"<p><strong>Sources</strong> (documents the values rest on):</p>{src}")


PROVENANCE_LABELS = {
    "package_version": "ceasefire-sim version", "git_commit": "git commit", "seed": "root seed", "runs": "replications",
    "horizon_months": "horizon (months)", "created_utc": "written (UTC)", "wall_seconds": "wall time (s)",
    "jobs": "worker processes", "block_size": "replications per seed block", "scenario_sha256": "scenario SHA-256",
    "scenario_name": "scenario", "command": "command", "python": "Python", "numpy": "NumPy", "scipy": "SciPy",
    "mesa": "Mesa", "platform": "platform", "cpu_count": "CPU cores", "role_in_comparison": "role in comparison",
    "experiment": "experiment", "experiment_file": "experiment file", "fingerprint": "experiment fingerprint",
    "points": "design points",
}


def _stamp(value: Any) -> str:
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", str(value or ""))
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]}:{m[6]} UTC" if m else str(value)


def _provenance(manifests: list[tuple[str, dict]]) -> str:
    keys: list[str] = []
    for _, m in manifests:
        keys += [k for k, v in m.items() if k not in keys and not isinstance(v, (dict, list))]
    rows = []
    for k in keys:
        cells = []
        for _, m in manifests:
            v = m.get(k)
            text = _stamp(v) if k == "created_utc" else ("" if v is None else str(v))
            cells.append(f"<code>{esc(text)}</code>" if k in ("git_commit", "scenario_sha256", "fingerprint",
                                                               "command") else esc(text))
        rows.append([esc(PROVENANCE_LABELS.get(k, k.replace("_", " "))), *cells])
    head = ["", *(esc(label) for label, _ in manifests)] if len(manifests) > 1 else ["", "value"]
    return ("<p>Everything needed to reproduce these results: run the same command with the same version "
            "(git commit) and seed; results are identical for any number of worker processes.</p>"
            + _table(head, rows, cls="prov"))


def _actor_label(scen: dict | None, key: str) -> str:
    actors = (scen or {}).get("actors") or {}
    if key in actors:
        return actors[key].get("label") or key
    m = re.fullmatch(r"clash:([^-]+)-(.+)", key)
    if m:
        return f"direct clash {_actor_label(scen, m[1])} - {_actor_label(scen, m[2])}"
    return key


def _trigger_label(key: str) -> str:
    return key.replace("_", " ")


# --- run -----------------------------------------------------------------------------------------

VARIABLE_TEXT = {
    "tension": ("cross-theatre tension between patron and guarantor", "index 0-1"),
    "economic_stress": ("economic stress of sanctioned belligerents", "index 0-1 (1: collapse)"),
    "exhaustion": ("exhaustion of {}", "index 0-1"),
    "readiness": ("effective readiness of {}", "index 0-1"),
    "deterrence": ("deterrence by {}", "index 0-1"),
    "violations_per_month": ("violations across the line", "incidents per month"),
    "air_strikes_per_month": ("air strikes by the patron", "strikes per month"),
    "spoiler_attacks_per_month": ("spoiler attacks on joint patrols", "attacks per month"),
}


def _variable_text(name: str, scen: dict) -> tuple[str, str]:
    if name in VARIABLE_TEXT:
        return VARIABLE_TEXT[name]
    head, _, who = name.partition(".")
    if head in VARIABLE_TEXT:
        title, unit = VARIABLE_TEXT[head]
        return title.format(_actor_label(scen, who)), unit
    return name.replace("_", " "), "per month" if name.endswith("_per_month") else "value"


def _fan_panels(path: Path, scen: dict) -> list[tuple[str, str, list]]:
    by_var: dict[str, list] = {}
    for r in _csv(path):
        by_var.setdefault(r["variable"], []).append(
            (_float(r["month"]), *(_float(r[q]) for q in ("q05", "q25", "q50", "q75", "q95"))))
    order = ["tension", "economic_stress", "exhaustion.", "readiness.", "deterrence.", "violations_per_month",
             "air_strikes_per_month", "spoiler_attacks_per_month"]

    def rank(name):
        for i, p in enumerate(order):
            if name == p or (p.endswith(".") and name.startswith(p)):
                return (i, name)
        return (len(order), name)
    panels = []
    for name in sorted(by_var, key=rank):
        title, unit = _variable_text(name, scen)
        panels.append((title, unit, sorted(by_var[name])))
    return panels


def _run_files(d: Path) -> dict:
    return {"summary": _json(d / "summary.json"), "manifest": _json(d / "manifest.json"),
            "survival": survival_rows(d / "survival.csv") if (d / "survival.csv").is_file() else []}


def _run_report(page: _Page) -> None:
    from sim import plots
    d = page.directory
    data = _run_files(d)
    s, m, surv = data["summary"], data["manifest"], data["survival"]
    scen = m.get("scenario") or {}
    src = "summary.json"
    name = s.get("scenario") or m.get("scenario_name")
    h = s["horizon_months"]
    page.title = f"Will the ceasefire hold? {name}"
    page.kind_label = "Monte Carlo run"
    months = list(s["p_collapse"])

    page.section("question", "The question", (
        f"<p class=\"lead\">How likely is the ceasefire described below to collapse within "
        f"{esc(', '.join(months[:-1]))} and {esc(months[-1])} months, who would break it, and what would "
        f"trigger the collapse?</p>"
        f"<p>The model played the scenario {page.num(s['runs'], 'runs', 'int', src)} times (replications), "
        f"week by week, for {esc(f'{h:g}')} months each, with different random draws. Every figure below is a "
        f"share of those replications, given with its 95% confidence interval: the range that would contain "
        f"the figure from an unlimited number of replications 95 times in 100. The interval measures the "
        f"simulation's noise only, not doubt about the scenario's assumptions; the parameter table below lists "
        f"those assumptions and the claims they rest on.</p>"
        + _scenario_block(scen, 3, f"The scenario: {scen.get('name', name)}")))

    sentences = []
    for k in months:
        sentences.append(f"<li>P(collapse within {esc(k)} months): "
                         f"{page.ci(s['p_collapse'][k], f'p_collapse.{k}', 'pct', src)}</li>")
    med = s.get("median_months_to_collapse")
    if med is None:
        sentences.append(f"<li>Median time to collapse: beyond the {h:g}-month horizon (more than half of the "
                         f"replications still held at the horizon).</li>")
    else:
        sentences.append(f"<li>Median time to collapse: "
                         f"{page.num(med, 'median_months_to_collapse', 'months', src)} months.</li>")
    sentences.append(f"<li>Mean months the ceasefire holds within the {h:g}-month horizon: "
                     f"{page.ci(s['rmst_months'], 'rmst_months', 'months', src)}.</li>")
    init = s.get("initiator_share") or {}
    if init:
        parts = [f"{esc(_actor_label(scen, k))} {page.num(v, f'initiator_share.{k}', 'pct', src)}"
                 for k, v in sorted(init.items(), key=lambda kv: -kv[1])]
        sentences.append(f"<li>Who broke it: of the {page.num(s['collapsed'], 'collapsed', 'int', src)} "
                         f"collapses, {', '.join(parts)}.</li>")
        trig = s.get("trigger_share") or {}
        if trig:
            top = max(trig, key=trig.get)
            sentences.append(f"<li>Most frequent trigger: {esc(_trigger_label(top))} "
                             f"({page.num(trig[top], f'trigger_share.{top}', 'pct', src)} of collapses).</li>")
    else:
        sentences.append(f"<li>No replication collapsed within {h:g} months.</li>")
    rows = [[f"within {esc(k)} months",
             *(page.num(s["p_collapse"][k][part], f"p_collapse.{k}.{part}", "pct", src)
               for part in ("estimate", "ci_low", "ci_high"))] for k in months]
    rows.append([f"mean months holding (of {h:g})",
                 *(page.num(s["rmst_months"][part], f"rmst_months.{part}", "months", src)
                   for part in ("estimate", "ci_low", "ci_high"))])
    table = _table(["P(collapse)", "estimate", "95% CI low", "95% CI high"], rows,
                   caption=f"Headline figures from {s['runs']:,} replications")
    shares = [[esc(_actor_label(scen, k)) + f" <small><code>{esc(k)}</code></small>",
               page.num(v, f"initiator_share.{k}", "pct", src)] for k, v in sorted(init.items(), key=lambda kv: -kv[1])]
    shares_table = (_table(["initiator", "share of collapses"], shares, caption="Who broke the ceasefire")
                    if shares else "")
    trig_rows = [[esc(_trigger_label(k)), page.num(v, f"trigger_share.{k}", "pct", src)]
                 for k, v in sorted((s.get("trigger_share") or {}).items(), key=lambda kv: -kv[1])]
    trig_table = _table(["trigger", "share of collapses"], trig_rows, caption="What triggered the collapse") \
        if trig_rows else ""
    page.section("headline", "Headline figures",
                 f'<ul class="sentences">{"".join(sentences)}</ul>{table}'
                 f'<div class="two">{shares_table}{trig_table}</div>')

    figs = []
    if surv:
        last = surv[-1]
        figs.append(page.figure(
            plots.report_survival_figure([(name, surv)], f"{name}: survival of the ceasefire"),
            "survival",
            f"Survival curve: the probability that the ceasefire still holds, by month, with its 95% band. It falls "
            f"from 100% at the start to {100 * last[1]:.1f}% (95% CI {100 * last[2]:.1f}% to {100 * last[3]:.1f}%) "
            f"at month {last[0]:g}.",
            f"Share of the {s['runs']:,} replications in which the ceasefire still holds, month by month "
            f"(Kaplan-Meier estimate), with its 95% confidence band (shaded)."))
        hm, hz = hazard_by_month(surv)
        finite = [(mm, v) for mm, v in zip(hm, hz) if math.isfinite(v)]
        peak = max(finite, key=lambda t: t[1]) if finite else (0, 0.0)
        figs.append(page.figure(
            plots.hazard_figure(hm, hz, f"{name}: risk of collapse month by month"),
            "hazard",
            f"Bar chart of the monthly risk of collapse: of the ceasefires still holding at the start of each month, "
            f"the share that collapse during it. The highest is {100 * peak[1]:.2f}% in month {peak[0]:g}.",
            "Monthly hazard, 1 - S(m)/S(m-1) from the survival curve: how dangerous each month is for a ceasefire "
            "that has lasted until then."))
    if init:
        top = max(init, key=init.get)
        figs.append(page.figure(
            plots.shares_figure([(name, {_actor_label(scen, k): v for k, v in init.items()})],
                                f"{name}: who broke the ceasefire", "share of the collapses, %"),
            "initiators",
            f"Bar chart of who started the collapse, as shares of the {s['collapsed']:,} collapses; the largest is "
            f"{_actor_label(scen, top)} with {100 * init[top]:.1f}%.",
            f"Initiator of the collapse, as a share of the {s['collapsed']:,} replications that collapsed within "
            f"{h:g} months."))
        trig = s.get("trigger_share") or {}
        if trig:
            top = max(trig, key=trig.get)
            figs.append(page.figure(
                plots.shares_figure([(name, {_trigger_label(k): v for k, v in trig.items()})],
                                    f"{name}: what triggered the collapse", "share of the collapses, %"),
                "triggers",
                f"Bar chart of the proximate triggers of collapse; the most frequent is {_trigger_label(top)} with "
                f"{100 * trig[top]:.1f}% of collapses.",
                "Proximate trigger of each collapse, as a share of the collapses."))
    if (d / "timeseries.csv").is_file():
        panels = _fan_panels(d / "timeseries.csv", scen)
        if panels:
            figs.append(page.figure(
                plots.fan_figure(panels, f"{name}: state of the conflict while the ceasefire holds"),
                "state",
                f"Fan charts of {len(panels)} state variables by month ({', '.join(p[0] for p in panels)}): "
                f"median line with the middle 50% and 90% of replications shaded.",
                "Fan charts: month by month, the median (line), the middle 50% (dark band) and the middle 90% "
                "(light band) across the replications <em>still holding</em> at that month. Late months rest on "
                "fewer replications. Monthly counts (violations, strikes, attacks) alternate with the number of "
                "weekly steps in a month (four or five)."))
    page.section("figures", "Figures", "\n".join(figs))
    page.section("parameters", "Parameters",
                 "<p>Every numeric parameter of the scenario as it was run (after inheritance), with its scale, the "
                 "range the schema allows, its meaning and the claim of the source documents it stands for.</p>"
                 + "<h3>Actors</h3>" + _actors_table(scen)
                 + _parameter_tables([(name, scen)])
                 + "<h3>Scheduled events</h3>" + _events_table([(name, scen)]))
    page.section("provenance", "Provenance", _provenance([("run", {k: v for k, v in m.items() if k != "scenario"})]))


# --- compare -------------------------------------------------------------------------------------

def _verdict(diff: dict, higher: str, lower: str, same: str) -> str:
    est, lo, hi = diff.get("estimate"), diff.get("ci_low"), diff.get("ci_high")
    if est == 0 and lo == 0 and hi == 0:
        return "no difference in any replication"
    if lo is not None and lo > 0:
        return higher
    if hi is not None and hi < 0:
        return lower
    return same


def _compare_report(page: _Page) -> None:
    from sim import plots
    d = page.directory
    c = _json(d / "comparison.json")
    src = "comparison.json"
    runs = {role: _run_files(d / role) for role in ("base", "other") if (d / role / "summary.json").is_file()}
    scen = {role: (runs[role]["manifest"].get("scenario") or {}) for role in runs}
    bname, oname = c["scenarios"]["base"]["name"], c["scenarios"]["other"]["name"]
    h = c["horizon_months"]
    page.title = f"{oname} compared with {bname}"
    page.kind_label = "Paired comparison of two scenarios"
    diffs = c["differences"]["p_collapse"]
    months = list(diffs)

    pdiff = c.get("parameter_diff") or []
    diff_rows = [[_path(r["key"]), _value_text(r.get("base")), _value_text(r.get("other"))] for r in pdiff]
    diff_html = (_table(["key path", f"base: {esc(bname)}", f"other: {esc(oname)}"], diff_rows,
                        caption=f"What differs between the two scenarios ({len(pdiff)} keys after inheritance)",
                        widths=[36, 32, 32])
                 if pdiff else "<p>The two scenarios have identical parameters after inheritance.</p>")
    blocks = "".join(_scenario_block(scen.get(role) or c["scenarios"][role], 3,
                                     f"{'Base' if role == 'base' else 'Other'}: {c['scenarios'][role]['name']}")
                     for role in ("base", "other"))
    page.section("question", "The question", (
        f"<p class=\"lead\">Does the ceasefire last longer or shorter under <strong>{esc(oname)}</strong> than "
        f"under <strong>{esc(bname)}</strong>, and by how much?</p>"
        f"<p>Both scenarios were played {page.num(c['runs'], 'runs', 'int', src)} times for {h:g} months on "
        f"<em>common random numbers</em>: replication <em>i</em> of each scenario draws the same dice for the same "
        f"random events, so the differences below come from the scenarios, not from chance. Differences are "
        f"<em>other minus base</em>, in percentage points, with paired 95% confidence intervals "
        f"({esc(c.get('stopping', {}).get('reason', ''))}).</p>"
        + blocks + "<h3>What differs</h3>" + diff_html))

    sentences, rows = [], []
    for k in months:
        pa, pb, dd = c["p_collapse"]["base"].get(k, {}), c["p_collapse"]["other"].get(k, {}), diffs[k]
        verdict = _verdict(dd, f"higher under {oname}, beyond the noise", f"lower under {oname}, beyond the noise",
                           "no difference distinguishable from the noise")
        sentences.append(
            f"<li>P(collapse within {esc(k)} months): {page.ci(pb, f'p_collapse.other.{k}', 'pct', src)} under "
            f"{esc(oname)}, against {page.ci(pa, f'p_collapse.base.{k}', 'pct', src)} under {esc(bname)}. "
            f"Difference: {page.ci(dd, f'differences.p_collapse.{k}', 'pp', src, '')} points; {esc(verdict)}.</li>")
        rows.append([f"within {esc(k)} months",
                     page.num(pa.get("estimate"), f"p_collapse.base.{k}.estimate", "pct", src),
                     page.num(pb.get("estimate"), f"p_collapse.other.{k}.estimate", "pct", src),
                     page.num(dd["estimate"], f"differences.p_collapse.{k}.estimate", "pp", src),
                     page.num(dd["ci_low"], f"differences.p_collapse.{k}.ci_low", "pp", src) + " to "
                     + page.num(dd["ci_high"], f"differences.p_collapse.{k}.ci_high", "pp", src)])
    r = c["differences"]["rmst"]
    verdict = _verdict(r, f"lasts longer under {oname}", f"collapses sooner under {oname}", "lasts about as long")
    sentences.append(f"<li>Mean months holding within {h:g} months: the ceasefire {esc(verdict)} "
                     f"({page.ci(r, 'differences.rmst', 'signed', src)} months).</li>")
    rows.append([f"mean months holding (of {h:g})", "", "",
                 page.num(r["estimate"], "differences.rmst.estimate", "signed", src),
                 page.num(r["ci_low"], "differences.rmst.ci_low", "signed", src) + " to "
                 + page.num(r["ci_high"], "differences.rmst.ci_high", "signed", src)])
    med = c["differences"]["median"]

    def med_text(role):
        v = med.get(f"{role}_median")
        return (page.num(v, f"differences.median.{role}_median", "months", src) + " months") if v is not None \
            else f"beyond the {h:g}-month horizon"
    sentences.append(f"<li>Median time to collapse: {med_text('other')} under {esc(oname)}, {med_text('base')} under "
                     f"{esc(bname)}.</li>")
    if c.get("logrank_p") is not None:
        sentences.append(f"<li>Log-rank test that the two survival curves are the same: p = "
                         f"{page.num(c['logrank_p'], 'logrank_p', 'p', src)}.</li>")
    it = c.get("initiator_test") or {}
    if it.get("p_value") is not None:
        sentences.append(f"<li>Who breaks it differs between the scenarios with chi-square p = "
                         f"{page.num(it['p_value'], 'initiator_test.p_value', 'p', src)}.</li>")
    vr = c.get("variance_reduction") or {}
    if vr.get("width_ratio"):
        sentences.append(f"<li>Pairing on common random numbers made the headline interval "
                         f"{1 / vr['width_ratio']:.1f} times narrower than independent runs would have.</li>")
    table = _table(["P(collapse)", esc(bname), esc(oname), "difference (points)", "95% CI (points)"], rows,
                   caption="Headline figures; differences are other minus base")
    page.section("headline", "Headline figures", f'<ul class="sentences">{"".join(sentences)}</ul>{table}')

    figs = []
    if "base" in runs and "other" in runs:
        sb, so = runs["base"]["survival"], runs["other"]["survival"]
        figs.append(page.figure(
            plots.report_survival_figure([(bname, sb), (oname, so)], "Survival of the ceasefire under both scenarios"),
            "survival_compare",
            f"Two survival curves with 95% bands. At month {sb[-1][0]:g} the ceasefire still holds in "
            f"{100 * sb[-1][1]:.1f}% of replications under {bname} and {100 * so[-1][1]:.1f}% under {oname}.",
            f"Share of replications in which the ceasefire still holds, by month: {esc(bname)} (solid) and "
            f"{esc(oname)} (dashed), each with its 95% band."))
    mnum = [float(k) for k in months]
    last = diffs[months[-1]]
    figs.append(page.figure(
        plots.difference_figure(mnum, [diffs[k]["estimate"] for k in months], [diffs[k]["ci_low"] for k in months],
                                [diffs[k]["ci_high"] for k in months],
                                "Paired difference in P(collapse by month): other minus base",
                                "difference in P(collapse), percentage points"),
        "difference",
        f"Line with a 95% band of the paired difference in the probability of collapse by month 6, 12, 24 and the "
        f"horizon; by month {months[-1]} it is {100 * last['estimate']:+.1f} points (95% CI "
        f"{100 * last['ci_low']:+.1f} to {100 * last['ci_high']:+.1f}).",
        "Paired difference in P(collapse by month), other minus base, in percentage points, with its 95% "
        "confidence interval (band and error bars). Above zero: collapse is more likely under the other scenario."))
    if it.get("base_share") is not None or it.get("other_share") is not None:
        bs, os_ = it.get("base_share") or {}, it.get("other_share") or {}
        figs.append(page.figure(
            plots.shares_figure([(bname, {_actor_label(scen.get("base"), k): v for k, v in bs.items()}),
                                 (oname, {_actor_label(scen.get("other"), k): v for k, v in os_.items()})],
                                "Who broke the ceasefire, side by side", "share of the collapses, %"),
            "initiators_compare",
            "Grouped bar chart of who started the collapse under each scenario: "
            + "; ".join(f"{_actor_label(scen.get('base'), k)} {100 * bs.get(k, 0):.1f}% vs {100 * os_.get(k, 0):.1f}%"
                        for k in sorted(set(bs) | set(os_), key=lambda k: -max(bs.get(k, 0), os_.get(k, 0)))) + ".",
            f"Initiator of the collapse as a share of each scenario's collapses: {esc(bname)} (plain bars) and "
            f"{esc(oname)} (hatched)."))
    if "base" in runs and "other" in runs:
        tb, to = runs["base"]["summary"].get("trigger_share") or {}, runs["other"]["summary"].get("trigger_share") or {}
        if tb or to:
            figs.append(page.figure(
                plots.shares_figure([(bname, {_trigger_label(k): v for k, v in tb.items()}),
                                     (oname, {_trigger_label(k): v for k, v in to.items()})],
                                    "What triggered the collapse, side by side", "share of the collapses, %"),
                "triggers_compare",
                "Grouped bar chart of the proximate triggers of collapse under each scenario.",
                "Proximate trigger as a share of each scenario's collapses (from base/summary.json and "
                "other/summary.json)."))
    page.section("figures", "Figures", "\n".join(figs))

    both = [("base", scen.get("base") or {}), ("other", scen.get("other") or {})]
    n_changed = sum(1 for _, p, _, _ in _parameter_specs(both[0][1]) if _get(both[0][1], p) != _get(both[1][1], p))
    actors = ("<h3>Actors</h3>" + _actors_table(both[0][1])) if (both[0][1].get("actors") == both[1][1].get("actors")) \
        else ("<h3>Actors: " + esc(bname) + "</h3>" + _actors_table(both[0][1]) + "<h3>Actors: " + esc(oname)
              + "</h3>" + _actors_table(both[1][1]))
    page.section("parameters", "Parameters",
                 f"<p>Every numeric parameter of both scenarios as run (<em>base</em>: {esc(bname)}; <em>other</em>: "
                 f"{esc(oname)}). Rows marked <span class=\"flag\">differs</span>"
                 f" (highlighted) have different values: {n_changed} numeric parameter(s) at the start; scheduled "
                 f"events that differ are marked the same way below.</p>" + actors
                 + _parameter_tables(both) + "<h3>Scheduled events</h3>" + _events_table(both))
    mans = [(f"{role}: {name}", {k: v for k, v in runs[role]["manifest"].items() if k != "scenario"})
            for role, name in (("base", bname), ("other", oname)) if role in runs]
    stop = c.get("stopping") or {}
    page.section("provenance", "Provenance",
                 _provenance(mans) + f"<p>Stopping rule: {esc(stop.get('reason', ''))}; {c['runs']:,} paired "
                 f"replications, seed {esc(c.get('seed'))}.</p>")


# --- sweep ---------------------------------------------------------------------------------------

def outcome_label(outcome: str, horizon: float, scen: dict | None = None) -> str:
    if outcome == "p_collapse":
        return f"P(collapse within {horizon:g} months)"
    if outcome == "rmst":
        return f"mean months holding (of {horizon:g})"
    m = re.fullmatch(r"p_collapse_by_(\d+(?:\.\d+)?)", outcome)
    if m:
        return f"P(collapse within {float(m[1]):g} months)"
    if outcome.startswith("p_initiated_by:"):
        return f"P(collapse started by {_actor_label(scen, outcome.split(':', 1)[1])} within {horizon:g} months)"
    if outcome.startswith("initiator_share:"):
        return f"share of collapses started by {_actor_label(scen, outcome.split(':', 1)[1])}"
    return outcome


METHOD_TEXT = {
    "src": "standardised regression coefficients (SRC): how many standard deviations the outcome moves per "
           "standard deviation of the factor, the others held fixed; the sign gives the direction",
    "sobol": "Sobol' indices: the share of the outcome's variance due to the factor alone (S1) and with its "
             "interactions (ST)",
    "morris": "Morris elementary effects: mu* is the mean absolute change in the outcome over the factor's range, "
              "sigma the spread of those changes (interactions or non-linearity)",
}


def _sweep_scenario(manifest: dict) -> tuple[dict | None, str]:
    """The resolved base scenario of a sweep: from the manifest, or from its files if they are unchanged."""
    if isinstance(manifest.get("scenario"), dict):
        return manifest["scenario"], "as recorded in manifest.json"
    exp_file = manifest.get("experiment_file")
    rel = (manifest.get("experiment_definition") or {}).get("scenario")
    if not exp_file or not rel:
        return None, "the manifest does not name the experiment file"
    from sim.scenario import load_scenario, resolved_dict
    for cand in dict.fromkeys([Path(exp_file), REPO / exp_file]):
        try:
            text = cand.read_text(encoding="utf-8")
            scenario = load_scenario(cand.parent / rel)
        except Exception:  # noqa: BLE001 - a missing or changed file: no table, said in words
            continue
        fp = hashlib.sha256((text + json.dumps(scenario.model_dump(mode="json"), sort_keys=True)).encode()).hexdigest()
        if fp == manifest.get("fingerprint"):
            return resolved_dict(scenario), (f"read from {os.path.normpath(cand.parent / rel)}, unchanged since "
                                             f"the sweep (checked against the sweep's fingerprint)")
        return None, (f"{cand.parent / rel} or the experiment file changed since the sweep ran, so its current "
                      f"values are not shown")
    return None, f"the experiment file {exp_file} is not found from here"


def _factor_class(path: str, scen: dict | None):
    parts = path.split(".")
    if parts[0] == "dynamics" and len(parts) == 2:
        return Dynamics
    if parts[0] == "processes" and len(parts) == 3:
        return PROCESS_CLASSES.get(parts[1])
    if parts[0] == "actors" and len(parts) == 3:
        role = (((scen or {}).get("actors") or {}).get(parts[1]) or {}).get("role")
        if role:
            return ROLE_CLASSES.get(role)
        owners = [c for c in ROLE_CLASSES.values() if parts[2] in c.model_fields]
        return owners[0] if len(owners) == 1 else None
    return None


def _sweep_report(page: _Page) -> None:
    from sim import plots
    import numpy as np
    d = page.directory
    sens = _json(d / "sensitivity.json")
    manifest = _json(d / "manifest.json") if (d / "manifest.json").is_file() else {}
    definition = manifest.get("experiment_definition") or {}
    src = "sensitivity.json"
    names = list(sens["factors"])
    outcome = sens["analysed_outcome"]
    h = sens["horizon_months"]
    scen, scen_note = _sweep_scenario(manifest)
    olabel = outcome_label(outcome, h, scen)
    percent = outcome != "rmst"
    axis_label = f"{olabel}, %" if percent else olabel
    res = sens["outcomes"][outcome]
    method = res["method"]
    page.title = f"Which factor matters most? {sens['experiment']}"
    page.kind_label = "Sensitivity sweep"

    ftab = []
    for fname, f in sens["factors"].items():
        cls = _factor_class(f["path"], scen)
        field_name = f["path"].split(".")[-1]
        info = field_info(cls, field_name) if cls is not None and field_name in cls.model_fields else {}
        base_value = _get(scen, f["path"]) if scen else None
        dist = f.get("distribution", "uniform")
        if dist == "triangular":
            dist += f" (mode {f.get('mode'):g})"
        elif dist == "truncnormal":
            dist += f" (mean {f.get('mean'):g}, sd {f.get('sd'):g})"
        ftab.append([f"<code>{esc(fname)}</code>", _path(f["path"]),
                     f"{f['low']:g} to {f['high']:g}, {esc(dist)}",
                     _value_text(base_value) if scen else '<span class="muted">not recorded</span>',
                     esc(info.get("unit", "")), esc(_range_text(info)) if info else "",
                     esc(f.get("source", "")), esc(info.get("source", ""))])
    factors_html = _table(["factor", "parameter", "range swept", "value in the base scenario", "scale (unit)",
                           "allowed range", "source of the range", "parameter's source claim"], ftab,
                          caption="The factors varied", cls="params", widths=[13, 17, 12, 9, 14, 8, 11, 16])
    scen_html = _scenario_block(scen, 3, f"Base scenario: {scen.get('name')}") if scen else (
        f"<h3>Base scenario: {esc(manifest.get('scenario_name', ''))}</h3><p class=\"muted\">Its description and "
        f"parameters are not shown: {esc(scen_note)}.</p>")
    question = sens.get("question") or definition.get("question") or (
        f"Which of {', '.join(names)} moves {olabel} most?")
    page.section("question", "The question", (
        f"<p class=\"lead\">{esc(question)}</p>"
        + (f"<p>{esc(definition.get('description'))}</p>" if definition.get("description") else "")
        + f"<p>The sweep ran the base scenario at {page.num(sens['points'], 'points', 'int', src)} combinations of "
        f"the factors below (sampler: {esc(sens['sampler'])}), each "
        f"{page.num(sens['replications_per_point'], 'replications_per_point', 'int', src)} times for {h:g} months "
        f"(seed {esc(sens.get('seed'))}); everything not varied stays as in the base scenario. "
        f"{page.num(sens.get('failed_points', 0), 'failed_points', 'int', src)} point(s) failed and are left out. "
        f"The analysis uses {esc(METHOD_TEXT.get(method, method))}, with 95% bootstrap confidence intervals.</p>"
        + factors_html + scen_html))

    cols = INDEX_COLUMNS.get(method, []) + ([("sigma", "Morris sigma")] if method == "morris" else [])
    sentences = []
    for rank, i in enumerate(res["ranking"], 1):
        f = res["factors"][i]
        parts = []
        for key, label in cols:
            if f.get(key) is None:
                parts.append(f"{esc(key)} n/a")
                continue
            est = {"estimate": f[key], "ci_low": f.get(f"{key}_ci_low"), "ci_high": f.get(f"{key}_ci_high")}
            base = f"outcomes.{outcome}.factors.{i}"
            text = page.num(est["estimate"], f"{base}.{key}", "index", src)
            if est["ci_low"] is not None and est["ci_high"] is not None:
                text += (f" (95% CI {page.num(est['ci_low'], f'{base}.{key}_ci_low', 'index', src)} to "
                         f"{page.num(est['ci_high'], f'{base}.{key}_ci_high', 'index', src)})")
            else:
                text += " (no confidence interval: too few points to bootstrap)"
            parts.append(f"{esc(key)} {text}")
        sentences.append(f"<li>{rank}. <code>{esc(names[i])}</code>: {'; '.join(parts)}.</li>")
    out_rows = _csv(d / "outcomes.csv") if (d / "outcomes.csv").is_file() else []
    y = np.array([_float(r.get(outcome_column(outcome))) if r.get("status") == "ok" else np.nan for r in out_rows])
    values = np.array([[_float(r.get(n)) for n in names] for r in out_rows]) if out_rows else np.zeros((0, len(names)))
    if (d / "design.csv").is_file():
        design = _csv(d / "design.csv")
        if len(design) == len(out_rows):
            values = np.array([[_float(r.get(n)) for n in names] for r in design])
    fmt_o = (lambda v: f"{100 * v:.1f}%") if percent else (lambda v: f"{v:.1f} months")
    extra = []
    if np.isfinite(y).any():
        lo_i, hi_i = int(np.nanargmin(y)), int(np.nanargmax(y))

        def at(i):
            return ", ".join(f"{n} = {values[i, k]:.3g}" for k, n in enumerate(names))
        extra.append(f"<li>Across the points, {esc(olabel)} ranges from {fmt_o(y[lo_i])} ({esc(at(lo_i))}) to "
                     f"{fmt_o(y[hi_i])} ({esc(at(hi_i))}).</li>")
    if res.get("r_squared") is not None:
        extra.append(f"<li>A linear fit on the factors explains "
                     f"{page.num(res['r_squared'], f'outcomes.{outcome}.r_squared', 'pct', src)} of the variance of "
                     f"the outcome across points (R²).</li>")
    if res.get("noise_share") is not None:
        extra.append(f"<li>Replication noise accounts for "
                     f"{page.num(res['noise_share'], f'outcomes.{outcome}.noise_share', 'pct', src)} of that "
                     f"variance.</li>")
    trows = []
    for oname_, ores in sens["outcomes"].items():
        ocols = INDEX_COLUMNS.get(ores["method"], [])
        for i, f in enumerate(ores["factors"]):
            cells = []
            for key, _ in ocols:
                base = f"outcomes.{oname_}.factors.{i}"
                if f.get(key) is None:
                    cells.append("n/a")
                    continue
                cell = f"{esc(key)} {page.num(f[key], f'{base}.{key}', 'index', src)}"
                if f.get(f"{key}_ci_low") is not None and f.get(f"{key}_ci_high") is not None:
                    cell += (f" [{page.num(f[f'{key}_ci_low'], f'{base}.{key}_ci_low', 'index', src)}, "
                             f"{page.num(f[f'{key}_ci_high'], f'{base}.{key}_ci_high', 'index', src)}]")
                cells.append(cell)
            rank = ores["ranking"].index(i) + 1 if i in ores["ranking"] else ""
            trows.append([esc(outcome_label(oname_, h, scen)) + f" <small><code>{esc(oname_)}</code></small>",
                          f"<code>{esc(f.get('name', names[i]))}</code>", str(rank), "; ".join(cells)])
    table = _table(["outcome", "factor", "rank", "index [95% CI]"], trows,
                   caption="Sensitivity of every outcome to every factor")
    page.section("headline", "Headline figures",
                 f"<p>Ranking of the factors by their effect on <strong>{esc(olabel)}</strong>:</p>"
                 f'<ul class="sentences">{"".join(sentences)}{"".join(extra)}</ul>{table}')

    figs = []
    top = names[res["ranking"][0]] if res["ranking"] else names[0]
    if method is not None:
        figs.append(page.figure(
            plots.index_figure(res["factors"], names, method, olabel, f"{sens['experiment']}: which factor matters most"),
            "indices",
            f"Horizontal bar chart of the sensitivity indices of {olabel} for {len(names)} factors with 95% bootstrap "
            f"intervals; the most influential factor is {top}.",
            f"Sensitivity indices of {esc(olabel)} ({esc(method)}), with 95% bootstrap confidence intervals."))
    ok = np.isfinite(y)
    if ok.any() and values.shape[0] == y.size:
        swings = []
        for i, n in enumerate(names):
            x = values[:, i]
            lo_cut, hi_cut = np.quantile(x[ok], [0.2, 0.8])
            lo = float(np.mean(y[ok & (x <= lo_cut)])) if (ok & (x <= lo_cut)).any() else math.nan
            hi = float(np.mean(y[ok & (x >= hi_cut)])) if (ok & (x >= hi_cut)).any() else math.nan
            swings.append((n, lo, hi))
        swings.sort(key=lambda t: -abs(t[2] - t[1]) if math.isfinite(t[2] - t[1]) else 0)
        centre = float(np.mean(y[ok]))
        s0 = swings[0]
        figs.append(page.figure(
            plots.tornado_figure(swings, centre, axis_label, f"{sens['experiment']}: tornado (conditional means)",
                                 percent),
            "tornado",
            f"Tornado chart: mean {olabel} with each factor in its lowest and highest fifth, around the overall mean "
            f"{fmt_o(centre)}; the widest swing is {s0[0]}, from {fmt_o(s0[1])} to {fmt_o(s0[2])}.",
            f"Mean {esc(olabel)} over the points where the factor is in the lowest fifth of its range (plain bars) "
            f"and in its highest fifth (hatched bars), against the mean over all points (vertical line); factors "
            f"sorted by the width of their swing."))
        if sens["sampler"] == "grid" and len(names) in (1, 2):
            low = np.array([_float(r.get(f"{outcome_column(outcome)}_ci_low")) for r in out_rows])
            high = np.array([_float(r.get(f"{outcome_column(outcome)}_ci_high")) for r in out_rows])
            labels = [f"{n} ({_unit_of(sens['factors'][n]['path'], scen)})" for n in names]
            if len(names) == 2:
                alt = (f"Heat map of {olabel} over a {len(np.unique(values[:, 0]))} by "
                       f"{len(np.unique(values[:, 1]))} grid of {names[0]} (horizontal) and {names[1]} (vertical); "
                       f"values from {fmt_o(np.nanmin(y))} to {fmt_o(np.nanmax(y))}.")
                cap = (f"{esc(olabel)} at each grid point (colour, viridis scale; numbers in the cells"
                       f"{' in %' if percent else ''}).")
            else:
                alt = (f"Line chart of {olabel} against {names[0]}, with its 95% band; from {fmt_o(y[0])} to "
                       f"{fmt_o(y[-1])}.")
                cap = f"{esc(olabel)} against {esc(names[0])}, with the 95% confidence interval at each point."
            figs.append(page.figure(
                plots.grid_figure(values, y, low, high, names, labels, axis_label,
                                  f"{sens['experiment']}: {olabel}", percent),
                "grid", alt, cap))
        else:
            figs.append(page.figure(
                plots.partial_dependence_figure(values, y, [f"{n} ({_unit_of(sens['factors'][n]['path'], scen)})"
                                                            for n in names], axis_label,
                                                f"{sens['experiment']}: partial dependence", percent),
                "partial_dependence",
                f"Partial dependence of {olabel} on each of the {len(names)} factors: the mean outcome in five "
                f"quantile bins of each factor.",
                f"Partial dependence: mean {esc(olabel)} in five bins of each factor, averaged over the others."))
    page.section("figures", "Figures", "\n".join(figs))

    if scen:
        varied = {f["path"] for f in sens["factors"].values()}
        body = (f"<p>Every numeric parameter of the base scenario, {esc(scen_note)}. Rows marked "
                f"<span class=\"flag\">varied</span> (highlighted) are the factors of this sweep; their value here "
                f"is the base value, replaced at each point by the design's value.</p>"
                + "<h3>Actors</h3>" + _actors_table(scen)
                + _parameter_tables([(scen.get("name", "base"), scen)], highlight=varied, highlight_label="varied")
                + "<h3>Scheduled events</h3>" + _events_table([(scen.get("name", "base"), scen)]))
    else:
        body = (f"<p>The sweep's files do not record the base scenario's full parameter table, and it could not be "
                f"recovered: {esc(scen_note)}. The factors and their ranges are in the table above.</p>")
    page.section("parameters", "Parameters", body)
    prov = {k: v for k, v in manifest.items() if k not in ("experiment_definition", "scenario")}
    if prov:
        prov.update({"seed": sens.get("seed"), "replications per point": sens.get("replications_per_point"),
                     "horizon_months": sens.get("horizon_months"), "sampler": sens.get("sampler")})
    page.section("provenance", "Provenance", _provenance([("sweep", prov)]) if prov else
                 "<p class=\"muted\">No manifest.json in this directory.</p>")


def _unit_of(path: str, scen: dict | None) -> str:
    cls = _factor_class(path, scen)
    name = path.split(".")[-1]
    if cls is None or name not in cls.model_fields:
        return "value"
    return field_info(cls, name)["unit"] or "value"


# --- backtest ------------------------------------------------------------------------------------

FORECAST_TEXT = {"model": "the model (fitted without the case)", "base_rate": "literature base rate",
                 "other_cases": "the other cases' durations"}


def _backtest_report(page: _Page) -> None:
    from sim import plots
    d = page.directory
    bt = _json(d / "backtest.json")
    manifest = bt.get("manifest") if isinstance(bt.get("manifest"), dict) else (
        _json(d / "manifest.json") if (d / "manifest.json").is_file() else {})
    src = "backtest.json"
    cases = bt.get("cases") or []
    scores = bt.get("scores") or {}
    page.title = "How well would the model have forecast past ceasefires?"
    page.kind_label = "Backtest (leave one out)"
    refs = bt.get("reference_forecasts") or {}
    ref_html = ("<ul>" + "".join(f"<li><strong>{esc(FORECAST_TEXT.get(k, k))}</strong>: {esc(v)}</li>"
                                 for k, v in refs.items()) + "</ul>") if refs else ""
    page.section("question", "The question", (
        f"<p class=\"lead\">Had the model been fitted on the other past ceasefires only, how well would it have "
        f"forecast how long each of these {len(cases)} ceasefires held?</p>"
        f"<p>For each case the model's free rates were fitted without it (leave one out), then the case was "
        f"simulated and its predicted survival curve compared with the duration actually observed. The scores "
        f"compare the model with simple reference forecasts: lower Brier, log and CRPS scores are better.</p>"
        + ref_html))

    months = []
    for cse in cases:
        months += [k for k in (cse.get("predicted", {}).get("p_collapse") or {}) if k not in months]
    sentences, rows = [], []
    for i, cse in enumerate(cases):
        pred = cse.get("predicted") or {}
        mkey = "median_months" if "median_months" in pred else "median"
        med = pred.get(mkey)
        med_text = (page.num(med, f"cases.{i}.predicted.{mkey}", "months", src) + " months") if med is not None \
            else "beyond the horizon"
        pit = cse.get("observed_percentile")
        pit_text = (f"; the observed duration fell at the "
                    f"{page.num(pit, f'cases.{i}.observed_percentile', 'pct', src)} point of the predicted "
                    f"distribution") if pit is not None else ""
        sentences.append(
            f"<li><code>{esc(cse['name'])}</code>: held "
            f"{page.num(cse['observed_months'], f'cases.{i}.observed_months', 'months', src)} months (ended by "
            f"{esc(cse.get('observed_initiator', '?'))}); predicted median {med_text}{pit_text}.</li>")
        pc = pred.get("p_collapse") or {}
        ishare = pred.get("initiator_share") or {}
        who = cse.get("observed_initiator")
        rows.append([f"<code>{esc(cse['name'])}</code>",
                     page.num(cse["observed_months"], f"cases.{i}.observed_months", "months", src),
                     esc(who or "") + (" (predicted " + page.num(ishare[who], f"cases.{i}.predicted.initiator_share.{who}",
                                                                 "pct", src) + ")" if who in ishare else ""), med_text,
                     *(page.num(pc[k], f"cases.{i}.predicted.p_collapse.{k}", "pct", src) if k in pc else "n/a"
                       for k in months),
                     page.num(pit, f"cases.{i}.observed_percentile", "pct", src) if pit is not None else "n/a"])
    case_table = _table(["case", "observed months", "ended by (predicted share)", "predicted median",
                         *(f"P(collapse within {esc(k)} months)" for k in months), "observed percentile"], rows,
                        caption="Each case: what happened and what the model predicted without it")
    srows, bmonths = [], []
    for s in scores.values():
        bmonths += [k for k in (s.get("brier") or {}) if k not in bmonths]
    for fname, s in scores.items():
        srows.append([esc(FORECAST_TEXT.get(fname, fname)),
                      *(page.num(s["brier"][k], f"scores.{fname}.brier.{k}", "index", src)
                        if k in (s.get("brier") or {}) else "n/a" for k in bmonths),
                      page.num(s.get("log"), f"scores.{fname}.log", "index", src),
                      page.num(s.get("crps"), f"scores.{fname}.crps", "index", src)])
    score_table = _table(["forecast", *(f"Brier, {esc(k)} months" for k in bmonths), "log score", "CRPS (months)"],
                         srows, caption="Mean scores over the cases (lower is better)")
    if scores:
        parts = [f"{esc(FORECAST_TEXT.get(k, k))} {page.num(s.get('crps'), f'scores.{k}.crps', 'index', src)}"
                 for k, s in scores.items()]
        sentences.append(f"<li>Mean CRPS (error of the whole predicted distribution, in months; lower is better): "
                         f"{', '.join(parts)}.</li>")
    page.section("headline", "Headline figures",
                 f'<ul class="sentences">{"".join(sentences)}</ul>{case_table}{score_table}')
    figs = []
    if cases:
        within = sum(1 for c in cases if c.get("observed_percentile") is not None
                     and 0.05 <= c["observed_percentile"] <= 0.95)
        figs.append(page.figure(
            plots.backtest_figure(cases, "Predicted survival and observed duration, case by case"),
            "backtest",
            f"{len(cases)} small charts, one per past ceasefire, each with the predicted survival curve and a dashed "
            f"line at the observed duration; {within} of {len(cases)} observations fall within the central 90% of "
            f"their prediction.",
            "For each case, the predicted probability that the ceasefire still holds (fitted without that case) and "
            "the duration actually observed (dashed line)."))
    page.section("figures", "Figures", "\n".join(figs))
    fitted = [(c["name"], (c.get("fit_without_case") or {}).get("parameters") or {}) for c in cases]
    pnames: list[str] = []
    for _, p in fitted:
        pnames += [k for k in p if k not in pnames]
    if pnames:
        crow = [[f"without <code>{esc(n)}</code>",
                 *(esc(f"{p[pn]:.4g}") if isinstance(p.get(pn), (int, float)) else _value_text(p.get(pn))
                   for pn in pnames)] for n, p in fitted]
        prow = []
        for pn in pnames:
            info = field_info(Dynamics, pn) if pn in Dynamics.model_fields else {}
            prow.append([_path(f"dynamics.{pn}") if info else f"<code>{esc(pn)}</code>", esc(info.get("unit", "")),
                         esc(_range_text(info)) if info else "", esc(info.get("doc", "")), esc(info.get("source", ""))])
        page.section("parameters", "Parameters",
                     "<p>The free global rates fitted without each case (posterior mode); every other parameter is "
                     "the case's own, from its scenario file.</p>"
                     + _table(["fit", *(f"<code>{esc(pn)}</code>" for pn in pnames)], crow,
                              caption="Fitted values, leaving out one case at a time")
                     + _table(["parameter", "scale (unit)", "allowed range", "what it means", "source claim"], prow,
                              caption="What the fitted rates are", cls="params", widths=[20, 20, 9, 29, 22]))
    else:
        page.section("parameters", "Parameters", "<p class=\"muted\">The backtest file records no fitted parameters."
                     "</p>")
    prov = {k: v for k, v in manifest.items() if not isinstance(v, (dict, list))}
    page.section("provenance", "Provenance", _provenance([("backtest", prov)]) if prov else
                 "<p class=\"muted\">No manifest.json in this directory.</p>")


# --- calibration ---------------------------------------------------------------------------------

def _calibration_report(page: _Page) -> None:
    from sim import plots
    d = page.directory
    cal = _json(d / "calibration.json")
    src = "calibration.json"
    params = cal.get("parameters") or {}
    cases = cal.get("cases") or []
    diag = cal.get("diagnostics") or {}
    page.title = f"Fitting the model to past ceasefires: {cal.get('name', '')}"
    page.kind_label = "Calibration"
    names = ", ".join(c["name"] for c in cases)
    page.section("question", "The question", (
        f"<p class=\"lead\">Which values of the model's free global rates make the {len(cases)} past ceasefires "
        f"({esc(names)}) most likely to have lasted as long as they did, and ended as they did?</p>"
        f"<p>{page.num(cal.get('points'), 'points', 'int', src)} candidate sets of rates were drawn from the prior "
        f"ranges below (a Latin hypercube); every case was simulated "
        f"{page.num(cal.get('replications'), 'replications', 'int', src)} times at each set, on common random "
        f"numbers, for {_float(cal.get('horizon_months')):g} months. Each set is weighted by how likely it makes the "
        f"observed durations and initiators (posterior weights); the fitted value is the best set (posterior mode), "
        f"with a 90% interval from the weights. Every other parameter is each case's own, from its scenario file."
        f"</p>"))
    sentences, rows = [], []
    for key, p in params.items():
        info = field_info(Dynamics, key) if key in Dynamics.model_fields else {}
        unit = info.get("unit", "")
        sentences.append(f"<li><code>{esc(p.get('path', key))}</code>: "
                         f"{page.num(p.get('map'), f'parameters.{key}.map', 'index', src)} {esc(unit)} (90% interval "
                         f"{page.num(p.get('q05'), f'parameters.{key}.q05', 'index', src)} to "
                         f"{page.num(p.get('q95'), f'parameters.{key}.q95', 'index', src)}).</li>")
        prior = p.get("prior") or [None, None, ""]
        rows.append([_path(p.get("path", key)), page.num(p.get("map"), f"parameters.{key}.map", "index", src),
                     page.num(p.get("q05"), f"parameters.{key}.q05", "index", src),
                     page.num(p.get("q95"), f"parameters.{key}.q95", "index", src),
                     esc(f"{prior[0]:g} to {prior[1]:g}, {prior[2]}") if prior[0] is not None else "",
                     esc(unit), esc(info.get("doc", "")), esc(info.get("source", ""))])
    if diag.get("effective_sample_size") is not None:
        sentences.append(f"<li>Effective sample size of the posterior: "
                         f"{page.num(diag['effective_sample_size'], 'diagnostics.effective_sample_size', 'num1', src)}"
                         f" of {cal.get('points')} design points (small values mean the design covers the "
                         f"posterior thinly); the largest single weight is "
                         f"{page.num(diag.get('max_weight'), 'diagnostics.max_weight', 'pct', src)}.</li>")
    for i, c in enumerate(cases):
        pred = c.get("predicted") or {}
        mkey = "median_months" if "median_months" in pred else "median"
        med = pred.get(mkey)
        sentences.append(
            f"<li><code>{esc(c['name'])}</code>: held "
            f"{page.num(c['observed_months'], f'cases.{i}.observed_months', 'months', src)} months; fitted model's median "
            + ((page.num(med, f"cases.{i}.predicted.{mkey}", "months", src) + " months") if med is not None
               else "beyond the horizon")
            + (", observed duration at the "
               + page.num(c["observed_percentile"], f"cases.{i}.observed_percentile", "pct", src)
               + " point of the prediction" if c.get("observed_percentile") is not None else "") + ".</li>")
    table = _table(["parameter", "fitted (mode)", "90% low", "90% high", "prior range", "scale (unit)",
                    "what it means", "source claim"], rows, caption="Fitted global rates", cls="params",
                   widths=[17, 8, 8, 8, 11, 14, 18, 16])
    page.section("headline", "Headline figures", f'<ul class="sentences">{"".join(sentences)}</ul>{table}')
    figs = []
    if (d / "posterior.csv").is_file() and params:
        post = _csv(d / "posterior.csv")
        panels = []
        for key, p in params.items():
            prior = p.get("prior") or [min(_float(r[key]) for r in post), max(_float(r[key]) for r in post), "linear"]
            info = field_info(Dynamics, key) if key in Dynamics.model_fields else {}
            panels.append({"name": p.get("path", key), "unit": info.get("unit", "value"),
                           "values": [_float(r[key]) for r in post], "weights": [_float(r["weight"]) for r in post],
                           "low": prior[0], "high": prior[1], "scale": prior[2], "map": p["map"], "q05": p["q05"],
                           "q95": p["q95"]})
        figs.append(page.figure(
            plots.posterior_figure(panels, "Posterior of the free rates over the prior ranges"), "posterior",
            f"{len(panels)} histograms, one per fitted rate, of the posterior weight across its prior range, with the "
            f"fitted value and its 90% interval; " + "; ".join(
                f"{pp['name']} {pp['map']:.3g} ({pp['q05']:.3g} to {pp['q95']:.3g})" for pp in panels) + ".",
            "Posterior weight of the design points over each free rate's prior range (log axis where the prior is "
            "log-uniform), the fitted value (dashed) and the 90% interval (shaded)."))
    if cases:
        figs.append(page.figure(
            plots.backtest_figure(cases, "Fitted model: predicted survival and observed duration, case by case",
                                  curve_label="predicted P(still holding), all cases in the fit"),
            "fit",
            f"{len(cases)} small charts, one per past ceasefire, each with the fitted model's predicted survival "
            f"curve and a dashed line at the observed duration.",
            "In-sample fit: each case's predicted probability that the ceasefire still holds, with every case used in "
            "the fit, and the duration actually observed (dashed). The backtest report gives the out-of-sample "
            "version."))
    page.section("figures", "Figures", "\n".join(figs))
    ll = diag.get("loglik_by_case_at_map") or {}
    page.section("parameters", "Parameters",
                 "<p>The fitted rates are in the headline table. Log-likelihood of each case at the fitted values "
                 "(higher is better; 0 is the most a case can give):</p>"
                 + _table(["case", "log-likelihood at the mode"],
                          [[f"<code>{esc(k)}</code>", esc(f"{v:.3f}")] for k, v in ll.items()])
                 + f"<p>Smoothing window of the likelihood: ±{esc(cal.get('window'))} in log time; seed "
                   f"{esc(cal.get('seed'))}.</p>")
    man = cal.get("manifest") if isinstance(cal.get("manifest"), dict) else {}
    prov = {k: v for k, v in man.items() if not isinstance(v, (dict, list))}
    prov.update({"seed": cal.get("seed"), "points": cal.get("points"), "replications": cal.get("replications"),
                 "horizon_months": cal.get("horizon_months")})
    page.section("provenance", "Provenance", _provenance([("calibration", prov)]))


# --- the document ----------------------------------------------------------------------------------

CSS = """
:root { --ink: #1a1a1a; --muted: #5f6368; --rule: #d0d4d9; --accent: @BLUE@; --flag: #fff1c7; --flagb: @ORANGE@; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #fff; line-height: 1.5; }
body { margin: 0 auto; max-width: 68rem; padding: 1.5rem 1.5rem 4rem; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 1rem; }
header .kind { text-transform: uppercase; letter-spacing: .08em; font-size: .8rem; color: var(--muted); margin: 0; }
h1 { font-size: 1.9rem; margin: .2rem 0 .8rem; line-height: 1.2; }
h2 { font-size: 1.45rem; margin-top: 2.4rem; border-bottom: 1px solid var(--rule); padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
nav ol { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; list-style: none; margin: 0 0 1rem; }
nav a { color: var(--accent); }
.lead { font-size: 1.15rem; font-weight: 600; }
.sentences li { margin: .25rem 0; }
.num { font-variant-numeric: tabular-nums; font-weight: 600; white-space: nowrap; }
.muted { color: var(--muted); }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: .88em;
       overflow-wrap: break-word; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.table-wrap { overflow-x: auto; margin: .8rem 0 1.2rem; }
table { border-collapse: collapse; font-size: .88rem; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); background: #f4f6f8; }
table.params td:nth-child(n+4) { font-size: .82rem; }
table.params td, table.params th { max-width: 26rem; }
table.params td { overflow-wrap: anywhere; }
tr.changed > * { background: var(--flag); }
tr.changed > th { border-left: 4px solid var(--flagb); }
.flag { display: inline-block; font-size: .72rem; font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
        border: 1px solid var(--flagb); border-radius: 3px; padding: 0 .25rem; background: var(--flag); }
.two { display: flex; flex-wrap: wrap; gap: 0 2rem; }
figure { margin: 1.6rem 0; padding: .8rem; border: 1px solid var(--rule); border-radius: 4px; }
figure svg.chart { display: block; width: 100%; max-width: 760px; height: auto; margin: 0 auto; }
figcaption { font-size: .9rem; margin-top: .5rem; color: #333; }
footer { margin-top: 3rem; font-size: .8rem; color: var(--muted); border-top: 1px solid var(--rule);
         padding-top: .6rem; }
@media print { body { max-width: none; } figure { break-inside: avoid; } nav { display: none; } }
""".replace("@BLUE@", PALETTE[0]).replace("@ORANGE@", PALETTE[4])


def _document(page: _Page) -> str:
    nav = "".join(f'<li><a href="#{ident}">{esc(head)}</a></li>' for ident, head, _ in page.sections)
    body = "\n".join(f'<section id="{ident}" aria-labelledby="{ident}-h">\n<h2 id="{ident}-h">{esc(head)}</h2>\n'
                     f"{content}\n</section>" for ident, head, content in page.sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ceasefire-sim">
<link rel="icon" href="data:,">
<title>{esc(page.title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<p class="kind">{esc(page.kind_label)} &middot; ceasefire-sim report</p>
<h1>{esc(page.title)}</h1>
<nav aria-label="Contents"><ol>{nav}</ol></nav>
</header>
<main>
{body}
</main>
<footer><p>Written by <code>ceasefire report</code> from the files of this directory; the model was not re-run.
Self-contained: no network access needed. Figures use the Okabe-Ito colour-blind-safe palette; PNG copies are in
<code>{FIGURE_DIR}/</code>.</p></footer>
</body>
</html>
"""
