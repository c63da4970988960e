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
