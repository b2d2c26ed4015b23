"""Rank correlations for judging predictors and proxies (NumPy only, ties handled).

Example:
    >>> kendall_tau([1, 2, 3, 4], [10, 20, 40, 30])
    0.6666666666666666
    >>> spearman_rho([1, 2, 3, 4], [10, 20, 40, 30])
    0.8
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["kendall_tau", "rankdata", "spearman_rho"]


def rankdata(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given the mean of their ranks (SciPy's ``method="average"``)."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    # start of each run of equal values
    starts = np.flatnonzero(np.r_[True, sorted_a[1:] != sorted_a[:-1]])
    ends = np.r_[starts[1:], len(a)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(len(a))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _pair(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, ...]:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two 1-d sequences of one length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def spearman_rho(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation; pairs with a non-finite value are dropped."""
    a, b = _pair(x, y)
    ra, rb = rankdata(a) - (len(a) + 1) / 2, rankdata(b) - (len(b) + 1) / 2
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def kendall_tau(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *, chunk: int = 512
) -> float:
    """Kendall's tau-b; pairs with a non-finite value are dropped.

    Counts concordant minus discordant pairs block by block (O(n^2) time, O(n *
    chunk) memory): 8,000 points take about a second.
    """
    a, b = _pair(x, y)
    concordance = tied_a = tied_b = 0.0
    for start in range(0, len(a), chunk):
        da = np.sign(a[start : start + chunk, None] - a[None, :])
        db = np.sign(b[start : start + chunk, None] - b[None, :])
        concordance += float((da * db).sum())
        tied_a += float(np.abs(da).sum())
        tied_b += float(np.abs(db).sum())
    denom = np.sqrt(tied_a * tied_b)  # both count every ordered pair twice, as does the sum
    return float(concordance / denom) if denom > 0 else float("nan")
