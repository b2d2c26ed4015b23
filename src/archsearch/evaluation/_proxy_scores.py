"""Zero-cost proxy scores that ship with archsearch, so that nobody recomputes them.

``tables/nb201_synflow_cifar10.npy`` holds SynFlow (Tanaka et al., NeurIPS 2020) of
all 15,625 NAS-Bench-201 cells, float64, in archsearch's cell-index order
(:func:`archsearch.spaces.nb201.arch_index`; :func:`~archsearch.spaces.nb201.cell_from_index`
goes back). Provenance: written by ``python benchmarks/zero_cost.py --out DIR
--export-synflow src/archsearch/evaluation/tables/nb201_synflow_cifar10.npy`` from that
script's cache, which :class:`~archsearch.evaluation.zero_cost.ZeroCostEvaluator`
filled by building every cell's full network (C=16, N=5, 10 classes) with seed-0
initial weights and scoring it at CIFAR-10 input size, 3x32x32, on an all-ones input
(SynFlow is data-free): 803 s on 2 processes of one thread. Spearman rho with the
200-epoch CIFAR-10 accuracy 0.734 (published 0.74). float64 because the scores reach
7e49, beyond float32; 341 cells score 0 (no path from input to output carries weight).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np

from archsearch.errors import DataError

__all__ = ["load_nb201_synflow"]

_N_CELLS = 15_625


def _default_path() -> Path:
    return Path(str(resources.files("archsearch.evaluation") / "tables")) / (
        "nb201_synflow_cifar10.npy"
    )


@functools.lru_cache(maxsize=2)
def load_nb201_synflow(path: str | None = None) -> np.ndarray:
    """SynFlow of every NB201 cell by archsearch cell index (read-only, cached).

    Args:
        path: an alternative file in the same format (None: the shipped one).

    Raises:
        DataError: the file is missing or is not 15,625 finite float scores.

    Example:
        >>> from archsearch.spaces.nb201 import arch_index, from_arch_str
        >>> scores = load_nb201_synflow()
        >>> cell = from_arch_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
        ...                      "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> len(scores), bool(scores[arch_index(cell)] > 1e40)
        (15625, True)
    """
    file = Path(path) if path else _default_path()
    if not file.is_file():
        raise DataError(
            f"{file}: SynFlow scores not found; write them with "
            "benchmarks/zero_cost.py --export-synflow"
        )
    try:
        scores: np.ndarray = np.asarray(np.load(file, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: not a readable .npy file ({exc})") from None
    if scores.shape != (_N_CELLS,) or not np.all(np.isfinite(scores)):
        raise DataError(f"{file}: expected {_N_CELLS:,} finite scores, got shape {scores.shape}")
    scores = scores.astype(np.float64)
    scores.setflags(write=False)
    return scores
