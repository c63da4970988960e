"""Building and drawing a report's figures in child processes while this one builds the page.

A report draws each figure twice, SVG for the page and PNG for the copies beside it (slides); building and
drawing the figures is most of a report's time, and none of it changes what the page needs. So on a machine with
a second core each figure has a forked child that builds it and draws it, and the outputs come back through a
pipe; this process goes on with the page. Where there are cores enough for every drawing of a report at once, the
child's PNG is drawn from a copy by a grandchild while the child draws the SVG. Where that cannot be
done safely (not Linux, one usable core, another thread running in this process, whose locks a child could
inherit held) the figure is built and drawn here at once, and a child that fails or does not answer is replaced by
doing so here. Either way the text and bytes are the same: the same code builds and draws the same figure.
"""

from __future__ import annotations

import gc
import io
import os
import signal
import struct
import sys
import threading
from contextlib import suppress

PNG_OPTIONS = {"format": "png", "dpi": 150, "metadata": {"Software": None}}
CHILD_SECONDS = 120.0    # a drawing takes well under a second; past this a child is given up and drawn here
# A report draws at most four figures, each twice: from this many usable cores on, each drawing has its own.
# With fewer, the figure's two drawings are done one after the other in its child: a grandchild's copied pages
# and cold caches cost more than it gains on cores the other figures keep busy (on two cores, a run's report of
# 10,000 runs draws in 0.90 s rather than 0.98 s, a comparison's in 0.59 rather than 0.63).
PNG_APART_MIN_CORES = 8


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
    """Each figure's SVG text and PNG bytes by name; :meth:`result` waits for them."""

    def __init__(self, parallel: bool | None = None):
        self.parallel = parallel
        self._order: list[str] = []
        self._done: dict[str, tuple[str, bytes | None]] = {}
        self._pending: dict[str, tuple[int, int, object]] = {}   # name -> (pid, read end, how to do it here)

    def add(self, name: str, make, svg, png: bool) -> None:
        """Build the figure (``make()``) and draw it: ``svg(fig)`` gives the page's text; with ``png``, the PNG
        copy too."""
        self._order.append(name)

        def here() -> tuple[str, bytes | None]:
            import matplotlib.pyplot as plt
            fig = make()
            try:
                return svg(fig), (png_bytes(fig) if png else None)
            finally:
                plt.close(fig)

        if not (self.parallel if self.parallel is not None else can_fork()):
            self._done[name] = here()
            return
        from sim.plots import _pyplot
        from sim.workers import usable_cores
        _pyplot()       # imported once here, not once in every child
        apart = usable_cores() >= PNG_APART_MIN_CORES
        self._pending[name] = (*_start_child(lambda: _built_and_drawn(make, svg, png, apart)), here)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Stop and reap the children not yet collected (the page failed): none is left behind."""
        for pid, read, _ in self._pending.values():
            # an interruption inside result() may have closed the pipe or reaped the child already
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with suppress(OSError):
                os.waitpid(pid, 0)
            with suppress(OSError):
                os.close(read)
        self._pending.clear()

    def result(self) -> dict[str, tuple[str, bytes | None]]:
        """Every figure's (SVG text, PNG bytes or None), in the order they were added."""
        for name, (pid, read, here) in list(self._pending.items()):
            outputs = _outputs(_collect(pid, read))
            del self._pending[name]     # reaped (until then, abandon() would stop it)
            self._done[name] = outputs if outputs is not None else here()
        return {name: self._done[name] for name in self._order}


def _built_and_drawn(make, svg, png: bool, png_apart: bool) -> bytes:
    """In a child: build the figure and draw its SVG, and with ``png`` its PNG, after the SVG or, ``png_apart``, in
    a grandchild meanwhile; both as one message (the SVG's length, the SVG, the PNG)."""
    fig = make()
    _defer_to_larger_figures(fig)
    drawing_png = _start_child(lambda: png_bytes(fig)) if png and png_apart else None
    text = svg(fig).encode("utf-8")
    data = _collect(*drawing_png) if drawing_png is not None else None
    if png and data is None:    # not drawn apart, or the grandchild failed
        data = png_bytes(fig)
    return struct.pack("<QB", len(text), bool(png)) + text + (data or b"")


PANELS_AT_FULL_PRIORITY = 12   # a figure of this many panels or more is drawn at the parent's priority


def _defer_to_larger_figures(fig) -> None:
    """In a child: lower its priority (and its grandchild's) by one step for each panel its figure has fewer than
    ``PANELS_AT_FULL_PRIORITY``. The figures are drawn at once on a few cores and the page waits for the last; a
    panel (its axes, ticks and labels) is the unit of drawing work, so the figures with the most panels, which
    would end last, are drawn first (longest job first: a report's 12-panel state chart ends 0.05 s sooner, a
    twentieth of the page's wait)."""
    panels = sum(1 for ax in getattr(fig, "axes", ()) if ax.get_visible())   # (a test's stand-in has none)
    with suppress(OSError):
        os.nice(max(0, PANELS_AT_FULL_PRIORITY - panels))


def _outputs(message: bytes | None) -> tuple[str, bytes | None] | None:
    """The SVG text and PNG bytes of a message of :func:`_built_and_drawn` (None: no usable message)."""
    head = struct.calcsize("<QB")
    if message is None or len(message) < head:
        return None
    n_text, has_png = struct.unpack("<QB", message[:head])
    if len(message) < head + n_text:
        return None
    text = message[head:head + n_text].decode("utf-8")
    return text, (message[head + n_text:] if has_png else None)


def _start_child(draw) -> tuple[int, int]:
    """Fork a child that sends ``draw()``'s bytes, length first, through a pipe; (its pid, the read end)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:    # the child: draw, send, leave without running the parent's exit handlers
        status = 1
        try:
            # No collections here: a full one would walk every object inherited from the parent, copying the
            # pages it touches (a tenth of the children's time), to free memory this short-lived process
            # returns anyway when it leaves. Its grandchild inherits the setting.
            gc.disable()
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


def _collect(pid: int, read: int) -> bytes | None:
    """What the child ``pid`` of :func:`_start_child` sent, once it has ended; None if it failed, sent a message
    cut short, or did not answer within ``CHILD_SECONDS`` (it should never hang: it is then stopped)."""
    message = _read_until_closed(read, CHILD_SECONDS)
    if message is None:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return _payload(message) if status == 0 and message is not None else None


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
