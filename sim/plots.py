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
    """Predicted survival of each historical case (log time axis) with its observed duration marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, c in enumerate(cases):
        color = PALETTE[i % len(PALETTE)]
        surv = c["predicted"]["survival"]
        ax.step([0.01] + [s[0] for s in surv], [1.0] + [s[1] for s in surv], where="post", color=color,
                label=f"{c['name']} (observed {c['observed_months']:g} months)")
        ax.axvline(c["observed_months"], color=color, linestyle=":", linewidth=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("months since the truce began (log scale); dotted: observed collapse")
    ax.set_ylabel("predicted P(truce still holding)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
