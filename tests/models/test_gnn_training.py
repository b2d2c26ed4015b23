"""GNN configs trained end to end through TrainingEvaluator on superpixel graphs of squares."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from archsearch.data import _graphs as graphs
from archsearch.evaluation._training import ModelBuilder, TrainingEvaluator
from archsearch.spaces.gnn import gnn_space
from archsearch.training import Recipe
from archsearch.trial import TrialStatus

GCN = {"attention": "gcn", "aggregation": "sum", "heads": 1, "hidden": 16,
       "activation": "relu"}  # fmt: skip


def fake_squares(folder: Path, n_train: int, n_test: int) -> Path:
    """Fashion-MNIST's IDX files holding 28x28 images of one bright square, small (6
    pixels, label 0) or large (14, label 1), of random brightness at a random place."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = np.zeros((n, 28, 28), np.uint8), np.arange(n, dtype=np.uint8) % 2
        for i in range(n):
            side = 14 if labels[i] else 6
            a, b = rng.integers(0, 28 - side, size=2)
            images[i, a : a + side, b : b + side] = rng.integers(120, 255)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(
                gzip.compress(header + array.tobytes())
            )
    return folder


@pytest.fixture
def evaluator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainingEvaluator:
    monkeypatch.setenv(graphs.CACHE_ENV, str(tmp_path / "cache"))
    return TrainingEvaluator(
        ModelBuilder("gnn"),
        dataset="fashion_mnist_superpixels",
        path=fake_squares(tmp_path / "fashion", n_train=200, n_test=60),
        n_valid=40,
        recipe=Recipe("adamw", 0.01, 0.0, 32, 30),
        device="cpu",
        report_test=True,
    )


def test_a_sampled_config_trains_to_finite_metrics(evaluator: TrainingEvaluator) -> None:
    config = gnn_space(max_layers=2, hidden=[8]).sample(seed=3)
    result = evaluator.evaluate(config, fidelity=2)
    assert result.status is TrialStatus.COMPLETE
    assert 0.0 <= result.metrics["valid_accuracy"] <= 100.0
    assert result.metrics["n_params"] > 0 and len(result.curve) == 2


def test_a_gcn_tells_small_from_large_squares(evaluator: TrainingEvaluator) -> None:
    config = {"n_layers": 2, "layer_1": GCN, "layer_2": GCN, "skip": "none", "norm": "none",
              "readout": "sum"}  # fmt: skip
    result = evaluator.evaluate(config)
    # chance is 50 %: the GCN must see the size of the graph
    assert result.metrics["valid_accuracy"] > 80.0 and result.metrics["test_accuracy"] > 80.0
