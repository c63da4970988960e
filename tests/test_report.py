"""The pages for readers: report.html, report.ar.html and brief.pdf, for every kind of result directory.

The result directories are small and real where the model can make them quickly (a 300-replication run
and comparison of a small scenario written here, with calibrated draws and an uncertain setting so that
credible intervals and ranges over settings appear; a 3 x 3 grid sweep), and hand-made in the shape
``ceasefire calibrate`` and ``ceasefire backtest`` write (a calibration or a backtest takes minutes).
Every page is made in English and in Arabic (with Arabic-Indic digits), and checked twice:

* in Python: the HTML parses and is balanced, the language and direction are set, nothing loads from the
  network, every figure is an inline SVG with alt text and a PNG copy, headings and tables are accessible,
  every number marked with ``data-key`` equals its JSON value as formatted, the bottom line comes first;
* in headless Chromium through Selenium and Debian's chromium-driver (one browser for the module): no
  console error and no request but the page, every figure drawn, the numbers the browser shows equal the
  JSON, and nothing wider than the window at 1280 and at 390 pixels; ``--brief`` prints 1-2 A4 pages.

The browser tests skip only where Chromium or its driver is not installed; ``.ci/run`` installs both.
The gettext catalogs are checked against the sources: every message of the pages is in messages.pot and
translated in Arabic, with the same placeholders.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim.cli import main
from sim.i18n import LOCALE_DIR, to_western
from sim.report import NotAResultDirectory, build_report, detect_kind, report_name, write_report

REPO = Path(__file__).resolve().parents[1]
KINDS = ["run", "compare", "sweep", "backtest", "calibration"]
LANGS = ["en", "ar"]
MIN_FIGURES = {"run": 4, "compare": 4, "sweep": 3, "backtest": 1, "calibration": 2}
JSON_FILE = {"run": "summary.json", "compare": "comparison.json", "sweep": "sensitivity.json",
             "backtest": "backtest.json", "calibration": "calibration.json"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIGITS = {"en": "western", "ar": "arabic"}

SCENARIO = """\
name = "small_truce"
title = "A small test ceasefire"
description = "A ceasefire between two belligerents with a guarantor and a patron, for the report tests."
start = 2020-03-06
horizon_months = 24
posterior = "posterior.csv"
sources = ["seed000", "seed004"]

[actors.turkey]
label = "Turkey"
role = "guarantor"
protects = ["opposition"]
deterrence = 0.75
resolve = 0.7

[actors.russia]
label = "Russia"
role = "patron"
backs = ["regime"]
guarantor = "turkey"
interest_in_guarantor = 0.7
air_power = 0.7
distraction = 0.1

[actors.regime]
label = "Assad regime"
role = "belligerent"
opposes = ["opposition"]
ambition = 0.8
strength = 0.55
readiness = 0.45
exhaustion = 0.4

[actors.opposition]
label = "Opposition factions (HTS-led)"
role = "belligerent"
opposes = ["regime"]
ambition = 0.35
strength = 0.35
readiness = 0.3
exhaustion = 0.3

[events.caesar_act]
label = "Caesar Act sanctions take effect"
at = 2020-06-17
set = { "processes.economy.sanctions" = 0.8 }

[uncertain]
"actors.regime.exhaustion" = { uniform = [0.3, 0.6] }
"""
OTHER = """\
base = "small_truce.toml"
name = "small_truce_deterred"
title = "The small test ceasefire with stronger Turkish deterrence"
description = "As the small test ceasefire, with Turkish deterrence raised to 0.9 and Russia more distracted."

[actors.turkey]
deterrence = 0.9

[actors.russia]
distraction = 0.3
"""


# --- the result directories ----------------------------------------------------------------------

def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def _survival(rate: float) -> list[list[float]]:
    grid = [d / 30.4375 for d in range(1, 61, 4)] + [7 * k / 30.4375 for k in range(9, 260, 4)]
    return [[round(g, 4), round(math.exp(-rate * g), 5)] for g in grid]


CASES = (("astana_2017", "syria", 1.3, True, "regime", 0.9), ("sochi_2018", "syria", 7.4, True, "regime", 0.12),
         ("truce_2019_08_01", "syria", 0.1, True, "regime", 0.03),
         ("moscow_2020", "syria", 56.7, True, "opposition", 0.012),
         ("minsk2_2015", "ukraine", 60.0, False, None, 0.02))


def _case_rows(shift: float = 0.0) -> list[dict]:
    rows = []
    for name, conflict, months, collapsed, who, rate in CASES:
        rate = rate * (1 + shift)
        pit = 1 - math.exp(-rate * months) if name != "truce_2019_08_01" else 0.0
        rows.append({
            "name": name, "conflict": conflict,
            "observed": {"collapsed": collapsed, "months": months, "initiator": who},
            "predicted": {"p_collapse": {str(m): 1 - math.exp(-rate * m) for m in (1, 3, 6, 12)},
                          "median": math.log(2) / rate if math.log(2) / rate < 60 else None,
                          "interval_50": [None, None], "interval_90": [None, None],
                          "initiator_share": {"regime": 0.8, "opposition": 0.2},
                          "survival": _survival(rate)},
            "pareto_k": 0.9 if name == "sochi_2018" else 0.2, "reliable": name != "sochi_2018",
            "observed_percentile": pit})
    return rows


def _scores(scale: float) -> dict:
    return {f: {"brier": {str(m): scale * (0.1 * (i + 1) + 0.01 * m) for m in (1, 3, 6, 12)},
                "log": scale * 0.2 * (i + 1), "crps": scale * 1.5 * (i + 1),
                "coverage": {"50": 0.4 + 0.1 * i, "90": 0.8}, "pit_histogram": [1, 1, 1, 1, 1]}
            for i, f in enumerate(("model", "base_rate", "other_cases", "covariates"))}


def _backtest_fixture(directory: Path) -> None:
    """backtest.json as sim.backtest.backtest() and the store write it."""
    data = {"cases": _case_rows(), "scores": _scores(1.0),
            "leave_one_conflict_out": {"cases": _case_rows(0.3), "scores": _scores(1.4),
                                       "note": "a conflict's cases are forecast from the other conflicts only"},
            "reference_forecasts": {"base_rate": "a constant hazard", "other_cases": "the other cases"},
            "unreliable_loo_cases": ["sochi_2018"],
            "neutralisation": {"note": "skill each input carries", "inputs": {
                "guarantor_deterrence": {"what": "the guarantor's deterrence and resolve", "log": 0.5, "crps": 2.1,
                                         "log_lost": 0.3, "crps_lost": 0.6}}},
            "manifest": {"package_version": "test", "git_commit": "0" * 40, "command": "hand-made fixture"}}
    directory.mkdir(parents=True)
    (directory / "backtest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


def _calibration_fixture(directory: Path) -> None:
    """calibration.json and posterior.csv as ``ceasefire calibrate`` writes them."""
    import random
    rng = random.Random(3)
    draws = [(rng.lognormvariate(math.log(8), 0.5), rng.lognormvariate(math.log(2), 0.6)) for _ in range(60)]
    data = {"name": "tiny_history", "description": "Five past ceasefires, two conflicts.",
            "cases": [{k: v for k, v in c.items() if k in ("name", "conflict", "observed")} for c in _case_rows()],
            "settings": {"particles": 60, "seed": 3},
            "parameters": {"dynamics.offensive_rate_covered": {"median": 7.9, "mean": 8.4, "q05": 3.1, "q95": 17.0,
                                                               "prior": ["log", 0.5, 40.0]},
                           "dynamics.halt_rate": {"median": 2.2, "mean": 2.5, "q05": 0.4, "q95": 6.8,
                                                  "prior": ["log", 0.2, 10.0]}},
            "diagnostics": {"effective_sample_size": 31.0, "ess_last_reweighting": 40.0, "unique_particles": 31,
                            "particles": 60, "stages": [], "evaluations": 900},
            "reproducibility": {"seeds": [3, 4], "shift": {"dynamics.halt_rate": 0.7}, "max_shift": 0.7,
                                "definition": "|median 1 - median 2| / mean width of the 90% intervals"},
            "fit": _case_rows(-0.05), "method": "sequential Monte Carlo (hand-made fixture)",
            "manifest": {"package_version": "test", "command": "hand-made fixture"}}
    directory.mkdir(parents=True)
    (directory / "calibration.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (directory / "posterior.csv").write_text(
        "dynamics.offensive_rate_covered,dynamics.halt_rate\n" + "".join(f"{a:.6g},{b:.6g}\n" for a, b in draws),
        encoding="utf-8")


@pytest.fixture(scope="module")
def result_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    (base / "small_truce.toml").write_text(SCENARIO, encoding="utf-8")
    (base / "small_truce_deterred.toml").write_text(OTHER, encoding="utf-8")
    (base / "posterior.csv").write_text(
        "dynamics.offensive_rate_covered,dynamics.halt_rate\n"
        + "".join(f"{5 + (7 * j) % 25},{1 + (3 * j) % 5}\n" for j in range(40)), encoding="utf-8")
    scenario = base / "small_truce.toml"
    dirs = {k: base / k for k in KINDS}
    common = ["--runs", "300", "--seed", "1", "--jobs", "1", "--quiet"]
    rc, _, err = _cli("run", str(scenario), *common, "--out", str(dirs["run"]))
    assert rc == 0, err
    rc, _, err = _cli("compare", str(scenario), str(base / "small_truce_deterred.toml"), *common, "--attribute",
                      "--out", str(dirs["compare"]))
    assert rc == 0, err
    exp = base / "tiny_grid.toml"
    exp.write_text(f'name = "tiny_grid"\nquestion = "Which matters more here, deterrence or interest?"\n'
                   f'scenario = "{scenario.as_posix()}"\nsampler = "grid"\npoints = 3\nreplications = 50\n'
                   f'horizon_months = 12\nseed = 7\noutcomes = ["p_collapse", "rmst", "p_initiated_by:regime"]\n\n'
                   f'[factors.deterrence]\npath = "actors.turkey.deterrence"\nlow = 0.2\nhigh = 1.0\n\n'
                   f'[factors.interest]\npath = "actors.russia.interest_in_guarantor"\nlow = 0.2\nhigh = 1.0\n',
                   encoding="utf-8")
    rc, _, err = _cli("sweep", str(exp), "--out", str(dirs["sweep"]), "--jobs", "1", "--quiet")
    assert rc == 0, err
    _backtest_fixture(dirs["backtest"])
    _calibration_fixture(dirs["calibration"])
    written_by_cli = {}
    for kind, d in dirs.items():
        written_by_cli[kind] = (d / "report.html").exists()
        if not written_by_cli[kind]:
            write_report(d)
        write_report(d, lang="ar", digits="arabic")
    return {"dirs": dirs, "written_by_cli": written_by_cli}


def page_path(result_dirs, kind: str, lang: str) -> Path:
    return result_dirs["dirs"][kind] / report_name(lang)


@pytest.fixture(scope="module")
def pages(result_dirs):
    return {(k, lang): parse_page(page_path(result_dirs, k, lang).read_text(encoding="utf-8"))
            for k in KINDS for lang in LANGS}


# --- reading the page back -------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
LOADING = ("src", "xlink:href", "action", "poster", "data", "srcset")


class Page(HTMLParser):
    """Balanced-tag check plus what the tests look at: links, figures, headings, tables, data-keys."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.loads: list[str] = []
        self.links: list[str] = []
        self.figures: list[dict] = []
        self.headings: list[int] = []
        self.th_without_scope = 0
        self.keys: list[dict] = []
        self.html_attrs: dict = {}
        self.scripts = 0
        self.changed_rows: list[str] = []
        self.sections: list[str] = []
        self.text_by_section: dict[str, str] = {}
        self.auto_dir = 0
        self._key: dict | None = None
        self._key_depth = 0
        self._title_depth: int | None = None
        self._row: list[str] | None = None
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._open(tag, a, closes=False)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._open(tag, dict(attrs), closes=True)

    def _open(self, tag, a, closes):
        for name in LOADING:
            if a.get(name):
                self.loads.append(a[name])
        if tag in ("link", "use", "image") and a.get("href"):
            self.loads.append(a["href"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "html":
            self.html_attrs = a
        if a.get("dir") == "auto":
            self.auto_dir += 1
        if tag == "script":
            self.scripts += 1
        if tag == "section" and a.get("id"):
            self._section = a["id"]
            self.sections.append(a["id"])
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        if tag == "th" and "scope" not in a:
            self.th_without_scope += 1
        if tag == "figure":
            self.figures.append({"id": a.get("id"), "svg": 0, "aria_label": "", "title": "", "caption": False})
        if tag == "svg" and self.figures and "figure" in self.stack:
            fig = self.figures[-1]
            fig["svg"] += 1
            if fig["svg"] == 1:
                fig["aria_label"] = a.get("aria-label", "")
                fig["role"] = a.get("role")
        if tag == "title" and "svg" in self.stack and self.figures:
            self._title_depth = len(self.stack)
        if tag == "figcaption" and self.figures:
            self.figures[-1]["caption"] = True
        if tag == "tr" and "changed" in (a.get("class") or "").split():
            self._row = []
        if "data-key" in a:
            self._key = {"key": a["data-key"], "source": a.get("data-source"), "format": a.get("data-format"),
                         "text": ""}
            self._key_depth = len(self.stack)
            if closes:
                self.keys.append(self._key)
                self._key = None

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "section":
            self._section = None
        if self._key is not None and len(self.stack) == self._key_depth:
            self.keys.append(self._key)
            self._key = None
        if tag == "title" and self._title_depth is not None and len(self.stack) == self._title_depth:
            self._title_depth = None
        if tag == "tr" and self._row is not None:
            self.changed_rows.append("".join(self._row))
            self._row = None

    def handle_data(self, data):
        if self._key is not None:
            self._key["text"] += data
        if self._title_depth is not None and self.figures:
            self.figures[-1]["title"] += data
        if self._row is not None:
            self._row.append(data)
        if self._section and "svg" not in self.stack:
            self.text_by_section[self._section] = self.text_by_section.get(self._section, "") + data


def parse_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def plain(section_text: str) -> str:
    return " ".join(section_text.split())


def json_value(data, key: str):
    """Resolve a dotted path; keys may themselves hold dots (months like '7.5', paths like
    'dynamics.halt_rate'): longest match first."""
    parts = key.split(".")
    node = data
    i = 0
    while i < len(parts):
        if isinstance(node, list):
            node = node[int(parts[i])]
            i += 1
            continue
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if isinstance(node, dict) and candidate in node:
                node = node[candidate]
                i = j
                break
        else:
            raise KeyError(f"{key}: no '{parts[i]}'")
    return node


def expected_text(value, kind: str) -> str:
    """How the page must show a JSON number (written independently of sim.i18n.FORMATS)."""
    if value is None:
        return "n/a"
    return {"pct": lambda x: "%.1f%%" % (x * 100), "pct0": lambda x: "%.0f%%" % (x * 100),
            "pp": lambda x: "%+.1f" % (x * 100), "months": lambda x: "%.1f" % x, "num1": lambda x: "%.1f" % x,
            "signed": lambda x: "%+.2f" % x, "index": lambda x: "%.3f" % x, "index2": lambda x: "%.2f" % x,
            "p": lambda x: "%.3g" % x, "int": lambda x: "{:,}".format(int(x)), "g": lambda x: "%g" % x,
            "g4": lambda x: "%.4g" % x}[kind](value)


def check_keys(directory: Path, keys: list[dict]) -> int:
    cache: dict[str, object] = {}
    bad = []
    for k in keys:
        src = k["source"]
        if src not in cache:
            cache[src] = json.loads((directory / src).read_text(encoding="utf-8"))
        want = expected_text(json_value(cache[src], k["key"]), k["format"])
        shown = to_western(k["text"].strip())
        if want == "n/a" and not re.search(r"\d", shown):      # 'n/a' in the page's language
            continue
        if shown != want:
            bad.append(f"{k['key']}: page shows {k['text']!r}, {src} gives {want!r}")
    assert not bad, "\n".join(bad)
    return len(keys)


# --- the page, read in Python ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_kind_is_detected(result_dirs, kind):
    assert detect_kind(result_dirs["dirs"][kind]) == kind


def test_a_directory_without_results_is_refused(tmp_path):
    with pytest.raises(NotAResultDirectory, match="not a result directory"):
        build_report(tmp_path)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_html_parses_with_language_and_direction(pages, kind, lang):
    page = pages[kind, lang]
    assert page.problems == [] and page.stack == []
    assert page.html_attrs.get("lang") == lang
    assert page.html_attrs.get("dir") == ("rtl" if lang == "ar" else "ltr")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_nothing_loads_from_the_network(result_dirs, pages, kind, lang):
    page = pages[kind, lang]
    assert page.scripts == 0
    assert [u for u in page.loads if not u.startswith(("#", "data:"))] == []
    # links a reader may follow (the bibliography's) are anchors, never resources; internal links resolve
    ids = set(re.findall(r'\bid="([^"]+)"', page_path(result_dirs, kind, lang).read_text(encoding="utf-8")))
    assert [u for u in page.links if u.startswith("#") and u[1:] not in ids] == []
    text = page_path(result_dirs, kind, lang).read_text(encoding="utf-8")
    assert "@import" not in text and "url(http" not in text and "@font-face" not in text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_is_inline_svg_with_alt_text_and_one_png(result_dirs, pages, kind, lang):
    figures = pages[kind, lang].figures
    assert len(figures) >= MIN_FIGURES[kind]
    suffix = "" if lang == "en" else f".{lang}"
    for fig in figures:
        assert fig["svg"] >= 1 and fig["role"] == "img", fig["id"]
        assert len(fig["title"].strip()) > 40 or len(fig["aria_label"].strip()) > 40, fig
        assert fig["caption"], fig["id"]
        png = result_dirs["dirs"][kind] / "figures" / f"{fig['id'].removeprefix('fig-')}{suffix}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE
    # one set of figures: none of the older top-level copies
    assert not list(result_dirs["dirs"][kind].glob("*.png"))


@pytest.mark.parametrize("kind", KINDS)
def test_headings_in_order_and_table_headers_scoped(pages, kind):
    for lang in LANGS:
        levels = pages[kind, lang].headings
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
        assert pages[kind, lang].th_without_scope == 0


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_numbers_equal_the_json(result_dirs, pages, kind, lang):
    d = result_dirs["dirs"][kind]
    keys = pages[kind, lang].keys
    assert check_keys(d, keys) >= 5
    assert {k["source"] for k in keys} == {JSON_FILE[kind]}
    found = {k["key"] for k in keys}
    must = {"run": ["p_collapse.24.estimate", "p_collapse.24.ci_low", "p_collapse.24.credible_high",
                    "p_collapse.24.settings_low", "rmst_months.estimate"],
            "compare": ["differences.p_collapse.24.estimate", "differences.p_collapse.24.ci_low",
                        "p_collapse.base.24.estimate", "p_collapse.other.24.estimate", "differences.rmst.estimate",
                        "attribution.0.contribution", "tests.collapse_by_horizon.p_value"],
            "sweep": ["outcomes.p_collapse.factors.0.SRC", "outcomes.p_collapse.factors.1.SRC",
                      "outcomes.p_collapse.r_squared", "points"],
            "backtest": ["cases.0.observed.months", "cases.2.observed_percentile", "scores.model.crps",
                         "leave_one_conflict_out.scores.model.crps", "scores.model.coverage.90"],
            "calibration": ["parameters.dynamics.offensive_rate_covered.median", "parameters.dynamics.halt_rate.q95",
                            "diagnostics.effective_sample_size", "reproducibility.max_shift"]}[kind]
    assert set(must) <= found, set(must) - found
    if lang == "ar":   # Arabic-Indic digits were asked for, and given
        assert all(not re.search(r"[0-9]", k["text"]) for k in keys), [k["text"] for k in keys][:5]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_the_bottom_line_comes_first_in_plain_sentences(result_dirs, pages, kind, lang):
    page = pages[kind, lang]
    assert page.sections[0] == "bottom-line"
    text = (page_path(result_dirs, kind, lang).read_text(encoding="utf-8")
            .split('id="bottom-line"', 1)[1].split("</section>", 1)[0])
    sentences = re.findall(r"<p>", text)
    assert 2 <= len(sentences) <= 4
    bottom = plain(page.text_by_section["bottom-line"])
    assert "p =" not in bottom and "p-value" not in bottom       # effort is not importance
    assert plain(page.text_by_section["headline"]).count("p =") == 0


def test_bottom_lines_read_as_the_issue_asks(pages):
    run = plain(pages["run", "en"].text_by_section["bottom-line"])
    assert re.search(r"The ceasefire collapses within two years in about \d+ runs? in \d+", run), run
    assert "credible interval over the calibrated parameters" in run and "simulation interval" in run
    assert "uncertain settings" in run
    compare = plain(pages["compare", "en"].text_by_section["bottom-line"])
    assert re.search(r"is (negligible|small|moderate|large)", compare), compare
    assert "most of it comes from" in compare                 # the attribution
    backtest = plain(pages["backtest", "en"].text_by_section["bottom-line"])
    assert "beats every reference forecast on every score" in backtest and "Truce of 2019-08-01" in backtest
    calibration = plain(pages["calibration", "en"].text_by_section["bottom-line"])
    assert "effective sample size of only 31.0 of 60" in calibration
    ar = plain(pages["run", "ar"].text_by_section["bottom-line"])
    assert "ينهار وقف إطلاق النار خلال عامين" in ar and "فاصل الموثوقية" in ar


def test_titles_come_from_the_scenario_not_its_key(pages):
    assert "A small test ceasefire" in plain(pages["run", "en"].text_by_section.get("question", ""))
    text = "".join(pages["run", "en"].text_by_section.values())
    assert "small_truce" not in plain(pages["run", "en"].text_by_section["bottom-line"]) and text


def test_flags_on_figures_not_to_lean_on(pages):
    backtest = plain(pages["backtest", "en"].text_by_section["caveats"])
    assert "the 0% point of the prediction" in backtest                     # a case at the 0th percentile
    assert "Pareto k = 0.90" in backtest                                     # an unreliable LOO forecast
    calibration = plain(pages["calibration", "en"].text_by_section["caveats"])
    assert "effective sample size of 31.0 (under 50)" in calibration        # a tiny effective sample size
    assert "disagree by 70.0% of an interval's width" in calibration
    assert "flagged" not in plain(pages["run", "en"].text_by_section["bottom-line"])


def test_p_values_only_in_the_details(pages):
    details = plain(pages["compare", "en"].text_by_section["details"])
    assert "p =" in details and "Paired test (exact McNemar)" in details
    for section in ("bottom-line", "headline", "figures"):
        assert "p =" not in plain(pages["compare", "en"].text_by_section.get(section, ""))


def test_compare_shows_only_the_differing_parameters(result_dirs, pages):
    text = page_path(result_dirs, "compare", "en").read_text(encoding="utf-8")
    params = text.split('id="parameters"', 1)[1].split("</section>", 1)[0]
    assert "<details>" in params and "<details open" not in params
    assert "actors.<wbr>turkey.<wbr>deterrence" in params and "actors.<wbr>russia.<wbr>distraction" in params
    assert "resolve" not in params                                  # the same in both: not shown
    assert "attribution" in text and 'id="fig-attribution"' in text


def test_parameter_tables_are_collapsed(result_dirs):
    for kind in ("run", "sweep"):
        text = page_path(result_dirs, kind, "en").read_text(encoding="utf-8")
        params = text.split('id="parameters"', 1)[1].split("</section>", 1)[0]
        assert params.count("<details>") == 1 and "<table" in params.split("<details>", 1)[1]


def test_sweep_marks_its_factors_in_the_parameter_table(pages):
    rows = pages["sweep", "en"].changed_rows
    assert any(r.startswith("deterrence") for r in rows) and any(r.startswith("interest") for r in rows), rows


def test_sources_show_the_bibliography_for_every_cited_key(result_dirs, pages):
    text = page_path(result_dirs, "run", "en").read_text(encoding="utf-8")
    sources = text.split('id="sources"', 1)[1].split("</section>", 1)[0]
    for key in ("seed000", "seed004"):
        assert f'id="src-{key}"' in sources
    assert "Syrian Dialogue Center" in sources and "Rozana" in sources   # author/publisher, not a file name
    cited = set(re.findall(r'href="#src-([^"]+)"', text))
    listed = set(re.findall(r'id="src-([^"]+)"', sources))
    assert cited and cited == listed


def test_scenario_text_has_its_own_direction(pages):
    for kind in ("run", "compare"):
        assert pages[kind, "ar"].auto_dir >= 3 and pages[kind, "en"].auto_dir >= 3


def test_provenance_is_shown(result_dirs):
    d = result_dirs["dirs"]["run"]
    m = json.loads((d / "manifest.json").read_text())
    text = (d / "report.html").read_text(encoding="utf-8")
    for value in (m["git_commit"], m["package_version"], m["scenario_sha256"]):
        if value:
            assert str(value) in text


def test_report_is_deterministic_and_equals_the_file(result_dirs):
    d = result_dirs["dirs"]["sweep"]
    assert build_report(d) == (d / "report.html").read_text(encoding="utf-8")


def test_fan_chart_months_are_per_30_44_days():
    from sim.report import DAYS_PER_MONTH, month_lengths
    weekly = month_lengths({"step_days": 7}, 12)
    assert {round(x * DAYS_PER_MONTH) for x in weekly} == {28, 35}     # four or five weekly steps
    assert sum(weekly) == pytest.approx(12, abs=7 / DAYS_PER_MONTH)
    fine = month_lengths({"step_days": 7, "fine_start_days": 28}, 3)
    assert fine[0] == pytest.approx(28 / DAYS_PER_MONTH + 7 / DAYS_PER_MONTH)


def test_arabic_digits_in_messages_leave_placeholders_and_symbols():
    from sim.i18n import Lang
    t = Lang("en", "arabic")
    assert t._("25-75% of runs").startswith("٢٥-٧٥٪")
    assert t._("first-order Sobol index S1").endswith("S1") and "SHA-256" in t._("scenario SHA-256")
    assert "%(n)s" in t._("%(n)s months")


# --- the catalogs ------------------------------------------------------------------------------------

def _catalog(path: Path):
    from babel.messages.pofile import read_po
    with open(path, "rb") as fh:
        return read_po(fh)


def test_catalog_is_extracted_from_the_current_sources(tmp_path):
    """messages.pot holds exactly the messages of sim/report.py, sim/plots.py and the templates."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    with open(LOCALE_DIR / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None,
                "n_": (1, 2), "pN_": ((1, "c"), 2)}
    found = set()
    for _, _, message, _, context in extract_from_dir(str(REPO), method_map, options_map, keywords=keywords):
        found.add((context, message))
    pot = {(m.context, m.id) for m in _catalog(LOCALE_DIR / "messages.pot") if m.id}
    assert found == pot, ("run the pybabel commands in sim/locale/babel.cfg",
                          sorted(map(str, found - pot))[:5], sorted(map(str, pot - found))[:5])


def test_arabic_catalog_translates_every_message_with_the_same_placeholders():
    pot = {(m.context, m.id) for m in _catalog(LOCALE_DIR / "messages.pot") if m.id}
    po = {(m.context, m.id): m for m in _catalog(LOCALE_DIR / "ar" / "LC_MESSAGES" / "messages.po") if m.id}
    assert pot <= set(po), sorted(map(str, pot - set(po)))[:5]
    bad = []
    for key in pot:
        m = po[key]
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if "fuzzy" in m.flags or not all(strings):
            bad.append((key, "untranslated"))
            continue
        want = set(re.findall(r"%\(\w+\)s", ids[-1]))
        for i, s in enumerate(strings):
            got = set(re.findall(r"%\(\w+\)s", s))
            # the zero, one and two forms of a plural may say it in words; no form invents a placeholder
            complete = len(strings) == 1 or i == len(strings) - 1
            if not got <= want or (complete and not want <= got):
                bad.append((key, s))
            if "%(" in ids[-1] and s.count("%") - 2 * s.count("%%") != len(re.findall(r"%\(\w+\)s", s)):
                bad.append((key, "a stray % sign: write %% for a literal one"))
    assert not bad, bad[:5]


# --- the committed reference results each have their reports, up to date --------------------------------

def _reference_dirs() -> list[Path]:
    root = REPO / "results" / "reference"
    found = []
    for d in sorted(p for p in root.rglob("*") if p.is_dir()) if root.is_dir() else []:
        if d.name in ("base", "other") and (d.parent / "comparison.json").is_file():
            continue                                  # the halves of a comparison: its report covers them
        with contextlib.suppress(NotAResultDirectory):
            detect_kind(d)
            found.append(d)
    return found


REFERENCE_DIRS = _reference_dirs()


@pytest.mark.parametrize("directory", REFERENCE_DIRS or [None],
                         ids=[str(d.relative_to(REPO)) for d in REFERENCE_DIRS] or ["none"])
def test_reference_results_have_up_to_date_reports(directory):
    if directory is None:
        pytest.skip("no result directories under results/reference/ yet")
    for lang in LANGS:
        report = directory / report_name(lang)
        assert report.is_file(), f"missing: run 'ceasefire report {directory.relative_to(REPO)} --lang {lang}'"
        page = parse_page(report.read_text(encoding="utf-8"))
        assert page.problems == [] and len(page.figures) >= MIN_FIGURES[detect_kind(directory)] - 1
        check_keys(directory, page.keys)      # numbers of an older run: regenerate with 'ceasefire report'
        suffix = "" if lang == "en" else f".{lang}"
        for fig in page.figures:
            assert (directory / "figures" / f"{fig['id'].removeprefix('fig-')}{suffix}.png").is_file()


# --- the CLI ------------------------------------------------------------------------------------------

def test_run_compare_sweep_write_the_report_themselves(result_dirs):
    assert {k: result_dirs["written_by_cli"][k] for k in ("run", "compare", "sweep")} == \
        {"run": True, "compare": True, "sweep": True}


def test_no_report_flag_and_report_command(result_dirs, tmp_path):
    out = tmp_path / "r"
    scenario = result_dirs["dirs"]["run"].parent / "small_truce.toml"
    rc, _, err = _cli("run", str(scenario), "--runs", "50", "--horizon", "6", "--jobs", "1", "--quiet",
                      "--no-report", "--out", str(out))
    assert rc == 0, err
    assert not (out / "report.html").exists() and not (out / "figures").exists()
    rc, stdout, err = _cli("report", str(out), "--lang", "ar")
    assert rc == 0, err
    assert stdout.strip() == f"Report written to {out / 'report.ar.html'}" and not (out / "report.html").exists()
    assert list((out / "figures").glob("*.ar.png")) and not list((out / "figures").glob("survival.png"))
    rc, _, err = _cli("report", str(tmp_path / "nothing"))
    assert rc == 2 and "not a result directory" in err
    rc, _, err = _cli("report", str(out), "--digits", "roman")
    assert rc == 2 and "--digits" in err


def test_brief_without_chromium_exits_2_and_says_what_to_install(result_dirs, monkeypatch, tmp_path):
    monkeypatch.setenv("CEASEFIRE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    rc, _, err = _cli("report", str(result_dirs["dirs"]["run"]), "--brief")
    assert rc == 2
    assert "Chromium" in err and "apt-get install chromium" in err
    assert not (result_dirs["dirs"]["run"] / "brief.pdf").exists()


# --- the page, in headless Chromium (Selenium and chromium-driver) ---------------------------------------

PROBE = """return {
  figures: Array.from(document.querySelectorAll('figure')).map(f => {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const drawn = svg ? svg.getBBox() : {width: 0, height: 0};
    return {id: f.id, width: r.width, height: r.height, drawnWidth: drawn.width, drawnHeight: drawn.height,
            paths: svg ? svg.querySelectorAll('path, use').length : 0};
  }),
  keys: Array.from(document.querySelectorAll('[data-key]')).map(e => ({
    key: e.dataset.key, source: e.dataset.source, format: e.dataset.format, text: e.textContent})),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  lang: document.documentElement.lang, dir: document.documentElement.dir,
  bottomLine: document.querySelector('main > section').id,
  bottomLineText: document.getElementById('bottom-line').innerText,
  firstSentenceTop: document.querySelector('#bottom-line p').getBoundingClientRect().top,
  title: document.title
}"""
OVERFLOW = """return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  wide: Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect(); return r.right > window.innerWidth + 1 || r.left < -1;
  }).filter(e => !e.closest('.table-wrap')).slice(0, 5).map(e => e.tagName + '.' + e.className)}"""


def _driver_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return chromium, driver


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = _driver_paths()
    if chromium is None or driver_path is None:
        pytest.skip("Chromium or chromium-driver not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="report-test-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def load(driver, path: Path, width: int = 1280) -> dict:
    driver.set_window_size(width, 900)
    driver.get(path.resolve().as_uri())
    probe = driver.execute_script(PROBE)
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return {"url": path.resolve().as_uri(), "probe": probe, "errors": errors}


@pytest.fixture(scope="module")
def browser_pages(browser, result_dirs):
    return {(k, lang): load(browser, page_path(result_dirs, k, lang)) for k in KINDS for lang in LANGS}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_browser_loads_without_errors_or_network(browser_pages, kind, lang):
    page = browser_pages[kind, lang]
    assert page["errors"] == []
    assert page["probe"]["resources"] == []
    assert page["probe"]["lang"] == lang and page["probe"]["dir"] == ("rtl" if lang == "ar" else "ltr")
    assert page["probe"]["bottomLine"] == "bottom-line" and len(page["probe"]["bottomLineText"]) > 100
    assert page["probe"]["firstSentenceTop"] < 900           # the bottom line is on the first screen
    assert page["probe"]["title"]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_browser_renders_every_figure_and_shows_the_json_numbers(browser_pages, result_dirs, pages, kind, lang):
    probe = browser_pages[kind, lang]["probe"]
    assert len(probe["figures"]) >= MIN_FIGURES[kind]
    for f in probe["figures"]:
        assert f["width"] > 100 and f["height"] > 100, f
        assert f["drawnWidth"] > 0 and f["drawnHeight"] > 0 and f["paths"] > 10, f
    assert len(probe["keys"]) == len(pages[kind, lang].keys)
    assert check_keys(result_dirs["dirs"][kind], probe["keys"]) >= 5


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", LANGS)
def test_browser_nothing_wider_than_the_window(browser, result_dirs, lang, width):
    problems = []
    for kind in KINDS:
        load(browser, page_path(result_dirs, kind, lang), width)
        got = browser.execute_script(OVERFLOW)
        if got["scroll"] > got["inner"] or got["wide"]:
            problems.append((kind, got))
    assert not problems, problems


def _pdf_pages(path: Path) -> list[tuple[float, float]]:
    data = path.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    boxes = [tuple(float(v) for v in m.split()[2:4])
             for m in re.findall(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", data)]
    assert len(boxes) >= pages
    return boxes[:pages]


@pytest.mark.parametrize("kind, lang", [("run", "en"), ("compare", "ar"), ("backtest", "en")])
def test_brief_is_one_or_two_a4_pages(browser, result_dirs, kind, lang):
    d = result_dirs["dirs"][kind]
    rc, stdout, err = _cli("report", str(d), "--brief", "--lang", lang)
    assert rc == 0, err
    pdf = d / ("brief.pdf" if lang == "en" else f"brief.{lang}.pdf")
    assert f"Brief written to {pdf}" in stdout
    boxes = _pdf_pages(pdf)
    assert 1 <= len(boxes) <= 2
    for w, h in boxes:                                  # A4: 210 x 297 mm = 595 x 842 points
        assert abs(w - 595.3) < 2 and abs(h - 841.9) < 2, (w, h)


@pytest.mark.parametrize("digits", ["western", "arabic"])
def test_a_log_axis_in_a_right_to_left_figure_renders(digits):
    """A log axis labels its ticks in mathtext ($\\mathdefault{10^{-1}}$); wrapped in bidi isolates or given
    Arabic-Indic digits, matplotlib's mathtext parser raised, and the Arabic calibration report was refused
    as 'damaged'."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim import plots
    from sim.i18n import Lang
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.plot([0.05, 0.2, 3.0, 40.0], [1, 2, 3, 4])
    ax.set_title("offensive_rate_covered")
    plots.localize(fig, Lang("ar", digits))
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def test_a_backtest_the_model_loses_names_who_beats_it(tmp_path):
    """'does not beat every reference on every score' could hide 'beats none': the bottom line names the
    references that beat the model on the log score."""
    from sim.report import write_report
    _backtest_fixture(tmp_path / "bt")
    path = tmp_path / "bt" / "backtest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["scores"]["model"]["log"] = 0.5      # base rate 0.4 and other cases 0.6: one beats it, one does not
    path.write_text(json.dumps(data), encoding="utf-8")
    page = parse_page(write_report(tmp_path / "bt").read_text(encoding="utf-8"))
    line = plain(page.text_by_section["bottom-line"])
    assert "does not beat every reference forecast" in line
    assert "On the log score it is beaten by literature base rate: there it has no skill." in line


def test_a_reader_bug_on_intact_files_can_show_its_traceback(tmp_path, monkeypatch):
    """The damaged-files message covers the exceptions a reader's bug raises too: it says how to see the
    traceback, and with CEASEFIRE_DEBUG=1 the bug reaches the internal-error path (exit 1, crash log)."""
    from sim import report
    from sim.cli import main
    _backtest_fixture(tmp_path / "bt")
    monkeypatch.setenv("CEASEFIRE_LOG_DIR", str(tmp_path / "logs"))

    def broken_builder(page):
        raise ValueError("a bug in a builder")
    monkeypatch.setitem(report.BUILDERS, "backtest", broken_builder)
    monkeypatch.delenv("CEASEFIRE_DEBUG", raising=False)
    assert main(["report", str(tmp_path / "bt")]) == 2
    assert not (tmp_path / "logs").exists()
    monkeypatch.setenv("CEASEFIRE_DEBUG", "1")
    assert main(["report", str(tmp_path / "bt")]) == 1
    logs = list((tmp_path / "logs").glob("ceasefire-*.log"))
    assert len(logs) == 1 and "broken_builder" in logs[0].read_text(encoding="utf-8")


def test_every_neutralised_input_of_the_backtest_has_a_translatable_label_in_the_report():
    # backtest.json carries the long description; the report shows a short label (translated), and falls back
    # to the untranslated description for an input it does not know: the two lists must not drift apart
    from sim.backtest import NEUTRALISED_INPUTS
    from sim.report import NEUTRALISED
    assert set(NEUTRALISED) == set(NEUTRALISED_INPUTS)


def test_a_backtest_with_refits_shows_their_scores_beside_the_importance_sampled_ones(tmp_path):
    from sim.report import write_report
    _backtest_fixture(tmp_path / "bt")
    path = tmp_path / "bt" / "backtest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    refit_scores = _scores(1.1)
    refit_scores["model"]["log"] = 0.4321
    data["exact_refits"] = {"which": "both", "design": {"particles": 16, "replications": 8, "allocation": "equal"},
                            "loo": {"cases": [], "importance_sampled": {}, "scores": refit_scores, "note": "n"},
                            "loco": {"cases": [], "importance_sampled": {}, "scores": _scores(1.2), "note": "n"}}
    path.write_text(json.dumps(data), encoding="utf-8")
    text = plain(write_report(tmp_path / "bt").read_text(encoding="utf-8"))
    assert "refit without it where importance sampling was unreliable" in text
    assert "the sampler refitted without it" in text
    assert "0.432" in text


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_credible_interval_narrower_than_the_simulation_interval_says_so(tmp_path, lang):
    """The credible interval is the spread over parameter draws with each draw's noise taken out; where the
    parameters hardly matter it can be narrower than the dice alone, and must not read as the firmest number."""
    from sim.i18n import Lang
    from sim.report import Page
    page = Page(tmp_path, "compare", Lang(lang), png=False)
    narrow = {"estimate": -0.045, "ci_low": -0.052, "ci_high": -0.038, "credible_low": -0.048, "credible_high": -0.043}
    wide = dict(narrow, credible_low=-0.071, credible_high=-0.026)
    note = Lang(lang)._("%(interval)s, narrower than the simulation interval: the calibrated parameters "
                        "hardly move this figure, and the simulation interval is the one to read")
    marker = note.split("%(interval)s")[1][:12]
    assert marker and marker in str(page.estimate(narrow, "differences.6", "pp"))
    assert marker not in str(page.estimate(wide, "differences.6", "pp"))
