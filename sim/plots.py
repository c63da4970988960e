"""Figures. matplotlib is imported only when a figure is drawn, and draws without a display."""

from __future__ import annotations

from pathlib import Path

# Okabe-Ito: distinguishable with the common forms of colour blindness.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "ceasefire-sim", "figure.dpi": 100})
    return plt


def survival_figure(curves: list[tuple[str, list[tuple[int, float, float, float]]]], path: Path,
                    title: str) -> None:
    """Survival curves (month, S, low, high) with their 95% bands."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (label, rows) in enumerate(curves):
        months = [r[0] for r in rows]
        color = PALETTE[i % len(PALETTE)]
        ax.step(months, [r[1] for r in rows], where="post", color=color, label=label)
        ax.fill_between(months, [r[2] for r in rows], [r[3] for r in rows], step="post", color=color, alpha=0.2,
                        linewidth=0)
    ax.set_xlabel("months since the ceasefire began")
    ax.set_ylabel("P(ceasefire still holding)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _save(fig, path: Path) -> None:
    path = Path(path)
    kwargs = {"metadata": {"Software": None}} if path.suffix == ".png" else {"metadata": {"Date": None}}
    fig.savefig(path, **kwargs)


INDEX_COLUMNS = {"sobol": [("S1", "first-order S1"), ("ST", "total ST")],
                 "morris": [("mu_star", "Morris mu*")],
                 "src": [("SRC", "standardised regression coefficient")]}


def sweep_figures(loaded, values, rows: dict, analysis: dict, directory: Path) -> None:
    """Index bars with CIs, a tornado of conditional means, and a line or heat map for small grids."""
    import numpy as np
    e = loaded.experiment
    outcome = e.analysed_outcome
    res = analysis["outcomes"][outcome]
    names = loaded.factor_names
    y = np.array([rows[p]["outcomes"][outcome][0] if rows[p]["outcomes"] else np.nan
                  for p in range(values.shape[0])])
    plt = _pyplot()

    if res["method"] is None:  # the analysis was not possible; sensitivity.json says why
        return _sweep_shape_figures(loaded, values, y, directory, plt)
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.8))
    columns = INDEX_COLUMNS[res["method"]]
    height = 0.8 / len(columns)
    for j, (key, label) in enumerate(columns):
        est = np.array([f[key] if f[key] is not None else np.nan for f in res["factors"]])
        low = np.array([f.get(f"{key}_ci_low") if f.get(f"{key}_ci_low") is not None else np.nan for f in res["factors"]])
        high = np.array([f.get(f"{key}_ci_high") if f.get(f"{key}_ci_high") is not None else np.nan for f in res["factors"]])
        pos = np.arange(len(names)) + j * height
        ax.barh(pos, est, height=height, color=PALETTE[j], label=label,
                xerr=np.vstack([est - low, high - est]) if np.isfinite(low).any() else None, capsize=3)
    ax.set_yticks(np.arange(len(names)) + height * (len(columns) - 1) / 2, names)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"sensitivity of {outcome} (95% bootstrap CI)")
    ax.set_title(f"{e.name}: which factor matters most")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _save(fig, directory / "indices.png")
    plt.close(fig)

    _sweep_shape_figures(loaded, values, y, directory, plt)


def _sweep_shape_figures(loaded, values, y, directory: Path, plt) -> None:
    """Tornado of conditional means and, for small grids, the line or heat map of the outcome."""
    import numpy as np
    e = loaded.experiment
    outcome = e.analysed_outcome
    names = loaded.factor_names
    swings = []
    for i, name in enumerate(names):
        x = values[:, i]
        ok = np.isfinite(y)
        lo_cut, hi_cut = np.quantile(x[ok], [0.2, 0.8]) if ok.any() else (np.nan, np.nan)
        lo = np.nanmean(np.where(ok & (x <= lo_cut), y, np.nan)) if ok.any() else np.nan
        hi = np.nanmean(np.where(ok & (x >= hi_cut), y, np.nan)) if ok.any() else np.nan
        swings.append((name, lo, hi))
    swings.sort(key=lambda t: -abs(t[2] - t[1]) if np.isfinite(t[2] - t[1]) else 0)
    centre = float(np.nanmean(y)) if np.isfinite(y).any() else 0.0
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.8))
    for k, (name, lo, hi) in enumerate(swings):
        ax.barh(k, lo - centre, left=centre, color=PALETTE[0], label="factor in its lowest fifth" if k == 0 else None)
        ax.barh(k, hi - centre, left=centre, color=PALETTE[1], label="factor in its highest fifth" if k == 0 else None)
    ax.set_yticks(range(len(swings)), [s[0] for s in swings])
    ax.invert_yaxis()
    ax.axvline(centre, color="black", linewidth=0.8)
    ax.set_xlabel(f"mean {outcome} over the sweep's points")
    ax.set_title(f"{e.name}: tornado (conditional means)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _save(fig, directory / "tornado.png")
    plt.close(fig)

    if e.sampler == "grid" and len(names) in (1, 2):
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        if len(names) == 1:
            order = np.argsort(values[:, 0])
            ax.plot(values[order, 0], y[order], marker="o", color=PALETTE[0])
            ax.set_xlabel(names[0])
            ax.set_ylabel(outcome)
        else:
            xs, ys = np.unique(values[:, 0]), np.unique(values[:, 1])
            grid = np.full((ys.size, xs.size), np.nan)
            for p in range(values.shape[0]):
                grid[np.searchsorted(ys, values[p, 1]), np.searchsorted(xs, values[p, 0])] = y[p]
            mesh = ax.pcolormesh(xs, ys, grid, shading="nearest", cmap="viridis")
            fig.colorbar(mesh, ax=ax, label=outcome)
            ax.set_xlabel(names[0])
            ax.set_ylabel(names[1])
        ax.set_title(f"{e.name}: {outcome}")
        fig.tight_layout()
        _save(fig, directory / "grid.png")
        plt.close(fig)


def case_survival_figure(cases: list[dict], path: Path, title: str) -> None:
    """Predicted survival of each historical case (log time axis), one small panel per case, with its
    observed outcome marked: a solid line at a collapse, a dashed line and an arrow where it still held."""
    plt = _pyplot()
    cols = 5
    rows = max(1, -(-len(cases) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.1 * rows + 0.6), sharex=True, sharey=True, squeeze=False)
    for ax, c in zip(axes.flat, cases):
        surv = c["predicted"]["survival"]
        ax.step([0.01] + [x[0] for x in surv], [1.0] + [x[1] for x in surv], where="post", color=PALETTE[0])
        obs = c["observed"]
        if obs["collapsed"]:
            ax.axvline(obs["months"], color=PALETTE[1], linewidth=1.4)
        else:
            ax.axvline(obs["months"], color=PALETTE[2], linewidth=1.4, linestyle="--")
            ax.annotate("", xy=(min(obs["months"] * 2.5, 60), 0.9), xytext=(obs["months"], 0.9),
                        arrowprops={"arrowstyle": "->", "color": PALETTE[2]})
        ax.set_title(c["name"], fontsize=7)
        ax.set_xscale("log")
        ax.set_xlim(0.02, 70)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(cases):]:
        ax.set_visible(False)
    fig.supxlabel("months since the truce began (log scale); solid: observed collapse, dashed: still holding then",
                  fontsize=8)
    fig.supylabel("predicted P(still holding)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


# --- figures for the HTML report (sim/report.py) -------------------------------------------------
# Each returns a matplotlib Figure; the report saves it as inline SVG and as a PNG copy.

LINESTYLES = ("-", "--", "-.", ":")


def _wrap(text: str, width: int = 64) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width)) or text


def _percent_axis(axis, decimals: int | None = None) -> None:
    from matplotlib.ticker import PercentFormatter
    axis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))


def report_survival_figure(curves: list[tuple[str, list[tuple[float, float, float, float]]]], title: str):
    """Survival curves (month, S, low, high), each with its 95% band; colour and line style both differ."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (label, rows) in enumerate(curves):
        months = [r[0] for r in rows]
        color = PALETTE[i % len(PALETTE)]
        ax.fill_between(months, [r[2] for r in rows], [r[3] for r in rows], step="post", color=color,
                        alpha=0.22, linewidth=0, label=f"{label}: 95% band")
        ax.step(months, [r[1] for r in rows], where="post", color=color, linewidth=1.8,
                linestyle=LINESTYLES[i % len(LINESTYLES)], label=label)
    ax.set_xlabel("months since the ceasefire began")
    ax.set_ylabel("P(ceasefire still holding), %")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max((r[0] for _, rows in curves for r in rows), default=1))
    _percent_axis(ax.yaxis)
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def hazard_figure(months: list[float], hazard: list[float], title: str):
    """Monthly hazard: the share of ceasefires still holding at the start of a month that collapse in it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.bar(months, hazard, width=0.85, color=PALETTE[1], align="center")
    ax.set_xlabel("month since the ceasefire began")
    ax.set_ylabel("collapses per month, % of those holding")
    _percent_axis(ax.yaxis)
    ax.set_xlim(0.3, max(months, default=1) + 0.7)
    ax.set_ylim(0, max(max(hazard, default=0) * 1.15, 0.001))
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def shares_figure(groups: list[tuple[str, dict[str, float]]], title: str, xlabel: str):
    """Horizontal bars of shares (0-1) by category, one bar per group side by side."""
    import numpy as np
    plt = _pyplot()
    categories: list[str] = []
    for _, shares in groups:
        categories += [k for k in shares if k not in categories]
    categories.sort(key=lambda k: -max(g.get(k, 0.0) for _, g in groups))
    n = max(len(categories), 1)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * n * max(len(groups), 1) + 1.6))
    height = 0.8 / max(len(groups), 1)
    hatches = ("", "//", "..", "xx")
    for j, (label, shares) in enumerate(groups):
        pos = np.arange(len(categories)) + j * height
        vals = [shares.get(k, 0.0) for k in categories]
        bars = ax.barh(pos, vals, height=height, color=PALETTE[j % len(PALETTE)], label=label,
                       hatch=hatches[j % len(hatches)], edgecolor="white", linewidth=0.5)
        for b, v in zip(bars, vals):
            ax.text(b.get_width() + 0.01, b.get_y() + b.get_height() / 2, f"{100 * v:.1f}%", va="center",
                    fontsize=8)
    ax.set_yticks(np.arange(len(categories)) + height * (len(groups) - 1) / 2, categories)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    _percent_axis(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3, axis="x")
    if not categories:
        ax.text(0.5, 0.5, "no collapses", transform=ax.transAxes, ha="center", va="center")
    if len(groups) > 1:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def fan_figure(panels: list[tuple[str, str, list[tuple[float, float, float, float, float, float]]]], title: str):
    """Small multiples of monthly quantiles: (panel title, y label with unit, rows of
    (month, q05, q25, q50, q75, q95)); 5-95% and 25-75% bands and the median."""
    plt = _pyplot()
    ncols = 2 if len(panels) > 1 else 1
    nrows = max(1, -(-len(panels) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.1 * nrows + 0.8), squeeze=False, sharex=True)
    for k, (name, unit, rows) in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        m = [r[0] for r in rows]
        ax.fill_between(m, [r[1] for r in rows], [r[5] for r in rows], color=PALETTE[0], alpha=0.18, linewidth=0,
                        label="5-95% of runs")
        ax.fill_between(m, [r[2] for r in rows], [r[4] for r in rows], color=PALETTE[0], alpha=0.38, linewidth=0,
                        label="25-75% of runs")
        ax.plot(m, [r[3] for r in rows], color=PALETTE[0], linewidth=1.5, label="median")
        lo, hi = min(r[1] for r in rows), max(r[5] for r in rows)
        if unit.startswith("index") and hi - lo < 0.1:
            mid = (hi + lo) / 2
            ax.set_ylim(max(0.0, mid - 0.05), min(1.0, mid + 0.05) if mid + 0.05 <= 1 else 1.0)
        ax.set_title(_wrap(name, 48), fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7, loc="best")
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for c in range(ncols):
        axes[-1][c].set_xlabel("months since the ceasefire began", fontsize=8)
        if nrows > 1 and len(panels) % ncols and c >= len(panels) % ncols:
            axes[-2][c].set_xlabel("months since the ceasefire began", fontsize=8)
            axes[-2][c].xaxis.set_tick_params(labelbottom=True)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout()
    return fig


def difference_figure(months: list[float], est: list[float], low: list[float], high: list[float], title: str,
                      ylabel: str):
    """A paired difference by month with its 95% CI as a band and error bars, around zero."""
    import numpy as np
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    est, low, high = (np.asarray(v, dtype=float) for v in (est, low, high))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.fill_between(months, low, high, color=PALETTE[2], alpha=0.25, linewidth=0, label="95% CI (paired)")
    ax.errorbar(months, est, yerr=np.vstack([est - low, high - est]), color=PALETTE[2], marker="o", capsize=4,
                linewidth=1.6, label="difference (other minus base)")
    for m, e in zip(months, est):
        ax.annotate(f"{100 * e:+.1f}", (m, e), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel("months since the ceasefire began")
    ax.set_ylabel(ylabel)
    from matplotlib.ticker import FuncFormatter
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:+.0f}" if abs(v) >= 0.01 or v == 0
                                               else f"{100 * v:+.1f}"))
    ax.set_xticks(months)
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def index_figure(factors: list[dict], names: list[str], method: str, outcome_label: str, title: str):
    """Sensitivity indices of one outcome per factor, with their 95% bootstrap CIs."""
    import numpy as np
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(names) * len(INDEX_COLUMNS[method]) + 1.9))
    columns = INDEX_COLUMNS[method]
    height = 0.8 / len(columns)

    def col(key):
        return np.array([f.get(key) if f.get(key) is not None else np.nan for f in factors], dtype=float)

    for j, (key, label) in enumerate(columns):
        est, low, high = col(key), col(f"{key}_ci_low"), col(f"{key}_ci_high")
        pos = np.arange(len(names)) + j * height
        has_ci = np.isfinite(low) & np.isfinite(high) & np.isfinite(est)
        err = np.vstack([np.where(has_ci, est - low, 0), np.where(has_ci, high - est, 0)])
        ax.barh(pos, np.nan_to_num(est), height=height, color=PALETTE[j], label=label,
                xerr=err if has_ci.any() else None, capsize=3)
    ax.set_yticks(np.arange(len(names)) + height * (len(columns) - 1) / 2, names)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(_wrap(f"sensitivity index of {outcome_label} (unitless; error bars: 95% bootstrap CI)", 80))
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3, axis="x")
    if len(columns) > 1:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(columns), frameon=False)
    fig.tight_layout()
    return fig


def tornado_figure(swings: list[tuple[str, float, float]], centre: float, outcome_label: str, title: str,
                   percent: bool):
    """Mean outcome with each factor in its lowest and in its highest fifth, around the overall mean."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(swings) + 1.9))
    for k, (name, lo, hi) in enumerate(swings):
        ax.barh(k, lo - centre, left=centre, color=PALETTE[0], label="factor in its lowest fifth" if k == 0 else None)
        ax.barh(k, hi - centre, left=centre, color=PALETTE[1], hatch="//", edgecolor="white",
                label="factor in its highest fifth" if k == 0 else None)
    ax.set_yticks(range(len(swings)), [s[0] for s in swings])
    ax.invert_yaxis()
    ax.axvline(centre, color="black", linewidth=0.8)
    if percent:
        _percent_axis(ax.xaxis)
    ax.set_xlabel(_wrap(f"{outcome_label}: mean over the sweep's points", 80))
    ax.set_title(_wrap(title))
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def grid_figure(values, y, low, high, names: list[str], labels: list[str], outcome_label: str, title: str,
                percent: bool):
    """A 1-factor grid as a line with its CI band, a 2-factor grid as an annotated heat map (viridis)."""
    import numpy as np
    plt = _pyplot()
    values, y = np.asarray(values, dtype=float), np.asarray(y, dtype=float)
    if len(names) == 1:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        order = np.argsort(values[:, 0])
        x = values[order, 0]
        ax.fill_between(x, np.asarray(low)[order], np.asarray(high)[order], color=PALETTE[0], alpha=0.25,
                        linewidth=0, label="95% CI at each point")
        ax.plot(x, y[order], marker="o", color=PALETTE[0], label="estimate")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(outcome_label)
        if percent:
            _percent_axis(ax.yaxis)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    else:
        xs, ys = np.unique(values[:, 0]), np.unique(values[:, 1])
        grid = np.full((ys.size, xs.size), np.nan)
        for p in range(values.shape[0]):
            grid[np.searchsorted(ys, values[p, 1]), np.searchsorted(xs, values[p, 0])] = y[p]
        fig, ax = plt.subplots(figsize=(7.5, 5.6))
        mesh = ax.pcolormesh(xs, ys, grid, shading="nearest", cmap="viridis")
        bar = fig.colorbar(mesh, ax=ax, label=_wrap(outcome_label, 50))
        if percent:
            _percent_axis(bar.ax.yaxis)
        lo_, hi_ = np.nanmin(grid) if np.isfinite(grid).any() else 0, np.nanmax(grid) if np.isfinite(grid).any() else 1
        if xs.size * ys.size <= 144:
            for i, yv in enumerate(ys):
                for j, xv in enumerate(xs):
                    v = grid[i, j]
                    if not np.isfinite(v):
                        continue
                    light = (v - lo_) / (hi_ - lo_) > 0.6 if hi_ > lo_ else False
                    ax.text(xv, yv, f"{100 * v:.0f}" if percent else f"{v:.1f}", ha="center", va="center",
                            fontsize=7, color="black" if light else "white")
        ax.set_xticks(xs, [f"{v:g}" for v in xs], fontsize=8)
        ax.set_yticks(ys, [f"{v:g}" for v in ys], fontsize=8)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    ax.set_title(_wrap(title))
    fig.tight_layout()
    return fig


def partial_dependence_figure(values, y, labels: list[str], outcome_label: str, title: str, percent: bool,
                              bins: int = 5):
    """For each factor, the mean outcome in quantile bins of the factor (the others averaged over)."""
    import numpy as np
    plt = _pyplot()
    values, y = np.asarray(values, dtype=float), np.asarray(y, dtype=float)
    k = values.shape[1]
    ncols = min(k, 3)
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.6 * nrows + 0.9), squeeze=False, sharey=True)
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
            ax.set_ylabel(outcome_label, fontsize=8)
            if percent:
                _percent_axis(ax.yaxis)
    for j in range(k, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout()
    return fig


def backtest_figure(cases: list[dict], title: str, horizon: float | None = None,
                    curve_label: str = "predicted P(still holding), fitted without the case"):
    """Each past case: the predicted survival curve (fitted without it) and its observed duration, on a
    log time axis so that truces of days and of years are both legible."""
    from matplotlib.ticker import FuncFormatter
    plt = _pyplot()
    n = max(len(cases), 1)
    ncols = 2 if n > 1 else 1
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.3 * nrows + 1.0), squeeze=False, sharex=True)
    firsts = [c["predicted"]["survival"][0][0] for c in cases if c["predicted"]["survival"]]
    lo = min([*firsts, *(c["observed_months"] for c in cases)], default=0.1) * 0.7
    hi = horizon or max([c["predicted"]["survival"][-1][0] for c in cases if c["predicted"]["survival"]]
                        + [c["observed_months"] for c in cases], default=1.0)
    for k, case in enumerate(cases):
        ax = axes[k // ncols][k % ncols]
        surv = case["predicted"]["survival"]
        ax.step([lo] + [p[0] for p in surv], [1.0] + [p[1] for p in surv], where="post", color=PALETTE[0],
                linewidth=1.6, label=curve_label)
        obs = case["observed_months"]
        ax.axvline(obs, color=PALETTE[1], linestyle="--", linewidth=1.6, label="observed duration")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylim(0, 1.02)
        _percent_axis(ax.yaxis)
        ax.set_title(f"{case['name']} (observed {obs:g} months)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if k == 0:
            handles, labels = ax.get_legend_handles_labels()
        if k % ncols == 0:
            ax.set_ylabel("P(still holding), %", fontsize=8)
    for j in range(len(cases), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    for c in range(ncols):
        axes[-1][c].set_xlabel("months since the truce began (log scale)", fontsize=8)
    fig.suptitle(_wrap(title, 72), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    if cases:
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def posterior_figure(panels: list[dict], title: str):
    """Calibration: for each free parameter, the posterior weights of the design points (histogram on
    the prior's scale), the prior's range, the posterior mode and the 90% interval.
    Each panel: name, unit, values, weights, low, high, scale ('linear'|'log'), map, q05, q95."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter
    plt = _pyplot()
    k = max(len(panels), 1)
    ncols = 2 if k > 1 else 1
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 2.4 * nrows + 1.0), squeeze=False)
    for i, p in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        log = p["scale"] == "log"
        edges = (np.geomspace(p["low"], p["high"], 21) if log else np.linspace(p["low"], p["high"], 21))
        ax.axvspan(p["q05"], p["q95"], color=PALETTE[2], alpha=0.18, linewidth=0, label="90% interval")
        ax.hist(p["values"], bins=edges, weights=p["weights"], color=PALETTE[0], alpha=0.85,
                label="posterior weight of the design points")
        ax.axvline(p["map"], color=PALETTE[1], linestyle="--", linewidth=1.6, label="posterior mode (fitted value)")
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlim(p["low"], p["high"])
        ax.set_title(_wrap(p["name"], 48), fontsize=9)
        ax.set_xlabel(_wrap(f"{p['unit']} (prior: {p['low']:g} to {p['high']:g}, {p['scale']})", 56), fontsize=7)
        ax.set_ylabel("posterior weight", fontsize=8)
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
