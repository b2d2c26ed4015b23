"""How well a curve model extrapolates: rank correlation and error of predicted finals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archsearch.curves._models import CurvePredictor
from archsearch.errors import ConfigError

__all__ = ["extrapolation_quality", "spearman"]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 0, ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return np.asarray(sums[inverse] / counts[inverse], dtype=float)


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation (ties get mean ranks); NaN when either side is constant.

    Example:
        >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 6)
        0.8
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ConfigError(f"spearman: expected two equal 1-D arrays, got {x.shape}, {y.shape}")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def extrapolation_quality(
    model: CurvePredictor, curves: np.ndarray, seen: int
) -> dict[str, float]:
    """Predict the last value of full curves from their first ``seen`` steps.

    Args:
        model: the curve model.
        curves: ``(n, T)`` full curves, one value per step ``1..T``.
        seen: steps observed (``1 <= seen < T``).

    Returns:
        ``spearman`` of predicted against true final values, ``mae`` (mean absolute
        error), ``coverage`` (share of true finals within the 95 % interval).
    """
    curves = np.asarray(curves, dtype=float)
    n_steps = curves.shape[1]
    if not 1 <= seen < n_steps:
        raise ConfigError(f"seen: must be in [1, {n_steps - 1}], got {seen!r}")
    steps = np.arange(1, seen + 1, dtype=float).tolist()
    partial = [(steps, row[:seen].tolist()) for row in curves]
    mean, std = model.predict_curves(partial, [float(n_steps)] * len(curves), final_step=n_steps)
    truth = curves[:, -1]
    return {
        "spearman": spearman(mean, truth),
        "mae": float(np.mean(np.abs(mean - truth))),
        "coverage": float(np.mean(np.abs(truth - mean) <= 1.96 * std)),
    }
