"""Pareto fronts and hypervolumes (every objective maximised).

Example:
    >>> import numpy as np
    >>> pts = np.array([[1.0, 3.0], [2.0, 2.0], [1.5, 1.0], [3.0, 1.0]])
    >>> pareto_front(pts).tolist()
    [0, 1, 3]
    >>> hypervolume(pts[[0, 1, 3]], reference=(0.0, 0.0))
    6.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["hypervolume", "pareto_front"]


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``points`` (all columns maximised), sorted.

    Duplicated points are all kept. 2-D fronts take O(n log n), others O(n^2).
    """
    points = np.asarray(points, dtype=float)
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if points.shape[1] == 2:
        order = np.lexsort((-points[:, 1], -points[:, 0]))  # x descending, then y descending
        keep, best_y, best_x = [], -np.inf, None
        for i in order:
            x, y = points[i]
            if y > best_y or (y == best_y and x == best_x):
                keep.append(i)
                if y > best_y:
                    best_y, best_x = y, x
        return np.sort(np.array(keep, dtype=np.int64))
    dominated = np.zeros(n, dtype=bool)
    for i in range(n):
        if dominated[i]:
            continue
        ge = (points >= points[i]).all(axis=1)
        gt = (points > points[i]).any(axis=1)
        if (ge & gt).any():
            dominated[i] = True
    return np.flatnonzero(~dominated)


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` and bounded below by ``reference`` (maximisation).

    Exact: a sweep in 2-D, recursive slicing above (fine for the small fronts of
    NAS studies).
    """
    pts = np.asarray(points, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if len(pts) == 0:
        return 0.0
    pts = pts[(pts > ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_front(pts)]
    return _hv(pts, ref)


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    if pts.shape[1] == 1:
        return float(pts[:, 0].max() - ref[0])
    if pts.shape[1] == 2:
        order = np.argsort(-pts[:, 0])
        volume, best_y = 0.0, ref[1]
        for i in order:  # x descending: each point adds the strip above the best y so far
            x, y = pts[i]
            if y > best_y:
                volume += (x - ref[0]) * (y - best_y)
                best_y = y
        return float(volume)
    # slice along the last objective
    levels = np.sort(np.unique(pts[:, -1]))[::-1]
    volume = 0.0
    for k, level in enumerate(levels):
        below = levels[k + 1] if k + 1 < len(levels) else ref[-1]
        layer = pts[pts[:, -1] >= level][:, :-1]
        volume += _hv(layer[pareto_front(layer)], ref[:-1]) * (level - below)
    return float(volume)
