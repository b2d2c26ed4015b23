"""Plots, drawn with matplotlib's file backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_anytime"]


def plot_anytime(comparison: Mapping[str, Any], path: str | Path) -> Path:
    """Best-so-far ground truth against simulated time, mean and ±1 std band per strategy.

    Args:
        comparison: the dict returned by :func:`archsearch.experiment.compare`.
        path: where to write the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.asarray(comparison["grid"], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    lows = []
    for name, stats in comparison["results"].items():
        mean = np.array([np.nan if v is None else v for v in stats["anytime_mean"]], dtype=float)
        std = np.array([np.nan if v is None else v for v in stats["anytime_std"]], dtype=float)
        (line,) = ax.plot(grid, mean, label=f"{name} ({stats['mean']:.2f}±{stats['std']:.2f})")
        ax.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.18)
        finite = mean[np.isfinite(mean)]
        if len(finite):
            lows.append(finite[len(finite) // 5])
    dataset = comparison.get("dataset")
    title = f"{comparison['benchmark']}{'/' + dataset if dataset else ''}: "
    title += f"{next(iter(comparison['results'].values()))['runs']} runs per strategy"
    ax.set_title(title)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("best-so-far final accuracy (%)")
    if lows:
        top = max(
            np.nanmax(np.array([v for v in s["anytime_mean"] if v is not None] or [np.nan]))
            for s in comparison["results"].values()
        )
        ax.set_ylim(min(lows), top + 0.25 * (top - min(lows)) + 0.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
