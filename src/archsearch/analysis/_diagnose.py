"""How far an estimator of performance can be trusted: ranking, top-k, pick, verdict.

An estimator is anything that scores architectures without the full training run: a
zero-cost proxy, a short training run, a predictor, a supernet's inherited accuracy.
:func:`diagnose` compares its scores with the ground truth on the same architectures.
Ties (many cells share a proxy value) are counted as if broken at random: top-k sets
and the top pick are expectations over the tie-breaks, never an artefact of the order
of the cells.

Example:
    >>> d = diagnose([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0, 50.0, 40.0], n_boot=50)
    >>> round(d.kendall, 2), d.pick_rank, d.pick_regret
    (0.8, 2.0, 10.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.errors import ConfigError

__all__ = ["Diagnosis", "TopK", "diagnose", "fast_kendall_tau"]

ArrayLike = Sequence[float] | np.ndarray
#: the truly good cells whose survival a pruning keeps track of (the top 10 %)
_GOOD_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class TopK:
    """Overlap of the estimator's top ``k`` with the truth's top ``k`` (``k = share * n``)."""

    share: float
    k: int
    overlap: float  # expected |top_k(estimate) & top_k(truth)| / k


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The result of :func:`diagnose` (ranks count from 1, the best).

    Attributes:
        n: architectures compared (pairs with a non-finite value are dropped).
        n_dropped: pairs dropped.
        spearman: Spearman's rho.
        kendall: Kendall's tau-b.
        kendall_ci: 95 % bootstrap interval of tau (percentiles of ``n_boot`` resamples).
        top_k: overlap at each requested share.
        pick_rank: truth rank of the estimator's top pick (mean over tied picks).
        pick_regret: best truth minus the truth of the top pick (mean over tied picks).
        n_tied_picks: architectures sharing the estimator's best score.
        best_rank: the estimator's rank of the truly best architecture: keeping the
            estimator's top ``best_rank`` keeps the best one.
        prune_keep: expected share of the truth's top 10 % that survives when the
            estimator's bottom half is pruned.
        verdict: a sentence on what the estimator is good for.
    """

    n: int
    n_dropped: int
    spearman: float
    kendall: float
    kendall_ci: tuple[float, float]
    top_k: tuple[TopK, ...]
    pick_rank: float
    pick_regret: float
    n_tied_picks: int
    best_rank: float
    prune_keep: float
    verdict: str

    def to_json(self) -> dict[str, Any]:
        """The diagnosis as JSON-able values."""
        return {
            "n": self.n,
            "n_dropped": self.n_dropped,
            "spearman": self.spearman,
            "kendall": self.kendall,
            "kendall_ci95": list(self.kendall_ci),
            "top_k": [{"share": t.share, "k": t.k, "overlap": t.overlap} for t in self.top_k],
            "pick_rank": self.pick_rank,
            "pick_regret": self.pick_regret,
            "n_tied_picks": self.n_tied_picks,
            "best_rank": self.best_rank,
            "prune_bottom_half_keeps": self.prune_keep,
            "verdict": self.verdict,
        }

    def lines(self) -> list[str]:
        """The diagnosis as aligned lines for a terminal."""
        low, high = self.kendall_ci
        ties = f", {self.n_tied_picks:,} tied picks" if self.n_tied_picks > 1 else ""
        rows = [
            ("Spearman rho", f"{self.spearman:.3f}"),
            ("Kendall tau", f"{self.kendall:.3f} (95% bootstrap CI {low:.3f} to {high:.3f})"),
            *(
                (f"top {t.share * 100:g}% overlap", f"{t.overlap * 100:.1f}% (k = {t.k:,})")
                for t in self.top_k
            ),
            (
                "top pick",
                f"true rank {self.pick_rank:,.0f} of {self.n:,}, "
                f"regret {self.pick_regret:.2f}{ties}",
            ),
            (
                "truly best",
                f"estimated rank {self.best_rank:,.0f} "
                f"(keep the top {self.best_rank / self.n * 100:.2g}% to keep it)",
            ),
            ("prune bottom half", f"keeps {self.prune_keep * 100:.1f}% of the true top 10%"),
            ("verdict", self.verdict),
        ]
        width = max(len(key) for key, _ in rows)
        return [f"{key:<{width}}  {value}" for key, value in rows]


def diagnose(
    estimate: ArrayLike,
    truth: ArrayLike,
    *,
    higher_is_better: bool = True,
    ks: Sequence[float] = (0.01, 0.05, 0.10),
    n_boot: int = 200,
    seed: int = 0,
) -> Diagnosis:
    """Judge ``estimate`` as an estimator of ``truth`` (higher truth is better).

    The verdict reads three things: Kendall's tau (well >= 0.6, moderately >= 0.4,
    weakly >= 0.2, backwards <= -0.2), the share of the true top 10 % kept when the
    estimator's bottom half is pruned (safe >= 95 %, small loss >= 80 %), and the true
    rank of its top pick (the best; within the top 0.1 %; within the top 1 %).

    Args:
        estimate: the estimator's score of each architecture.
        truth: the ground truth of the same architectures, in the same order.
        higher_is_better: False when a lower estimate predicts a better architecture.
        ks: shares of the architectures (0 < share <= 1) for the top-k overlaps.
        n_boot: bootstrap resamples for the interval of Kendall's tau.
        seed: seeds the bootstrap.

    Raises:
        ConfigError: arrays of different shapes, fewer than 3 finite pairs, or a share
            outside (0, 1].
    """
    est, tru = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if est.ndim != 1 or est.shape != tru.shape:
        raise ConfigError(
            f"estimate: expected a 1-d array shaped like truth {tru.shape}, got {est.shape}"
        )
    keep = np.isfinite(est) & np.isfinite(tru)
    est, tru = est[keep], tru[keep]
    n = len(est)
    if n < 3:
        raise ConfigError(f"estimate: needs at least 3 finite pairs with truth, got {n}")
    bad = [s for s in ks if not 0 < s <= 1]
    if bad:
        raise ConfigError(f"ks: shares must be in (0, 1], got {bad[0]!r}")
    if not higher_is_better:
        est = -est
    tau = fast_kendall_tau(est, tru)
    rank_truth = _competition_rank(tru)
    picks = est == est.max()
    best = tru == tru.max()
    est_rank = _average_rank(-est)  # 1: the estimator's best
    good = _membership(tru, max(1, round(_GOOD_SHARE * n)))
    half = _membership(est, max(1, n // 2))
    top_k = tuple(_top_k(est, tru, share) for share in ks)
    prune_keep = float(np.dot(good, half) / good.sum())
    pick_rank = float(rank_truth[picks].mean())
    diagnosis = Diagnosis(
        n=n,
        n_dropped=int((~keep).sum()),
        spearman=_pearson(_average_rank(est), _average_rank(tru)),
        kendall=tau,
        kendall_ci=_bootstrap_tau(est, tru, n_boot, seed),
        top_k=top_k,
        pick_rank=pick_rank,
        pick_regret=float(tru.max() - tru[picks].mean()),
        n_tied_picks=int(picks.sum()),
        best_rank=float(est_rank[best].mean()),
        prune_keep=prune_keep,
        verdict="",
    )
    return _with_verdict(diagnosis)


# -- verdict -----------------------------------------------------------------------
def _with_verdict(d: Diagnosis) -> Diagnosis:
    """``d`` with its plain-language verdict filled in."""
    if d.kendall <= -0.2:
        overall = (
            f"ranks backwards (tau {d.kendall:.2f}): is a lower score better? "
            "(pass higher_is_better=False / --lower-is-better)"
        )
        return _replace_verdict(d, overall)
    strength = "well" if d.kendall >= 0.6 else "moderately" if d.kendall >= 0.4 else "weakly"
    overall = f"ranks {strength} overall (tau {d.kendall:.2f})"
    if d.kendall < 0.2:
        overall = f"barely ranks at all (tau {d.kendall:.2f})"
    keeps = f"keeps {d.prune_keep * 100:.0f}% of the true top 10%"
    if d.prune_keep >= 0.95:
        prune = f"safe for pruning the bottom half ({keeps})"
    elif d.prune_keep >= 0.8:
        prune = f"can prune the bottom half at a small loss ({keeps})"
    else:
        prune = f"not even for pruning the bottom half ({keeps})"
    top_share = d.pick_rank / d.n
    where = f"its top pick has true rank {d.pick_rank:,.0f} of {d.n:,}"
    if d.pick_rank == 1:
        pick = f"picks the best ({where})"
    elif d.pick_rank <= max(1.0, 0.001 * d.n):
        pick = f"good for picking a top cell ({where}, regret {d.pick_regret:.2f})"
    elif top_share <= 0.01:
        pick = f"picks near the top, not the best ({where}, regret {d.pick_regret:.2f})"
    else:
        pick = f"not for picking the best ({where}, regret {d.pick_regret:.2f})"
    return _replace_verdict(d, f"{overall}; {prune}; {pick}")


def _replace_verdict(d: Diagnosis, verdict: str) -> Diagnosis:
    return dataclasses.replace(d, verdict=verdict)


# -- statistics --------------------------------------------------------------------
def _average_rank(values: np.ndarray) -> np.ndarray:
    """Ranks from 1 in ascending order, ties given the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _competition_rank(values: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest value; tied values share the best rank of their group."""
    return len(values) - np.searchsorted(np.sort(values), values, side="right") + 1.0


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def _membership(values: np.ndarray, k: int) -> np.ndarray:
    """Probability that each item is in the top ``k`` when ties are broken at random."""
    threshold = np.sort(values)[len(values) - k]
    above = values > threshold
    tied = values == threshold
    share = (k - above.sum()) / tied.sum()
    return np.where(above, 1.0, np.where(tied, share, 0.0))


def _top_k(est: np.ndarray, tru: np.ndarray, share: float) -> TopK:
    k = max(1, round(share * len(est)))
    overlap = float(np.dot(_membership(est, k), _membership(tru, k)) / k)
    return TopK(share=share, k=k, overlap=overlap)


def _dense(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()


def _tied_pairs(codes: np.ndarray) -> int:
    counts = np.bincount(codes)
    return int((counts * (counts - 1) // 2).sum())


def fast_kendall_tau(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall's tau-b in O(n log^2 n) (Knight's algorithm with a vectorised merge sort).

    15,625 points take about 10 ms. Pairs with a non-finite value are dropped.

    Example:
        >>> fast_kendall_tau([1, 2, 3, 4], [10, 20, 40, 30])
        0.6666666666666666
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    xa, ya = _dense(a[keep]), _dense(b[keep])
    n = len(xa)
    order = np.lexsort((ya, xa))
    n0 = n * (n - 1) // 2
    n1, n2 = _tied_pairs(xa), _tied_pairs(ya)
    n3 = _tied_pairs(_dense(xa * (int(ya.max(initial=0)) + 1) + ya))
    discordant = _inversions(ya[order])
    concordant = n0 - n1 - n2 + n3 - discordant
    denom = np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float((concordant - discordant) / denom) if denom > 0 else float("nan")


def _inversions(seq: np.ndarray) -> int:
    """Pairs ``i < j`` with ``seq[i] > seq[j]``: bottom-up merge sort, one level at a time."""
    n = len(seq)
    values = seq.astype(np.int64)
    position = np.arange(n)
    total, width = 0, 1
    while width < n:
        block = position // (2 * width)
        is_left = position % (2 * width) < width
        key = block * n + values  # blocks in order, each sorted within: keys ascend per half
        left_keys, right_keys = key[is_left], key[~is_left]
        left_ends = np.searchsorted(block[is_left], block[~is_left], side="right")
        total += int((left_ends - np.searchsorted(left_keys, right_keys, side="right")).sum())
        values = np.sort(key) - block * n  # each block keeps its size, so positions hold
        width *= 2
    return total


def _bootstrap_tau(
    est: np.ndarray, tru: np.ndarray, n_boot: int, seed: int
) -> tuple[float, float]:
    if n_boot < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(n_boot):
        picked = rng.integers(0, len(est), len(est))
        taus.append(fast_kendall_tau(est[picked], tru[picked]))
    low, high = np.nanpercentile(taus, [2.5, 97.5])
    return (float(low), float(high))
