"""The quantisation benchmark: train once, quantise per trial, report accuracy and size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.models.cnn import cnn_model
from archsearch.quantisation import QuantisationEvaluator, model_size_bits
from archsearch.registry import BENCHMARKS
from archsearch.trial import Candidate, Result

ARCH: dict[str, Any] = {
    "stages": [
        {"n_layers": 2, "width": 8, "kernel": 3},
        {"n_layers": 1, "width": 8, "kernel": 3},
    ]
}


@pytest.fixture(scope="module")
def fashion(fake_fashion: Callable[..., Path]) -> Path:
    return fake_fashion(size=8, n_train=448, n_test=48, seed=2)


def settings(fashion: Path, **extra: Any) -> dict[str, Any]:
    return {
        "arch": ARCH,
        "dataset": "fashion_mnist",
        "path": str(fashion),
        "n_valid": 48,
        "recipe": {"name": "adamw", "batch_size": 32, "learning_rate": 0.01, "augment": False},
        "epochs": 10,
        "device": "cpu",
        "n_threads": 1,
        "calibration_batches": 2,
        "calibration_batch_size": 32,
        **extra,
    }


def test_end_to_end_trains_once_and_quantises_each_policy(fashion: Path) -> None:
    evaluator = QuantisationEvaluator(**settings(fashion, report_test=True))
    fits = []
    fit = evaluator._trainer.fit
    evaluator._trainer.fit = lambda *a, **k: fits.append(1) or fit(*a, **k)  # type: ignore[method-assign]
    at_32 = evaluator.evaluate({"bits": [32] * 4}).metrics
    at_8 = evaluator.evaluate({"bits": [8] * 4}).metrics
    at_2 = evaluator.evaluate({"bits": [2] * 4}).metrics
    assert len(fits) == 1  # the float model is trained once and reused
    assert at_32["float_valid_accuracy"] > 50  # learnable labels (chance: 10): it learnt
    assert at_32["valid_accuracy"] == at_32["float_valid_accuracy"]  # 32 bits is float
    assert at_32["test_accuracy"] == at_32["float_test_accuracy"]
    assert at_2["valid_accuracy"] < at_8["valid_accuracy"]
    model = cnn_model(ARCH, in_channels=1)
    assert at_8["size_bits"] == model_size_bits(model, [8] * 4)
    assert at_8["size_kib"] == at_8["size_bits"] / 8192
    assert at_32["size_kib"] == at_32["float_size_kib"] > at_8["size_kib"] > at_2["size_kib"]
    assert at_8["mean_weight_bits"] == 8.0
    assert at_8["n_params"] == sum(p.numel() for p in model.parameters())


def test_stage_bits_equal_their_per_layer_policy(fashion: Path) -> None:
    evaluator = QuantisationEvaluator(**settings(fashion, arch=None))
    by_stage = evaluator.evaluate({"arch": ARCH, "stage_bits": [4, 8, 16]})
    by_layer = evaluator.evaluate({"arch": ARCH, "bits": [4, 4, 8, 16]})
    assert by_stage.metrics == by_layer.metrics


def test_a_checkpoint_dir_reuses_the_trained_model_across_evaluators(
    fashion: Path, tmp_path: Path
) -> None:
    options = settings(fashion, checkpoint_dir=str(tmp_path), activation_bits=8)
    first = QuantisationEvaluator(**options).evaluate({"bits": [4, 8, 8, 4]})
    second = QuantisationEvaluator(**options).evaluate({"bits": [4, 8, 8, 4]})
    assert first.metrics == second.metrics
    assert len(list(tmp_path.iterdir())) == 1


def test_bad_configs_name_the_field(fashion: Path) -> None:
    evaluator = QuantisationEvaluator(**settings(fashion))
    with pytest.raises(ConfigError, match="bits: expected 4 entries, one per Conv2d/Linear"):
        evaluator.evaluate({"bits": [8, 8]})
    with pytest.raises(ConfigError, match=r"stage_bits: expected 3 entries"):
        evaluator.evaluate({"stage_bits": [8, 8]})
    with pytest.raises(ConfigError, match=r"stage_bits\[1\]: bit width"):
        evaluator.evaluate({"stage_bits": [8, 7.5, 8]})
    with pytest.raises(ConfigError, match="bitz: unknown config key"):
        evaluator.evaluate({"bitz": [8] * 4})
    with pytest.raises(ConfigError, match="bits: give exactly one of bits"):
        evaluator.evaluate({"arch": ARCH})
    with pytest.raises(ConfigError, match="arch: none given"):
        QuantisationEvaluator(**settings(fashion, arch=None)).evaluate({"bits": [8] * 4})
    with pytest.raises(ConfigError, match="activation_bits: bit width"):
        QuantisationEvaluator(activation_bits=3.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="calibration_batches: must be an integer >= 1"):
        QuantisationEvaluator(calibration_batches=0)


def test_a_multi_objective_search_runs_through_the_experiment_machinery(fashion: Path) -> None:
    assert BENCHMARKS["quantisation"] is QuantisationEvaluator
    seen: list[tuple[float, ...]] = []

    def collect(candidate: Candidate, result: Result, clock: float) -> None:
        assert result.scores is not None
        seen.append(result.scores)

    spec = normalize_spec(
        {
            "space": {"name": "quantisation", "arch": ARCH, "bits": [2, 4, 8]},
            "benchmark": {"name": "quantisation", **settings(fashion, activation_bits=8)},
            "strategy": {"name": "nsga2", "population_size": 4},
            "objective": {"metrics": {"valid_accuracy": "max", "size_kib": "min"}},
            "budget": {"trials": 6},
            "seed": 0,
        }
    )
    build_experiment(spec, store=None, name="quant", on_trial_end=collect).run()
    assert len(seen) == 6
    assert all(0 <= acc <= 100 and size < 0 for acc, size in seen)  # size is minimised
