"""The training evaluator: plain and joint configs, fidelities, resumption, pickling."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.evaluation._training import TrainingEvaluator, _resolve_build, training_evaluator
from archsearch.space import Choice, Space
from archsearch.spaces.hpo import hpo_space, joint_space
from archsearch.training import Recipe
from archsearch.trial import FailureKind, TrialStatus

RECIPE = Recipe(batch_size=32, epochs=3, learning_rate=0.05)


def build(arch: Any) -> nn.Module:
    """A tiny classifier of 1x6x6 images into 10 classes; ``arch["width"]`` channels."""
    width = arch["width"] if arch else 4
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


@pytest.fixture(scope="module")
def fashion(fake_fashion: Callable[..., Path]) -> Path:
    """A small fake Fashion-MNIST (6x6 images, learnable labels) in the IDX format."""
    return fake_fashion(size=6, n_train=128, n_test=32, seed=0)


def _evaluator(fashion: Path, **options: Any) -> TrainingEvaluator:
    settings: dict[str, Any] = {"dataset": "fashion_mnist", "path": str(fashion), "n_valid": 32}
    settings.update({"recipe": RECIPE, "device": "cpu", "n_threads": 1, **options})
    return TrainingEvaluator(build, **settings)


def _timeless(metrics: Any) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k != "train_time_s"}


def test_a_plain_config_is_trained_for_its_fidelity(fashion: Path) -> None:
    evaluator = _evaluator(fashion)
    assert evaluator.default_fidelity == 3.0 and evaluator.fidelities == (1.0, 2.0, 3.0)
    result = evaluator.evaluate({"width": 2}, 2.0)
    assert result.status is TrialStatus.COMPLETE and len(result.curve or []) == 2
    assert result.metrics["epochs"] == 2.0 and result.cost_s > 0
    assert len(evaluator.evaluate({"width": 2}).curve or []) == 3


def test_the_same_config_gives_the_same_result(fashion: Path) -> None:
    first = _evaluator(fashion, seed=1).evaluate({"width": 4}, 2)
    again = _evaluator(fashion, seed=1).evaluate({"width": 4}, 2)
    assert _timeless(first.metrics) == _timeless(again.metrics)


def test_joint_configs_train_with_their_own_recipe(fashion: Path) -> None:
    recipes = hpo_space(learning_rate=(1e-3, 0.1), batch_size=32, epochs=[1, 2])
    space = joint_space(Space({"width": Choice([2, 4])}), recipes)
    evaluator = _evaluator(fashion)
    for seed in range(3):
        config = space.sample(seed=seed)
        result = evaluator.evaluate(config, 3)  # beyond the config's epochs: cut to them
        assert result.status is TrialStatus.COMPLETE, result.error
        assert len(result.curve or []) == config["recipe"]["epochs"]


def test_a_recipe_only_config_uses_the_default_architecture(fashion: Path) -> None:
    result = _evaluator(fashion).evaluate({"recipe": {"epochs": 1, "augment": False}})
    assert result.status is TrialStatus.COMPLETE and result.metrics["n_params"] == 98


def test_promotion_resumes_from_the_checkpoint(fashion: Path, tmp_path: Path) -> None:
    evaluator = _evaluator(fashion, checkpoint_dir=tmp_path)
    config = {"width": 4}
    evaluator.evaluate(config, 1)
    resumed = evaluator.evaluate(config, 3)
    straight = _evaluator(fashion).evaluate(config, 3)
    assert _timeless(resumed.metrics) == _timeless(straight.metrics)
    assert resumed.curve == straight.curve
    folder = tmp_path / evaluator.run_key(config)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch_0001.pt", "epoch_0003.pt"]


def test_a_diverging_config_fails_with_kind_nan(fashion: Path) -> None:
    evaluator = _evaluator(fashion, recipe=Recipe(batch_size=32, epochs=2, learning_rate=1e6))
    result = evaluator.evaluate({"width": 4})
    assert result.status is TrialStatus.FAILED and result.failure is FailureKind.NAN
    assert "loss at epoch" in (result.error or "")


def test_test_accuracy_only_when_asked(fashion: Path) -> None:
    assert "test_accuracy" not in _evaluator(fashion).evaluate({"width": 2}, 1).metrics
    tested = _evaluator(fashion, report_test=True).evaluate({"width": 2}, 1)
    assert 0.0 <= tested.metrics["test_accuracy"] <= 100.0


def test_the_evaluator_pickles_without_its_data(fashion: Path) -> None:
    evaluator = _evaluator(fashion)
    first = evaluator.evaluate({"width": 2}, 1)
    assert evaluator._data is not None
    clone = pickle.loads(pickle.dumps(evaluator))
    assert clone._data is None and clone._build is None
    assert _timeless(clone.evaluate({"width": 2}, 1).metrics) == _timeless(first.metrics)


def test_bad_builders_and_fidelities_are_config_errors(fashion: Path) -> None:
    with pytest.raises(ConfigError, match="build: must be picklable for process workers"):
        TrainingEvaluator(lambda arch: build(arch), device="cpu")
    with pytest.raises(ConfigError, match="build: expected 'package.module:function'"):
        _resolve_build("no_colon")
    assert _resolve_build("torch.nn.functional:relu") is torch.nn.functional.relu
    with pytest.raises(ConfigError, match=r"fidelity: epochs must be a whole number in \[1, 3\]"):
        _evaluator(fashion).evaluate({"width": 2}, 2.5)


def test_training_evaluator_builds_models_of_a_registered_space(fashion: Path) -> None:
    from archsearch.spaces.nb201 import nb201_space

    evaluator = training_evaluator(
        space="nb201",
        dataset="fashion_mnist",
        path=str(fashion),
        n_valid=32,
        recipe="nb201",
        epochs=1,
        device="cpu",
        n_threads=1,
        model={"channels": 4, "n_cells": 1},
    )
    evaluator.recipe = Recipe(batch_size=64, epochs=1)
    result = evaluator.evaluate(nb201_space().sample(seed=0))
    assert result.status is TrialStatus.COMPLETE, result.error
    assert result.metrics["n_params"] > 0
