"""The pages for readers: ``report.html`` (``report.ar.html`` in Arabic) and ``brief.pdf``.

This module only prepares data and renders: the pages are Jinja2 templates in ``sim/templates/``
(autoescaped), their words are in the gettext catalogs of ``sim/locale/`` (see :mod:`sim.i18n`), and
the figures are drawn by :mod:`sim.plots`. A page is built from the files of a result directory only
(the model is never re-run). It needs no network: inline CSS, figures as inline SVG (text drawn as
paths, so no font is fetched), no script. Each figure is drawn once: the same matplotlib figure gives
the inline SVG and the PNG copy in ``DIR/figures/<name>.png`` (``<name>.ar.png`` for Arabic).

Kinds of result directory, detected from their files:

* run: ``manifest.json``, ``summary.json``, ``survival.csv`` (and ``timeseries.csv``);
* compare: ``comparison.json`` with ``base/`` and ``other/`` run files;
* sweep: ``sensitivity.json``, ``design.csv``, ``outcomes.csv``, ``manifest.json``;
* calibration: ``calibration.json`` (and ``posterior.csv``), as ``ceasefire calibrate`` writes them;
* backtest: ``backtest.json`` (optionally ``manifest.json``), as ``ceasefire backtest`` writes it.

Optional fields are shown when present and left out gracefully when absent: credible intervals over
calibrated parameters (``credible_low``/``credible_high``), ranges over a scenario's uncertain
settings (``settings_low``/``settings_high``), the ``uncertainty`` object and ``fronts`` of a run, the
``attribution`` of a comparison, ``reproducibility`` of a calibration, ``coverage``,
``leave_one_conflict_out`` and ``cases[].conflict`` of a backtest.

Every headline number in the page is a ``<span data-key="json.path" data-source="file.json"
data-format="pct">`` so tests (and readers' tools) can check it against the JSON it came from; the
formats are :data:`sim.i18n.FORMATS` (with Arabic-Indic digits where asked: :func:`sim.i18n.to_western`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from sim import store
from sim.experiment import outcome_column  # sweep CSV columns of named outcomes
from sim.figure_drawing import FigureDrawings
from sim.i18n import DEFAULT_DIGITS, Lang, N_, pN_
from sim.resultfiles import check_main_file, damaged_if_unreadable, read_json_object

REPORT_NAME = "report.html"
FIGURE_DIR = "figures"
REPO = Path(__file__).resolve().parents[1]
DAYS_PER_MONTH = 365.25 / 12
JSON_FILE = {"run": "summary.json", "compare": "comparison.json", "sweep": "sensitivity.json",
             "backtest": "backtest.json", "calibration": "calibration.json"}
ESS_MIN = 50
"""Effective sample sizes below this are flagged: the posterior rests on too few design points."""
REPRODUCIBILITY_MAX = 0.5
"""A calibration whose fitted values move by more than half an interval's width between two seeds is flagged."""
SIZE_WORDS = ((0.02, N_("negligible")), (0.05, N_("small")), (0.15, N_("moderate")), (math.inf, N_("large")))
"""How a difference of probabilities is judged, by its size in percentage points: under 2 negligible,
2 to 5 small, 5 to 15 moderate, over 15 large (what matters to a reader, not a p-value)."""


class NotAResultDirectory(ValueError):
    pass


class BriefUnavailable(RuntimeError):
    """``--brief`` needs headless Chromium to print the PDF."""


def report_name(lang: str = "en") -> str:
    return REPORT_NAME if lang == "en" else f"report.{lang}.html"


def brief_name(lang: str = "en") -> str:
    return "brief.pdf" if lang == "en" else f"brief.{lang}.pdf"


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


def prepare(kind: str) -> None:
    """What the English page of ``kind`` needs whatever the results: matplotlib, the language's template
    environment with the page's templates compiled, the bibliography and the schema's tables. :func:`preload` does
    this in the background while a command's workers compute, so that the page can start drawing its figures at
    once instead of first compiling its templates."""
    from sim.plots import _pyplot
    _pyplot()
    env = _environment(Lang("en", DEFAULT_DIGITS))
    for name in ("macros.html", "base.html", "style.css", f"{kind}.html"):
        env.get_template(name)
    bibliography()
    _schema()


def preload(kind: str, executor) -> None:
    """:func:`prepare` in a background thread while ``executor``'s workers compute; nothing where its tasks run in
    this process (``computes_elsewhere``), where the thread would take turns with the engine for the interpreter.
    Start the workers first: a pool forked later waits for it (``sim.workers.import_in_background``), and so does
    the page (:func:`_render`)."""
    from sim.workers import import_while_computing
    import_while_computing(executor, partial(prepare, kind), "preload-report")


def build_report(directory: Path, lang: str = "en", digits: str = DEFAULT_DIGITS) -> str:
    """The HTML text of the report of a result directory (figures inline; nothing written)."""
    return _render(Path(directory), Lang(lang, digits), png=False, brief=False).html


def write_report(directory: Path, lang: str = "en", digits: str = DEFAULT_DIGITS, brief: bool = False) -> Path:
    """Write ``DIR/figures/*.png`` and ``DIR/report.html`` (``report.<lang>.html``); with ``brief``, also
    ``DIR/brief.pdf`` (``brief.<lang>.pdf``) from the same figures. Returns the report's path."""
    directory = Path(directory)
    language = Lang(lang, digits)
    chromium = None
    if brief:
        chromium = find_chromium()
        if chromium is None:
            raise BriefUnavailable(CHROMIUM_MISSING)
    page = _render(directory, language, png=True, brief=brief)
    for name, data in page.pngs.items():
        store.write_bytes_atomic(directory / FIGURE_DIR / name, data)
    path = directory / report_name(lang)
    store.write_text_atomic(path, page.html)
    if brief:
        print_pdf(page.brief_html, directory / brief_name(lang), chromium)
    return path


def open_report(path: Path) -> bool:
    import webbrowser
    return webbrowser.open(Path(path).resolve().as_uri())


# --- the brief: printed by headless Chromium ----------------------------------------------------------

CHROMIUM_MISSING = ("--brief prints the brief with headless Chromium, which is not installed: install it "
                    "(Debian/Ubuntu: apt-get install chromium) or set CEASEFIRE_CHROMIUM to its path")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--mute-audio", "--no-pdf-header-footer")


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: ``$CEASEFIRE_CHROMIUM``, else the first on PATH."""
    env = os.environ.get("CEASEFIRE_CHROMIUM")
    if env:
        return env if Path(env).is_file() and os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(html: str, pdf: Path, chromium: str, timeout: float = 120) -> Path:
    """Print an HTML page (its own ``@page`` rules: A4) to ``pdf`` with headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="ceasefire-brief-") as tmp:
        page = Path(tmp) / "brief.html"
        page.write_text(html, encoding="utf-8")
        out = Path(tmp) / "brief.pdf"
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--print-to-pdf={out}", page.as_uri()]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BriefUnavailable(f"Chromium did not print the brief within {timeout:g} s") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise BriefUnavailable(f"Chromium did not print the brief (exit {proc.returncode}): "
                                   + " / ".join(tail))
        store.write_bytes_atomic(Path(pdf), out.read_bytes())
    return Path(pdf)


# --- reading the directory -----------------------------------------------------------------------

def _json(path: Path) -> Any:
    return read_json_object(path)  # a damaged file: one message naming it (sim.resultfiles)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(text: Any) -> float:
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


def _get(data: Any, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _has(est: Any, low: str, high: str) -> bool:
    return isinstance(est, dict) and est.get(low) is not None and est.get(high) is not None


SIMULATION_LEVEL = 0.95


def _narrower(est: dict, credible_level: float) -> bool:
    """Whether the credible interval's spread is smaller than the simulation interval's, each width turned into
    a standard deviation at its own level (a 90% credible interval against a 95% simulation interval)."""
    from statistics import NormalDist
    z = NormalDist().inv_cdf
    credible = (est["credible_high"] - est["credible_low"]) / (2 * z((1 + credible_level) / 2))
    simulation = (est["ci_high"] - est["ci_low"]) / (2 * z((1 + SIMULATION_LEVEL) / 2))
    return credible < simulation


# --- the bibliography: docs/SOURCES.md -------------------------------------------------------------

SEED_FILE = re.compile(r"\b(\d{3})_[0-9a-f]{16}\.txt\b")
CITE = re.compile(r"\[(@[^\]]+)\]")


def sources_file() -> Path | None:
    for cand in (REPO / "docs" / "SOURCES.md", Path.cwd() / "docs" / "SOURCES.md"):
        if cand.is_file():
            return cand
    return None


@lru_cache(maxsize=4)
def _bibliography(path: str | None, mtime: float) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    entries: dict[str, dict[str, str]] = {}
    columns: list[str] | None = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("|"):
            columns = None if not line else columns
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if columns is None:
            columns = [c.lower() for c in cells]
            continue
        if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            continue
        row = dict(zip(columns, cells))
        key = row.get("key", "").strip("`")
        if not key:
            continue
        link = row.get("link", "")
        m = re.search(r"\]\((\S+?)\)", link) or re.search(r"<(\S+)>", link) or re.search(r"(https?://\S+)", link)
        row["link"] = m.group(1) if m else ""
        entries[key] = row
    return entries


def bibliography() -> dict[str, dict[str, str]]:
    """Entries of docs/SOURCES.md by key: author, title, publisher, date, link."""
    path = sources_file()
    return _bibliography(str(path) if path else None, path.stat().st_mtime if path else 0.0)


# --- the schema, read defensively (it is being extended) --------------------------------------------

@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    """Role classes, process classes and the dynamics class, found through the scenario model."""
    from pydantic import BaseModel

    from sim import schema
    fields = schema.Scenario.model_fields

    def model_of(name):
        ann = fields[name].annotation if name in fields else None
        return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    processes = {}
    proc_cls = model_of("processes")
    if proc_cls is not None:
        for name, f in proc_cls.model_fields.items():
            if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel):
                processes[name] = f.annotation
    return {"roles": dict(getattr(schema, "ROLE_CLASSES", {})), "processes": processes,
            "dynamics": model_of("dynamics")}


def _actor_class(actor: dict):
    """The schema class of a resolved actor table (one role, or a list of roles)."""
    from sim import schema
    role = actor.get("role")
    roles = (role,) if isinstance(role, str) else tuple(role or ())
    if not roles:
        return None
    if hasattr(schema, "actor_class"):
        try:
            return schema.actor_class(roles)
        except (KeyError, TypeError, ValueError):
            return None
    return _schema()["roles"].get(roles[0]) if len(roles) == 1 else None


def _role_text(actor: dict) -> str:
    role = actor.get("role")
    return " + ".join(role) if isinstance(role, list) else str(role or "")


def _field_info(cls, name: str) -> dict[str, Any]:
    if cls is None or name not in getattr(cls, "model_fields", {}):
        return {}
    from sim.params import field_info
    return field_info(cls, name)


def _numeric_fields(cls) -> list[str]:
    return [n for n, f in cls.model_fields.items() if (f.json_schema_extra or {}).get("unit")]


def _factor_class(path: str, scen: dict | None):
    sch = _schema()
    parts = path.split(".")
    if parts[0] == "dynamics" and len(parts) == 2:
        return sch["dynamics"]
    if parts[0] == "processes" and len(parts) == 3:
        return sch["processes"].get(parts[1])
    if parts[0] == "actors" and len(parts) == 3:
        actor = ((scen or {}).get("actors") or {}).get(parts[1])
        if actor and actor.get("role"):
            return _actor_class(actor)
        owners = [c for c in sch["roles"].values() if parts[2] in c.model_fields]
        return owners[0] if len(owners) == 1 else None
    return None


def _info_of_path(path: str, scen: dict | None) -> dict[str, Any]:
    return _field_info(_factor_class(path, scen), path.split(".")[-1])


# --- scenario words -------------------------------------------------------------------------------------

def scenario_title(scen: dict | None, fallback: str = "") -> str:
    """A title for readers: the scenario's ``title``, else the first clause of its description."""
    scen = scen or {}
    if scen.get("title"):
        return str(scen["title"])
    text = " ".join(str(scen.get("description") or "").split())
    if not text:
        return fallback or str(scen.get("name") or "")
    parts = re.split(r"(:\s|\.\s|;\s| - |, because |, so that )", text)
    head = parts[0]
    if re.search(r"\bscenario \d", head) and len(parts) > 2 and parts[1].startswith(":"):
        head = f"{head}: {parts[2]}"       # a scenario named by its number only: say what it is
    head = head.rstrip(".")
    if len(head) > 120:
        head = head[:120].rsplit(" ", 1)[0] + "…"
    return head


def event_month(ev: dict, start: str | None) -> float | None:
    """The month of a scheduled event (the middle of its range when the month is uncertain)."""
    month = ev.get("month")
    if isinstance(month, dict):
        values = next((x for k, x in month.items() if k in ("uniform", "loguniform", "triangular") and x), None)
        return (float(values[0]) + float(values[-1])) / 2 if values else None
    if month is not None:
        return float(month)
    if ev.get("at") and start:
        try:
            return (dt.date.fromisoformat(str(ev["at"])) - dt.date.fromisoformat(str(start))).days / DAYS_PER_MONTH
        except ValueError:
            return None
    return None


def observed_months(scen: dict | None) -> float | None:
    obs = (scen or {}).get("observed") or {}
    value = obs.get("months_to_collapse") if isinstance(obs, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


# --- the page being built --------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _environment(lang: Lang):
    from jinja2 import Environment, PackageLoader, StrictUndefined
    env = Environment(loader=PackageLoader("sim", "templates"), autoescape=True, extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined, keep_trailing_newline=True)
    env.install_gettext_callables(gettext=lang._, ngettext=lang.ngettext, pgettext=lang.pgettext, newstyle=True)
    return env


@dataclass
class Figure:
    name: str
    number: str
    svg: Any
    alt: str
    caption: Any
    png: str
    brief: bool


@dataclass
class Rendered:
    html: str
    brief_html: str | None
    pngs: dict[str, bytes]


@dataclass
class Page:
    directory: Path
    kind: str
    t: Lang
    png: bool
    figures: list[Figure] = field(default_factory=list)
    drawings: FigureDrawings = field(default_factory=FigureDrawings)
    cited: dict[str, None] = field(default_factory=dict)
    seed_files: dict[str, dict[str, None]] = field(default_factory=dict)
    flags: list[Any] = field(default_factory=list)
    caveats: list[Any] = field(default_factory=list)
    ctx: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.env = _environment(self.t)
        self.m = self.env.get_template("macros.html").module
        self.source = JSON_FILE[self.kind]
        self.bib = bibliography()

    # words
    def _(self, message: str, **values) -> Any:
        """A translated sentence; values are escaped unless they are markup already."""
        from markupsafe import Markup
        return Markup(self.t._(message)) % values

    def n_(self, singular: str, plural: str, n: int, **values) -> Any:
        from markupsafe import Markup
        return Markup(self.t.ngettext(singular, plural, n)) % {"n": self.t.fmt(n, "int"), **values}

    def join(self, parts: list[Any], sep: str | None = None) -> Any:
        from markupsafe import Markup
        return Markup(sep if sep is not None else self.t._("; ")).join(parts)

    def list_words(self, parts: list[Any]) -> Any:
        """'a, b and c' in the page's language."""
        from markupsafe import Markup
        if len(parts) <= 1:
            return Markup("").join(parts)
        return self._("%(items)s and %(last)s", items=self.comma.join(parts[:-1]), last=parts[-1])

    @property
    def comma(self) -> Any:
        from markupsafe import Markup
        comma = self.t._(", ")
        return Markup(comma)

    def bdi(self, text: Any) -> Any:
        """Text written in a scenario file, in either language: isolated, direction from its content."""
        return self.m.bdi(text)

    # numbers
    def num(self, value: Any, key: str | None = None, kind: str = "pct", source: str | None = None) -> Any:
        """A number as the page shows it; with ``key``, marked with the JSON path it came from."""
        return self.m.num(self.t.fmt(value, kind), key, source or self.source if key else None, kind if key else None)

    def span(self, est: dict, key: str, kind: str, low: str = "ci_low", high: str = "ci_high",
             source: str | None = None) -> Any:
        return self._("%(low)s to %(high)s", low=self.num(est.get(low), f"{key}.{low}", kind, source),
                      high=self.num(est.get(high), f"{key}.{high}", kind, source))

    def intervals(self, est: dict, key: str, kind: str, source: str | None = None) -> list[Any]:
        """Every interval an estimate carries, each named: simulation, credible, settings."""
        out = []
        if _has(est, "ci_low", "ci_high"):
            out.append(self._("%(level)s simulation interval %(span)s", level=self.num(SIMULATION_LEVEL, None, "pct0"),
                              span=self.span(est, key, kind, source=source)))
        if _has(est, "credible_low", "credible_high"):
            credible = self._("%(level)s credible interval over the calibrated parameters %(span)s",
                              level=self.num(self.credible_level, None, "pct0"),
                              span=self.span(est, key, kind, "credible_low", "credible_high", source))
            # the credible interval is the spread over parameter draws with each draw's own noise taken out, so
            # where the parameters hardly matter it can be narrower than the dice alone: say so, lest it read
            # as the firmest number on the page (widths compared as standard deviations: the two levels differ)
            if _has(est, "ci_low", "ci_high") and _narrower(est, self.credible_level):
                credible = self._("%(interval)s, narrower than the simulation interval: the calibrated parameters "
                                  "hardly move this figure, and the simulation interval is the one to read",
                                  interval=credible)
            out.append(credible)
        if _has(est, "settings_low", "settings_high"):
            out.append(self._("%(level)s range over the scenario's uncertain settings %(span)s",
                              level=self.num(0.9, None, "pct0"),
                              span=self.span(est, key, kind, "settings_low", "settings_high", source)))
        return out

    def estimate(self, est: dict, key: str, kind: str, source: str | None = None) -> Any:
        """'12.8% (95% simulation interval 12.1% to 13.4%; ...)' with every number marked."""
        value = self.num(est.get("estimate"), f"{key}.estimate", kind, source)
        parts = self.intervals(est, key, kind, source)
        return self._("%(value)s (%(intervals)s)", value=value, intervals=self.join(parts)) if parts else value

    @property
    def credible_level(self) -> float:
        return float(self.ctx.get("credible_level") or 0.9)

    # flags and caveats
    def flag(self, where: Any, reason: Any) -> Any:
        """A figure not to be leaned on: a short badge here, linked to its line in 'Read with care'."""
        self.flags.append(self._("%(where)s: %(reason)s", where=where, reason=reason))
        n = len(self.flags)
        return self.m.flag(self.t._("do not lean on this"), self.t.fmt(n, "int"), n, _plain(reason))

    # citations
    def cite(self, text: Any, numbers: bool = False) -> Any:
        """Text with its source keys linked to the Sources section: ``[@key]``, seed file names
        (``000_8170e406b4c9feb0.txt`` is ``seed000``) and, with ``numbers``, bare document numbers
        ('000 factor 1') where the bibliography has a seed of that number."""
        from markupsafe import Markup, escape
        text = "" if text is None else str(text)
        pattern = CITE.pattern + "|" + SEED_FILE.pattern + (r"|(?<![\w.])(\d{3})(?![\w.%])" if numbers else "")
        out, pos = [], 0
        for match in re.finditer(pattern, text):
            links = []
            if match.group(1):
                for part in match.group(1).split(";"):
                    km = re.match(r"\s*@([\w:.\-]+)(.*)", part)
                    if km:
                        links.append(self._cite_key(km.group(1), km.group(2).strip(" ,")))
            else:
                number = match.group(2) or (match.group(3) if numbers else None)
                key = f"seed{number}"
                if key not in self.bib and match.group(3):
                    continue
                if match.group(2):
                    self.seed_files.setdefault(key, {})[match.group(0)] = None
                links.append(self._cite_key(key, "", match.group(0)))
            if not links:
                continue
            out.append(escape(text[pos:match.start()]))
            out.append(Markup(self.t._("; ")).join(links))
            pos = match.end()
        out.append(escape(text[pos:]))
        return Markup("").join(out)

    def cite_source(self, source: str) -> Any:
        """One entry of a scenario's ``sources``: a bibliography key, a seed file name or free text."""
        source = str(source)
        if source in self.bib or (re.fullmatch(r"[A-Za-z0-9][\w:.\-]*", source) and not SEED_FILE.search(source)):
            return self._cite_key(source)
        return self.cite(source)

    def _cite_key(self, key: str, locator: str = "", original: str = "") -> Any:
        self.cited.setdefault(key, None)
        entry = self.bib.get(key)
        if entry is None:
            label = original or f"[@{key}]"
        else:
            who = entry.get("author") or entry.get("publisher") or key
            who = re.sub(r"\s*\(.*?\)", "", who)
            year = (entry.get("date") or "")[:4]
            label = f"{who} {year}".strip()
        return self.m.cite(key, label + (f", {locator}" if locator else ""), entry is not None)

    # figures
    def figure(self, build, name: str, alt: str, caption: Any, brief: bool = False) -> Figure:
        """Inline SVG (with alt text) plus caption, and the PNG bytes, of the matplotlib figure ``build()`` makes
        (a ``functools.partial`` of a plotting function: its arguments are bound now, so that a figure built later,
        should its child fail, is the same); built and drawn in a child where possible, while this process goes on
        with the page (see take_drawings)."""
        from sim import plots
        suffix = "" if self.t.code == "en" else f".{self.t.code}"
        png_name = f"{name}{suffix}.png"

        def make():
            fig = build()
            plots.localize(fig, self.t)
            return fig
        self.drawings.add(name, make, lambda f: _svg_text(f, name, alt), self.png)
        figure = Figure(name, self.t.fmt(len(self.figures) + 1, "int"), None, alt, caption,
                        f"{FIGURE_DIR}/{png_name}", brief)
        self.figures.append(figure)
        return figure

    def take_drawings(self) -> dict[str, bytes]:
        """Wait for the figures' drawings: set each figure's SVG, and return the PNG copies by file name."""
        from markupsafe import Markup
        drawn = self.drawings.result()
        pngs = {}
        for figure in self.figures:
            svg, png = drawn[figure.name]
            figure.svg = Markup(svg)
            if png is not None:
                pngs[Path(figure.png).name] = png
        return pngs

    def table(self, head: list[Any], rows: list[list[Any]], caption: Any = "", cls: str = "",
              row_classes: list[str] | None = None, widths: list[int] | None = None,
              row_header: bool = True) -> dict:
        return {"head": head, "rows": rows, "caption": caption, "cls": cls,
                "row_classes": row_classes or [""] * len(rows), "widths": widths, "row_header": row_header}

    def render(self, template: str) -> str:
        ctx = dict(self.ctx)
        ctx.update(lang=self.t.code, dir=self.t.dir, figures=self.figures, flags=self.flags,
                   flags_more=self.t.fmt(max(len(self.flags) - 5, 0), "int"), sources=self._sources(),
                   kind=self.kind, report_file=report_name(self.t.code))
        return self.env.get_template(template).render(**ctx)

    def _sources(self) -> list[dict]:
        """Every source key the page cites, with its bibliographic entry and the seed file names it was cited as."""
        return [{"key": key, "entry": self.bib.get(key), "files": list(self.seed_files.get(key, {}))}
                for key in self.cited]


def _svg_text(fig, name: str, alt: str) -> str:
    """The figure as an <svg> element for inline use: deterministic, ids prefixed per figure, alt text."""
    import matplotlib.pyplot as plt
    from markupsafe import escape
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
        "<svg ", f'<svg class="chart" role="img" aria-labelledby="{escape(prefix)}title" aria-label="{escape(alt)}" ',
        1)
    return f'{head}\n <title id="{escape(prefix)}title">{escape(alt)}</title>{text[head_end:].rstrip()}'


def _render(directory: Path, lang: Lang, png: bool, brief: bool) -> Rendered:
    from sim.workers import join_background_imports
    join_background_imports()   # a preload still compiling the templates: wait for it rather than compile twice
    kind = detect_kind(directory)
    check_main_file(directory, kind)   # a damaged result: one message naming the file and key (sim.resultfiles)
    page = Page(directory, kind, lang, png)
    with damaged_if_unreadable(directory, kind), page.drawings:
        BUILDERS[kind](page)
        pngs = page.take_drawings()
        html = page.render(f"{kind}.html")
        brief_html = page.render("brief.html") if brief else None
    return Rendered(html, brief_html, pngs)


# --- words shared by the kinds ----------------------------------------------------------------------

WITHIN = {3: N_("within three months"), 6: N_("within six months"), 12: N_("within a year"),
          18: N_("within eighteen months"), 24: N_("within two years"), 36: N_("within three years"),
          48: N_("within four years"), 60: N_("within five years"), 120: N_("within ten years")}
TRIGGERS = {"attacks_answered": N_("answering attacks"), "cross_theatre_crisis": N_("a crisis in another theatre"),
            "opportunity": N_("seizing an opportunity"), "spoiler_pretext": N_("a spoiler attack used as a pretext"),
            "strike_on_guarantor_posts": N_("a strike on the guarantor's posts"),
            "territorial_ambition": N_("territorial ambition"),
            "defending_line_collapse": N_("the collapse of the other side's defending line"), "none": N_("none")}
QUANTIFIERS = ((0.9, N_("Nearly all collapses")), (0.6, N_("Most collapses")), (0.4, N_("About half of the collapses")),
               (0.0, N_("The largest share of collapses")))
NEUTRALISED = {"agreement": N_("the agreement's form, level and earlier failures (exchanged between cases)"),
               "monitoring": N_("monitors' presence (exchanged between cases)"),
               "guarantor_deterrence": N_("guarantors' deterrence and resolve (exchanged between cases)"),
               "patron_interest": N_("patrons' interest in the rival guarantor and distraction (exchanged between "
                                     "cases)"),
               "balance_of_forces": N_("belligerents' strength and readiness (exchanged between cases)"),
               "support_and_air": N_("supporters' strength and patrons' air power (exchanged between cases)"),
               "pretext": N_("pretext groups' strength and transformation (exchanged between cases)")}
FORECASTS = {"model": N_("the model (fitted without the case)"), "base_rate": N_("literature base rate"),
             "other_cases": N_("the other cases' durations"), "covariates": N_("conditions at signing (covariates)")}
METHODS = {"src": N_("standardised regression coefficients (SRC): how many standard deviations the outcome moves per "
                     "standard deviation of the factor, the others held fixed; the sign gives the direction"),
           "sobol": N_("Sobol' indices: the share of the outcome's variance due to the factor alone (S1) and with its "
                       "interactions (ST)"),
           "morris": N_("Morris elementary effects: mu* is the mean absolute change in the outcome over the factor's "
                        "range, sigma the spread of those changes (interactions or non-linearity)")}
INDEX_NAMES = {"S1": N_("first-order Sobol index S1"), "ST": N_("total Sobol index ST"),
               "SRC": N_("standardised regression coefficient"), "mu_star": N_("Morris mu*"),
               "sigma": N_("Morris sigma")}
INDEX_COLUMNS = {"sobol": ["S1", "ST"], "morris": ["mu_star"], "src": ["SRC"]}
HEADLINE_INDEX = {"sobol": "ST", "morris": "mu_star", "src": "SRC"}
PROVENANCE_LABELS = {
    "package_version": N_("ceasefire-sim version"), "git_commit": N_("git commit"), "seed": N_("root seed"),
    "runs": N_("replications"), "horizon_months": N_("horizon (months)"), "created_utc": N_("written (UTC)"),
    "wall_seconds": N_("wall time (s)"), "jobs": N_("worker processes"),
    "block_size": N_("replications per seed block"), "scenario_sha256": N_("scenario SHA-256"),
    "scenario_name": N_("scenario"), "command": N_("command"), "python": N_("Python"), "numpy": N_("NumPy"),
    "scipy": N_("SciPy"), "mesa": N_("Mesa"), "platform": N_("platform"), "cpu_count": N_("CPU cores"),
    "role_in_comparison": N_("role in comparison"), "experiment": N_("experiment"),
    "experiment_file": N_("experiment file"), "fingerprint": N_("experiment fingerprint"),
    "points": N_("design points"), "calibration_file": N_("calibration file"), "cases": N_("cases"),
    "replications_per_point": N_("replications per point"), "sampler": N_("sampler"),
}
DIAGNOSTICS = {"unique_particles": N_("distinct parameter sets among the final particles"),
               "particles": N_("particles"), "evaluations": N_("likelihood evaluations")}
INCIDENTS = {"violations": N_("violations"), "air_strikes": N_("air strikes"), "spoiler_attacks": N_("spoiler attacks")}
STOPPING = {"fixed run count": N_("fixed run count"), "precision reached": N_("precision reached"),
            "max_runs reached": N_("the cap on runs (--max-runs) reached")}
CODE_FIELDS = ("git_commit", "scenario_sha256", "fingerprint", "command")
VARIABLES = {
    "tension": (N_("cross-theatre tension between patron and guarantor"), N_("index 0-1")),
    "economic_stress": (N_("economic stress of sanctioned belligerents"), N_("index 0-1 (1: collapse)")),
    "exhaustion": (N_("exhaustion of %(actor)s"), N_("index 0-1")),
    "readiness": (N_("effective readiness of %(actor)s"), N_("index 0-1")),
    "deterrence": (N_("deterrence by %(actor)s"), N_("index 0-1")),
    "strength": (N_("fighting strength of %(actor)s"), N_("index 0-1")),
    "restraint": (N_("restraint of %(actor)s"), N_("index 0-1")),
    "campaign": (N_("campaign intensity of %(actor)s"), N_("index 0-1")),
    "friction": (N_("friction between %(actor)s"), N_("index 0-1")),
    "violations_per_month": (N_("violations across the line"), N_("incidents per 30.44 days")),
    "air_strikes_per_month": (N_("air strikes by the patron"), N_("strikes per 30.44 days")),
    "spoiler_attacks_per_month": (N_("spoiler attacks on joint patrols"), N_("attacks per 30.44 days")),
}


def _within(page: Page, month: str | float) -> Any:
    m = _float(month)
    if m in WITHIN:
        return page._(WITHIN[m])
    if m == int(m):
        return page.n_("within %(n)s month", "within %(n)s months", int(m))
    return page._("within %(m)s months", m=page.num(m, None, "g"))


def _frequency(page: Page, p: float) -> Any:
    """A probability as a natural frequency: 'about 1 run in 8', 'about 6 runs in 10'."""
    if p is None or not math.isfinite(p):
        return page._("an unknown share of runs")
    if p <= 0:
        return page._("no run")
    if p < 0.01:
        return page._("fewer than 1 run in 100")
    if p >= 0.95:
        return page._("nearly every run")
    if p < 0.5 and round(1 / p) <= 12:
        return page._("about 1 run in %(n)s", n=page.num(round(1 / p), None, "int"))
    if p < 0.5:
        return page._("about %(k)s runs in 100", k=page.num(round(100 * p), None, "int"))
    return page._("about %(k)s runs in 10", k=page.num(round(10 * p), None, "int"))


def _size_word(page: Page, diff: float) -> str:
    for limit, word in SIZE_WORDS:
        if abs(diff) < limit:
            return page.t._(word)
    return page.t._(SIZE_WORDS[-1][1])


ACTOR_NAMES = (pN_("actor", "Turkey"), pN_("actor", "Russia"), pN_("actor", "Assad regime"),
               pN_("actor", "Opposition factions (HTS-led)"), pN_("actor", "HTS and jihadist spoilers"),
               pN_("actor", "Iran-backed militias"), pN_("actor", "Hezbollah"), pN_("actor", "United States"),
               pN_("actor", "Israel"), pN_("actor", "SDF"), pN_("actor", "Government in Damascus"),
               pN_("actor", "Coastal remnants of the former regime"),
               pN_("actor", "Suwayda military council and factions"),
               pN_("actor", "Jihadists and foreign fighters in the government's camp"))
"""The actor labels of the bundled scenarios, so that a catalog can name them in its language; any other
label is shown as written in its scenario file."""
FACTOR_NAMES = (pN_("factor", "Turkish deterrence"), pN_("factor", "Russian interest"),
                pN_("factor", "Russian interest in Ankara"), pN_("factor", "Regime exhaustion"),
                pN_("factor", "HTS pretext"), pN_("factor", "Cross-theatre tension"))
"""The factor names of the bundled experiments, likewise."""


def _actor(page: Page, scen: dict | None, key: str) -> Any:
    """An actor's name: its label (translated where the catalog knows it), 'direct clash X - Y'."""
    actors = (scen or {}).get("actors") or {}
    if key in actors:
        label = actors[key].get("label") or key
        translated = page.t.pgettext("actor", label)
        return translated if translated != label else page.bdi(label)
    m = re.fullmatch(r"clash:([^-]+)-(.+)", key)
    if m:
        return page._("a direct clash between %(a)s and %(b)s", a=_actor(page, scen, m[1]), b=_actor(page, scen, m[2]))
    return page.bdi(key)


def _actor_text(page: Page, scen: dict | None, key: str) -> str:
    """The same as plain text, for figures."""
    from markupsafe import Markup
    return Markup(str(_actor(page, scen, key))).striptags()


def _trigger(page: Page, key: str) -> str:
    return page.t._(TRIGGERS[key]) if key in TRIGGERS else key.replace("_", " ")


def _quantifier(page: Page, share: float) -> str:
    for limit, words in QUANTIFIERS:
        if share >= limit:
            return page.t._(words)
    return page.t._(QUANTIFIERS[-1][1])


def _headline_month(keys: list[str], prefer: str = "24") -> str:
    return prefer if prefer in keys else keys[-1]


def _value_text(page: Page, v: Any) -> Any:
    if v is None:
        return page.m.muted(page.t._("not set"))
    if isinstance(v, bool):
        return page.t._("yes") if v else page.t._("no")
    if isinstance(v, (int, float)):
        return page.num(v, None, "g")
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) if v else page.m.muted(page.t._("none"))
    if isinstance(v, dict):
        dist = _distribution_text(page, v)
        return dist if dist is not None else ", ".join(f"{k} = {x}" for k, x in v.items())
    return page.bdi(v)


def _distribution_text(page: Page, v: Any) -> Any:
    """An uncertain setting ({'uniform': [a, b]}, 'uniform[0.5, 0.9]') in words, or None if it is not one."""
    if isinstance(v, str):
        m = re.fullmatch(r"(uniform|loguniform|triangular)\[([^\]]*)\]", v)
        if not m:
            return None
        kind, values = m[1], [float(x) for x in m[2].split(",")]
    elif isinstance(v, dict):
        given = [(k, x) for k, x in v.items() if k in ("uniform", "loguniform", "triangular") and x is not None]
        if len(given) != 1 or set(v) - {"uniform", "loguniform", "triangular"}:
            return None
        kind, values = given[0]
    else:
        return None
    words = {"uniform": N_("uniform from %(low)s to %(high)s"),
             "loguniform": N_("log-uniform from %(low)s to %(high)s"),
             "triangular": N_("triangular from %(low)s to %(high)s, most likely %(mode)s")}
    return page._(words[kind], low=page.num(values[0], None, "g"), high=page.num(values[-1], None, "g"),
                  mode=page.num(values[1] if len(values) == 3 else values[0], None, "g"))


def _range_text(page: Page, info: dict) -> Any:
    lo, hi = info.get("minimum"), info.get("maximum")
    if lo is None or hi is None:
        return ""
    return page._("%(low)s to %(high)s", low=page.num(lo, None, "g"), high=page.num(hi, None, "g"))


def _stamp(value: Any) -> str:
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", str(value or ""))
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]}:{m[6]} UTC" if m else str(value)


def _provenance(page: Page, manifests: list[tuple[Any, dict]]) -> dict:
    """The provenance table (one column per manifest) and a one-line summary for the brief."""
    keys: list[str] = []
    for _, m in manifests:
        keys += [k for k, v in m.items() if k not in keys and not isinstance(v, (dict, list))]
    rows = []
    for k in keys:
        cells = []
        for _, m in manifests:
            v = m.get(k)
            text = _stamp(v) if k == "created_utc" else ("" if v is None else str(v))
            cells.append(page.m.code(text) if k in CODE_FIELDS else text)
        rows.append([page.t._(PROVENANCE_LABELS[k]) if k in PROVENANCE_LABELS else k.replace("_", " "), *cells])
    head = ["", *(label for label, _ in manifests)] if len(manifests) > 1 else ["", page.t._("value")]
    first = manifests[0][1] if manifests else {}
    line = page._("ceasefire-sim %(version)s, git commit %(commit)s, seed %(seed)s, written %(when)s; command: "
                  "%(command)s",
                  version=first.get("package_version") or "?", commit=(first.get("git_commit") or "?")[:10],
                  seed=first.get("seed") if first.get("seed") is not None else "?",
                  when=_stamp(first.get("created_utc")) if first.get("created_utc") else "?",
                  command=page.m.code(first.get("command") or "?"))
    return {"table": page.table(head, rows, cls="prov"), "line": line}



def _scenario_block(page: Page, scen: dict, heading: Any, show_title: bool = True) -> dict:
    """The scenario in plain words: title, description, dates, sources and scheduled events."""
    events = []
    for key, ev in (scen.get("events") or {}).items():
        month = ev.get("month")
        when = ev.get("at") or (page._("month %(m)s", m=_distribution_text(page, month)) if isinstance(month, dict)
                                else page._("month %(m)s", m=page.num(month, None, "g")))
        events.append({"label": page.cite(ev.get("label") or key), "when": when,
                       "changes": [(k, page.num(v, None, "g") if isinstance(v, (int, float)) else v)
                                   for k, v in (ev.get("set") or {}).items()]})
    return {"heading": heading, "title": scenario_title(scen) if show_title else "",
            "description": page.cite(scen.get("description", "")),
            "name": scen.get("name", ""), "start": scen.get("start"),
            "horizon": page.num(scen.get("horizon_months"), None, "g"),
            "step_days": page.num(scen.get("step_days"), None, "g"),
            "sources": [page.cite_source(x) for x in scen.get("sources") or []], "events": events,
            "uncertain": [(k, _distribution_text(page, v) or _value_text(page, v))
                          for k, v in (scen.get("uncertain") or {}).items()],
            "posterior": page.m.code(Path(str(scen["posterior"])).name) if scen.get("posterior") else None}


def _parameter_groups(page: Page, scen: dict, highlight: set[str] | None = None,
                      highlight_label: str = "") -> list[dict]:
    """Every numeric parameter of one scenario: value, scale, range, meaning, source; one table per group."""
    sch = _schema()
    specs: list[tuple[Any, str, str, Any]] = []
    for key, actor in (scen.get("actors") or {}).items():
        cls = _actor_class(actor)
        if cls is None:
            continue
        group = page._("%(actor)s (%(role)s; actors.%(key)s)", actor=_actor(page, scen, key),
                       role=_role_text(actor), key=key)
        specs += [(group, f"actors.{key}.{n}", n, cls) for n in _numeric_fields(cls)]
    for pname, cls in sch["processes"].items():
        group = page._("Process: %(name)s (processes.%(name)s)", name=pname.replace("_", " "))
        specs += [(group, f"processes.{pname}.{n}", n, cls) for n in _numeric_fields(cls)]
    if sch["dynamics"] is not None:
        specs += [(page._("Dynamics: global rates and thresholds (dynamics)"), f"dynamics.{n}", n, sch["dynamics"])
                  for n in _numeric_fields(sch["dynamics"])]
    groups: dict[str, dict] = {}
    for group, path, name, cls in specs:
        g = groups.setdefault(str(group), {"heading": group, "rows": [], "classes": []})
        info = _field_info(cls, name)
        marked = highlight is not None and path in highlight
        g["rows"].append([page.m.param_name(name, highlight_label if marked else ""),
                          _value_text(page, _get(scen, path)), info.get("unit", ""), _range_text(page, info),
                          info.get("doc", ""), page.cite(info.get("source", ""), numbers=True)])
        g["classes"].append("changed" if marked else "")
    head = [page.t._("parameter"), page.t._("value"), page.t._("scale (unit)"), page.t._("allowed range"),
            page.t._("what it means"), page.t._("source claim")]
    return [{"heading": g["heading"], "table": page.table(head, g["rows"], cls="params", row_classes=g["classes"],
                                                          widths=[16, 8, 17, 8, 29, 22])}
            for g in groups.values()]


def _actors_table(page: Page, scen: dict) -> dict:
    rows = []
    keys = ("protects", "backs", "guarantor", "opposes", "needs_air_cover", "hosted_by", "supports")
    for key, a in (scen.get("actors") or {}).items():
        rel = [f"{k.replace('_', ' ')}: {_plain(_value_text(page, a[k]))}" for k in keys
               if k in a and a[k] not in ("", None, [])]
        rows.append([page.m.code(key), _actor(page, scen, key), _role_text(a), "; ".join(rel)])
    return page.table([page.t._("actor"), page.t._("name"), page.t._("role"), page.t._("relations")], rows)


def _plain(markup: Any) -> str:
    from markupsafe import Markup
    return Markup(str(markup)).striptags() if hasattr(markup, "__html__") else str(markup)


BRIEF_SETTINGS = 3   # uncertain settings the two-page brief names (document 003's pair has fourteen)


def _uncertainty_notes(page: Page, unc: dict | None, any_credible: bool, any_settings: bool) -> dict:
    """The headline's ``uncertainty`` note for the report and ``uncertainty_brief`` for the two-page brief."""
    return {"uncertainty": _uncertainty_note(page, unc, any_credible, any_settings),
            "uncertainty_brief": _uncertainty_note(page, unc, any_credible, any_settings,
                                                   most_settings=BRIEF_SETTINGS)}


def _uncertainty_note(page: Page, unc: dict | None, any_credible: bool, any_settings: bool,
                      most_settings: int | None = None) -> list[Any]:
    """What each kind of interval on the page covers, and what none covers; with ``most_settings``, the uncertain
    settings beyond that many are counted rather than listed (the two-page brief)."""
    unc = unc or {}
    out = [page._("<strong>Simulation interval</strong> (%(level)s): the range that would contain the figure from "
                  "an unlimited number of replications %(level)s of the time. It measures the simulation's noise only.",
                  level=page.num(SIMULATION_LEVEL, None, "pct0"))]
    post = unc.get("posterior") or None
    if any_credible:
        extra = ""
        if isinstance(post, dict):
            extra = page._(" (%(draws)s draws from %(source)s)", draws=page.num(post.get("draws"), None, "int"),
                           source=page.bdi(post.get("source") or "?"))
        out.append(page._("<strong>Credible interval</strong> (%(level)s): the spread of the figure over parameter "
                          "values drawn from the calibration's posterior%(extra)s: doubt about the calibrated "
                          "rates.", level=page.num(page.credible_level, None, "pct0"), extra=extra))
    settings = unc.get("settings") or []
    if any_settings:
        listed = [page._("%(key)s (%(dist)s)", key=page.m.code(s.get("key", "")), dist=s.get("distribution", ""))
                  for s in settings]
        if most_settings is not None and len(listed) > most_settings:
            more = len(listed) - most_settings
            listed = listed[:most_settings] + [page._("%(n)s more, listed in the full report",
                                                      n=page.num(more, None, "int"))]
        out.append(page._("<strong>Range over the uncertain settings</strong> (%(level)s): the spread of the figure "
                          "when the settings the scenario's text leaves open vary%(which)s.",
                          level=page.num(0.9, None, "pct0"),
                          which=page._(": %(list)s", list=page.comma.join(listed)) if listed else ""))
    missing = []
    if not any_credible:
        missing.append(page.t._("doubt about the calibrated rates (no credible interval in these results)"))
    if not any_settings:
        missing.append(page.t._("doubt about the scenario's settings (no range over uncertain settings in these "
                                "results)"))
    if missing:
        out.append(page._("<strong>Not covered</strong> by any interval on this page: %(what)s. Every figure is a "
                          "model "
                          "result under the scenario's stated assumptions.", what=page.join(missing)))
    return out


def _caveat_sentence(page: Page, any_credible: bool, any_settings: bool) -> Any:
    if any_credible and any_settings:
        s = page._("The credible interval covers doubt about the calibrated rates and the settings range doubt about "
                   "the scenario's settings; both still assume the model's mechanisms are right.")
    elif any_credible:
        s = page._("The credible interval also covers doubt about the calibrated rates, but no interval here covers "
                   "doubt about the scenario's settings: read these as results under the scenario's assumptions.")
    elif any_settings:
        s = page._("The settings range covers doubt about the scenario's settings, but no interval here covers doubt "
                   "about the calibrated rates.")
    else:
        s = page._("The intervals cover the simulation's noise only, not doubt about the calibrated rates or the "
                   "scenario's settings: read these as results under the scenario's assumptions, not as forecasts.")
    return s


def _flags_sentence(page: Page) -> Any:
    n = len(page.flags)
    if not n:
        return ""
    return page.n_(" %(n)s figure on this page is flagged as not to be leaned on.",
                   " %(n)s figures on this page are flagged as not to be leaned on.", n)


# --- run -----------------------------------------------------------------------------------------

def _run_files(d: Path) -> dict:
    return {"summary": _json(d / "summary.json"), "manifest": _json(d / "manifest.json"),
            "survival": survival_rows(d / "survival.csv") if (d / "survival.csv").is_file() else []}


def _events_for_plot(page: Page, scenarios: list[dict], horizon: float) -> list[tuple[float, str]]:
    out: dict[tuple[float, str], None] = {}
    for scen in scenarios:
        for key, ev in ((scen or {}).get("events") or {}).items():
            m = event_month(ev, (scen or {}).get("start"))
            if m is not None and 0 <= m <= horizon:
                out.setdefault((m, str(ev.get("label") or key)), None)
    return list(out)


def _observed_for_plot(page: Page, scenarios: list[dict]) -> list[tuple[float, str]]:
    out = []
    for scen in scenarios:
        m = observed_months(scen)
        if m is not None and (m, "") not in [(o[0], "") for o in out]:
            out.append((m, page.t._("observed collapse: %(m)s months") % {"m": page.t.fmt(m, "months")}))
    return out


def month_lengths(scen: dict, months: int) -> list[float]:
    """For month m = 1..months, the length in months of the steps whose incidents the fan chart counts in m:
    the model's steps (daily for ``fine_start_days``, then ``step_days``) from the one that first reaches
    month m-1 to the one that first reaches m (see ``sim.montecarlo.advance_to_horizon``)."""
    step_days = float(scen.get("step_days") or 7)
    fine = int(scen.get("fine_start_days") or 0)
    needed = (months + 1) * DAYS_PER_MONTH
    fine = min(fine, math.ceil(needed))
    ends = [d / DAYS_PER_MONTH for d in range(1, fine + 1)]
    day = float(fine)
    while day < needed:
        day += step_days
        ends.append(day / DAYS_PER_MONTH)

    def reach(m):
        return next((e for e in ends if e >= m - 1e-9), ends[-1]) if m > 0 else 0.0
    return [reach(m) - reach(m - 1) for m in range(1, months + 1)]


def _fan_title(page: Page, name: str, scen: dict) -> tuple[str, str]:
    head, _, who = name.partition(".")
    title_msg, unit_msg = VARIABLES.get(head, (None, None))
    if title_msg is None:
        return name.replace("_", " "), page.t._("per month") if name.endswith("_per_month") else ""
    if not who:
        return page.t._(title_msg), page.t._(unit_msg)
    actors = (scen.get("actors") or {})
    if who not in actors and "-" in who and all(p in actors for p in who.split("-", 1)):
        a, b = who.split("-", 1)
        actor = page.t._("%(a)s and %(b)s") % {"a": _actor_text(page, scen, a), "b": _actor_text(page, scen, b)}
    else:
        actor = _actor_text(page, scen, who)
    return page.t._(title_msg) % {"actor": actor}, page.t._(unit_msg)


def _fan_panels(page: Page, path: Path, scen: dict) -> tuple[list, list[str]]:
    """Fan chart panels of the state variables that vary (flat panels and rare counts that are zero in the
    median month are left out, and named); monthly counts per 30.44 days, as the model's steps cover them."""
    by_var: dict[str, list] = {}
    for r in _csv(path):
        by_var.setdefault(r["variable"], []).append(
            (_float(r["month"]), *(_float(r[q]) for q in ("q05", "q25", "q50", "q75", "q95"))))
    order = ["tension", "economic_stress", "exhaustion.", "readiness.", "strength.", "deterrence.", "restraint.",
             "campaign.", "friction.", "violations_per_month", "air_strikes_per_month", "spoiler_attacks_per_month"]

    def rank(name):
        for i, p in enumerate(order):
            if name == p or (p.endswith(".") and name.startswith(p)):
                return (i, name)
        return (len(order), name)
    n_months = int(max((r[0] for rows in by_var.values() for r in rows), default=0))
    lengths = month_lengths(scen, n_months) if n_months else []
    panels, skipped = [], []
    for name in sorted(by_var, key=rank):
        rows = sorted(by_var[name])
        title, unit = _fan_title(page, name, scen)
        values = [v for r in rows for v in r[1:]]
        if not values or max(values) - min(values) < 1e-6:
            skipped.append(page._("%(name)s (the same in every run and month)", name=title))
            continue
        if name.endswith("_per_month"):
            if all(r[3] == 0 for r in rows):
                skipped.append(page._("%(name)s (zero in most months: a rare event)", name=title))
                continue
            scaled = []
            for r in rows:
                m = int(r[0])
                length = lengths[m - 1] if 1 <= m <= len(lengths) else 0.0
                if length > 0:
                    scaled.append((r[0], *(v / length for v in r[1:])))
            rows = scaled
        elif all(v in (0.0, 1.0) for v in values):
            skipped.append(page._("%(name)s (0 or 1 in every run: a state that is on or off)", name=title))
            continue
        panels.append((title, unit, rows))
    return panels, skipped


def _run_report(page: Page) -> None:
    from sim import plots
    d = page.directory
    data = _run_files(d)
    s, m, surv = data["summary"], data["manifest"], data["survival"]
    scen = m.get("scenario") or {}
    name = s.get("scenario") or m.get("scenario_name") or ""
    title = scenario_title(scen, name)
    h = float(s["horizon_months"])
    unc = s.get("uncertainty") or {}
    page.ctx["credible_level"] = unc.get("credible_level") or 0.9
    months = list(s["p_collapse"])
    hm = _headline_month(months)
    pc = s["p_collapse"]
    any_credible = any(_has(v, "credible_low", "credible_high") for v in pc.values())
    any_settings = any(_has(v, "settings_low", "settings_high") for v in pc.values())
    page.ctx.update(title=page.t._("Will the ceasefire hold?"), subtitle=[page.bdi(title)],
                    kind_label=page.t._("Monte Carlo run"))

    page.ctx["question"] = {
        "lead": page._("How likely is this ceasefire to collapse within %(months)s months, who would break it, and "
                       "what would trigger the collapse?",
                       months=page.list_words([page.num(_float(k), None, "g") for k in months])),
        "method": page._("The model played the scenario %(runs)s, week by week, for %(h)s months each, with different "
                         "random draws. Every figure is a share of those replications.",
                         runs=page.n_("%(n)s time", "%(n)s times", int(s["runs"])), h=page.num(h, None, "g")),
        "scenario": _scenario_block(page, scen, page.t._("The scenario")),
    }

    # headline table: every figure with each interval it has, named
    cols = [page.t._("collapse"), page.t._("estimate"),
            page._("%(level)s simulation interval", level=page.num(SIMULATION_LEVEL, None, "pct0"))]
    if any_credible:
        cols.append(page._("%(level)s credible interval (calibrated parameters)",
                           level=page.num(page.credible_level, None, "pct0")))
    if any_settings:
        cols.append(page._("%(level)s range (uncertain settings)", level=page.num(0.9, None, "pct0")))

    def interval_cells(est: dict, key: str, kind: str) -> list:
        cells = [page.span(est, key, kind) if _has(est, "ci_low", "ci_high") else ""]
        for name, shown in (("credible", any_credible), ("settings", any_settings)):
            if shown:
                cells.append(page.span(est, key, kind, f"{name}_low", f"{name}_high")
                             if _has(est, f"{name}_low", f"{name}_high") else "")
        return cells
    rows = [[_within(page, k), page.num(pc[k].get("estimate"), f"p_collapse.{k}.estimate", "pct"),
             *interval_cells(pc[k], f"p_collapse.{k}", "pct")] for k in months]
    rm = s.get("rmst_months") or {}
    if rm:
        rows.append([page._("mean months holding (of %(h)s)", h=page.num(h, None, "g")),
                     page.num(rm.get("estimate"), "rmst_months.estimate", "months"),
                     *interval_cells(rm, "rmst_months", "months")])
    med = s.get("median_months_to_collapse")

    def median_cell(name):
        pair = s.get(f"median_{name}")
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] is None:
            return ""
        high = page.num(pair[1], f"median_{name}.1", "months") if pair[1] is not None else \
            page._("beyond %(h)s", h=page.num(h, None, "g"))
        return page._("%(low)s to %(high)s", low=page.num(pair[0], f"median_{name}.0", "months"), high=high)
    rows.append([page.t._("median months to collapse"),
                 page.num(med, "median_months_to_collapse", "months") if med is not None
                 else page._("beyond the %(h)s-month horizon", h=page.num(h, None, "g")), "",
                 *([median_cell("credible")] if any_credible else []),
                 *([median_cell("settings")] if any_settings else [])])
    headline = page.table(cols, rows, caption=page._("Probability of collapse, from %(runs)s replications",
                                                     runs=page.num(s["runs"], "runs", "int")))
    init = s.get("initiator_share") or {}
    intervals = s.get("initiator_share_intervals") or {}
    trig = s.get("trigger_share") or {}
    shares = page.table([page.t._("initiator"), page.t._("share of collapses")],
                        [[_actor(page, scen, k),
                          page.estimate(intervals[k], f"initiator_share_intervals.{k}", "pct") if k in intervals
                          else page.num(v, f"initiator_share.{k}", "pct")]
                         for k, v in sorted(init.items(), key=lambda kv: -kv[1])],
                        caption=page.t._("Who broke the ceasefire")) if init else None
    triggers = page.table([page.t._("trigger"), page.t._("share of collapses")],
                          [[_trigger(page, k), page.num(v, f"trigger_share.{k}", "pct")]
                           for k, v in sorted(trig.items(), key=lambda kv: -kv[1])],
                          caption=page.t._("What triggered the collapse")) if trig else None
    fronts = _fronts_table(page, s, scen, hm)
    page.ctx["headline"] = {"table": headline, "shares": shares, "triggers": triggers, "fronts": fronts,
                            **_uncertainty_notes(page, unc, any_credible, any_settings)}

    # figures
    events = _events_for_plot(page, [scen], h)
    observed = _observed_for_plot(page, [scen])
    if surv:
        last = surv[-1]
        cap = page._("Share of the %(runs)s replications in which the ceasefire still holds, month by month "
                     "(Kaplan-Meier estimate), with its 95%% simulation band (shaded).",
                     runs=page.num(s["runs"], None, "int"))
        if events:
            cap += page._(" Dotted lines: scheduled events, numbered as in the key under the chart.")
        if observed:
            cap += page._(" Dashed line: the observed collapse.")
        page.figure(partial(plots.report_survival_figure, [(page.t._("share of runs still holding"), surv)],
                            page.t._("Survival of the ceasefire"), page.t,
                            events=events, observed=observed),
                    "survival",
                    page.t._("Survival curve: the probability that the ceasefire still holds, by month, falling from "
                             "100%% at the start to %(end)s at month %(m)s.")
                    % {"end": page.t.fmt(last[1], "pct"), "m": page.t.fmt(last[0], "g")},
                    cap, brief=True)
    if init or trig:
        panels = []
        if init:
            panels.append((page.t._("Who broke it"),
                           [(title, {_actor_text(page, scen, k): v for k, v in init.items()})]))
        if trig:
            panels.append((page.t._("What triggered it"), [(title, {_trigger(page, k): v for k, v in trig.items()})]))
        top = max(init, key=init.get) if init else None
        page.figure(partial(plots.shares_figure, panels, page.t._("Who broke the ceasefire, and what triggered it"),
                            page.t._("share of the collapses"), page.t),
                    "collapses",
                    page.t._("Bar charts of who started the collapse and of its trigger, as shares of the %(n)s "
                             "collapses; the largest initiator is %(who)s with %(share)s.")
                    % {"n": page.t.fmt(s.get("collapsed", 0), "int"),
                       "who": _actor_text(page, scen, top) if top else "-",
                       "share": page.t.fmt(init[top], "pct") if top else "-"},
                    page._("Initiator and proximate trigger of the collapse, as shares of the %(n)s replications that "
                           "collapsed within %(h)s months.", n=page.num(s.get("collapsed", 0), None, "int"),
                           h=page.num(h, None, "g")), brief=True)
    if surv:
        hmonths, hz = hazard_by_month(surv)
        finite = [(mm, v) for mm, v in zip(hmonths, hz) if math.isfinite(v)]
        peak = max(finite, key=lambda x: x[1]) if finite else (0, 0.0)
        page.figure(partial(plots.hazard_figure, hmonths, hz, page.t._("Risk of collapse month by month"), page.t,
                            events=events),
                    "hazard",
                    page.t._("Bar chart of the monthly risk of collapse: of the ceasefires still holding at the start "
                             "of each month, the share that collapse during it. The highest is %(peak)s in month "
                             "%(m)s.") % {"peak": page.t.fmt(peak[1], "pct"), "m": page.t.fmt(peak[0], "g")},
                    page._("Monthly hazard, 1 - S(m)/S(m-1) from the survival curve: how dangerous each month is for "
                           "a ceasefire that has lasted until then."))
    if (d / "timeseries.csv").is_file():
        panels, skipped = _fan_panels(page, d / "timeseries.csv", scen)
        if panels:
            cap = page._("Month by month, the median (line), the middle 50%% (dark band) and the middle 90%% (light "
                         "band) across the replications <em>still holding</em> at that month; late months rest on "
                         "fewer replications. Monthly counts are per 30.44 days, so months of four and five weekly "
                         "steps compare.")
            if skipped:
                cap += page._(" Not shown: %(list)s.", list=page.join(skipped))
            page.figure(partial(plots.fan_figure, panels, page.t._("State of the conflict while the ceasefire holds"),
                                page.t),
                        "state",
                        page.t._("Fan charts of %(n)s state variables by month: median line with the middle 50%% and "
                                 "90%% of replications shaded.") % {"n": page.t.fmt(len(panels), "int")},
                        cap)

    # details and parameters
    mi = s.get("mean_incidents_per_replication") or {}
    page.ctx["details"] = {"items": [page._("Mean incidents per replication: %(list)s.", list=page.comma.join(
        [page._("%(what)s %(n)s", what=page.t._(INCIDENTS[k]) if k in INCIDENTS else k.replace("_", " "),
                n=page.num(v, f"mean_incidents_per_replication.{k}", "num1")) for k, v in mi.items()]))]
                           if mi else [], "tables": []}
    groups = _parameter_groups(page, scen)
    n_params = sum(len(g["table"]["rows"]) for g in groups)
    page.ctx["parameters"] = {
        "summary": page.n_("All %(n)s numeric parameter of the scenario, with scale, range, meaning and source",
                           "All %(n)s numeric parameters of the scenario, with scale, range, meaning and source",
                           n_params),
        "intro": page._("Every numeric parameter of the scenario as it was run (after inheritance), with its scale, "
                        "the "
                        "range the schema allows, its meaning and the claim of the source documents it stands for."),
        "actors": _actors_table(page, scen), "groups": groups, "diff": None}
    page.ctx["provenance"] = _provenance(page, [(page.t._("run"), {k: v for k, v in m.items() if k != "scenario"})])

    # the bottom line, last: it mentions the flags raised above
    est = pc[hm]
    bl = [page._("The ceasefire collapses %(within)s in %(freq)s: %(value)s.", within=_within(page, hm),
                 freq=_frequency(page, est.get("estimate")), value=page.estimate(est, f"p_collapse.{hm}", "pct"))]
    if months[-1] != hm:
        last = pc[months[-1]]
        bl[0] = page._("The ceasefire collapses %(within)s in %(freq)s: %(value)s; and %(within2)s in %(freq2)s: "
                       "%(value2)s.", within=_within(page, hm), freq=_frequency(page, est.get("estimate")),
                       value=page.estimate(est, f"p_collapse.{hm}", "pct"), within2=_within(page, months[-1]),
                       freq2=_frequency(page, last.get("estimate")),
                       value2=page.estimate(last, f"p_collapse.{months[-1]}", "pct"))
    if init:
        top = max(init, key=init.get)
        sentence = page._("%(quant)s (%(share)s) are started by %(actor)s.", quant=_quantifier(page, init[top]),
                          share=page.num(init[top], f"initiator_share.{top}", "pct"), actor=_actor(page, scen, top))
        if trig:
            tt = max(trig, key=trig.get)
            sentence = page._("%(quant)s (%(share)s) are started by %(actor)s; the most frequent trigger is "
                              "%(trigger)s (%(tshare)s of collapses).", quant=_quantifier(page, init[top]),
                              share=page.num(init[top], f"initiator_share.{top}", "pct"),
                              actor=_actor(page, scen, top), trigger=_trigger(page, tt),
                              tshare=page.num(trig[tt], f"trigger_share.{tt}", "pct"))
        bl.append(sentence)
    else:
        bl.append(page._("No replication collapsed within %(h)s months.", h=page.num(h, None, "g")))
    obs = observed_months(scen)
    if med is not None:
        timing = page._("Half of the runs have collapsed by month %(median)s", median=page.num(
            med, "median_months_to_collapse", "months"))
    else:
        timing = page._("More than half of the runs still hold at the %(h)s-month horizon", h=page.num(h, None, "g"))
    if obs is not None:
        timing = page._("%(timing)s; the ceasefire actually held %(obs)s months.", timing=timing,
                        obs=page.num(obs, None, "months"))
    else:
        timing = page._("%(timing)s.", timing=timing)
    bl.append(timing)
    bl.append(page._("%(caveat)s%(flags)s", caveat=_caveat_sentence(page, any_credible, any_settings),
                     flags=_flags_sentence(page)))
    page.ctx["bottom_line"] = bl


def _fronts_table(page: Page, s: dict, scen: dict, hm: str) -> dict | None:
    fronts = s.get("fronts") or {}
    if not fronts:
        return None
    rows = []
    for fname, f in fronts.items():
        between = f.get("between") or []
        pcf = f.get("p_collapse") or {}
        k = hm if hm in pcf else (list(pcf)[-1] if pcf else None)
        est = pcf.get(k) if k else None
        ishare = f.get("initiator_share") or {}
        top = max(ishare, key=ishare.get) if ishare else None
        rows.append([page.bdi(fname), page.list_words([_actor(page, scen, a) for a in between]),
                     page.estimate(est, f"fronts.{fname}.p_collapse.{k}", "pct") if est else "",
                     page._("%(actor)s (%(share)s)", actor=_actor(page, scen, top),
                            share=page.num(ishare[top], f"fronts.{fname}.initiator_share.{top}", "pct"))
                     if top else ""])
    return page.table([page.t._("front"), page.t._("between"),
                       page._("collapse %(within)s", within=_within(page, hm)),
                       page.t._("most frequent initiator")], rows, caption=page.t._("Front by front"))


# --- compare -------------------------------------------------------------------------------------

def _compare_month(c: dict) -> str:
    """The headline month: the first at which either scenario has collapsed in a quarter of the runs."""
    keys = list(c["differences"]["p_collapse"])
    for k in keys:
        if max(_float((c["p_collapse"]["base"].get(k) or {}).get("estimate")),
               _float((c["p_collapse"]["other"].get(k) or {}).get("estimate"))) >= 0.25:
            return k
    return keys[-1]


def _p_values(data: Any, path: str = "", depth: int = 0) -> list[tuple[str, float]]:
    """Every p-value in a comparison (keys ending in '_p' or named 'p_value'), with its JSON path."""
    out = []
    if isinstance(data, dict) and depth < 4:
        for k, v in data.items():
            key = f"{path}.{k}" if path else str(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (k == "p_value" or str(k).endswith("_p")):
                out.append((key, float(v)))
            elif isinstance(v, dict) and k not in ("p_collapse",):
                out += _p_values(v, key, depth + 1)
    return out


P_VALUE_TEXT = {
    "logrank_p": N_("Log-rank test that the two survival curves are the same"),
    "initiator_test.p_value": N_("Chi-square test that who breaks the ceasefire is the same"),
    "tests.collapse_by_horizon.p_value": N_("Paired test (exact McNemar) that collapse by the horizon is as likely "
                                            "under both scenarios"),
    "tests.time_to_collapse.p_value": N_("Paired test (log-rank stratified by pair) that the ceasefire lasts as long "
                                         "under both scenarios"),
    "as_if_independent_runs.logrank_p": N_("Log-rank test as if the runs were independent (it ignores the pairing)"),
    "as_if_independent_runs.initiator_chi_square.p_value": N_("Chi-square test of who breaks the ceasefire, as if the "
                                                              "runs were independent (it ignores the pairing)"),
}


def _p_value_label(page: Page, c: dict, key: str, scen: dict | None) -> Any:
    if key in P_VALUE_TEXT:
        return page.t._(P_VALUE_TEXT[key])
    m = re.fullmatch(r"tests\.initiators\.by_initiator\.(.+)\.p_value", key)
    if m:
        return page._("Paired test (exact McNemar) that collapses started by %(actor)s are as frequent under both "
                      "scenarios", actor=_actor(page, scen, m[1]))
    method = _get(c, key.rsplit(".", 1)[0] + ".method") if "." in key else None
    return page._("%(method)s %(key)s", method=method, key=page.m.small_code(key)) if isinstance(method, str) \
        else page.m.code(key)


def _compare_report(page: Page) -> None:
    from sim import plots
    d = page.directory
    c = _json(d / "comparison.json")
    runs = {role: _run_files(d / role) for role in ("base", "other") if (d / role / "summary.json").is_file()}
    scen = {role: (runs[role]["manifest"].get("scenario") if role in runs else None) or c["scenarios"][role]
            for role in ("base", "other")}
    bname, oname = c["scenarios"]["base"]["name"], c["scenarios"]["other"]["name"]
    btitle, otitle = scenario_title(scen["base"], bname), scenario_title(scen["other"], oname)
    B, O = page.bdi(btitle), page.bdi(otitle)
    h = float(c["horizon_months"])
    diffs = c["differences"]["p_collapse"]
    months = list(diffs)
    hm = _compare_month(c)
    page.ctx["credible_level"] = (c.get("uncertainty") or {}).get("credible_level") or 0.9
    pbase, pother = c["p_collapse"]["base"], c["p_collapse"]["other"]
    any_credible = any(_has(v, "credible_low", "credible_high") for v in [*diffs.values(), *pbase.values(),
                                                                          *pother.values()])
    any_settings = any(_has(v, "settings_low", "settings_high") for v in [*diffs.values(), *pbase.values(),
                                                                          *pother.values()])
    page.ctx.update(title=page.t._("Two scenarios compared"),
                    subtitle=[O, page._("compared with %(base)s", base=B)],
                    kind_label=page.t._("Paired comparison of two scenarios"))

    pdiff = [r for r in c.get("parameter_diff") or []
             if r["key"] not in ("name", "description", "title", "sources") and not r["key"].endswith(".label")]
    diff_table = page.table(
        [page.t._("setting"), page._("base: %(name)s", name=B), page._("other: %(name)s", name=O)],
        [[page.m.path(r["key"]), _value_text(page, r.get("base")), _value_text(page, r.get("other"))] for r in pdiff],
        caption=page.n_("What differs between the two scenarios (%(n)s setting after inheritance)",
                        "What differs between the two scenarios (%(n)s settings after inheritance)", len(pdiff)),
        widths=[36, 32, 32]) if pdiff else None
    stop = c.get("stopping") or {}
    page.ctx["question"] = {
        "lead": page._("Does the ceasefire last longer or shorter under %(other)s than under %(base)s, and by how "
                       "much?", other=page.m.strong(O), base=page.m.strong(B)),
        "method": page._("Both scenarios were played %(runs)s for %(h)s months on <em>common random numbers</em>: "
                         "replication i of each scenario draws the same dice for the same random events, so the "
                         "differences come from the scenarios, not from chance. Differences are <em>other minus "
                         "base</em>, in percentage points (%(stopping)s).",
                         runs=page.n_("%(n)s time", "%(n)s times", int(c["runs"])), h=page.num(h, None, "g"),
                         stopping=_stopping(page, stop.get("reason", ""))),
        "scenarios": [_scenario_block(page, scen["base"], page._("Base: %(title)s", title=B), show_title=False),
                      _scenario_block(page, scen["other"], page._("Other: %(title)s", title=O), show_title=False)],
        "diff": diff_table,
    }

    # headline table
    cols = [page.t._("collapse"), B, O, page.t._("difference (points)"),
            page._("%(level)s simulation interval (points)", level=page.num(SIMULATION_LEVEL, None, "pct0"))]
    if any_credible:
        cols.append(page._("%(level)s credible interval (points)", level=page.num(page.credible_level, None, "pct0")))
    if any_settings:
        cols.append(page._("%(level)s range over uncertain settings (points)", level=page.num(0.9, None, "pct0")))
    cols.append(page.t._("size of the difference"))
    rows = []
    for k in months:
        pa, pb, dd = pbase.get(k, {}), pother.get(k, {}), diffs[k]
        row = [_within(page, k), page.num(pa.get("estimate"), f"p_collapse.base.{k}.estimate", "pct"),
               page.num(pb.get("estimate"), f"p_collapse.other.{k}.estimate", "pct"),
               page.num(dd.get("estimate"), f"differences.p_collapse.{k}.estimate", "pp"),
               page.span(dd, f"differences.p_collapse.{k}", "pp") if _has(dd, "ci_low", "ci_high") else ""]
        if any_credible:
            row.append(page.span(dd, f"differences.p_collapse.{k}", "pp", "credible_low", "credible_high")
                       if _has(dd, "credible_low", "credible_high") else "")
        if any_settings:
            row.append(page.span(dd, f"differences.p_collapse.{k}", "pp", "settings_low", "settings_high")
                       if _has(dd, "settings_low", "settings_high") else "")
        row.append(_size_word(page, _float(dd.get("estimate"))))
        rows.append(row)
    r = c["differences"].get("rmst") or {}
    if r:
        row = [page._("mean months holding (of %(h)s)", h=page.num(h, None, "g")), "", "",
               page.num(r.get("estimate"), "differences.rmst.estimate", "signed"),
               page.span(r, "differences.rmst", "signed") if _has(r, "ci_low", "ci_high") else ""]
        rows.append(row + [""] * (len(cols) - len(row)))
    med = c["differences"].get("median") or {}

    def med_cell(role):
        v = med.get(f"{role}_median")
        return page.num(v, f"differences.median.{role}_median", "months") if v is not None else \
            page._("beyond %(h)s", h=page.num(h, None, "g"))
    if med:
        row = [page.t._("median months to collapse"), med_cell("base"), med_cell("other"),
               page.num(med.get("estimate"), "differences.median.estimate", "signed")
               if med.get("estimate") is not None else "",
               page.span(med, "differences.median", "signed") if _has(med, "ci_low", "ci_high") else
               page.m.muted(page.t._("no interval"))]
        rows.append(row + [""] * (len(cols) - len(row)))
    headline = page.table(cols, rows, caption=page._(
        "Probability of collapse under each scenario and the paired difference (other minus base), from %(runs)s "
        "paired replications", runs=page.num(c["runs"], "runs", "int")))
    attribution = c.get("attribution") or []
    attr_table = None
    if attribution:
        arows = []
        for i, a in enumerate(attribution):
            arows.append([page.m.path(a.get("setting", "")),
                          page.num(a.get("contribution"), f"attribution.{i}.contribution", "pp"),
                          page._("%(low)s to %(high)s", low=page.num(a.get("ci_low"), f"attribution.{i}.ci_low", "pp"),
                                 high=page.num(a.get("ci_high"), f"attribution.{i}.ci_high", "pp"))
                          if a.get("ci_low") is not None and a.get("ci_high") is not None else "",
                          _effect(page, a.get("effect"))])
        attr_table = page.table([page.t._("setting"), page.t._("contribution (points)"),
                                 page._("%(level)s interval (points)", level=page.num(0.95, None, "pct0")),
                                 page.t._("effect")], arows,
                                caption=page._("Which differing setting makes the difference in collapse %(within)s "
                                               "(Shapley contributions; they add up to the total difference)",
                                               within=_within(page, months[-1])))
    it = c.get("initiator_test") or {}
    page.ctx["headline"] = {"table": headline, "attribution": attr_table,
                            **_uncertainty_notes(page, c.get("uncertainty"), any_credible, any_settings)}

    # figures
    events = _events_for_plot(page, [scen["base"], scen["other"]], h)
    observed = _observed_for_plot(page, [scen["base"], scen["other"]])
    if "base" in runs and "other" in runs:
        sb, so = runs["base"]["survival"], runs["other"]["survival"]
        cap = page._("Share of replications in which the ceasefire still holds, by month: %(base)s (solid) and "
                     "%(other)s (dashed), each with its 95%% simulation band.", base=B, other=O)
        if events:
            cap += page._(" Dotted lines: scheduled events, numbered as in the key under the chart.")
        if observed:
            cap += page._(" Dashed line: the observed collapse.")
        page.figure(partial(plots.report_survival_figure, [(btitle, sb), (otitle, so)],
                            page.t._("Survival of the ceasefire under both scenarios"), page.t,
                            events=events, observed=observed),
                    "survival_compare",
                    page.t._("Two survival curves with 95%% bands. At month %(m)s the ceasefire still holds in %(a)s "
                             "of replications under %(base)s and %(b)s under %(other)s.")
                    % {"m": page.t.fmt(sb[-1][0], "g"), "a": page.t.fmt(sb[-1][1], "pct"), "base": btitle,
                       "b": page.t.fmt(so[-1][1], "pct"), "other": otitle}, cap, brief=True)
    mnum = [_float(k) for k in months]
    last = diffs[months[-1]]
    page.figure(partial(plots.difference_figure, mnum, [diffs[k]["estimate"] for k in months],
                        [diffs[k].get("ci_low") for k in months],
                        [diffs[k].get("ci_high") for k in months],
                        page.t._("Paired difference in P(collapse by month): other minus base"), page.t,
                        credible=([diffs[k].get("credible_low") for k in months],
                                                  [diffs[k].get("credible_high") for k in months])
                                        if any_credible else None),
                "difference",
                page.t._("Paired difference in the probability of collapse by month, with its 95%% interval; by month "
                         "%(m)s it is %(d)s points (%(lo)s to %(hi)s).")
                % {"m": page.t.fmt(_float(months[-1]), "g"), "d": page.t.fmt(last.get("estimate"), "pp"),
                   "lo": page.t.fmt(last.get("ci_low"), "pp"), "hi": page.t.fmt(last.get("ci_high"), "pp")},
                page._("Paired difference in P(collapse by month), other minus base, in percentage points, with its "
                       "95%% simulation interval. The grey band marks differences under 2 points (negligible); the "
                       "dotted lines 5 and 15 points (small up to 5, moderate up to 15, large beyond)."), brief=True)
    if attribution:
        page.figure(partial(
            plots.attribution_figure,
            [(a.get("setting", ""), a.get("contribution"), a.get("ci_low"), a.get("ci_high")) for a in attribution],
            page.t._("What makes the difference: contribution of each differing setting"), page.t),
            "attribution",
            page.t._("Horizontal bar chart of the contribution of each differing setting to the difference in "
                     "collapse, in percentage points, with 95%% intervals."),
            page._("Shapley contribution of each setting that differs between the scenarios to the difference in "
                   "P(collapse %(within)s), in percentage points, with 95%% intervals; the contributions add up to "
                   "the total difference.", within=_within(page, months[-1])), brief=True)
    shares = c.get("initiator_share") if isinstance(c.get("initiator_share"), dict) else {}
    if shares:
        bs, os_, share_key = shares.get("base") or {}, shares.get("other") or {}, "initiator_share.{role}.{who}"
    else:
        bs, os_, share_key = (it.get("base_share") or {}, it.get("other_share") or {},
                              "initiator_test.{role}_share.{who}")
    if bs or os_:
        panels = [(page.t._("Who broke it"), [(btitle, {_actor_text(page, scen["base"], k): v for k, v in bs.items()}),
                                              (otitle, {_actor_text(page, scen["other"], k): v
                                                        for k, v in os_.items()})])]
        if "base" in runs and "other" in runs:
            tb = runs["base"]["summary"].get("trigger_share") or {}
            to = runs["other"]["summary"].get("trigger_share") or {}
            if tb or to:
                panels.append((page.t._("What triggered it"),
                               [(btitle, {_trigger(page, k): v for k, v in tb.items()}),
                                (otitle, {_trigger(page, k): v for k, v in to.items()})]))
        page.figure(partial(plots.shares_figure, panels,
                            page.t._("Who broke the ceasefire, and what triggered it, side by side"),
                            page.t._("share of the collapses"), page.t),
                    "collapses_compare",
                    page.t._("Grouped bar charts of who started the collapse and of its trigger under each scenario: "
                             "%(list)s.") % {"list": "; ".join(
                                 f"{_actor_text(page, scen['base'], k)} {page.t.fmt(bs.get(k, 0), 'pct')} / "
                                 f"{page.t.fmt(os_.get(k, 0), 'pct')}"
                                 for k in sorted(set(bs) | set(os_),
                                                 key=lambda k: (-max(bs.get(k, 0), os_.get(k, 0)), k)))},
                    page._("Initiator and proximate trigger as shares of each scenario's collapses: %(base)s (plain "
                           "bars) and %(other)s (hatched).", base=B, other=O))

    # details: the tests' p-values, the pairing
    items = []
    for key, p in _p_values(c):
        items.append(page._("%(test)s: p = %(p)s.", test=_p_value_label(page, c, key, scen["base"]),
                            p=page.num(p, key, "p")))
    if items:
        items.append(page._("With many paired replications, p-values measure computing effort more than importance: "
                            "read the size of the difference above instead."))
    am = c.get("attribution_method") or {}
    if am.get("method"):
        items.append(page._("Attribution: %(method)s; the contributions add up to %(total)s points.",
                            method=am["method"], total=page.num(am.get("sum_of_contributions"),
                                                                "attribution_method.sum_of_contributions", "pp")))
    vr = c.get("variance_reduction") or {}
    if vr.get("width_ratio"):
        items.append(page._("Pairing on common random numbers made the headline interval %(x)s times narrower than "
                            "independent runs would have.", x=page.num(1 / vr["width_ratio"], None, "num1")))
    if med.get("note"):
        items.append(page._("Median: %(note)s.", note=med["note"]))
    page.ctx["details"] = {"items": items, "tables": []}

    page.ctx["parameters"] = {
        "summary": page.n_("The %(n)s differing setting, with scale, range, meaning and source",
                           "The %(n)s differing settings, with scale, range, meaning and source", len(pdiff)),
        "intro": page._("Only the settings that differ between the two scenarios (after inheritance); everything else "
                        "is the same in both."),
        "actors": None, "groups": [], "diff": _diff_parameter_table(page, pdiff, scen["base"], B, O)}
    mans = [(page._("%(role)s: %(title)s", role=page.t._(role), title=t_),
             {k: v for k, v in runs[role]["manifest"].items() if k != "scenario"})
            for role, t_ in (("base", B), ("other", O)) if role in runs]
    page.ctx["provenance"] = _provenance(page, mans)
    page.ctx["provenance"]["note"] = page._("Stopping rule: %(reason)s; %(runs)s paired replications, seed %(seed)s.",
                                            reason=_stopping(page, stop.get("reason", "")),
                                            runs=page.num(c["runs"], None, "int"),
                                            seed=page.num(c.get("seed"), None, "g"))

    # the bottom line
    dd = diffs[hm]
    bl = [page._("Within %(months)s months the ceasefire collapses in %(freq)s under %(other)s (%(po)s), against "
                 "%(pb)s "
                 "under %(base)s.", months=page.num(_float(hm), None, "g"),
                 freq=_frequency(page, _float(pother[hm].get("estimate"))), other=O,
                 po=page.num(pother[hm].get("estimate"), f"p_collapse.other.{hm}.estimate", "pct"),
                 pb=page.num(pbase[hm].get("estimate"), f"p_collapse.base.{hm}.estimate", "pct"), base=B)]
    noise = _has(dd, "ci_low", "ci_high") and dd["ci_low"] <= 0 <= dd["ci_high"] and not (
        dd["ci_low"] == 0 == dd["ci_high"])
    sentence = page._("The difference, %(diff)s, is %(size)s%(noise)s",
                      diff=_points(page, dd, f"differences.p_collapse.{hm}"),
                      size=page.m.strong(_size_word(page, _float(dd.get("estimate")))),
                      noise=page._(" and cannot be told apart from simulation noise") if noise else "")
    if months[-1] != hm:
        dl = diffs[months[-1]]
        same = _size_word(page, _float(dl.get("estimate"))) == _size_word(page, _float(dd.get("estimate")))
        sentence = page._(N_("%(sentence)s; by month %(m)s it is %(diff)s, also %(size)s") if same else
                          N_("%(sentence)s; by month %(m)s it is %(diff)s, %(size)s"), sentence=sentence,
                          m=page.num(_float(months[-1]), None, "g"),
                          diff=_points(page, dl, f"differences.p_collapse.{months[-1]}", intervals=False),
                          size=_size_word(page, _float(dl.get("estimate"))))
    if attribution:
        top = max(attribution, key=lambda a: abs(_float(a.get("contribution"))))
        sentence = page._("%(sentence)s; most of it comes from %(setting)s (%(c)s points)", sentence=sentence,
                          setting=page.m.path(top.get("setting", "")),
                          c=page.num(top.get("contribution"), f"attribution.{attribution.index(top)}.contribution",
                                     "pp"))
    bl.append(page._("%(sentence)s.", sentence=sentence))
    moved = [k for k in set(bs) | set(os_) if abs(os_.get(k, 0) - bs.get(k, 0)) >= 0.05]
    # a rising share is news (a new way for the ceasefire to end); the largest rise first, else the largest fall
    shifts = sorted(moved, key=lambda k: (os_.get(k, 0) < bs.get(k, 0), -abs(os_.get(k, 0) - bs.get(k, 0)), k))
    if shifts:
        k = shifts[0]
        up = os_.get(k, 0) > bs.get(k, 0)
        msg = (N_("What changes most is who breaks it: collapses started by %(actor)s rise from %(a)s to %(b)s of "
                  "collapses.") if up else
               N_("What changes most is who breaks it: collapses started by %(actor)s fall from %(a)s to %(b)s of "
                  "collapses."))
        bl.append(page._(msg, actor=_actor(page, scen["base"], k),
                         a=page.num(bs.get(k, 0), share_key.format(role="base", who=k) if k in bs else None, "pct"),
                         b=page.num(os_.get(k, 0), share_key.format(role="other", who=k) if k in os_ else None,
                                    "pct")))
    elif bs or os_:
        bl.append(page._("Who breaks the ceasefire hardly changes (no initiator's share moves by 5 points or more)."))
    bl.append(page._("Both come from the same model on common random numbers, so the difference is more reliable than "
                     "either level; %(caveat)s%(flags)s",
                     caveat=_lower_first(_caveat_sentence(page, any_credible, any_settings)),
                     flags=_flags_sentence(page)))
    page.ctx["bottom_line"] = bl


def _stopping(page: Page, reason: str) -> str:
    return page.t._(STOPPING[reason]) if reason in STOPPING else reason


def _lower_first(text: Any) -> Any:
    from markupsafe import Markup
    s = str(text)
    return Markup(s[:1].lower() + s[1:]) if s[:1].isupper() else text


def _points(page: Page, dd: dict, key: str, intervals: bool = True) -> Any:
    value = page.num(dd.get("estimate"), f"{key}.estimate", "pp")
    text = page._("%(value)s points", value=value)
    parts = page.intervals(dd, key, "pp") if intervals else []
    return page._("%(value)s (%(intervals)s)", value=text, intervals=page.join(parts)) if parts else text


def _effect(page: Page, effect: str | None) -> str:
    words = {"none detected": N_("none detected"), "increases": N_("increases the risk"),
             "decreases": N_("decreases the risk")}
    return page.t._(words[effect]) if effect in words else (effect or "")


def _diff_parameter_table(page: Page, pdiff: list[dict], scen: dict, B: Any, O: Any) -> dict | None:
    if not pdiff:
        return None
    rows = []
    for r in pdiff:
        key = r["key"]
        path = re.sub(r"^events\.[^.]+\.set\.", "", key)
        info = _info_of_path(path, scen)
        rows.append([page.m.path(key), _value_text(page, r.get("base")), _value_text(page, r.get("other")),
                     info.get("unit", ""), info.get("doc", ""), page.cite(info.get("source", ""), numbers=True)])
    return page.table([page.t._("setting"), B, O, page.t._("scale (unit)"), page.t._("what it means"),
                       page.t._("source claim")], rows, cls="params", widths=[22, 12, 12, 14, 22, 18])


# --- sweep ---------------------------------------------------------------------------------------

PROPER = {"turkish": "Turkish", "russian": "Russian", "russia": "Russia", "turkey": "Turkey", "ankara": "Ankara",
          "hts": "HTS", "sdf": "SDF", "iran": "Iran", "iranian": "Iranian", "israeli": "Israeli", "israel": "Israel",
          "idlib": "Idlib", "assad": "Assad", "us": "US"}


def _factor_label(page: Page, name: str) -> str:
    """A factor's key as words ('russian_interest_in_ankara' -> "Russian interest in Ankara"), translated where
    the catalog knows it."""
    words = [PROPER.get(w, w) for w in name.split("_")]
    text = " ".join(words).replace("cross theatre", "cross-theatre")
    text = text[:1].upper() + text[1:]
    return page.t.pgettext("factor", text)


def outcome_label(page: Page, outcome: str, horizon: float, scen: dict | None = None) -> str:
    h = page.t.fmt(horizon, "g")
    if outcome == "p_collapse":
        return page.t._("P(collapse within %(h)s months)") % {"h": h}
    if outcome == "rmst":
        return page.t._("mean months holding (of %(h)s)") % {"h": h}
    m = re.fullmatch(r"p_collapse_by_(\d+(?:\.\d+)?)", outcome)
    if m:
        return page.t._("P(collapse within %(h)s months)") % {"h": page.t.fmt(float(m[1]), "g")}
    if outcome.startswith("p_initiated_by:"):
        return page.t._("P(collapse started by %(actor)s within %(h)s months)") % {
            "actor": _actor_text(page, scen, outcome.split(":", 1)[1]), "h": h}
    if outcome.startswith("initiator_share:"):
        return page.t._("share of collapses started by %(actor)s") % {
            "actor": _actor_text(page, scen, outcome.split(":", 1)[1])}
    return outcome


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


DISTRIBUTIONS = {"uniform": N_("uniform"), "loguniform": N_("log-uniform"), "triangular": N_("triangular"),
                 "truncnormal": N_("truncated normal"), "normal": N_("normal")}
INDEX_RANGE = {"S1": 1.0, "ST": 1.0, "SRC": 2.0}
"""Width of the range an index can take (Sobol indices 0 to 1, SRC -1 to 1); wider intervals are flagged."""


def _index_cell(page: Page, f: dict, key: str, base: str) -> Any:
    if f.get(key) is None:
        return page.t._("n/a")
    cell = page.num(f[key], f"{base}.{key}", "index")
    lo, hi = f.get(f"{key}_ci_low"), f.get(f"{key}_ci_high")
    if lo is not None and hi is not None:
        cell = page._("%(value)s (%(low)s to %(high)s)", value=cell, low=page.num(lo, f"{base}.{key}_ci_low", "index"),
                      high=page.num(hi, f"{base}.{key}_ci_high", "index"))
    return cell


def _outcome_flag(page: Page, oname: str, ores: dict, label: str) -> Any:
    """One flag per outcome whose indices should not be leaned on: replication noise above half the variance,
    or intervals wider than the index's whole possible range."""
    reasons = []
    noise = ores.get("noise_share")
    if noise is not None and noise > 0.5:
        reasons.append(page._("replication noise is %(share)s of the variance across points",
                              share=page.num(noise, f"outcomes.{oname}.noise_share", "pct")))
    wide, total = [], 0
    for f in ores.get("factors") or []:
        for key in INDEX_COLUMNS.get(ores.get("method"), []):
            lo, hi = f.get(f"{key}_ci_low"), f.get(f"{key}_ci_high")
            if lo is None or hi is None:
                continue
            total += 1
            if key in INDEX_RANGE and hi - lo > INDEX_RANGE[key]:
                wide.append((lo, hi))
    if wide:
        lo, hi = max(wide, key=lambda w: w[1] - w[0])
        reasons.append(page._("%(k)s of its %(n)s intervals are wider than the index's whole possible range (up to "
                              "%(low)s to %(high)s)", k=page.num(len(wide), None, "int"),
                              n=page.num(total, None, "int"),
                              low=page.num(lo, None, "index2"), high=page.num(hi, None, "index2")))
    if not reasons:
        return ""
    return page.flag(page._("the indices of %(outcome)s", outcome=label),
                     page._("%(reasons)s: they are not informative", reasons=page.join(reasons)))


def _sweep_report(page: Page) -> None:
    import numpy as np

    from sim import plots
    d = page.directory
    sens = _json(d / "sensitivity.json")
    manifest = _json(d / "manifest.json") if (d / "manifest.json").is_file() else {}
    definition = manifest.get("experiment_definition") or {}
    names = list(sens["factors"])
    labels = {n: _factor_label(page, n) for n in names}
    outcome = sens["analysed_outcome"]
    h = float(sens["horizon_months"])
    scen, scen_note = _sweep_scenario(manifest)
    olabel = outcome_label(page, outcome, h, scen)
    percent = outcome != "rmst"
    res = sens["outcomes"][outcome]
    method = res.get("method")
    question = sens.get("question") or definition.get("question")
    page.ctx.update(title=page.t._("Which factor matters most?"),
                    subtitle=[page.bdi(question) if question else page.m.code(sens["experiment"])],
                    kind_label=page.t._("Sensitivity sweep"))

    ftab = []
    for fname, f in sens["factors"].items():
        info = _info_of_path(f["path"], scen)
        dist = f.get("distribution", "uniform")
        dist = page.t._(DISTRIBUTIONS[dist]) if dist in DISTRIBUTIONS else dist
        if f.get("distribution") == "triangular" and f.get("mode") is not None:
            dist = page._("triangular (mode %(m)s)", m=page.num(f["mode"], None, "g"))
        elif f.get("distribution") == "truncnormal" and f.get("mean") is not None:
            dist = page._("truncated normal (mean %(m)s, sd %(s)s)", m=page.num(f["mean"], None, "g"),
                          s=page.num(f.get("sd"), None, "g"))
        ftab.append([labels[fname], page.m.path(f["path"]),
                     page._("%(low)s to %(high)s, %(dist)s", low=page.num(f["low"], None, "g"),
                            high=page.num(f["high"], None, "g"), dist=dist),
                     _value_text(page, _get(scen, f["path"])) if scen else page.m.muted(page.t._("not recorded")),
                     info.get("unit", ""), page.cite(f.get("source", ""), numbers=True),
                     page.cite(info.get("source", ""), numbers=True)])
    factors_table = page.table([page.t._("factor"), page.t._("parameter"), page.t._("range swept"),
                                page.t._("value in the base scenario"), page.t._("scale (unit)"),
                                page.t._("source of the range"), page.t._("parameter's source claim")], ftab,
                               caption=page.t._("The factors varied"), cls="params", widths=[14, 17, 14, 9, 14, 14, 18])
    page.ctx["question"] = {
        "lead": page.bdi(question) if question else page.t._("Which of the factors moves the outcome most?"),
        "method": page._("The sweep ran the base scenario at %(points)s combinations of the factors below (sampler: "
                         "%(sampler)s), each %(reps)s times for %(h)s months (seed %(seed)s); everything not varied "
                         "stays as in the base scenario. %(failed)s point(s) failed and are left out. The analysis "
                         "uses "
                         "%(method)s, with 95%% bootstrap intervals.",
                         points=page.num(sens["points"], "points", "int"), sampler=sens["sampler"],
                         reps=page.num(sens["replications_per_point"], "replications_per_point", "int"),
                         h=page.num(h, None, "g"), seed=page.num(sens.get("seed"), None, "g"),
                         failed=page.num(sens.get("failed_points", 0), "failed_points", "int"),
                         method=page.t._(METHODS[method]) if method in METHODS else (method or page.t._("no method"))),
        "description": page.bdi(definition.get("description")) if definition.get("description") else None,
        "factors": factors_table,
        "scenario": _scenario_block(page, scen, page._("Base scenario: %(title)s", title=page.bdi(
            scenario_title(scen, scen.get("name", "")))), show_title=False) if scen else None,
        "scenario_note": page._("The base scenario's description and parameters are not shown: %(why)s.",
                                why=scen_note) if not scen else None,
    }

    # headline: the analysed outcome's ranking; details: every outcome's, each flagged as a whole if need be
    noise = res.get("noise_share")
    tables, headline = [], None
    for oname, ores in sens["outcomes"].items():
        ocols = INDEX_COLUMNS.get(ores.get("method"), []) + (["sigma"] if ores.get("method") == "morris" else [])
        ol = outcome_label(page, oname, h, scen)
        flag = _outcome_flag(page, oname, ores, ol)
        rows = []
        for rank, i in enumerate(ores.get("ranking") or [], 1):
            f = ores["factors"][i]
            rows.append([page.num(rank, None, "int"), labels[names[i]],
                         *(_index_cell(page, f, k, f"outcomes.{oname}.factors.{i}") for k in ocols)])
        caption = page._("Ranking of the factors by their effect on %(outcome)s (95%% bootstrap intervals) %(flag)s",
                         outcome=ol, flag=flag)
        table = page.table([page.t._("rank"), page.t._("factor"), *(page.t._(INDEX_NAMES.get(k, k)) for k in ocols)],
                           rows, caption=caption, row_header=False)
        if oname == outcome:
            headline = table
        else:
            tables.append(table)
    out_rows = _csv(d / "outcomes.csv") if (d / "outcomes.csv").is_file() else []
    y = np.array([_float(_outcome_cell(r, outcome)) if r.get("status") == "ok" else np.nan for r in out_rows])
    values = np.array([[_float(r.get(n)) for n in names] for r in out_rows]) if out_rows else np.zeros((0, len(names)))
    if (d / "design.csv").is_file():
        design = _csv(d / "design.csv")
        if len(design) == len(out_rows):
            values = np.array([[_float(r.get(n)) for n in names] for r in design])
    fmt_kind = "pct" if percent else "months"
    extra = []
    if res.get("r_squared") is not None:
        extra.append(page._("A linear fit on the factors explains %(r2)s of the variance of the outcome across points "
                            "(R²).", r2=page.num(res["r_squared"], f"outcomes.{outcome}.r_squared", "pct")))
    if noise is not None and res.get("noise_corrected") is False:   # runs spread over posterior draws (sim.sweep)
        extra.append(page._("Replication noise accounts for at most %(share)s of that variance; the indices are "
                            "not corrected for it.",
                            share=page.num(noise, f"outcomes.{outcome}.noise_share", "pct")))
    elif noise is not None:
        extra.append(page._("Replication noise accounts for %(share)s of that variance.",
                            share=page.num(noise, f"outcomes.{outcome}.noise_share", "pct")))
    if res.get("error"):
        extra.append(page._("No sensitivity analysis: %(why)s", why=res["error"]))
    page.ctx["headline"] = {"table": headline, "items": extra}

    # figures
    ok = np.isfinite(y)
    top = names[res["ranking"][0]] if res.get("ranking") else names[0]
    if method is not None:
        page.figure(partial(plots.index_figure, res["factors"], [labels[n] for n in names], method, olabel,
                            page.t._("Which factor matters most"), page.t),
                    "indices",
                    page.t._("Horizontal bar chart of the sensitivity indices of %(outcome)s for %(n)s factors with "
                             "95%% "
                             "bootstrap intervals; the most influential factor is %(top)s.")
                    % {"outcome": olabel, "n": page.t.fmt(len(names), "int"), "top": labels[top]},
                    page._("Sensitivity indices of %(outcome)s (%(method)s), with 95%% bootstrap intervals.",
                           outcome=olabel, method=method), brief=True)
    swings = []
    if ok.any() and values.shape[0] == y.size:
        for i, n in enumerate(names):
            x = values[:, i]
            lo_cut, hi_cut = np.quantile(x[ok], [0.2, 0.8])
            lo = float(np.mean(y[ok & (x <= lo_cut)])) if (ok & (x <= lo_cut)).any() else math.nan
            hi = float(np.mean(y[ok & (x >= hi_cut)])) if (ok & (x >= hi_cut)).any() else math.nan
            swings.append((labels[n], lo, hi))
        swings.sort(key=lambda t: -abs(t[2] - t[1]) if math.isfinite(t[2] - t[1]) else 0)
        centre = float(np.mean(y[ok]))
        s0 = swings[0]
        page.figure(partial(plots.tornado_figure, swings, centre, olabel, page.t._("Tornado: conditional means"),
                            percent, page.t),
                    "tornado",
                    page.t._("Tornado chart: mean %(outcome)s with each factor in its lowest and highest fifth, around "
                             "the overall mean %(centre)s; the widest swing is %(factor)s, from %(lo)s to %(hi)s.")
                    % {"outcome": olabel, "centre": page.t.fmt(centre, fmt_kind), "factor": s0[0],
                       "lo": page.t.fmt(s0[1], fmt_kind), "hi": page.t.fmt(s0[2], fmt_kind)},
                    page._("Mean %(outcome)s over the points where the factor is in the lowest fifth of its range "
                           "(plain bars) and in its highest fifth (hatched bars), against the mean over all points "
                           "(vertical line); factors sorted by the width of their swing.", outcome=olabel))
        axis_labels = [f"{labels[n]} ({_unit_of(sens['factors'][n]['path'], scen) or page.t._('value')})"
                       for n in names]
        if sens["sampler"] == "grid" and len(names) in (1, 2):
            low = np.array([_float(_outcome_cell(r, outcome, "_ci_low")) for r in out_rows])
            high = np.array([_float(_outcome_cell(r, outcome, "_ci_high")) for r in out_rows])
            if len(names) == 2:
                alt = page.t._("Heat map of %(outcome)s over a %(nx)s by %(ny)s grid of %(x)s (horizontal) and %(y)s "
                               "(vertical); values from %(lo)s to %(hi)s.") % {
                    "outcome": olabel, "nx": page.t.fmt(len(np.unique(values[:, 0])), "int"),
                    "ny": page.t.fmt(len(np.unique(values[:, 1])), "int"), "x": labels[names[0]],
                    "y": labels[names[1]], "lo": page.t.fmt(float(np.nanmin(y)), fmt_kind),
                    "hi": page.t.fmt(float(np.nanmax(y)), fmt_kind)}
                cap = page._("%(outcome)s at each grid point (colour, viridis scale; numbers in the cells%(unit)s).",
                             outcome=olabel, unit=page.t._(" in %") if percent else "")
            else:
                alt = page.t._("Line chart of %(outcome)s against %(x)s, with its 95%% band.") % {
                    "outcome": olabel, "x": labels[names[0]]}
                cap = page._("%(outcome)s against %(x)s, with the 95%% interval at each point.", outcome=olabel,
                             x=labels[names[0]])
            page.figure(partial(plots.grid_figure, values, y, low, high, axis_labels, olabel, olabel, percent, page.t),
                        "grid", alt, cap, brief=True)
        else:
            page.figure(partial(plots.partial_dependence_figure, values, y, axis_labels, olabel,
                                page.t._("Partial dependence"), percent, page.t),
                        "partial_dependence",
                        page.t._("Partial dependence of %(outcome)s on each of the %(n)s factors: the mean outcome in "
                                 "five quantile bins of each factor.") % {"outcome": olabel,
                                                                           "n": page.t.fmt(len(names), "int")},
                        page._("Partial dependence: mean %(outcome)s in five bins of each factor, averaged over the "
                               "others.", outcome=olabel))

    page.ctx["details"] = {"items": [page.t._("The other outcomes of the sweep:")] if tables else [],
                           "tables": tables}
    if scen:
        varied = {f["path"] for f in sens["factors"].values()}
        groups = _parameter_groups(page, scen, highlight=varied, highlight_label=page.t._("varied"))
        page.ctx["parameters"] = {
            "summary": page.n_("All %(n)s numeric parameter of the base scenario (the varied ones marked)",
                               "All %(n)s numeric parameters of the base scenario (the varied ones marked)",
                               sum(len(g["table"]["rows"]) for g in groups)),
            "intro": page._("Every numeric parameter of the base scenario, %(note)s. Rows marked varied are the "
                            "factors of this sweep; their value here is the base value, replaced at each point by the "
                            "design's value.", note=scen_note),
            "actors": _actors_table(page, scen), "groups": groups, "diff": None}
    else:
        page.ctx["parameters"] = None
    prov = {k: v for k, v in manifest.items() if k not in ("experiment_definition", "scenario")}
    if prov:
        prov.update({"seed": sens.get("seed"), "replications_per_point": sens.get("replications_per_point"),
                     "horizon_months": sens.get("horizon_months"), "sampler": sens.get("sampler")})
    page.ctx["provenance"] = _provenance(page, [(page.t._("sweep"), prov)]) if prov else None

    # the bottom line
    bl = []
    ranking = res.get("ranking") or []
    hk = HEADLINE_INDEX.get(method)
    if ranking and hk:
        f0 = res["factors"][ranking[0]]
        followers = [page._("%(factor)s (%(value)s)", factor=labels[names[i]],
                            value=page.num(res["factors"][i].get(hk), f"outcomes.{outcome}.factors.{i}.{hk}", "index2"))
                     for i in ranking[1:3]]
        first = page._("For %(outcome)s, %(factor)s matters most (%(index)s %(value)s)", outcome=olabel,
                       factor=page.m.strong(labels[names[ranking[0]]]), index=page.t._(INDEX_NAMES[hk]),
                       value=_index_cell(page, f0, hk, f"outcomes.{outcome}.factors.{ranking[0]}"))
        bl.append(page._("%(first)s, followed by %(others)s.", first=first, others=page.list_words(followers))
                  if followers else page._("%(first)s.", first=first))
        fl = res["factors"][ranking[-1]]
        v = fl.get(hk)
        small = v is not None and ((method == "sobol" and abs(v) < 0.05) or (method == "src" and abs(v) < 0.1))
        if len(ranking) > 2 and small:
            bl.append(page._("%(factor)s hardly matters (%(value)s).", factor=labels[names[ranking[-1]]],
                             value=page.num(v, f"outcomes.{outcome}.factors.{ranking[-1]}.{hk}", "index")))
    elif res.get("error"):
        bl.append(page._("No factor can be ranked for %(outcome)s: %(why)s", outcome=olabel, why=res["error"]))
    if ok.any():
        lo_i, hi_i = int(np.nanargmin(y)), int(np.nanargmax(y))
        bl.append(page._("Across the points, %(outcome)s ranges from %(lo)s to %(hi)s.", outcome=olabel,
                         lo=page.num(float(y[lo_i]), None, fmt_kind), hi=page.num(float(y[hi_i]), None, fmt_kind)))
    caveat = page._("The indices describe the model within the swept ranges, not the world")
    if noise is not None and res.get("noise_corrected") is False:
        caveat = page._("%(caveat)s; replication noise is at most %(noise)s of the variance across points and is not "
                        "removed (the runs are spread over the posterior's draws), so total indices may be too high "
                        "and first-order ones too low by up to that share",
                        caveat=caveat, noise=page.num(noise, f"outcomes.{outcome}.noise_share", "pct"))
    elif noise is not None:
        caveat = page._("%(caveat)s; replication noise is %(noise)s of the variance across points and is allowed for",
                        caveat=caveat, noise=page.num(noise, f"outcomes.{outcome}.noise_share", "pct"))
    bl.append(page._("%(caveat)s.%(flags)s", caveat=caveat, flags=_flags_sentence(page)))
    page.ctx["bottom_line"] = bl[:4]


def _outcome_cell(row: dict, outcome: str, suffix: str = "") -> str | None:
    """An outcome's cell in outcomes.csv: its R-safe column (``p_initiated_by_regime``), or its name as
    earlier sweeps wrote it (``p_initiated_by:regime``)."""
    column = outcome_column(outcome) + suffix
    return row.get(column) if column in row else row.get(outcome + suffix)


def _unit_of(path: str, scen: dict | None) -> str:
    return _info_of_path(path, scen).get("unit", "")


# --- calibration and backtest: past cases ----------------------------------------------------------

CASE_WORDS = (pN_("case", "Astana"), pN_("case", "Sochi"), pN_("case", "Moscow"), pN_("case", "Truce"),
              pN_("case", "Ceasefire"))
"""Words of the bundled historical cases' names, so that a catalog can name them in its language."""


def _case_title(page: Page, name: str) -> Any:
    """A past case by a short name from its key: 'truce_2019_08_01' -> 'Truce of 2019-08-01', 'sochi_2018' ->
    'Sochi 2018'."""
    m = re.fullmatch(r"([a-z][a-z0-9_]*?)_(\d{4})(?:_(\d{2})_(\d{2}))?", name)
    if not m:
        return page.m.code(name)
    words = " ".join(w.capitalize() for w in m[1].split("_"))
    words = page.t.pgettext("case", words)
    if m[3]:
        return page._("%(name)s of %(date)s", name=words, date=page.num(f"{m[2]}-{m[3]}-{m[4]}", None, "str"))
    return page._("%(name)s %(year)s", name=words, year=page.num(m[2], None, "str"))


def _cases(rows: list[dict], prefix: str) -> list[dict]:
    """Past cases in one shape, from either layout of the files: ``observed = {collapsed, months, initiator}``
    (and ``conflict``, ``pareto_k``, ``reliable``), or the earlier ``observed_months``/``observed_initiator``.
    ``key`` is the JSON path of the case, for the data-key marks."""
    out = []
    for i, c in enumerate(rows):
        obs = c.get("observed") if isinstance(c.get("observed"), dict) else {}
        out.append({"name": str(c.get("name", "")), "key": f"{prefix}.{i}", "conflict": c.get("conflict") or "",
                    "observed_months": obs.get("months", c.get("observed_months")),
                    "months_key": "observed.months" if "months" in obs else "observed_months",
                    "collapsed": bool(obs.get("collapsed", True)),
                    "initiator": obs.get("initiator", c.get("observed_initiator")),
                    "predicted": c.get("predicted") or {}, "pit": c.get("observed_percentile"),
                    "pareto_k": c.get("pareto_k"), "reliable": c.get("reliable", True),
                    "fit_without_case": c.get("fit_without_case") or {}})
    return out


def _resolution(cases: list[dict]) -> float:
    """The model's time resolution: its first step (the first point of the predicted survival curves)."""
    firsts = [c["predicted"]["survival"][0][0] for c in cases if c["predicted"].get("survival")]
    firsts = [f for f in firsts if f > 0]
    return min(firsts) if firsts else 7 / DAYS_PER_MONTH


def _case_flags(page: Page, c: dict, where: Any, resolution: float) -> list[Any]:
    out = []
    obs = _float(c["observed_months"])
    pit = c["pit"]
    if c["collapsed"] and math.isfinite(obs) and obs < resolution:
        out.append(page.flag(where, page._("it lasted %(obs)s months, less than one step of the model (%(step)s "
                                           "months): below the model's resolution",
                                           obs=page.num(obs, None, "months"), step=page.num(resolution, None, "g4"))))
    if c["collapsed"] and pit is not None and (pit <= 0.005 or pit >= 0.995):
        out.append(page.flag(where, page._("the observation falls at the %(pct)s point of the prediction: outside "
                                           "what the model thought possible", pct=page.num(pit, None, "pct0"))))
    if c["reliable"] is False:
        out.append(page.flag(where, page._("its leave-one-out forecast is unreliable (Pareto k = %(k)s, above 0.7): "
                                           "the other cases say too little about it",
                                           k=page.num(c["pareto_k"], None, "index2"))))
    return out


def _observed_cell(page: Page, c: dict) -> Any:
    value = page.num(c["observed_months"], f"{c['key']}.{c['months_key']}", "months")
    return value if c["collapsed"] else page._("still holding after %(m)s", m=value)


def _median_cell(page: Page, pred: dict, key: str) -> Any:
    mkey = "median_months" if "median_months" in pred else "median"
    med = pred.get(mkey)
    return page.num(med, f"{key}.predicted.{mkey}", "months") if med is not None else \
        page.t._("beyond the horizon")


def _within_90(c: dict) -> bool:
    return c["pit"] is not None and 0.05 <= c["pit"] <= 0.95


def _plot_cases(page: Page, cases: list[dict]) -> list[dict]:
    return [{"name": _plain(_case_title(page, c["name"])), "observed_months": c["observed_months"],
             "collapsed": c["collapsed"], "predicted": c["predicted"]} for c in cases
            if c["predicted"].get("survival") and c["observed_months"] is not None]


def _cal_parameters(params: dict) -> list[dict]:
    """Fitted parameters in one shape: the posterior mode ('map') or median, the 90% interval and the prior."""
    out = []
    for key, p in params.items():
        point = "map" if "map" in p else "median"
        prior = p.get("prior") or []
        if len(prior) == 3 and isinstance(prior[0], str):
            scale, low, high = prior
        elif len(prior) == 3:
            low, high, scale = prior
        else:
            scale = low = high = None
        out.append({"key": key, "path": p.get("path", key), "point": point, "value": p.get(point),
                    "q05": p.get("q05"), "q95": p.get("q95"), "low": low, "high": high, "scale": scale})
    return out


def _posterior_panels(page: Page, d: Path, params: list[dict], dyn) -> list[dict]:
    """Histogram panels of the posterior: posterior.csv holds draws (one column per parameter path) or
    weighted design points (a 'weight' column)."""
    path = d / "posterior.csv"
    if not path.is_file():
        return []
    post = _csv(path)
    if not post:
        return []
    weights = [_float(r["weight"]) for r in post] if "weight" in post[0] else [1.0 / len(post)] * len(post)
    panels = []
    for p in params:
        column = p["key"] if p["key"] in post[0] else p["path"] if p["path"] in post[0] else None
        if column is None or p["value"] is None:
            continue
        values = [_float(r[column]) for r in post]
        low = p["low"] if p["low"] is not None else min(values)
        high = p["high"] if p["high"] is not None else max(values)
        info = _field_info(dyn, p["path"].split(".")[-1])
        panels.append({"name": p["path"], "unit": info.get("unit") or page.t._("value"), "values": values,
                       "weights": weights, "low": low, "high": high, "scale": p["scale"] or "linear",
                       "map": p["value"], "q05": p["q05"], "q95": p["q95"]})
    return panels


def _calibration_report(page: Page) -> None:
    from sim import plots
    d = page.directory
    cal = _json(d / "calibration.json")
    params = _cal_parameters(cal.get("parameters") or {})
    rows_key = "fit" if isinstance(cal.get("fit"), list) else "cases"
    cases = _cases(cal.get(rows_key) or [], rows_key)
    diag = cal.get("diagnostics") or {}
    dyn = _schema()["dynamics"]
    page.ctx.update(title=page.t._("Fitting the model to past ceasefires"),
                    subtitle=[page.m.code(cal.get("name", ""))], kind_label=page.t._("Calibration"))
    n_points = cal.get("points") or diag.get("particles")
    page.ctx["question"] = {
        "lead": page._("Which values of the model's free global rates make the %(n)s past ceasefires most likely to "
                       "have lasted as long as they did, and ended as they did?",
                       n=page.num(len(cases), None, "int")),
        "method": page.bdi(cal["method"]) if cal.get("method") else page._(
            "%(points)s candidate sets of rates were drawn from the prior ranges below (a Latin hypercube); every "
            "case was simulated %(reps)s times at each set, on common random numbers, for %(h)s months. Each set is "
            "weighted by how likely it makes the observed durations and initiators (posterior weights); the fitted "
            "value is the best set (posterior mode), with a 90%% interval from the weights. Every other parameter "
            "is each case's own, from its scenario file.", points=page.num(cal.get("points"), "points", "int"),
            reps=page.num(cal.get("replications"), "replications", "int"),
            h=page.num(_float(cal.get("horizon_months")), None, "g")),
        "description": page.bdi(cal["description"]) if cal.get("description") else None,
    }
    rows = []
    for p in params:
        base = f"parameters.{p['key']}"
        rows.append([page.m.path(p["path"]), page.num(p["value"], f"{base}.{p['point']}", "index"),
                     page._("%(low)s to %(high)s", low=page.num(p["q05"], f"{base}.q05", "index"),
                            high=page.num(p["q95"], f"{base}.q95", "index")),
                     page._("%(low)s to %(high)s, %(scale)s", low=page.num(p["low"], None, "g"),
                            high=page.num(p["high"], None, "g"), scale=page.t._(p["scale"]))
                     if p["low"] is not None else "",
                     _field_info(dyn, p["path"].split(".")[-1]).get("unit", "")])
    point_label = page.t._("fitted (mode)") if any(p["point"] == "map" for p in params) else \
        page.t._("fitted (posterior median)")
    params_table = page.table([page.t._("parameter"), point_label,
                               page._("%(level)s interval", level=page.num(0.9, None, "pct0")), page.t._("prior range"),
                               page.t._("scale (unit)")], rows, caption=page.t._("Fitted global rates"))
    ess = diag.get("effective_sample_size")
    items = []
    if ess is not None:
        of = page._(" of %(points)s", points=page.num(n_points, None, "int")) if n_points else ""
        item = page._("Effective sample size of the posterior: %(ess)s%(of)s (small values mean the posterior rests "
                      "on few distinct parameter sets).",
                      ess=page.num(ess, "diagnostics.effective_sample_size", "num1"),
                      of=of)
        if diag.get("max_weight") is not None:
            item = page._("%(item)s The largest single weight is %(w)s.", item=item,
                          w=page.num(diag.get("max_weight"), "diagnostics.max_weight", "pct"))
        if ess < ESS_MIN:
            item = page._("%(item)s %(flag)s", item=item, flag=page.flag(
                page.t._("the fitted rates and their intervals"),
                page._("the posterior rests on an effective sample size of %(ess)s (under %(min)s)",
                       ess=page.num(ess, None, "num1"), min=page.num(ESS_MIN, None, "int"))))
        items.append(item)
    rep = cal.get("reproducibility") or {}
    if rep.get("max_shift") is not None:
        item = page._("Reproducibility: two calibrations with different seeds put a fitted value apart by at most "
                      "%(shift)s of its 90%% interval's width.",
                      shift=page.num(rep["max_shift"], "reproducibility.max_shift", "pct"))
        if rep["max_shift"] > REPRODUCIBILITY_MAX:
            item = page._("%(item)s %(flag)s", item=item, flag=page.flag(
                page.t._("the fitted rates"),
                page._("two calibrations with different seeds disagree by %(shift)s of an interval's width",
                       shift=page.num(rep["max_shift"], None, "pct"))))
        items.append(item)
    resolution = _resolution(cases)
    has_conflict = len({c["conflict"] for c in cases}) > 1
    crows = []
    for c in cases:
        crows.append([_case_title(page, c["name"]), *([page.bdi(c["conflict"])] if has_conflict else []),
                      _observed_cell(page, c), _median_cell(page, c["predicted"], c["key"]),
                      page.num(c["pit"], f"{c['key']}.observed_percentile", "pct") if c["pit"] is not None
                      else page.t._("n/a"),
                      page.join(_case_flags(page, c, _case_title(page, c["name"]), resolution), " ")])
    cases_table = page.table([page.t._("case"), *([page.t._("conflict")] if has_conflict else []),
                              page.t._("observed months"), page.t._("fitted model's median"),
                              page.t._("observed percentile"), page.t._("read with care")], crows,
                             caption=page.t._("Each case: how long it held and what the fitted model predicts"))
    page.ctx["headline"] = {"table": params_table, "cases": cases_table, "items": items}

    plot_cases = _plot_cases(page, cases)
    within = sum(1 for c in cases if _within_90(c))
    if plot_cases:
        page.figure(partial(plots.backtest_figure, plot_cases,
                            page.t._("Fitted model: predicted survival and observed duration"), page.t,
                            curve_label=page.t._("predicted P(still holding), all cases in the fit")),
                    "fit",
                    page.t._("%(n)s small charts, one per past ceasefire, each with the fitted model's predicted "
                             "survival curve and a dashed line at the observed duration; %(k)s of %(n)s observations "
                             "fall within the central 90%% of their prediction.")
                    % {"n": page.t.fmt(len(plot_cases), "int"), "k": page.t.fmt(within, "int")},
                    page._("In-sample fit: each case's predicted probability that the ceasefire still holds, with "
                           "every "
                           "case used in the fit, and the duration actually observed (dashed). The backtest report "
                           "gives the out-of-sample version."), brief=True)
    panels = _posterior_panels(page, d, params, dyn)
    if panels:
        page.figure(partial(plots.posterior_figure, panels,
                            page.t._("Posterior of the free rates over the prior ranges"), page.t),
                    "posterior",
                    page.t._("%(n)s histograms, one per fitted rate, of the posterior weight across its prior range, "
                             "with the fitted value and its 90%% interval.") % {"n": page.t.fmt(len(panels), "int")},
                    page._("Posterior weight over each free rate's prior range (log axis where the prior is "
                           "log-uniform), the fitted value (dashed) and the 90%% interval (shaded)."), brief=True)

    details, tables = [], []
    if cal.get("window") is not None:
        details.append(page._("Smoothing window of the likelihood: ±%(w)s in log time; seed %(seed)s.",
                              w=page.num(cal.get("window"), None, "g"), seed=page.num(cal.get("seed"), None, "g")))
    for k in ("unique_particles", "particles", "evaluations"):
        if diag.get(k) is not None:
            details.append(page._("%(what)s: %(n)s.", what=page.t._(DIAGNOSTICS[k]),
                                  n=page.num(diag[k], f"diagnostics.{k}", "int")))
    ll = diag.get("loglik_by_case_at_map") or {}
    if ll:
        tables.append(page.table([page.t._("case"), page.t._("log-likelihood at the mode")],
                                 [[page.m.code(k), page.num(v, None, "index")] for k, v in ll.items()],
                                 caption=page.t._("Log-likelihood of each case at the fitted values (higher is better; "
                                                  "0 is the most a case can give)")))
    page.ctx["details"] = {"items": details, "tables": tables}
    prow = []
    for p in params:
        info = _field_info(dyn, p["path"].split(".")[-1])
        prow.append([page.m.path(p["path"]), info.get("unit", ""), _range_text(page, info), info.get("doc", ""),
                     page.cite(info.get("source", ""), numbers=True)])
    page.ctx["parameters"] = {
        "summary": page.t._("What the fitted rates are"), "intro": "", "actors": None, "diff": None,
        "groups": [{"heading": "", "table": page.table(
            [page.t._("parameter"), page.t._("scale (unit)"), page.t._("allowed range"), page.t._("what it means"),
             page.t._("source claim")], prow, cls="params", widths=[20, 20, 9, 29, 22])}]}
    man = cal.get("manifest") if isinstance(cal.get("manifest"), dict) else {}
    prov = {k: v for k, v in man.items() if not isinstance(v, (dict, list))}
    prov.update({k: cal.get(k) for k in ("seed", "points", "replications", "horizon_months") if cal.get(k) is not None})
    page.ctx["provenance"] = _provenance(page, [(page.t._("calibration"), prov)])

    bl = [page._("With the fitted rates, %(k)s of the %(n)s observed durations fall within the central 90%% of the "
                 "model's predictions.", k=page.num(within, None, "int"), n=page.num(len(cases), None, "int"))]
    if ess is not None:
        of = page._(" of %(points)s", points=page.num(n_points, None, "int")) if n_points else ""
        if ess < ESS_MIN:
            bl.append(page._("The fit rests on an effective sample size of only %(ess)s%(of)s: the fitted values and "
                             "their intervals are coarse and should not be leaned on.",
                             ess=page.num(ess, "diagnostics.effective_sample_size", "num1"), of=of))
        else:
            bl.append(page._("The fit rests on an effective sample size of %(ess)s%(of)s.",
                             ess=page.num(ess, "diagnostics.effective_sample_size", "num1"), of=of))
    short = [c for c in cases if c["collapsed"] and _float(c["observed_months"]) < resolution]
    if short:
        bl.append(page.n_("%(n)s truce lasted less than one step of the model, which cannot resolve it.",
                          "%(n)s truces lasted less than one step of the model, which cannot resolve them.",
                          len(short)))
    bl.append(page._("This is an in-sample fit: the backtest is the out-of-sample check.%(flags)s",
                     flags=_flags_sentence(page)))
    page.ctx["bottom_line"] = bl[:4]


def _backtest_report(page: Page) -> None:
    from sim import plots
    d = page.directory
    bt = _json(d / "backtest.json")
    manifest = bt.get("manifest") if isinstance(bt.get("manifest"), dict) else (
        _json(d / "manifest.json") if (d / "manifest.json").is_file() else {})
    cases = _cases(bt.get("cases") or [], "cases")
    scores = {k: v for k, v in (bt.get("scores") or {}).items() if isinstance(v, dict)}
    page.ctx.update(title=page.t._("How well would the model have forecast past ceasefires?"), subtitle=[],
                    kind_label=page.t._("Backtest (leave one out)"))
    refs = bt.get("reference_forecasts") or {}
    page.ctx["question"] = {
        "lead": page._("Had the model been fitted on the other past ceasefires only, how well would it have forecast "
                       "how long each of these %(n)s ceasefires held?", n=page.num(len(cases), None, "int")),
        "method": page._("For each case the model's free rates were fitted without it (leave one out), then the case "
                         "was simulated and its predicted survival curve compared with the duration actually observed. "
                         "The scores compare the model with simple reference forecasts: lower Brier, log and CRPS "
                         "scores are better."),
        "refs": [page._("%(name)s: %(what)s", name=page.m.strong(page.t._(FORECASTS[k]) if k in FORECASTS else k),
                        what=page.bdi(v)) for k, v in refs.items()],
    }
    months: list[str] = []
    for c in cases:
        months += [k for k in (c["predicted"].get("p_collapse") or {}) if k not in months]
    resolution = _resolution(cases)
    has_conflict = len({c["conflict"] for c in cases}) > 1
    rows = []
    for c in cases:
        pred = c["predicted"]
        pc = pred.get("p_collapse") or {}
        ishare = pred.get("initiator_share") or {}
        who = c["initiator"]
        pit = c["pit"]
        row = [_case_title(page, c["name"])]
        if has_conflict:
            row.append(page.bdi(c["conflict"]))
        row += [_observed_cell(page, c),
                page._("%(who)s (predicted %(share)s)", who=who or "?",
                       share=page.num(ishare[who], f"{c['key']}.predicted.initiator_share.{who}", "pct"))
                if who in ishare else (who or ""),
                _median_cell(page, pred, c["key"]),
                *(page.num(pc[k], f"{c['key']}.predicted.p_collapse.{k}", "pct") if pc.get(k) is not None
                  else page.t._("n/a") for k in months),
                page.num(pit, f"{c['key']}.observed_percentile", "pct") if pit is not None else page.t._("n/a"),
                page.join(_case_flags(page, c, _case_title(page, c["name"]), resolution), " ")]
        rows.append(row)
    cases_table = page.table(
        [page.t._("case"), *([page.t._("conflict")] if has_conflict else []), page.t._("observed months"),
         page.t._("ended by (predicted share)"), page.t._("predicted median"),
         *(page._("P(collapse %(within)s)", within=_within(page, k)) for k in months),
         page.t._("observed percentile"), page.t._("read with care")], rows,
        caption=page.t._("Each case: what happened and what the model predicted without it"))
    score_table = _score_table(page, scores, "scores", page.t._("Mean scores over the cases (lower is better)"))
    items = []
    cov, cov_key = bt.get("coverage") or {}, "coverage"
    if not cov and isinstance((scores.get("model") or {}).get("coverage"), dict):
        cov, cov_key = scores["model"]["coverage"], "scores.model.coverage"
    for level in ("50", "90"):
        if cov.get(level) is not None:
            items.append(page._("Coverage: %(share)s of the observations fall within the central %(level)s of their "
                                "forecast (a well-calibrated forecast: %(level)s).",
                                share=page.num(cov[level], f"{cov_key}.{level}", "pct"),
                                level=page.num(_float(level) / 100, None, "pct0")))
    loco = bt.get("leave_one_conflict_out")
    loco_table = None
    if isinstance(loco, dict):
        nested = isinstance(loco.get("scores"), dict)
        loco_scores = {k: v for k, v in (loco["scores"] if nested else loco).items() if isinstance(v, dict)}
        if loco_scores and all("crps" in v for v in loco_scores.values()):
            prefix = "leave_one_conflict_out.scores" if nested else "leave_one_conflict_out"
            loco_table = _score_table(page, loco_scores, prefix, page.t._(
                "Leaving out a whole conflict at a time: mean scores (lower is better)"))
    exact = bt.get("exact_refits") if isinstance(bt.get("exact_refits"), dict) else {}
    exact_tables = []
    for kind, caption in (("loo", page.t._("Each case forecast by a refit without it where importance sampling was "
                                           "unreliable (k above 0.7): mean scores (lower is better)")),
                          ("loco", page.t._("Leaving out a whole conflict at a time, the sampler refitted without it: "
                                            "mean scores (lower is better)"))):
        part = exact.get(kind)
        if isinstance(part, dict) and isinstance(part.get("scores"), dict):
            part_scores = {k: v for k, v in part["scores"].items() if isinstance(v, dict) and "crps" in v}
            if part_scores:
                exact_tables.append(_score_table(page, part_scores, f"exact_refits.{kind}.scores", caption))
    page.ctx["headline"] = {"table": cases_table, "scores": score_table, "loco": loco_table, "items": items,
                            "exact": exact_tables}

    plot_cases = _plot_cases(page, cases)
    within = sum(1 for c in cases if _within_90(c))
    if plot_cases:
        page.figure(partial(plots.backtest_figure, plot_cases,
                            page.t._("Predicted survival and observed duration, case by case"), page.t),
                    "backtest",
                    page.t._("%(n)s small charts, one per past ceasefire, each with the predicted survival curve and a "
                             "dashed line at the observed duration; %(k)s of %(n)s observations fall within the "
                             "central "
                             "90%% of their prediction.") % {"n": page.t.fmt(len(plot_cases), "int"),
                                                             "k": page.t.fmt(within, "int")},
                    page._("For each case, the predicted probability that the ceasefire still holds (fitted without "
                           "that case) and the duration actually observed (dashed line; where the ceasefire was still "
                           "holding, an arrow)."), brief=True)
    pnames: list[str] = []
    for c in cases:
        pnames += [k for k in (c["fit_without_case"].get("parameters") or {}) if k not in pnames]
    tables = []
    if pnames:
        crow = []
        for c in cases:
            p = c["fit_without_case"].get("parameters") or {}
            ess = c["fit_without_case"].get("effective_sample_size")
            flag = page.flag(page._("the fit without %(case)s", case=page.m.code(c["name"])),
                             page._("it rests on an effective sample size of %(ess)s (under %(min)s)",
                                    ess=page.num(ess, None, "num1"), min=page.num(ESS_MIN, None, "int"))) \
                if ess is not None and ess < ESS_MIN else ""
            crow.append([page._("without %(case)s", case=page.m.code(c["name"])),
                         *(page.num(p[pn], None, "g4") if isinstance(p.get(pn), (int, float)) else "" for pn in pnames),
                         page.num(ess, f"{c['key']}.fit_without_case.effective_sample_size", "num1")
                         if ess is not None else "", flag])
        tables.append(page.table([page.t._("fit"), *(page.m.code(pn) for pn in pnames),
                                  page.t._("effective sample size"), page.t._("read with care")], crow,
                                 caption=page.t._("Fitted values, leaving out one case at a time (posterior mode)")))
    neut = (bt.get("neutralisation") or {}).get("inputs") or {}
    if neut:
        tables.append(page.table(
            [page.t._("input made uninformative"), page.t._("log score"), page.t._("CRPS (months)"),
             page.t._("CRPS lost")],
            [[page.t._(NEUTRALISED[k]) if k in NEUTRALISED else page.bdi(v.get("what") or k),
              page.num(v.get("log"), f"neutralisation.inputs.{k}.log", "index"),
              page.num(v.get("crps"), f"neutralisation.inputs.{k}.crps", "index"),
              page.num(v.get("crps_lost"), f"neutralisation.inputs.{k}.crps_lost", "index")]
             for k, v in neut.items()],
            caption=page.t._("What each input is worth out of sample: the model's scores with that input made "
                             "uninformative, on the same random numbers (a positive CRPS lost means the input carries "
                             "skill)")))
    page.ctx["details"] = {"items": [page.bdi(loco["note"])] if isinstance(loco, dict) and loco.get("note") else [],
                           "tables": tables}
    dyn = _schema()["dynamics"]
    prow = []
    for pn in pnames:
        info = _field_info(dyn, pn)
        prow.append([page.m.path(f"dynamics.{pn}") if info else page.m.code(pn), info.get("unit", ""),
                     _range_text(page, info), info.get("doc", ""), page.cite(info.get("source", ""), numbers=True)])
    page.ctx["parameters"] = {
        "summary": page.t._("What the fitted rates are"), "intro": page._(
            "The free global rates are fitted without each case; every other parameter is the case's own, from its "
            "scenario file."), "actors": None, "diff": None,
        "groups": [{"heading": "", "table": page.table(
            [page.t._("parameter"), page.t._("scale (unit)"), page.t._("allowed range"), page.t._("what it means"),
             page.t._("source claim")], prow, cls="params", widths=[20, 20, 9, 29, 22])}]} if prow else None
    prov = {k: v for k, v in manifest.items() if not isinstance(v, (dict, list))}
    page.ctx["provenance"] = _provenance(page, [(page.t._("backtest"), prov)]) if prov else None

    # the bottom line
    bl = []
    model = scores.get("model")
    others = [k for k in scores if k != "model"]
    if model and others:
        measures = ["crps", "log"] + [f"brier.{m}" for m in (model.get("brier") or {})]

        def value(sc, m):
            return _get(sc, m) if "." in m else sc.get(m)
        beaten = {o: [m for m in measures if value(model, m) is not None and value(scores[o], m) is not None
                      and value(model, m) < value(scores[o], m)] for o in others}
        compared = {o: [m for m in measures if value(model, m) is not None and value(scores[o], m) is not None]
                    for o in others}
        every = all(len(beaten[o]) == len(compared[o]) for o in others)
        crps = page.list_words([page.num(scores[o].get("crps"), f"scores.{o}.crps", "num1") for o in others])
        msg = (N_("Forecasting each of the %(n)s cases from a fit on the others, the model beats every reference "
                  "forecast on every score (mean error of the whole forecast, CRPS: %(m)s months against %(o)s).")
               if every else
               N_("Forecasting each of the %(n)s cases from a fit on the others, the model does not beat every "
                  "reference forecast on every score (CRPS: %(m)s months against %(o)s)."))
        bl.append(page._(msg, n=page.num(len(cases), None, "int"),
                         m=page.num(model.get("crps"), "scores.model.crps", "num1"), o=crps))
        better = [o for o in others if model.get("log") is not None and scores[o].get("log") is not None
                  and scores[o]["log"] <= model["log"]]
        if better:   # name who beats it, so that "not every" cannot hide "not any"
            bl[-1] = page._("%(sentence)s On the log score it is beaten by %(who)s: there it has no skill.",
                            sentence=bl[-1], who=page.list_words([page.t._(FORECASTS.get(o, o)) for o in better]))
    if cov.get("90") is not None:
        bl.append(page._("%(share)s of the observations fall within the central 90%% of their forecast.",
                         share=page.num(cov["90"], f"{cov_key}.90", "pct")))
    else:
        bl.append(page._("%(k)s of the %(n)s observations fall within the central 90%% of their forecast.",
                         k=page.num(within, None, "int"), n=page.num(len(cases), None, "int")))
    extreme = [c for c in cases if c["collapsed"] and c["pit"] is not None and (c["pit"] <= 0.005 or c["pit"] >= 0.995)]
    if extreme:
        bl.append(page.n_("%(n)s case falls at the very edge of its forecast (%(list)s), below the model's one-step "
                          "resolution or outside what it thought possible.",
                          "%(n)s cases fall at the very edge of their forecast (%(list)s), below the model's one-step "
                          "resolution or outside what it thought possible.", len(extreme),
                          list=page.list_words([_case_title(page, c["name"]) for c in extreme])))
    bl.append(page.n_("%(n)s case is very little evidence, and the conditions of each were encoded by people who knew "
                      "the outcome: treat this as a check that the model orders the cases, not as a track record.",
                      "%(n)s cases are little evidence, and the conditions of each were encoded by people who knew "
                      "the outcome: treat this as a check that the model orders the cases, not as a track record.",
                      len(cases)))
    page.ctx["bottom_line"] = bl[:4]


def _score_table(page: Page, scores: dict, prefix: str, caption: Any) -> dict | None:
    if not scores:
        return None
    bmonths: list[str] = []
    for s in scores.values():
        bmonths += [k for k in (s.get("brier") or {}) if k not in bmonths]
    rows = []
    for fname, s in scores.items():
        rows.append([page.t._(FORECASTS[fname]) if fname in FORECASTS else fname,
                     *(page.num(s["brier"][k], f"{prefix}.{fname}.brier.{k}", "index") if k in (s.get("brier") or {})
                       else page.t._("n/a") for k in bmonths),
                     page.num(s.get("log"), f"{prefix}.{fname}.log", "index"),
                     page.num(s.get("crps"), f"{prefix}.{fname}.crps", "index")])
    return page.table([page.t._("forecast"),
                       *(page._("Brier, %(m)s months", m=page.num(_float(k), None, "g")) for k in bmonths),
                       page.t._("log score"), page.t._("CRPS (months)")], rows, caption=caption)


BUILDERS = {"run": _run_report, "compare": _compare_report, "sweep": _sweep_report, "backtest": _backtest_report,
            "calibration": _calibration_report}


from sim._callable import make_callable  # noqa: E402  (sim.report(dir) writes the page)
make_callable(__name__, "report")
