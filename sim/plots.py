"""Figures of the reports (:mod:`sim.report`). matplotlib is imported only when a figure is drawn, and
draws without a display.

Each function returns a matplotlib Figure; the report saves it once as inline SVG and once as a PNG copy.
Every label is passed through ``t`` (a :class:`sim.i18n.Lang`): its words are in the gettext catalogs and
its digits are Western or Arabic-Indic (:func:`localize` applies the digits to the tick labels). Arabic
labels are shaped and laid out right to left by matplotlib itself (3.11 and later, through libraqm), in
DejaVu Sans, which has the Arabic glyphs.
"""

from __future__ import annotations

import math
import re

from sim.i18n import N_

# Okabe-Ito: distinguishable with the common forms of colour blindness.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
LINESTYLES = ("-", "--", "-.", ":")
EVENT_COLOR = "#555555"
OBSERVED_COLOR = PALETTE[1]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "ceasefire-sim", "figure.dpi": 100,
                         "font.family": ["DejaVu Sans"], "axes.unicode_minus": False,
                         # a fixed title height: left to itself, matplotlib measures every tick label of every
                         # axes at each draw to place the title above them (a tenth of a report's time); our
                         # axes have no ticks above them, so the title lands on the same pixels
                         "axes.titley": 1.0})
    return plt


def _save(fig, path) -> None:
    """A figure as a file (PNG without the software stamp, SVG without a date), for pages other than the
    reports (the scenario discovery's)."""
    from pathlib import Path
    path = Path(path)
    kwargs = {"metadata": {"Software": None}} if path.suffix == ".png" else {"metadata": {"Date": None}}
    fig.savefig(path, **kwargs)


class _Words:
    """English words and Western digits when no language is given."""

    code = "en"
    digits = "western"
    rtl = False

    def _(self, message):
        return message

    def digits_of(self, text):
        return text


def _t(t):
    return t if t is not None else _Words()


LRI, RLI, PDI = "\u2066", "\u2067", "\u2069"
_LTR_RUN = re.compile(r"\(?[+\-\u2212]?[A-Za-z0-9\u0660-\u0669]"
                      r"(?:[A-Za-z0-9\u0660-\u066c .,:;'()/%+_\-]*[A-Za-z0-9\u0660-\u066a%)])?")


def bidi(t, text: str) -> str:
    """Text for a right-to-left figure: each line a right-to-left isolate, and the runs of Latin letters and
    digits in it (names, numbers, '95%') left-to-right isolates, so that matplotlib's bidi layout keeps a
    number with its sign and an English name in one piece."""
    t = _t(t)
    if not t.rtl or not text or "$" in text:   # mathtext (a log axis's 10^-1) is laid out by its own parser
        return text
    text = text.replace(LRI, "").replace(RLI, "").replace(PDI, "")
    return "\n".join(RLI + _LTR_RUN.sub(lambda m: LRI + m.group(0) + PDI, line) + PDI if line else line
                     for line in text.split("\n"))


def localize(fig, t) -> None:
    """The language's digits and direction on every text of the figure: tick labels (through their
    formatters, which run at drawing time) and every other text (titles, labels, legends, notes)."""
    t = _t(t)
    if t.digits != "arabic" and not t.rtl:
        return
    from matplotlib.text import Text
    from matplotlib.ticker import Formatter

    def local(text):
        if "$" in text:   # mathtext (a log axis's 10^-1): its parser needs Western digits and no isolates
            return text
        return bidi(t, t.digits_of(text))

    class Local(Formatter):
        def __init__(self, inner):
            self.inner = inner

        def set_axis(self, axis):
            self.inner.set_axis(axis)
            self.axis = axis

        def set_locs(self, locs):
            self.inner.set_locs(locs)

        def __call__(self, x, pos=None):
            return local(self.inner(x, pos))

        def format_ticks(self, values):
            return [local(s) for s in self.inner.format_ticks(values)]

        def get_offset(self):
            return local(self.inner.get_offset())

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for which in ("major", "minor"):
                fmt = getattr(axis, f"get_{which}_formatter")()
                if not isinstance(fmt, Local):
                    getattr(axis, f"set_{which}_formatter")(Local(fmt))
    if t.rtl:
        ticks = {id(x) for ax in fig.axes for x in (*ax.get_xticklabels(), *ax.get_yticklabels())}
        for text in fig.findobj(Text):
            if id(text) not in ticks and text.get_text():
                text.set_text(bidi(t, text.get_text()))


def _wrap(text: str, width: int = 64) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width)) or text


def _percent_axis(axis, decimals: int | None = None) -> None:
    from matplotlib.ticker import PercentFormatter
    axis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))


def _pct(t, v: float, decimals: int = 1) -> str:
    return t.digits_of(f"{100 * v:.{decimals}f}%")


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def _mark_events(ax, t, events, observed, top: float = 1.015) -> list[str]:
    """Dotted vertical lines at scheduled events, numbered (events within half a month share a number),
    and a dashed line at the observed collapse, labelled. Returns the key of the numbers, one line each."""
    from matplotlib.transforms import blended_transform_factory
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    groups: list[list] = []
    for month, label in sorted(events or []):
        if groups and month - groups[-1][0] < 0.5:
            groups[-1][1].append(label)
        else:
            groups.append([month, [label]])
    key = []
    for k, (month, labels) in enumerate(groups, 1):
        number = t.digits_of(str(k))
        ax.axvline(month, color=EVENT_COLOR, linestyle=":", linewidth=1.3, zorder=1)
        ax.text(month, top, number, ha="center", va="bottom", fontsize=7.5, color="white", fontweight="bold",
                transform=trans, zorder=5, clip_on=False,
                bbox={"boxstyle": "circle,pad=0.25", "facecolor": EVENT_COLOR, "edgecolor": "none"})
        key.append(t._("%(n)s: month %(m)s, %(what)s") % {"n": number, "m": t.digits_of(f"{round(month, 1):g}"),
                                                          "what": "; ".join(_short(x, 90) for x in labels)})
    for month, label in observed or []:
        ax.axvline(month, color=OBSERVED_COLOR, linestyle="--", linewidth=1.6, zorder=3)
        ax.text(month, 0.5, " " + _short(label), rotation=90, va="center", ha="right", fontsize=7.5,
                color=OBSERVED_COLOR, fontweight="bold", transform=trans, zorder=4)
    return key


def _event_key(fig, key: list[str], t, width: int = 110) -> float:
    """Write the key of the event numbers under the axes; returns the share of the height it takes."""
    if not key:
        return 0.0
    lines = []
    for line in key:
        lines += _wrap(line, width).split("\n")
    height = fig.get_figheight()
    share = (0.16 * len(lines) + 0.1) / height
    fig.text(0.98 if t.rtl else 0.02, 0.01, "\n".join(lines), ha="right" if t.rtl else "left", va="bottom",
             fontsize=7, color=EVENT_COLOR, linespacing=1.35, multialignment="right" if t.rtl else "left")
    return share


def report_survival_figure(curves: list[tuple[str, list[tuple[float, float, float, float]]]], title: str, t=None,
                           events=None, observed=None):
    """Survival curves (month, S, low, high), each with its 95% band; colour and line style both differ;
    scheduled events and the observed collapse marked."""
    t = _t(t)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for i, (label, rows) in enumerate(curves):
        months = [r[0] for r in rows]
        color = PALETTE[i % len(PALETTE)]
        ax.fill_between(months, [r[2] for r in rows], [r[3] for r in rows], step="post", color=color,
                        alpha=0.22, linewidth=0, label=t._("%(name)s: 95%% band") % {"name": _short(label, 60)})
        ax.step(months, [r[1] for r in rows], where="post", color=color, linewidth=1.8,
                linestyle=LINESTYLES[i % len(LINESTYLES)], label=_short(label, 60))
    key = _mark_events(ax, t, events, observed)
    ax.set_xlabel(t._("months since the ceasefire began"))
    ax.set_ylabel(t._("P(ceasefire still holding)"))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max((r[0] for _, rows in curves for r in rows), default=1))
    _percent_axis(ax.yaxis)
    ax.set_title(_wrap(title), pad=16 if key else 6)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=7.5, framealpha=0.9)
    if key:
        fig.set_figheight(fig.get_figheight() + 0.16 * len(key))
    fig.tight_layout(rect=(0, _event_key(fig, key, t), 1, 1))
    return fig


def hazard_figure(months: list[float], hazard: list[float], title: str, t=None, events=None):
    """Monthly hazard: the share of ceasefires still holding at the start of a month that collapse in it."""
    t = _t(t)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.bar(months, hazard, width=0.85, color=PALETTE[1], align="center")
    key = _mark_events(ax, t, events, None)
    ax.set_xlabel(t._("month since the ceasefire began"))
    ax.set_ylabel(_wrap(t._("collapses in the month, % of those holding"), 32))
    _percent_axis(ax.yaxis)
    ax.set_xlim(0.3, max(months, default=1) + 0.7)
    ax.set_ylim(0, max(max((h for h in hazard if math.isfinite(h)), default=0) * 1.15, 0.001))
    ax.set_title(_wrap(title), pad=16 if key else 6)
    ax.grid(alpha=0.3, axis="y")
    if key:
        fig.set_figheight(fig.get_figheight() + 0.16 * len(key))
    fig.tight_layout(rect=(0, _event_key(fig, key, t), 1, 1))
    return fig


def shares_figure(panels: list[tuple[str, list[tuple[str, dict[str, float]]]]], title: str, xlabel: str, t=None):
    """Panels of horizontal bars of shares (0-1) by category: each panel (title, groups), one bar per group
    side by side. A plain list of groups [(label, shares), ...] is one untitled panel."""
    import numpy as np
    t = _t(t)
    if panels and isinstance(panels[0][1], dict):
        panels = [("", panels)]
    plt = _pyplot()
    sizes = []
    for _, groups in panels:
        cats = set()
        for _, shares in groups:
            cats |= set(shares)
        sizes.append(max(len(cats), 1) * max(len(groups), 1))
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 0.36 * sum(sizes) + 1.2 * len(panels) + 0.6),
                             squeeze=False, gridspec_kw={"height_ratios": [s + 2 for s in sizes]})
    hatches = ("", "//", "..", "xx")
    for ax, (ptitle, groups) in zip(axes[:, 0], panels):
        categories: list[str] = []
        for _, shares in groups:
            categories += [k for k in shares if k not in categories]
        categories.sort(key=lambda k: -max(g.get(k, 0.0) for _, g in groups))
        height = 0.8 / max(len(groups), 1)
        for j, (label, shares) in enumerate(groups):
            pos = np.arange(len(categories)) + j * height
            vals = [shares.get(k, 0.0) for k in categories]
            bars = ax.barh(pos, vals, height=height, color=PALETTE[j % len(PALETTE)], label=_short(label, 60),
                           hatch=hatches[j % len(hatches)], edgecolor="white", linewidth=0.5)
            for b, v in zip(bars, vals):
                ax.text(b.get_width() + 0.01, b.get_y() + b.get_height() / 2, _pct(t, v), va="center", fontsize=7.5)
        ax.set_yticks(np.arange(len(categories)) + height * (len(groups) - 1) / 2,
                      [_wrap(c, 34) for c in categories], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.14)
        _percent_axis(ax.xaxis)
        ax.set_title(ptitle, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
        if not categories:
            ax.text(0.5, 0.5, t._("no collapses"), transform=ax.transAxes, ha="center", va="center")
        if len(groups) > 1 and ax is axes[0, 0]:
            ax.legend(fontsize=7.5, loc="lower right")
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout()
    return fig


def fan_figure(panels: list[tuple[str, str, list[tuple[float, float, float, float, float, float]]]], title: str,
               t=None):
    """Small multiples of monthly quantiles: (panel title, y label with unit, rows of
    (month, q05, q25, q50, q75, q95)); 5-95% and 25-75% bands and the median."""
    t = _t(t)
    plt = _pyplot()
    ncols = 2 if len(panels) > 1 else 1
    nrows = max(1, -(-len(panels) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.2 * nrows + 0.9), squeeze=False, sharex=True)
    for k, (name, unit, rows) in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        m = [r[0] for r in rows]
        ax.fill_between(m, [r[1] for r in rows], [r[5] for r in rows], color=PALETTE[0], alpha=0.18, linewidth=0,
                        label=t._("5-95% of runs"))
        ax.fill_between(m, [r[2] for r in rows], [r[4] for r in rows], color=PALETTE[0], alpha=0.38, linewidth=0,
                        label=t._("25-75% of runs"))
        ax.plot(m, [r[3] for r in rows], color=PALETTE[0], linewidth=1.5, label=t._("median"))
        lo, hi = min(r[1] for r in rows), max(r[5] for r in rows)
        if hi - lo < 0.1 and 0 <= lo and hi <= 1:
            mid = (hi + lo) / 2
            ax.set_ylim(max(0.0, mid - 0.05), min(1.0, mid + 0.05))
        ax.set_title(_wrap(name, 46), fontsize=9)
        ax.set_ylabel(_wrap(unit, 28), fontsize=7.5)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for c in range(ncols):
        axes[-1][c].set_xlabel(t._("months since the ceasefire began"), fontsize=8)
        if nrows > 1 and len(panels) % ncols and c >= len(panels) % ncols:
            axes[-2][c].set_xlabel(t._("months since the ceasefire began"), fontsize=8)
            axes[-2][c].xaxis.set_tick_params(labelbottom=True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(_wrap(title, 72), fontsize=11)
    # fixed margins (in inches) rather than tight_layout: as good for a regular grid, and much faster
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.1, right=0.98, top=1 - 0.75 / height, bottom=0.85 / height, hspace=0.5,
                        wspace=0.3)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    return fig


def difference_figure(months: list[float], est: list[float], low: list[float], high: list[float], title: str,
                      t=None, credible=None):
    """A paired difference by month with its 95% interval as a band and error bars, around zero; the band
    of negligible differences (under 2 points) shaded and the 5- and 15-point marks dotted."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter
    t = _t(t)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.9))
    est, low, high = (np.asarray([np.nan if v is None else v for v in x], dtype=float) for x in (est, low, high))
    span = max(float(np.nanmax(np.abs(np.concatenate([low, high, est])))) if np.isfinite(est).any() else 0.01, 0.03)
    ax.axhspan(-0.02, 0.02, color="#bbbbbb", alpha=0.3, linewidth=0, label=t._("negligible (under 2 points)"))
    for v in (0.05, 0.15):
        if v <= span * 1.2:
            for s in (-v, v):
                ax.axhline(s, color="#888888", linestyle=":", linewidth=0.8)
    ax.axhline(0, color="black", linewidth=0.8)
    if credible is not None:
        clo = np.asarray([np.nan if v is None else v for v in credible[0]], dtype=float)
        chi = np.asarray([np.nan if v is None else v for v in credible[1]], dtype=float)
        ax.fill_between(months, clo, chi, color=PALETTE[3], alpha=0.18, linewidth=0,
                        label=t._("credible interval (calibrated parameters)"))
    ax.fill_between(months, low, high, color=PALETTE[2], alpha=0.3, linewidth=0, label=t._("95% simulation interval"))
    ok = np.isfinite(low) & np.isfinite(high)
    ax.errorbar(months, est, yerr=np.vstack([np.where(ok, est - low, 0), np.where(ok, high - est, 0)]),
                color=PALETTE[2], marker="o", capsize=4, linewidth=1.6, label=t._("difference (other minus base)"))
    for m, e in zip(months, est):
        if np.isfinite(e):
            ax.annotate(t.digits_of(f"{100 * e:+.1f}"), (m, e), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel(t._("months since the ceasefire began"))
    ax.set_ylabel(_wrap(t._("difference in P(collapse), percentage points"), 30))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:+.0f}" if abs(v) >= 0.01 or v == 0
                                               else f"{100 * v:+.1f}"))
    ax.set_ylim(-span * 1.25, span * 1.25)
    ax.set_xticks(months)
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", framealpha=0.9)
    fig.tight_layout()
    return fig


def attribution_figure(rows: list[tuple[str, float, float | None, float | None]], title: str, t=None):
    """Contribution of each differing setting to a difference (points), with its interval."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter
    t = _t(t)
    plt = _pyplot()
    rows = sorted(rows, key=lambda r: -abs(r[1] or 0))
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.7))
    est = np.array([r[1] or 0 for r in rows], dtype=float)
    low = np.array([r[2] if r[2] is not None else np.nan for r in rows], dtype=float)
    high = np.array([r[3] if r[3] is not None else np.nan for r in rows], dtype=float)
    ok = np.isfinite(low) & np.isfinite(high)
    colors = [PALETTE[1] if e > 0 else PALETTE[0] for e in est]
    ax.barh(np.arange(len(rows)), est, color=colors,
            xerr=np.vstack([np.where(ok, est - low, 0), np.where(ok, high - est, 0)]) if ok.any() else None,
            capsize=3)
    ax.set_yticks(np.arange(len(rows)), [_wrap(r[0], 40) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:+.1f}"))
    ax.set_xlabel(t._("contribution to the difference, percentage points"))
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


INDEX_COLUMNS = {"sobol": [("S1", N_("first-order S1")), ("ST", N_("total ST"))],
                 "morris": [("mu_star", N_("Morris mu*"))],
                 "src": [("SRC", N_("standardised regression coefficient"))]}
SCALES = (N_("log"), N_("linear"))


def index_figure(factors: list[dict], names: list[str], method: str, outcome_label: str, title: str, t=None):
    """Sensitivity indices of one outcome per factor, with their 95% bootstrap intervals."""
    import numpy as np
    t = _t(t)
    plt = _pyplot()
    columns = INDEX_COLUMNS[method]
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(names) * len(columns) + 2.0))
    height = 0.8 / len(columns)

    def col(key):
        return np.array([f.get(key) if f.get(key) is not None else np.nan for f in factors], dtype=float)

    for j, (key, label) in enumerate(columns):
        est, low, high = col(key), col(f"{key}_ci_low"), col(f"{key}_ci_high")
        pos = np.arange(len(names)) + j * height
        has_ci = np.isfinite(low) & np.isfinite(high) & np.isfinite(est)
        err = np.vstack([np.where(has_ci, est - low, 0), np.where(has_ci, high - est, 0)])
        ax.barh(pos, np.nan_to_num(est), height=height, color=PALETTE[j], label=t._(label),
                xerr=err if has_ci.any() else None, capsize=3)
    ax.set_yticks(np.arange(len(names)) + height * (len(columns) - 1) / 2, [_wrap(n, 30) for n in names])
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(_wrap(t._("sensitivity index of %(outcome)s (unitless; error bars: 95%% bootstrap interval)")
                        % {"outcome": outcome_label}, 80))
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3, axis="x")
    if len(columns) > 1:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def tornado_figure(swings: list[tuple[str, float, float]], centre: float, outcome_label: str, title: str,
                   percent: bool, t=None):
    """Mean outcome with each factor in its lowest and in its highest fifth, around the overall mean. The
    legend sits above the bars, clear of the axis label."""
    t = _t(t)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(swings) + 2.3))
    for k, (name, lo, hi) in enumerate(swings):
        ax.barh(k, lo - centre, left=centre, color=PALETTE[0],
                label=t._("factor in its lowest fifth") if k == 0 else None)
        ax.barh(k, hi - centre, left=centre, color=PALETTE[1], hatch="//", edgecolor="white",
                label=t._("factor in its highest fifth") if k == 0 else None)
    ax.set_yticks(range(len(swings)), [_wrap(s[0], 30) for s in swings])
    ax.invert_yaxis()
    ax.axvline(centre, color="black", linewidth=0.8)
    if percent:
        _percent_axis(ax.xaxis)
    ax.set_xlabel(_wrap(t._("%(outcome)s: mean over the sweep's points") % {"outcome": outcome_label}, 80))
    ax.set_title(_wrap(title), pad=26)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def grid_figure(values, y, low, high, labels: list[str], outcome_label: str, title: str, percent: bool, t=None):
    """A 1-factor grid as a line with its interval band, a 2-factor grid as an annotated heat map (viridis),
    with the colour bar's label wrapped to fit beside it."""
    import numpy as np
    t = _t(t)
    plt = _pyplot()
    values, y = np.asarray(values, dtype=float), np.asarray(y, dtype=float)
    if values.shape[1] == 1:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        order = np.argsort(values[:, 0])
        x = values[order, 0]
        ax.fill_between(x, np.asarray(low)[order], np.asarray(high)[order], color=PALETTE[0], alpha=0.25,
                        linewidth=0, label=t._("95% interval at each point"))
        ax.plot(x, y[order], marker="o", color=PALETTE[0], label=t._("estimate"))
        ax.set_xlabel(labels[0])
        ax.set_ylabel(_wrap(outcome_label, 40))
        if percent:
            _percent_axis(ax.yaxis)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    else:
        xs, ys = np.unique(values[:, 0]), np.unique(values[:, 1])
        grid = np.full((ys.size, xs.size), np.nan)
        for p in range(values.shape[0]):
            grid[np.searchsorted(ys, values[p, 1]), np.searchsorted(xs, values[p, 0])] = y[p]
        fig, ax = plt.subplots(figsize=(7.5, 5.8))
        mesh = ax.pcolormesh(xs, ys, grid, shading="nearest", cmap="viridis")
        bar = fig.colorbar(mesh, ax=ax, fraction=0.05, pad=0.03)
        bar.set_label(_wrap(outcome_label, 38), fontsize=8)
        if percent:
            _percent_axis(bar.ax.yaxis)
        bar.ax.tick_params(labelsize=8)
        lo_, hi_ = (np.nanmin(grid), np.nanmax(grid)) if np.isfinite(grid).any() else (0, 1)
        if xs.size * ys.size <= 144:
            for i, yv in enumerate(ys):
                for j, xv in enumerate(xs):
                    v = grid[i, j]
                    if not np.isfinite(v):
                        continue
                    light = (v - lo_) / (hi_ - lo_) > 0.6 if hi_ > lo_ else False
                    ax.text(xv, yv, t.digits_of(f"{100 * v:.0f}" if percent else f"{v:.1f}"), ha="center",
                            va="center", fontsize=7, color="black" if light else "white")
        ax.set_xticks(xs, [f"{v:g}" for v in xs], fontsize=8)
        ax.set_yticks(ys, [f"{v:g}" for v in ys], fontsize=8)
        ax.set_xlabel(_wrap(labels[0], 70))
        ax.set_ylabel(_wrap(labels[1], 45))
    ax.set_title(_wrap(title))
    fig.tight_layout()
    return fig


def partial_dependence_figure(values, y, labels: list[str], outcome_label: str, title: str, percent: bool, t=None,
                              bins: int = 5):
    """For each factor, the mean outcome in quantile bins of the factor (the others averaged over)."""
    import numpy as np
    t = _t(t)
    plt = _pyplot()
    values, y = np.asarray(values, dtype=float), np.asarray(y, dtype=float)
    k = values.shape[1]
    ncols = min(k, 3)
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.7 * nrows + 0.9), squeeze=False, sharey=True)
    ok = np.isfinite(y)
    for i in range(k):
        ax = axes[i // ncols][i % ncols]
        x = values[ok, i]
        edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1))) if x.size else np.array([0.0, 1.0])
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max(edges.size - 2, 0))
        centres, means = [], []
        for b in range(max(edges.size - 1, 1)):
            sel = idx == b
            if sel.any():
                centres.append(float(x[sel].mean()))
                means.append(float(y[ok][sel].mean()))
        ax.plot(centres, means, marker="o", color=PALETTE[i % len(PALETTE)])
        ax.set_xlabel(_wrap(labels[i], 30), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if i % ncols == 0:
            ax.set_ylabel(_wrap(outcome_label, 30), fontsize=8)
            if percent:
                _percent_axis(ax.yaxis)
    for j in range(k, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout()
    return fig


def backtest_figure(cases: list[dict], title: str, t=None, case_titles: list[str] | None = None,
                    horizon: float | None = None, curve_label: str | None = None):
    """Each past case: the predicted survival curve and its observed duration, on a log time axis so that
    truces of days and of years are both legible."""
    from matplotlib.ticker import FuncFormatter
    t = _t(t)
    plt = _pyplot()
    curve_label = curve_label or t._("predicted P(still holding), fitted without the case")
    n = max(len(cases), 1)
    ncols = 2 if n > 1 else 1
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.4 * nrows + 1.1), squeeze=False, sharex=True)
    firsts = [c["predicted"]["survival"][0][0] for c in cases if c["predicted"].get("survival")]
    lo = min([*firsts, *(c["observed_months"] for c in cases)], default=0.1) * 0.7
    hi = horizon or max([c["predicted"]["survival"][-1][0] for c in cases if c["predicted"].get("survival")]
                        + [c["observed_months"] for c in cases], default=1.0)
    handles, labels = [], []
    for k, case in enumerate(cases):
        ax = axes[k // ncols][k % ncols]
        surv = case["predicted"].get("survival") or []
        ax.step([lo] + [p[0] for p in surv], [1.0] + [p[1] for p in surv], where="post", color=PALETTE[0],
                linewidth=1.6, label=curve_label)
        obs = case["observed_months"]
        if case.get("collapsed", True):
            ax.axvline(obs, color=OBSERVED_COLOR, linestyle="--", linewidth=1.6, label=t._("observed duration"))
        else:
            ax.axvline(obs, color=PALETTE[2], linestyle="--", linewidth=1.6, label=t._("still holding when observed"))
            ax.annotate("", xy=(min(obs * 2.5, hi), 0.9), xytext=(obs, 0.9),
                        arrowprops={"arrowstyle": "->", "color": PALETTE[2]})
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylim(0, 1.02)
        _percent_axis(ax.yaxis)
        name = (case_titles or [])[k] if case_titles and k < len(case_titles) else case["name"]
        ax.set_title(_wrap(t._("%(case)s (observed %(m)s months)") % {"case": _short(name, 44),
                                                                      "m": t.digits_of(f"{obs:.3g}")}, 50),
                     fontsize=8.5)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
        if k % ncols == 0:
            ax.set_ylabel(t._("P(still holding)"), fontsize=8)
    for j in range(len(cases), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    for c in range(ncols):
        axes[-1][c].set_xlabel(t._("months since the truce began (log scale)"), fontsize=8)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    if cases:
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def posterior_figure(panels: list[dict], title: str, t=None):
    """Calibration: for each free parameter, the posterior weights of the design points (histogram on
    the prior's scale), the prior's range, the posterior mode and the 90% interval.
    Each panel: name, unit, values, weights, low, high, scale ('linear'|'log'), map, q05, q95."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter
    t = _t(t)
    plt = _pyplot()
    k = max(len(panels), 1)
    ncols = 2 if k > 1 else 1
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.5 * nrows + 1.1), squeeze=False)
    handles, labels = [], []
    for i, p in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        log = p["scale"] == "log"
        edges = (np.geomspace(p["low"], p["high"], 21) if log else np.linspace(p["low"], p["high"], 21))
        ax.axvspan(p["q05"], p["q95"], color=PALETTE[2], alpha=0.18, linewidth=0, label=t._("90% interval"))
        ax.hist(p["values"], bins=edges, weights=p["weights"], color=PALETTE[0], alpha=0.85,
                label=t._("posterior weight of the design points"))
        ax.axvline(p["map"], color=PALETTE[1], linestyle="--", linewidth=1.6,
                   label=t._("posterior mode (fitted value)"))
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlim(p["low"], p["high"])
        ax.set_title(_wrap(p["name"], 48), fontsize=9)
        ax.set_xlabel(_wrap(t._("%(unit)s (prior: %(low)s to %(high)s, %(scale)s)")
                            % {"unit": p["unit"], "low": t.digits_of(f"{p['low']:g}"),
                               "high": t.digits_of(f"{p['high']:g}"), "scale": t._(p["scale"])}, 56), fontsize=7)
        ax.set_ylabel(t._("posterior weight"), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if i == 0:
            handles, labels = ax.get_legend_handles_labels()
    for j in range(len(panels), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    if panels:
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    return fig


def discovery_tradeoff_figure(result: dict):
    """Scenario discovery: coverage against density along each box's peeling (and pasting) trajectory,
    the chosen box ringed, colour by the number of factors restricted."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.6))
    marks = ("o", "s", "^", "D", "v")
    scatter = None
    top = max((len(s["restricted_factors"]) for b in result["boxes"] for s in b["trajectory"]), default=1)
    for i, b in enumerate(result["boxes"]):
        traj = b["trajectory"]
        cov = [s["coverage"] for s in traj]
        den = [s["density"] for s in traj]
        ax.plot(cov, den, color="#999999", linewidth=0.8, zorder=1)
        scatter = ax.scatter(cov, den, c=[len(s["restricted_factors"]) for s in traj], cmap="viridis",
                             vmin=0, vmax=max(1, top), marker=marks[i % len(marks)], s=28, zorder=2,
                             label=f"box {b['box']} trajectory")
        ax.scatter([b["coverage"]], [b["density"]], facecolors="none", edgecolors="#D55E00", s=160, linewidths=2,
                   zorder=3, label=f"box {b['box']}: coverage {100 * b['coverage']:.0f}%, density "
                   f"{100 * b['density']:.0f}%")
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="factors restricted", ticks=range(0, max(1, top) + 1))
    ax.axhline(result["options"]["min_density"], color="black", linestyle=":", linewidth=0.8)
    ax.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("density (share of the box's points that are cases)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    _percent_axis(ax.xaxis)
    _percent_axis(ax.yaxis)
    ax.set_title(_wrap(f"Scenario discovery: {result['outcome_phrase']} — peeling trajectory"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def discovery_boxes_figure(result: dict, x, labels, names: list[str]):
    """The points of the two factors the first box restricts most (or the first two), coloured by their
    soft label, with every box drawn."""
    import numpy as np
    from matplotlib.patches import Rectangle
    plt = _pyplot()
    first = result["boxes"][0]
    order = [names.index(n) for n in first["restricted_factors"]] + [j for j in range(len(names))]
    pair = list(dict.fromkeys(order))[:2]
    fig, ax = plt.subplots(figsize=(6.2, 5))
    pts = ax.scatter(x[:, pair[0]], x[:, pair[1]], c=labels, cmap="viridis", vmin=0, vmax=1, s=18,
                     edgecolors="none")
    fig.colorbar(pts, ax=ax, label="soft label (probability the point is a case of interest)")
    for i, b in enumerate(result["boxes"]):
        lo = [b["limits"][names[j]]["low"] for j in pair]
        hi = [b["limits"][names[j]]["high"] for j in pair]
        ax.add_patch(Rectangle((lo[0], lo[1]), hi[0] - lo[0], hi[1] - lo[1], fill=False,
                               edgecolor=PALETTE[(i + 1) % len(PALETTE)], linewidth=2,
                               linestyle=("-", "--", ":")[i % 3], label=f"box {b['box']}"))
    ax.set_xlabel(names[pair[0]])
    ax.set_ylabel(names[pair[1]])
    f = result["factors"]
    ax.set_xlim(f[names[pair[0]]]["low"], f[names[pair[0]]]["high"])
    ax.set_ylim(f[names[pair[1]]]["low"], f[names[pair[1]]]["high"])
    ax.set_title(_wrap(f"{result['outcome_phrase']}: the boxes found"))
    ax.legend(fontsize=8, loc="upper right")
    del np
    fig.tight_layout()
    return fig


def history_figure(rows: list[dict], outcome: dict, title: str):
    """One replication month by month: the 0-1 state indices (lines), incidents per month (bars, right
    axis), each belligerent's rung on the escalation ladder (steps), and the collapse if it came."""
    plt = _pyplot()
    fig, (ax, ladder) = plt.subplots(2, 1, figsize=(8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    months = [r["month"] for r in rows]
    skip = {"month", "holding"}
    indices = [k for k in rows[0] if k not in skip and not k.endswith("_in_month") and not k.startswith("ladder.")]
    for i, key in enumerate(indices):
        ax.plot(months, [r[key] for r in rows], color=PALETTE[i % len(PALETTE)], linestyle=LINESTYLES[i % len(LINESTYLES)],
                linewidth=1.5, label=key)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("index (0-1)")
    counts = ax.twinx()
    incident_keys = [k for k in rows[0] if k.endswith("_in_month")]
    bottom = [0.0] * len(rows)
    for i, key in enumerate(incident_keys):
        vals = [r[key] for r in rows]
        counts.bar(months, vals, bottom=bottom, width=0.8, color=PALETTE[(i + 4) % len(PALETTE)], alpha=0.25,
                   label=key.removesuffix("_in_month").replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, vals)]
    counts.set_ylabel("incidents per month (bars)")
    for i, key in enumerate(k for k in rows[0] if k.startswith("ladder.")):
        ladder.step(months, [r[key] for r in rows], where="post", color=PALETTE[i % len(PALETTE)],
                    label=key.removeprefix("ladder."))
    ladder.set_ylabel("escalation rung")
    ladder.set_xlabel("months since the ceasefire began")
    if outcome.get("collapsed"):
        for a in (ax, ladder):
            a.axvline(outcome["months_to_collapse"], color="black", linestyle="--", linewidth=1)
        ax.text(outcome["months_to_collapse"], 1.0, f" collapse: {outcome['initiator']} ({outcome['trigger']})",
                va="top", fontsize=8)
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3)
    ladder.grid(alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    bars, blabels = counts.get_legend_handles_labels()
    ax.legend(lines + bars, labels + blabels, fontsize=7, loc="upper left", ncol=3)
    ladder.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
