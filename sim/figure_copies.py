"""The PNG copies of a report's figures, drawn in child processes while this one draws the page's SVG.

A report draws each figure twice: SVG for the page, PNG for the copies beside it (slides). The two are
independent, so on a machine with a second core a forked child draws the PNG of a figure while the parent draws
its SVG and goes on with the page: the report takes about the time of its SVGs instead of both. The child sends
the PNG's bytes back through a pipe. Where that cannot be done safely (no ``fork``, one usable core, other
threads running in this process, whose locks a child could inherit held) or a child fails, the PNG is drawn here
instead, after the SVG, as before. Either way the bytes are the same: the child draws from a copy of the same
figure with the same code.
"""

from __future__ import annotations

import io
import os
import threading

PNG_OPTIONS = {"format": "png", "dpi": 150, "metadata": {"Software": None}}


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, **PNG_OPTIONS)
    return buf.getvalue()


def can_fork() -> bool:
    """A child may draw: ``fork`` exists, a second core is usable, and no other thread runs here."""
    from sim.workers import join_background_imports, usable_cores
    if not hasattr(os, "fork") or usable_cores() < 2:
        return False
    join_background_imports()    # matplotlib's own import, started while the workers computed: done by now
    return threading.active_count() == 1


class PngCopies:
    """PNG copies by file name, drawn in children where possible; :meth:`result` waits for them."""

    def __init__(self, parallel: bool | None = None):
        self.parallel = parallel
        self._done: dict[str, bytes] = {}
        self._pending: dict[str, tuple[int, int, object]] = {}   # name -> (pid, read end, figure)

    def add(self, name: str, fig) -> None:
        """Start the PNG of ``fig`` (call before anything else draws it, and do not change it afterwards)."""
        if not (self.parallel if self.parallel is not None else can_fork()):
            self._pending[name] = (0, -1, fig)     # drawn here, in result()
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:    # the child: draw, send, leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read)
                data = png_bytes(fig)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pending[name] = (pid, read, fig)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Stop and reap the children not yet collected (the page failed): none is left behind."""
        import signal
        for pid, read, _ in self._pending.values():
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.waitpid(pid, 0)
                os.close(read)
        self._pending.clear()

    def result(self) -> dict[str, bytes]:
        """Every copy's bytes, in the order they were added."""
        for name, (pid, read, fig) in list(self._pending.items()):
            data = b""
            if pid:
                with os.fdopen(read, "rb") as pipe:
                    data = pipe.read()
                _, status = os.waitpid(pid, 0)
                if status != 0:
                    data = b""
            self._done[name] = data or png_bytes(fig)    # a child that failed: draw it here
            del self._pending[name]
        return dict(self._done)
