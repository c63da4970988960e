"""Reading a result directory's own JSON files back safely (``ceasefire report``, and later readers).

A result file may have been truncated, emptied or edited since ceasefire wrote it. Reading it must then
end with one message naming the file and, where known, the key (exit 2), never with a traceback. This
module holds that safety apart from the HTML code of :mod:`sim.report`, so that any reader of result
directories (the report, its templated successor, notebooks) can use it.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class DamagedResult(ValueError):
    """A result file that is not what ceasefire wrote (truncated, emptied, edited): one message naming
    the file and, where known, the key."""


# The keys a reader needs from each kind's main file (checked first, so the message names the key).
REQUIRED_KEYS = {
    "run": ("summary.json", ("runs", "horizon_months", "p_collapse")),
    "compare": ("comparison.json", ("horizon_months", "differences", "p_collapse")),
    "sweep": ("sensitivity.json", ("outcomes", "factors")),
    "backtest": ("backtest.json", ("cases", "scores")),
    "calibration": ("calibration.json", ("parameters", "cases")),
}


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [exc.__class__.__name__])[0][:200]


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`DamagedResult` if the file is not valid JSON or not an object."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedResult(f"{path}: not valid JSON ({_first_line(exc)}); it was not written by ceasefire as it "
                            f"is, so no report can be made from it") from None
    if not isinstance(data, dict):
        raise DamagedResult(f"{path}: holds a JSON {type(data).__name__}, not the object ceasefire writes")
    return data


def check_main_file(directory: Path, kind: str) -> None:
    """The main file of a ``kind`` result is a JSON object with the keys readers need."""
    if kind not in REQUIRED_KEYS:
        return
    name, keys = REQUIRED_KEYS[kind]
    path = Path(directory) / name
    data = read_json_object(path)
    missing = [k for k in keys if k not in data]
    if missing:
        raise DamagedResult(f"{path}: {missing[0]}: missing; the file is not as ceasefire writes it")


@contextmanager
def damaged_if_unreadable(directory: Path, kind: str):
    """Turn what reading damaged files raises (a key missing, a wrong type) into one DamagedResult."""
    try:
        yield
    except DamagedResult:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        # The same exceptions come from a bug in a reader on intact files. Without a record of what ceasefire
        # wrote the two cannot be told apart here, so the message says how to see the bug's traceback.
        if os.environ.get("CEASEFIRE_DEBUG"):
            raise
        what = f"key {exc.args[0]!r} missing" if isinstance(exc, KeyError) and exc.args else _first_line(exc)
        raise DamagedResult(f"{directory}: the {kind} result's files are damaged or incomplete ({what}); no "
                            f"report can be made from them (if they are as ceasefire wrote them, this is a bug: "
                            f"run again with CEASEFIRE_DEBUG=1 to keep its traceback, and report it)") from exc
