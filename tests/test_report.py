"""report.html: one self-contained page per result directory (run, compare, sweep, backtest).

The result directories are small and real (300 replications over 24 months; a 3 x 3 grid sweep of
50 replications over 12 months; a hand-made backtest.json). Each report is checked twice:

* in Python: the HTML parses and is balanced, nothing points to the network, every figure is an
  inline SVG with alt text, headings and tables are accessible, every headline number marked with
  ``data-key`` equals its JSON value as formatted, and a PNG copy of every figure is on disk;
* in headless Chromium, driven over the DevTools protocol with a minimal WebSocket client (stdlib
  only): the page loads with no console error and no request other than the page itself, every
  figure has a non-zero rendered size, and the numbers the browser shows equal the JSON.

The browser tests skip only where Chromium is not installed; ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

import sim.cli
from sim.cli import main
from sim.report import NotAResultDirectory, build_report, detect_kind, write_report

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "idlib_2020_moscow.toml"
KINDS = ["run", "compare", "sweep", "backtest", "calibration"]
MIN_FIGURES = {"run": 5, "compare": 4, "sweep": 3, "backtest": 1, "calibration": 2}
JSON_FILE = {"run": "summary.json", "compare": "comparison.json", "sweep": "sensitivity.json",
             "backtest": "backtest.json", "calibration": "calibration.json"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLI_HAS_REPORT = "report" in getattr(sim.cli, "COMMANDS", {})


# --- the result directories ----------------------------------------------------------------------

def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def _backtest_fixture(directory: Path) -> None:
    """A backtest.json of the shape sim.calibration.CalibrationResult.backtest() writes."""
    cases = []
    for name, observed, who, rate in (("truce_a", 0.5, "regime", 0.9), ("truce_b", 7.4, "regime", 0.12),
                                      ("truce_c", 56.7, "opposition", 0.012)):
        grid = [0.25 * k for k in range(1, 241)]
        survival = [[g, math.exp(-rate * g)] for g in grid]
        cases.append({
            "name": name, "observed_months": observed, "observed_initiator": who,
            "predicted": {"p_collapse": {str(m): 1 - math.exp(-rate * m) for m in (1, 3, 6, 12)},
                          "median": math.log(2) / rate if math.log(2) / rate < 60 else None,
                          "initiator_share": {"regime": 0.8, "opposition": 0.2},
                          "survival": survival},
            "observed_percentile": 1 - math.exp(-rate * observed),
            "fit_without_case": {"parameters": {"offensive_rate": 8.0 + len(cases), "halt_rate": 2.5},
                                 "effective_sample_size": 12.0, "cases_used": []},
        })
    scores = {f: {"brier": {str(m): 0.1 * (i + 1) + 0.01 * m for m in (1, 3, 6, 12)}, "log": 0.2 * (i + 1),
                  "crps": 1.5 * (i + 1)} for i, f in enumerate(("model", "base_rate", "other_cases"))}
    data = {"cases": cases, "scores": scores,
            "reference_forecasts": {"base_rate": "a constant hazard", "other_cases": "the other cases"},
            "manifest": {"package_version": "test", "git_commit": "0" * 40, "command": "hand-made fixture"}}
    directory.mkdir(parents=True)
    (directory / "backtest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


def _calibration_fixture(directory: Path, backtest: Path) -> None:
    """calibration.json and posterior.csv of the shape 'ceasefire calibrate' writes."""
    cases = [{k: v for k, v in c.items() if k in ("name", "observed_months", "observed_initiator", "predicted",
                                                   "observed_percentile")}
             for c in json.loads((backtest / "backtest.json").read_text())["cases"]]
    rows = [(j, 0.5 * (80 ** ((j + 0.5) / 16)), 0.2 * (50 ** (((7 * j) % 16 + 0.5) / 16))) for j in range(16)]
    weights = [math.exp(-((math.log(r[1]) - math.log(8)) ** 2)) for r in rows]
    weights = [w / sum(weights) for w in weights]
    data = {"name": "tiny_history", "points": 16, "replications": 10, "horizon_months": 60.0, "seed": 3,
            "window": 0.4,
            "parameters": {"offensive_rate": {"path": "dynamics.offensive_rate", "map": 7.9, "mean": 8.4, "q05": 3.1,
                                              "q50": 7.9, "q95": 17.0, "prior": [0.5, 40.0, "log"]},
                           "halt_rate": {"path": "dynamics.halt_rate", "map": 2.2, "mean": 2.5, "q05": 0.4,
                                         "q50": 2.2, "q95": 6.8, "prior": [0.2, 10.0, "log"]}},
            "diagnostics": {"effective_sample_size": 5.3, "max_weight": max(weights), "loglik_at_map": -2.5,
                            "loglik_by_case_at_map": {c["name"]: -0.8 for c in cases}},
            "cases": cases, "manifest": {"package_version": "test", "command": "hand-made fixture"}}
    directory.mkdir(parents=True)
    (directory / "calibration.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (directory / "posterior.csv").write_text(
        "point,offensive_rate,halt_rate,weight,loglik_total\n"
        + "".join(f"{j},{a:.6g},{b:.6g},{w:.6g},{math.log(w):.6g}\n" for (j, a, b), w in zip(rows, weights)),
        encoding="utf-8")


@pytest.fixture(scope="module")
def result_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    dirs = {k: base / k for k in KINDS}
    common = ["--runs", "300", "--horizon", "24", "--seed", "1", "--jobs", "1", "--quiet"]
    rc, _, err = _cli("run", str(SCENARIO), *common, "--out", str(dirs["run"]))
    assert rc == 0, err
    other = base / "more_deterrence.toml"
    other.write_text(f'base = "{SCENARIO.as_posix()}"\nname = "more_deterrence"\n'
                     f'description = "The Moscow ceasefire with Turkish deterrence raised to 0.9."\n\n'
                     f"[actors.turkey]\ndeterrence = 0.9\n", encoding="utf-8")
    rc, _, err = _cli("compare", str(SCENARIO), str(other), *common, "--out", str(dirs["compare"]))
    assert rc == 0, err
    exp = base / "tiny_grid.toml"
    exp.write_text(f'name = "tiny_grid"\nquestion = "Which matters more here, deterrence or interest?"\n'
                   f'scenario = "{SCENARIO.as_posix()}"\nsampler = "grid"\npoints = 3\nreplications = 50\n'
                   f'horizon_months = 12\nseed = 7\noutcomes = ["p_collapse", "rmst", "p_initiated_by:regime"]\n\n'
                   f'[factors.deterrence]\npath = "actors.turkey.deterrence"\nlow = 0.2\nhigh = 1.0\n\n'
                   f'[factors.interest]\npath = "actors.russia.interest_in_guarantor"\nlow = 0.2\nhigh = 1.0\n',
                   encoding="utf-8")
    rc, _, err = _cli("sweep", str(exp), "--out", str(dirs["sweep"]), "--jobs", "1", "--quiet")
    assert rc == 0, err
    _backtest_fixture(dirs["backtest"])
    _calibration_fixture(dirs["calibration"], dirs["backtest"])
    written_by_cli = {}
    for kind, d in dirs.items():
        written_by_cli[kind] = (d / "report.html").exists()
        if not written_by_cli[kind]:
            write_report(d)
    return {"dirs": dirs, "written_by_cli": written_by_cli}


@pytest.fixture(scope="module")
def pages(result_dirs):
    return {k: parse_page((d / "report.html").read_text(encoding="utf-8")) for k, d in result_dirs["dirs"].items()}


# --- reading the page back -------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Balanced-tag check plus what the tests look at: links, figures, headings, tables, data-keys."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.urls: list[str] = []
        self.figures: list[dict] = []
        self.headings: list[int] = []
        self.th_without_scope = 0
        self.keys: list[dict] = []
        self.lang = None
        self.scripts = 0
        self.changed_rows: list[str] = []
        self._key: dict | None = None
        self._key_depth = 0
        self._title_depth: int | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._open(tag, a, closes=False)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._open(tag, dict(attrs), closes=True)

    def _open(self, tag, a, closes):
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            if a.get(name):
                self.urls.append(a[name])
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "script":
            self.scripts += 1
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


def parse_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def json_value(data, key: str):
    """Resolve a dotted path; keys may themselves hold dots (months like '7.5'): longest match first."""
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
    """How the page must show a JSON number (written independently of sim.report.FORMATS)."""
    if value is None:
        return "n/a"
    return {"pct": lambda x: "%.1f%%" % (x * 100), "pp": lambda x: "%+.1f" % (x * 100),
            "months": lambda x: "%.1f" % x, "num1": lambda x: "%.1f" % x, "signed": lambda x: "%+.2f" % x,
            "index": lambda x: "%.3f" % x,
            "p": lambda x: "%.3g" % x, "int": lambda x: "{:,}".format(int(x))}[kind](value)


def check_keys(directory: Path, keys: list[dict]) -> int:
    cache: dict[str, object] = {}
    bad = []
    for k in keys:
        src = k["source"]
        if src not in cache:
            cache[src] = json.loads((directory / src).read_text(encoding="utf-8"))
        want = expected_text(json_value(cache[src], k["key"]), k["format"])
        if k["text"].strip() != want:
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


@pytest.mark.parametrize("kind", KINDS)
def test_html_parses_and_is_balanced(pages, kind):
    page = pages[kind]
    assert page.problems == []
    assert page.stack == []
    assert page.lang == "en"


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_points_to_the_network(result_dirs, pages, kind):
    page = pages[kind]
    assert page.scripts == 0
    remote = [u for u in page.urls if u.strip().lower().startswith(("http://", "https://", "//", "ftp:"))]
    assert remote == []
    text = (result_dirs["dirs"][kind] / "report.html").read_text(encoding="utf-8")
    assert "@import" not in text and "url(http" not in text and "@font-face" not in text


@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_is_inline_svg_with_alt_text_and_a_png_copy(result_dirs, pages, kind):
    figures = pages[kind].figures
    assert len(figures) >= MIN_FIGURES[kind]
    for fig in figures:
        assert fig["svg"] >= 1, fig["id"]
        assert fig["role"] == "img"
        assert len(fig["title"].strip()) > 40 or len(fig["aria_label"].strip()) > 40, fig
        assert fig["caption"], fig["id"]
        png = result_dirs["dirs"][kind] / "figures" / f"{fig['id'].removeprefix('fig-')}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("kind", KINDS)
def test_headings_in_order_and_table_headers_scoped(pages, kind):
    levels = pages[kind].headings
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
    assert pages[kind].th_without_scope == 0


@pytest.mark.parametrize("kind", KINDS)
def test_headline_numbers_equal_the_json(result_dirs, pages, kind):
    d = result_dirs["dirs"][kind]
    assert check_keys(d, pages[kind].keys) >= 5
    keys = {k["key"] for k in pages[kind].keys}
    assert {k["source"] for k in pages[kind].keys} == {JSON_FILE[kind]}
    must = {"run": ["p_collapse.24.estimate", "p_collapse.24.ci_low", "p_collapse.24.ci_high", "rmst_months.estimate"],
            "compare": ["differences.p_collapse.24.estimate", "differences.p_collapse.24.ci_low",
                        "p_collapse.base.24.estimate", "p_collapse.other.24.estimate", "differences.rmst.estimate"],
            "sweep": ["outcomes.p_collapse.factors.0.SRC", "outcomes.p_collapse.factors.1.SRC",
                      "outcomes.p_collapse.r_squared", "points"],
            "backtest": ["cases.0.observed_months", "cases.2.observed_percentile", "scores.model.crps"],
            "calibration": ["parameters.offensive_rate.map", "parameters.halt_rate.q95",
                            "diagnostics.effective_sample_size"]}[kind]
    assert set(must) <= keys, set(must) - keys


def test_run_sentence_reads_as_the_issue_asks(result_dirs):
    text = (result_dirs["dirs"]["run"] / "report.html").read_text(encoding="utf-8")
    s = json.loads((result_dirs["dirs"]["run"] / "summary.json").read_text())["p_collapse"]["24"]
    plain = parse_plain(text)
    assert (f"P(collapse within 24 months): {100 * s['estimate']:.1f}% (95% CI {100 * s['ci_low']:.1f}% to "
            f"{100 * s['ci_high']:.1f}%)") in plain


def parse_plain(text: str) -> str:
    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts = []

        def handle_data(self, data):
            self.parts.append(data)
    t = Text()
    t.feed(text)
    return " ".join("".join(t.parts).split())


def test_report_is_deterministic_and_equals_the_file(result_dirs):
    d = result_dirs["dirs"]["sweep"]
    assert build_report(d) == (d / "report.html").read_text(encoding="utf-8")


def test_compare_highlights_the_parameters_that_differ(result_dirs, pages):
    rows = pages["compare"].changed_rows
    assert any(r.startswith("deterrence") and "0.75" in r and "0.9" in r for r in rows), rows
    assert not any(r.startswith("resolve") for r in rows)
    text = (result_dirs["dirs"]["compare"] / "report.html").read_text(encoding="utf-8")
    assert "actors.<wbr>turkey.<wbr>deterrence" in text          # comparison.json's parameter_diff is listed


def test_sweep_marks_its_factors_in_the_parameter_table(pages):
    rows = pages["sweep"].changed_rows
    assert any(r.startswith("deterrence") for r in rows) and any(r.startswith("interest") for r in rows), rows


def test_provenance_is_shown(result_dirs):
    d = result_dirs["dirs"]["run"]
    m = json.loads((d / "manifest.json").read_text())
    plain = parse_plain((d / "report.html").read_text(encoding="utf-8"))
    for value in (m["git_commit"], m["package_version"], m["scenario_sha256"]):
        if value:
            assert str(value) in plain


# --- the committed reference results each have their report, up to date --------------------------------

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
def test_reference_results_have_an_up_to_date_report(directory):
    if directory is None:
        pytest.skip("no result directories under results/reference/ yet")
    report = directory / "report.html"
    assert report.is_file(), f"missing: run 'ceasefire report {directory.relative_to(REPO)}'"
    page = parse_page(report.read_text(encoding="utf-8"))
    assert page.problems == [] and len(page.figures) >= MIN_FIGURES[detect_kind(directory)]
    check_keys(directory, page.keys)      # numbers of an older run: regenerate with 'ceasefire report'
    for fig in page.figures:
        assert (directory / "figures" / f"{fig['id'].removeprefix('fig-')}.png").is_file()


# --- the CLI (once sim/cli.py has the report command) -------------------------------------------------

needs_cli = pytest.mark.skipif(not CLI_HAS_REPORT, reason="sim/cli.py has no 'report' command yet")


@needs_cli
def test_run_compare_sweep_write_the_report_themselves(result_dirs):
    assert {k: result_dirs["written_by_cli"][k] for k in ("run", "compare", "sweep")} == \
        {"run": True, "compare": True, "sweep": True}


@needs_cli
def test_no_report_flag_and_report_command(tmp_path):
    out = tmp_path / "r"
    rc, _, err = _cli("run", str(SCENARIO), "--runs", "50", "--horizon", "6", "--jobs", "1", "--quiet",
                      "--no-report", "--out", str(out))
    assert rc == 0, err
    assert not (out / "report.html").exists() and not (out / "figures").exists()
    rc, stdout, err = _cli("report", str(out))
    assert rc == 0, err
    assert (out / "report.html").is_file() and stdout.strip() == f"Report written to {out / 'report.html'}"
    rc, _, err = _cli("report", str(tmp_path / "nothing"))
    assert rc == 2 and "not a result directory" in err


# --- the page, in headless Chromium --------------------------------------------------------------------

class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: client handshake, masked text frames out,
    unmasked (possibly fragmented) text frames in, ping answered, close noticed."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host: str, port: int, path: str, timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise ConnectionError(f"WebSocket handshake refused: {lines[0]}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            raise ConnectionError("WebSocket handshake: wrong Sec-WebSocket-Accept")

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        padded = payload + b"\0" * (-n % 4)
        key = int.from_bytes(mask * (len(padded) // 4), "big") if padded else 0
        masked = (int.from_bytes(padded, "big") ^ key).to_bytes(len(padded), "big")[:n] if padded else b""
        self.sock.sendall(bytes(header) + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self, timeout: float) -> str:
        self.sock.settimeout(timeout)
        parts = []
        while True:
            b1, b2 = self._read(2)
            n = b2 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b2 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b1 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode == 0x9:
                self._send_frame(0xA, data)
                continue
            if opcode == 0xA:
                continue
            parts.append(data)
            if b1 & 0x80:
                return b"".join(parts).decode("utf-8")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, b"")
        self.sock.close()


class DevTools:
    """Commands with replies; events kept by session until read."""

    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e["method"] == method and e.get("sessionId") == session:
                    return e
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {method} within {timeout:g} s")
            msg = json.loads(self.ws.recv(remaining))
            if "method" in msg:
                self.events.append(msg)


PROBE = """JSON.stringify({
  figures: Array.from(document.querySelectorAll('figure')).map(f => {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const drawn = svg ? svg.getBBox() : {width: 0, height: 0};
    return {id: f.id, width: r.width, height: r.height, drawnWidth: drawn.width, drawnHeight: drawn.height,
            paths: svg ? svg.querySelectorAll('path, use').length : 0,
            name: svg ? (svg.getAttribute('aria-label') || '') : ''};
  }),
  keys: Array.from(document.querySelectorAll('[data-key]')).map(e => ({
    key: e.dataset.key, source: e.dataset.source, format: e.dataset.format, text: e.textContent})),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  lang: document.documentElement.lang,
  title: document.title
})"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = open(profile.parent / "chromium.log", "wb")
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--window-size=1200,900",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split("\n")) >= 2
                   and port_file.read_text().split("\n")[1]):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError("Chromium did not start:\n"
                                   + (profile.parent / "chromium.log").read_text(errors="replace")[-3000:])
            time.sleep(0.05)
        port, path = port_file.read_text().split("\n")[:2]
        ws = WebSocket("127.0.0.1", int(port), path.strip())
        cdp = DevTools(ws)
        yield cdp
        with contextlib.suppress(Exception):
            cdp.send("Browser.close", timeout=5)
        ws.close()
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def load_in_browser(cdp: DevTools, path: Path) -> dict:
    url = path.resolve().as_uri()
    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Runtime", "Log", "Network", "Page"):
            cdp.send(f"{domain}.enable", session=session)
        cdp.events = [e for e in cdp.events if e.get("sessionId") != session]
        cdp.send("Page.navigate", {"url": url}, session=session)
        cdp.wait_for("Page.loadEventFired", session, timeout=60)
        probe = json.loads(cdp.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                                    session=session)["result"]["value"])
        events = [e for e in cdp.events if e.get("sessionId") == session]
    finally:
        cdp.send("Target.closeTarget", {"targetId": target})
    errors = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif e["method"] == "Runtime.exceptionThrown":
            errors.append(p.get("exceptionDetails", {}).get("text", "exception"))
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append(p["entry"].get("text", ""))
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    return {"url": url, "probe": probe, "errors": errors, "requests": requests}


@pytest.fixture(scope="module")
def browser_pages(chromium, result_dirs):
    return {k: load_in_browser(chromium, d / "report.html") for k, d in result_dirs["dirs"].items()}


@pytest.mark.parametrize("kind", KINDS)
def test_browser_loads_without_errors_or_network(browser_pages, kind):
    page = browser_pages[kind]
    assert page["errors"] == []
    assert [u for u in page["requests"] if u != page["url"] and not u.startswith("data:")] == []
    assert page["probe"]["resources"] == []
    assert page["probe"]["lang"] == "en" and page["probe"]["title"]


@pytest.mark.parametrize("kind", KINDS)
def test_browser_renders_every_figure(browser_pages, kind):
    figures = browser_pages[kind]["probe"]["figures"]
    assert len(figures) >= MIN_FIGURES[kind]
    for f in figures:
        assert f["width"] > 100 and f["height"] > 100, f
        assert f["drawnWidth"] > 0 and f["drawnHeight"] > 0 and f["paths"] > 10, f
        assert len(f["name"]) > 40, f


@pytest.mark.parametrize("kind", KINDS)
def test_browser_shows_the_json_numbers(browser_pages, result_dirs, pages, kind):
    keys = browser_pages[kind]["probe"]["keys"]
    assert len(keys) == len(pages[kind].keys)
    assert check_keys(result_dirs["dirs"][kind], keys) >= 5
