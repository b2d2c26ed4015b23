"""The supernet as an estimator: ranking numbers and the scores file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.oneshot import RSPS, precision_at_k, rank_supernet, write_scores
from archsearch.spaces.nb201 import OPS, nb201_space, to_arch_str

from .conftest import NB201_TINY, tiny


def test_precision_at_k_counts_the_shared_top_k() -> None:
    assert precision_at_k([4, 3, 2, 1], [1, 2, 3, 4], 2) == 0.0
    assert precision_at_k([1, 2, 3, 4], [10, 20, 40, 30], 2) == 1.0
    with pytest.raises(ConfigError, match="k: must be in"):
        precision_at_k([1, 2], [1, 2], 3)


def _cells(n: int) -> list[dict[str, Any]]:
    import random

    rng = random.Random(0)
    return [nb201_space().sample(rng) for _ in range(n)]


def test_rank_supernet_scores_cells_with_the_trained_supernet(
    fmnist: Dataset, tmp_path: Path
) -> None:
    result = RSPS("nb201", model=NB201_TINY, n_candidates=2, n_probe=1, **tiny()).search(
        fmnist, device="cpu"
    )
    assert result.estimator is not None
    configs = _cells(6)
    arch_strs = [to_arch_str(c) for c in configs]
    truth = [float(sum(OPS.index(op) for op in c.values())) for c in configs]
    ranking = rank_supernet(result.estimator, configs, arch_strs, truth, ks=(2, 3))
    assert ranking.n == 6 and set(ranking.precision) == {2, 3}
    assert -1.0 <= ranking.kendall_tau <= 1.0
    assert list(ranking.scores) == arch_strs
    path = write_scores(ranking.scores, tmp_path / "scores.json")
    assert json.loads(path.read_text()) == ranking.scores


def test_rank_supernet_needs_one_truth_per_config() -> None:
    with pytest.raises(ConfigError, match="truth: 2 accuracies for 3 configs"):
        rank_supernet(lambda c: 0.0, _cells(3), ["a", "b", "c"], [1.0, 2.0])
