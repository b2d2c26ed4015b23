"""The supernet as an estimator: inherited accuracy against a ground-truth table.

:func:`rank_supernet` scores every cell of a :class:`~archsearch.bench.BenchTable`
with a search's :attr:`OneShotResult.estimator` (the trained supernet's weights, no
training of the cell), and compares the scores with the table's accuracies:
Kendall's tau and precision at the top K (the share of the truly best K among the
supernet's best K). :func:`write_scores` saves the scores as ``{arch_str: score}`` JSON,
the ``file:PATH`` input of ``archsearch diagnose``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.predictors import kendall_tau

__all__ = ["Ranking", "precision_at_k", "rank_supernet", "write_scores"]


@dataclass(frozen=True)
class Ranking:
    """How well inherited accuracies rank the table's cells.

    Attributes:
        n: cells scored.
        kendall_tau: Kendall's tau-b of inherited accuracy against the truth.
        precision: ``{K: share of the truth's top K in the supernet's top K}``.
        scores: ``{arch_str: inherited accuracy}`` in the table's order.
        diagnosis: :func:`archsearch.analysis.diagnose`'s JSON when that function exists.
    """

    n: int
    kendall_tau: float
    precision: dict[int, float]
    scores: dict[str, float]
    diagnosis: dict[str, Any] | None = field(default=None, repr=False)


def precision_at_k(estimate: Sequence[float], truth: Sequence[float], k: int) -> float:
    """``|top_k(estimate) & top_k(truth)| / k`` (ties broken by position).

    Example:
        >>> precision_at_k([1, 2, 3, 4], [1, 2, 4, 3], 2)
        1.0
    """
    est, tru = np.asarray(estimate, dtype=float), np.asarray(truth, dtype=float)
    if not 1 <= k <= len(est):
        raise ConfigError(f"k: must be in [1, {len(est)}], got {k}")
    top_est = set(np.argsort(-est, kind="stable")[:k].tolist())
    top_tru = set(np.argsort(-tru, kind="stable")[:k].tolist())
    return len(top_est & top_tru) / k


def rank_supernet(
    estimator: Callable[[Any], float],
    configs: Sequence[Any],
    arch_strs: Sequence[str],
    truth: Sequence[float],
    *,
    ks: Sequence[int] = (5, 10),
) -> Ranking:
    """Score ``configs`` with ``estimator`` and compare with ``truth`` (same order).

    Raises:
        ConfigError: when the lengths differ or there are fewer than 3 cells.
    """
    if not len(configs) == len(arch_strs) == len(truth):
        raise ConfigError(
            f"truth: {len(truth)} accuracies for {len(configs)} configs; give one each"
        )
    if len(configs) < 3:
        raise ConfigError(f"truth: needs at least 3 cells, got {len(configs)}")
    scores = [float(estimator(config)) for config in configs]
    precision = {k: precision_at_k(scores, truth, k) for k in ks if k <= len(scores)}
    return Ranking(
        n=len(scores),
        kendall_tau=kendall_tau(scores, list(truth)),
        precision=precision,
        scores=dict(zip(arch_strs, scores, strict=True)),
        diagnosis=_project_diagnosis(scores, truth),
    )


def _project_diagnosis(scores: Sequence[float], truth: Sequence[float]) -> dict[str, Any] | None:
    """``archsearch.analysis.diagnose`` of the scores, when the project has it."""
    try:
        from archsearch.analysis import diagnose
    except ImportError:  # built by another part of the project; optional here
        return None
    result: dict[str, Any] = diagnose(list(scores), list(truth)).to_json()
    return result


def write_scores(scores: dict[str, float], path: str | Path) -> Path:
    """Write ``{arch_str: score}`` as JSON (``archsearch diagnose file:PATH`` reads it).

    Raises:
        ConfigError: when the file cannot be written.
    """
    target = Path(path)
    try:
        target.write_text(json.dumps(scores, indent=1) + "\n")
    except OSError as exc:
        raise ConfigError(f"scores: cannot write {target}: {exc.strerror}") from None
    return target
