"""Transformers through the evaluators: cost on token inputs, training on token data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.data import DATASETS, RawData
from archsearch.errors import ConfigError
from archsearch.evaluation import CostEvaluator, count_macs
from archsearch.evaluation._training import ModelBuilder, TrainingEvaluator
from archsearch.models import build_model
from archsearch.spaces.transformer import transformer_space
from archsearch.spaces.vit import vit_space
from archsearch.training import Recipe
from archsearch.trial import TrialStatus

HIDDEN, N_CLASSES = 16, 10


def _layer(op: str) -> dict[str, Any]:
    extra = {"attention": {"heads": 2}, "conv": {"kernel": 3}}.get(op, {})
    return {"op": op, **extra, "hidden": HIDDEN, "ff": 32}


def _config(op: str, pooling: str = "mean") -> dict[str, Any]:
    return {"pooling": pooling, "n_layers": 1, "layer_0": _layer(op)}


def _macs(op: str, max_len: int) -> int:
    model = build_model("transformer", _config(op), vocab_size=100, max_len=max_len)
    return count_macs(model, model.example_input(1))


def _cost(max_len: int, op: str = "attention", **options: Any) -> dict[str, float]:
    evaluator = CostEvaluator(
        space="transformer",
        input_shape=None,
        model_options={"vocab_size": 100, "max_len": max_len},
        **options,
    )
    return dict(evaluator.evaluate(_config(op)).metrics)


def test_cost_of_a_transformer_config() -> None:
    metrics = _cost(16, measure=True, repeats=3)
    model = build_model("transformer", _config("attention"), vocab_size=100, max_len=16)
    assert metrics["params_m"] * 1e6 == sum(p.numel() for p in model.parameters())
    assert metrics["flops_m"] > 0 and metrics["latency_ms"] > 0


def test_attention_macs_grow_quadratically_with_the_sequence_length() -> None:
    """Scores and values cost ``2 * N^2 * hidden``; all else is linear in N but the
    classifier (``hidden * classes``, once)."""
    for op in ("attention", "conv", "linear"):
        small, large = _macs(op, 16), _macs(op, 32)
        assert large > small > 0
        quadratic = {"attention": 2 * HIDDEN, "linear": HIDDEN}.get(op, 0)  # per N^2
        assert large - 2 * small == quadratic * (32**2 - 2 * 16**2) - HIDDEN * N_CLASSES
    assert _cost(32)["flops_m"] == pytest.approx(_macs("attention", 32) / 1e6)


def test_fourier_mixing_counts_its_ffts() -> None:
    n = 16 * HIDDEN  # one 2-D FFT of 16 tokens x 16 features per sequence
    fft_macs = 5 * n * int(np.log2(n)) // 2  # 5 n log2 n FLOPs
    token_linear_macs = 16 * 16 * HIDDEN  # a 16 x 16 map per feature (bias adds not counted)
    assert _macs("fourier", 16) - _macs("linear", 16) == fft_macs - token_linear_macs


def test_image_cost_is_unchanged_and_vit_takes_the_image_shape() -> None:
    config = vit_space().sample(seed=0)
    metrics = CostEvaluator(space="vit", input_shape=(1, 28, 28)).evaluate(config).metrics
    assert metrics["flops_m"] > 0
    with pytest.raises(ConfigError, match=r"input_shape: None needs a model with example_input"):
        CostEvaluator(space="vit", input_shape=None).evaluate(config)
    with pytest.raises(ConfigError, match=r"input_shape: expected \(channels, height, width\)"):
        CostEvaluator(space="vit", input_shape=(28, 28))


# -- training -------------------------------------------------------------------------
def _token_data(path: Any = None, n: int = 240, length: int = 12) -> RawData:
    """Synthetic token sequences: class 1 holds token 7 somewhere, class 0 never does."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    tokens = rng.integers(2, 7, (n, length))
    tokens[:, length - 3 :] = 0  # padding
    tokens[labels == 1, rng.integers(0, length - 3, int(labels.sum()))] = 7
    return RawData(
        tokens.astype(np.int64),
        labels.astype(np.int64),
        None,
        None,
        num_classes=2,
        n_valid=60,
        n_test=60,
        model_options={"vocab_size": 8, "max_len": length},
    )


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(DATASETS._entries, "test_tokens", _token_data)
    return "test_tokens"


def _evaluator(space: str, dataset: str, epochs: int, **options: Any) -> TrainingEvaluator:
    recipe = Recipe("adamw", 3e-3, 0.01, 32, epochs, augment=False)
    settings = {"recipe": recipe, "device": "cpu", "n_threads": 1, "report_test": True}
    return TrainingEvaluator(ModelBuilder(space), dataset=dataset, **{**settings, **options})


def test_sampled_text_configs_train_end_to_end(tokens: str) -> None:
    evaluator = _evaluator("transformer", tokens, epochs=2)
    space = transformer_space(max_layers=2, hidden_sizes=[8, 16], ff_sizes=[16])
    for seed in range(3):
        config = space.sample(seed=seed)
        result = evaluator.evaluate(config, 2.0)
        assert result.status is TrialStatus.COMPLETE
        assert len(result.curve or []) == 2 and result.metrics["epochs"] == 2.0
        assert 0 <= result.metrics["test_accuracy"] <= 100
        built = build_model("transformer", config, vocab_size=8, max_len=12, n_classes=2)
        assert result.metrics["n_params"] == sum(p.numel() for p in built.parameters())


def test_an_attention_model_learns_the_token_task(tokens: str) -> None:
    evaluator = _evaluator("transformer", tokens, epochs=12)
    result = evaluator.evaluate(_config("attention", pooling="cls"))
    assert result.metrics["valid_accuracy"] > 90.0 and result.metrics["test_accuracy"] > 85.0


def test_a_vit_trains_on_images(fake_fashion: Callable[..., Path]) -> None:
    path = fake_fashion(size=28, n_train=96, n_test=32, seed=0)
    evaluator = _evaluator("vit", "fashion_mnist", epochs=1, path=str(path), n_valid=32)
    result = evaluator.evaluate({"patch": 7, **_config("conv", pooling="cls")})
    assert result.metrics["epochs"] == 1.0 and 0 <= result.metrics["valid_accuracy"] <= 100
