"""Where the traceback of a genuine internal error goes, so the terminal shows one short line.

The log is ``ceasefire-<UTC time>-<pid>.log`` in ``$CEASEFIRE_LOG_DIR`` if set, else in
``ceasefire-logs/`` under the system's temporary directory (``$TMPDIR``, usually ``/tmp``): never in
the working directory or among the results, which an error should not touch.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path


def log_directory() -> Path:
    configured = os.environ.get("CEASEFIRE_LOG_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "ceasefire-logs"


def write_crash_log(exc: BaseException, command: str | None) -> Path | None:
    """Write the traceback of ``exc`` with the command line and versions; the log's path, or None
    if no log could be written."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    text = "".join([
        f"command: {command}\n",
        f"time (UTC): {stamp}\n",
        f"python: {sys.version.split()[0]}, pid {os.getpid()}, cwd {os.getcwd() if _cwd_ok() else '?'}\n\n",
        *traceback.format_exception(type(exc), exc, exc.__traceback__),
    ])
    for directory in (log_directory(), Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"ceasefire-{stamp}-{os.getpid()}-", suffix=".log", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def _cwd_ok() -> bool:
    try:
        os.getcwd()
        return True
    except OSError:
        return False
