"""Drawing a report's figures in child processes while this one builds the next figure and the page.

A report draws each figure twice, SVG for the page and PNG for the copies beside it (slides); drawing, not
building, is most of a report's time. Drawing a finished figure changes nothing the page needs, so on a machine
with a second core forked children draw them from a copy of the figure, one child per output, and send the SVG
text and the PNG bytes back through pipes, while this process goes on building the next figure. Where that
cannot be done safely (not Linux, one usable core, another thread running in this process, whose locks a child
could inherit held) the figure is drawn here at once, and a child that fails is replaced by drawing here. Either
way the text and bytes are the same: the child draws a copy of the same figure with the same code.
"""

from __future__ import annotations

import io
import os
import signal
import struct
import sys
import threading

PNG_OPTIONS = {"format": "png", "dpi": 150, "metadata": {"Software": None}}
CHILD_SECONDS = 120.0    # a drawing takes well under a second; past this a child is given up and drawn here


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, **PNG_OPTIONS)
    return buf.getvalue()


def can_fork() -> bool:
    """A child may draw: on Linux (elsewhere system libraries may not survive a fork: Python itself starts
    processes there by spawning them), with a second usable core, and no other thread running here."""
    from sim.workers import join_background_imports, usable_cores
    if not sys.platform.startswith("linux") or usable_cores() < 2:
        return False
    join_background_imports()    # matplotlib's own import, started while the workers computed: done by now
    return threading.active_count() == 1


class FigureDrawings:
    """Each figure's SVG text (``svg(fig)``) and PNG bytes (``png=True``) by name; :meth:`result` waits for them.
    In parallel, each output of each figure has its own child, so that the longest figure's two drawings too
    run side by side."""

    def __init__(self, parallel: bool | None = None):
        self.parallel = parallel
        self._order: list[str] = []
        self._done: dict[str, dict[str, bytes]] = {}
        self._pending: dict[tuple[str, str], tuple[int, int, object]] = {}   # (name, kind) -> (pid, read end, draw)

    def add(self, name: str, fig, svg, png: bool) -> None:
        """Draw ``fig``: ``svg(fig)`` gives the page's text; with ``png``, also the PNG copy. Do not change the
        figure afterwards (a child may be drawing it)."""
        self._order.append(name)
        self._done[name] = {}
        outputs = {"svg": lambda: svg(fig).encode("utf-8")}
        if png:
            outputs["png"] = lambda: png_bytes(fig)
        parallel = self.parallel if self.parallel is not None else can_fork()
        for kind, draw in outputs.items():
            if parallel:
                self._pending[(name, kind)] = (*_start_child(draw), draw)
            else:
                self._done[name][kind] = draw()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Stop and reap the children not yet collected (the page failed): none is left behind."""
        for pid, read, _ in self._pending.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(read)
        self._pending.clear()

    def result(self) -> dict[str, tuple[str, bytes | None]]:
        """Every figure's (SVG text, PNG bytes or None), in the order they were added."""
        for key, (pid, read, draw) in list(self._pending.items()):
            message = _read_until_closed(read, CHILD_SECONDS)
            if message is None:     # a child that hangs (it should never): stopped, and drawn here instead
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            del self._pending[key]
            message = message or b""
            name, kind = key
            # a child that failed, or whose message is cut short: drawn here instead
            self._done[name][kind] = _payload(message) if status == 0 and _payload(message) is not None else draw()
        return {name: (self._done[name]["svg"].decode("utf-8"), self._done[name].get("png")) for name in self._order}


def _start_child(draw) -> tuple[int, int]:
    """Fork a child that sends ``draw()``'s bytes, length first, through a pipe; (its pid, the read end)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:    # the child: draw, send, leave without running the parent's exit handlers
        status = 1
        try:
            os.close(read)
            data = draw()
            with os.fdopen(write, "wb") as out:
                out.write(struct.pack("<Q", len(data)))
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def _read_until_closed(fd: int, seconds: float) -> bytes | None:
    """Everything written to the pipe ``fd`` until its writer closes it (then ``fd`` is closed too), or None if
    that takes longer than ``seconds``."""
    import select
    import time
    deadline = time.monotonic() + seconds
    parts = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
    finally:
        os.close(fd)


def _payload(message: bytes) -> bytes | None:
    head = struct.calcsize("<Q")
    if len(message) < head or len(message) != head + struct.unpack("<Q", message[:head])[0]:
        return None
    return message[head:]
