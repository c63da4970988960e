"""Figures drawn in forked children (sim.figure_drawing): the same SVG and PNG as drawn here, no child left."""

import os

import pytest

from sim.figure_drawing import FigureDrawings, png_bytes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="children are forked")


def _figure(title: str):
    from sim.plots import _pyplot
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0, 2])
    ax.set_title(title)
    return fig


def _svg(fig) -> str:
    from sim.report import _svg_text
    return _svg_text(fig, "f", "a figure")


def test_children_draw_the_same_text_and_bytes_as_this_process():
    figs = {f"f{i}": _figure(f"figure {i}") for i in range(3)}
    with FigureDrawings(parallel=True) as drawings:
        for i, (name, fig) in enumerate(figs.items()):
            drawings.add(name, fig, _svg, png=i != 1)
        got = drawings.result()
    assert list(got) == list(figs)
    for i, (name, fig) in enumerate(figs.items()):
        svg, png = got[name]
        assert svg == _svg(fig) and svg.startswith("<svg")
        if i == 1:
            assert png is None
        else:
            assert png == png_bytes(fig) and png.startswith(b"\x89PNG")


def test_drawn_here_when_children_may_not_be_used():
    fig = _figure("here")
    with FigureDrawings(parallel=False) as drawings:
        drawings.add("x", fig, _svg, png=True)
        assert not drawings._pending
        got = drawings.result()
    assert got["x"] == (_svg(fig), png_bytes(fig))


class _FailsInChild:
    """Draws only in the process that made it: a child's drawing fails, as a broken one would."""

    def __init__(self):
        self.parent = os.getpid()
        self.fig = _figure("fallback")

    def savefig(self, buf, **options):
        if os.getpid() != self.parent:
            raise RuntimeError("child failed")
        self.fig.savefig(buf, **options)


def test_a_failed_child_is_drawn_here_instead():
    fig = _FailsInChild()
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", fig, lambda f: "text", png=True)
        got = drawings.result()
    assert got["x"] == ("text", png_bytes(fig.fig))


def test_a_page_that_fails_leaves_no_child():
    with pytest.raises(ValueError):
        with FigureDrawings(parallel=True) as drawings:
            drawings.add("x", _figure("abandoned"), _svg, png=True)
            pids = [pid for pid, *_ in drawings._pending.values()]
            assert len(pids) == 2       # one child for the SVG, one for the PNG
            raise ValueError("the page failed")
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)     # reaped: no such child any more


def test_a_child_that_hangs_is_stopped_and_its_figure_drawn_here(monkeypatch):
    import time

    import sim.figure_drawing as drawing
    monkeypatch.setattr(drawing, "CHILD_SECONDS", 1.0)
    parent = os.getpid()

    def svg(fig):
        if os.getpid() != parent:
            time.sleep(60)          # the child never answers
        return "drawn here"
    started = time.monotonic()
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", _figure("hangs"), svg, png=False)
        (pid, *_), = drawings._pending.values()
        got = drawings.result()
    assert got["x"] == ("drawn here", None) and time.monotonic() - started < 30
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
