"""The bibliography (``docs/SOURCES.md``) and the audit of a scenario file's citations.

A source is cited as ``[@key]`` in a scenario file's comments and in the schema's ``source`` texts. The
audit checks what the project promises of a file that describes conditions at signing: every key it cites
exists, no source it cites is dated after its ``start`` (outside its ``[observed]`` table), and every value
line cites a source or says ``judgement``. Files named ``*_as_it_happened`` (dated events with hindsight)
and parameter fragments without a ``start`` are exempt from the date rule. A fragment written by ``ceasefire
calibrate`` (its header says so) carries fitted values, each with its 90% interval: their source is the fit
the header names, so those lines need no citation (a line added by hand, without an interval, still does).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

CITATION = re.compile(r"\[@([A-Za-z0-9][A-Za-z0-9_.:-]*)\]")
DATE = re.compile(r"^\s*(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")
BIBLIOGRAPHY = Path("docs") / "SOURCES.md"
# keys whose values are identity or bookkeeping, not claims about the world
UNCITED_KEYS = {"label", "name", "title", "description", "sources", "start", "horizon_months", "step_days",
                "fine_start_days", "base", "conflict", "posterior"}
CLAIM_TABLES = ("actors.", "agreement", "processes.", "dynamics", "uncertain", "fronts.")
WRITTEN_BY_CALIBRATE = "Written by `ceasefire calibrate`"   # the header sim.calibration.dynamics_toml writes
FITTED_VALUE = re.compile(r"#\s*90% interval \[[^\]]+\]\s*$")


@dataclass(frozen=True)
class Source:
    key: str
    author: str
    title: str
    publisher: str
    date: str
    link: str

    def earliest(self) -> dt.date | None:
        """The earliest date the source can have (its stated year or month read as their first day)."""
        m = DATE.match(self.date)
        if not m:
            return None
        year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        return dt.date(year, month, day)

    def latest(self) -> dt.date | None:
        m = DATE.match(self.date)
        if not m:
            return None
        year = int(m.group(1))
        month = int(m.group(2) or 12)
        day = int(m.group(3) or calendar.monthrange(year, month)[1])
        return dt.date(year, month, day)


def read_bibliography(path: str | Path) -> dict[str, Source]:
    """Rows ``| key | author | title | publisher | date | link |`` of the Markdown table(s) in the file."""
    out: dict[str, Source] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 6 or cells[0] in ("key", "") or set(cells[0]) <= set("-: "):
            continue
        key = cells[0].strip("`")
        out.setdefault(key, Source(key, *[c.replace("\\|", "|") for c in cells[1:]]))
    return out


def find_bibliography(start: Path) -> Path | None:
    """``docs/SOURCES.md`` in the file's directory or one of its parents."""
    for folder in [start.resolve().parent, *start.resolve().parents]:
        candidate = folder / BIBLIOGRAPHY
        if candidate.is_file():
            return candidate
    return None


def citations(text: str) -> set[str]:
    return set(CITATION.findall(text))


def _sections(text: str):
    """(table name, line number, line) for every line, tracking [tables] and skipping multi-line strings."""
    table = ""
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if in_string:
            if stripped.count('"""') % 2 == 1:
                in_string = False
            yield table, number, line, True
            continue
        if stripped.count('"""') % 2 == 1:
            in_string = True
            yield table, number, line, True
            continue
        m = re.match(r"^\[+([^\]]+)\]+", stripped)
        if m:
            table = m.group(1).strip().replace('"', "")
        yield table, number, line, False


def audit_file(path: str | Path, bibliography: dict[str, Source], start: dt.date | None) -> list[str]:
    """Problems with the citations of one scenario file (its own text, not what it inherits)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    hindsight_allowed = path.stem.endswith("_as_it_happened") or start is None
    fitted = any(line.startswith("#") and WRITTEN_BY_CALIBRATE in line for line in text.splitlines()[:8])
    problems = []
    for table, number, line, in_string in _sections(text):
        where = f"{path}:{number}"
        observed = table == "observed" or table.startswith("observed.")
        for key in citations(line):
            source = bibliography.get(key)
            if source is None:
                problems.append(f"{where}: [@{key}] is not in the bibliography ({BIBLIOGRAPHY})")
            elif not (observed or hindsight_allowed):
                latest = source.latest()
                if latest is None:
                    problems.append(f"{where}: [@{key}] has no date in the bibliography, so it cannot support a "
                                    f"value at signing ({start})")
                elif latest > start:
                    problems.append(f"{where}: [@{key}] is dated {source.date.split(' (')[0]}, which may be after "
                                    f"the file's start {start}: hindsight belongs in an *_as_it_happened variant")
        if in_string or observed or not table.startswith(CLAIM_TABLES):
            continue
        m = re.match(r'^\s*("?[A-Za-z0-9_.]+"?)\s*=\s*(.*)$', line)
        if not m or m.group(1).strip('"') in UNCITED_KEYS:
            continue
        if fitted and table == "dynamics" and FITTED_VALUE.search(line):
            continue
        comment = line.split("#", 1)[1] if "#" in line else ""
        if not citations(comment) and "judgement" not in comment.lower():
            problems.append(f"{where}: '{m.group(1)}' cites no source ([@key]) and does not say 'judgement'")
    return problems
