"""PNG copies drawn in forked children (sim.figure_copies): the same bytes as drawn here, and no child left."""

import os

import pytest

from sim.figure_copies import PngCopies, png_bytes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="children are forked")


def _figure(title: str):
    from sim.plots import _pyplot
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0, 2])
    ax.set_title(title)
    return fig


def test_children_draw_the_same_bytes_as_this_process():
    figs = {f"f{i}.png": _figure(f"figure {i}") for i in range(3)}
    with PngCopies(parallel=True) as copies:
        for name, fig in figs.items():
            copies.add(name, fig)
            fig.savefig(os.devnull, format="svg")     # the parent draws the SVG meanwhile, as the report does
        got = copies.result()
    assert list(got) == list(figs)
    for name, fig in figs.items():
        assert got[name] == png_bytes(fig) and got[name].startswith(b"\x89PNG")


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
    with PngCopies(parallel=True) as copies:
        copies.add("x.png", fig)
        got = copies.result()
    assert got["x.png"] == png_bytes(fig.fig)


def test_a_page_that_fails_leaves_no_child():
    with pytest.raises(ValueError):
        with PngCopies(parallel=True) as copies:
            copies.add("x.png", _figure("abandoned"))
            (pid, _, _), = copies._pending.values()
            raise ValueError("the page failed")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)     # reaped: no such child any more
