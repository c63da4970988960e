"""Figures built and drawn in forked children (sim.figure_drawing): the same SVG and PNG as built and drawn here,
no child left behind, and a child that fails or hangs replaced by doing it here."""

import os
import time

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


def _here(title: str, png: bool):
    fig = _figure(title)
    return _svg(fig), (png_bytes(fig) if png else None)


def test_children_build_and_draw_the_same_text_and_bytes_as_this_process():
    titles = [f"figure {i}" for i in range(3)]
    with FigureDrawings(parallel=True) as drawings:
        for i, title in enumerate(titles):
            drawings.add(title, lambda t=title: _figure(t), _svg, png=i != 1)
        assert len(drawings._pending) == 3
        got = drawings.result()
    assert list(got) == titles
    for i, title in enumerate(titles):
        svg, png = got[title]
        assert (svg, png) == _here(title, png=i != 1) and svg.startswith("<svg")
        assert png is None if i == 1 else png.startswith(b"\x89PNG")


def test_built_and_drawn_here_when_children_may_not_be_used():
    with FigureDrawings(parallel=False) as drawings:
        drawings.add("x", lambda: _figure("here"), _svg, png=True)
        assert not drawings._pending
        got = drawings.result()
    assert got["x"] == _here("here", png=True)


def test_a_failed_child_is_replaced_by_building_and_drawing_here():
    parent = os.getpid()

    def make():
        if os.getpid() != parent:
            raise RuntimeError("child failed")
        return _figure("fallback")
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", make, _svg, png=True)
        got = drawings.result()
    assert got["x"] == _here("fallback", png=True)


@pytest.mark.parametrize("cores", [2, 8])
def test_the_png_is_drawn_apart_only_where_every_drawing_has_a_core(monkeypatch, cores):
    """On fewer than ``PNG_APART_MIN_CORES`` usable cores the child draws its figure's PNG after the SVG; from
    there on a grandchild draws it meanwhile."""
    import sim.figure_drawing as drawing
    import sim.workers
    monkeypatch.setattr(sim.workers, "usable_cores", lambda: cores)
    monkeypatch.setattr(drawing, "png_bytes", lambda fig: str(os.getpid()).encode())
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", lambda: _figure("where"), lambda fig: str(os.getpid()), png=True)
        (child, *_), = drawings._pending.values()
        got = drawings.result()
    svg_pid, png_pid = int(got["x"][0]), int(got["x"][1])
    assert svg_pid == child and (png_pid != child) == (cores >= drawing.PNG_APART_MIN_CORES)
    assert os.getpid() not in (svg_pid, png_pid)


def test_a_failed_grandchild_s_png_is_drawn_by_the_child(monkeypatch):
    import sim.figure_drawing as drawing
    monkeypatch.setattr(drawing, "PNG_APART_MIN_CORES", 1)
    parent = os.getpid()

    class FailsInGrandchild:
        def __init__(self):
            self.fig = _figure("png here")
            self.child = None

        def savefig(self, buf, **options):
            if options.get("format") == "png" and os.getpid() not in (parent, self.child):
                raise RuntimeError("grandchild failed")
            self.fig.savefig(buf, **options)

    def make():
        fig = FailsInGrandchild()
        fig.child = os.getpid()
        return fig
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", make, lambda f: _svg(f.fig), png=True)
        got = drawings.result()
    assert got["x"] == _here("png here", png=True)


def test_a_page_that_fails_leaves_no_child():
    with pytest.raises(ValueError):
        with FigureDrawings(parallel=True) as drawings:
            drawings.add("x", lambda: _figure("abandoned"), _svg, png=True)
            (pid, *_), = drawings._pending.values()
            raise ValueError("the page failed")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)     # reaped: no such child any more


def test_a_child_that_hangs_is_stopped_and_its_figure_done_here(monkeypatch):
    import sim.figure_drawing as drawing
    monkeypatch.setattr(drawing, "CHILD_SECONDS", 1.0)
    parent = os.getpid()

    def svg(fig):
        if os.getpid() != parent:
            time.sleep(60)          # the child never answers
        return "drawn here"
    started = time.monotonic()
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", lambda: _figure("hangs"), svg, png=False)
        (pid, *_), = drawings._pending.values()
        got = drawings.result()
    assert got["x"] == ("drawn here", None) and time.monotonic() - started < 30
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_drawing_child_and_its_grandchild_do_not_collect_while_this_process_still_does(monkeypatch):
    """A child skips garbage collection (a full one walks, and so copies, the whole inherited heap); the PNG's
    grandchild inherits that; the parent's collector is untouched."""
    import gc

    import sim.figure_drawing as drawing
    monkeypatch.setattr(drawing, "PNG_APART_MIN_CORES", 1)    # a grandchild draws the PNG

    def state(fig):
        return "enabled" if gc.isenabled() else "disabled"
    monkeypatch.setattr(drawing, "png_bytes", lambda fig: state(fig).encode())
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("x", lambda: _figure("gc"), state, png=True)
        got = drawings.result()
    assert got["x"] == ("disabled", b"disabled") and gc.isenabled()


def test_a_child_drawing_fewer_panels_yields_to_one_drawing_more(monkeypatch):
    """Longest job first: a child lowers its priority by one step per panel its figure has fewer than twelve, so
    that the figure that would end last, the one with the most panels, is drawn first; its PNG's grandchild
    inherits the priority. Visible panels count: the blank cell of an odd grid does not."""
    import matplotlib.pyplot as plt

    import sim.figure_drawing as drawing
    monkeypatch.setattr(drawing, "PNG_APART_MIN_CORES", 1)    # a grandchild draws the PNG

    def priority(fig):
        return str(os.getpriority(os.PRIO_PROCESS, 0))
    monkeypatch.setattr(drawing, "png_bytes", lambda fig: priority(fig).encode())

    def panels(n, blank=0):
        fig, axes = plt.subplots(1, n + blank, squeeze=False)
        for ax in axes[0][n:]:
            ax.set_visible(False)
        return fig
    here = os.getpriority(os.PRIO_PROCESS, 0)
    with FigureDrawings(parallel=True) as drawings:
        drawings.add("one", lambda: panels(1, blank=1), priority, png=True)
        drawings.add("twelve", lambda: panels(12), priority, png=True)
        got = drawings.result()
    if here + 11 <= 19:     # niceness stops at 19
        assert got["one"] == (str(here + 11), str(here + 11).encode())
    assert got["twelve"] == (str(here), str(here).encode())
    assert os.getpriority(os.PRIO_PROCESS, 0) == here
