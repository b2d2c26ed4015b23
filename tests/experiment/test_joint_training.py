"""Joint architecture + recipe search with real training: REA stores both parts of a config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.spaces import nb201_space
from archsearch.store import open_store
from archsearch.trial import TrialStatus


@pytest.fixture(scope="module")
def fashion(fake_fashion: Callable[..., Path]) -> Path:
    """A small Fashion-MNIST stand-in (8x8 images, learnable labels) in the IDX format."""
    return fake_fashion(size=8, n_train=96, n_test=32, seed=1)


def test_rea_over_nb201_and_recipes_trains_and_stores_both_parts(
    fashion: Path, tmp_path: Path
) -> None:
    spec = normalize_spec(
        {
            "space": {
                "name": "joint",
                "arch": "nb201",
                "recipe": {"name": "hpo", "epochs": [1, 2], "batch_size": [16, 32]},
            },
            "benchmark": {
                "name": "training",
                "space": "nb201",
                "dataset": "fashion_mnist",
                "path": str(fashion),
                "n_valid": 32,
                "epochs": 2,
                "device": "cpu",
                "n_threads": 1,
                "model": {"channels": 4, "n_cells": 1},
            },
            "strategy": {"name": "rea", "population_size": 3, "sample_size": 2},
            "budget": {"trials": 6},
            "seed": 4,
        }
    )
    store = open_store(f"sqlite:///{tmp_path / 'joint.db'}")
    summary = build_experiment(spec, store=store, name="joint").run()
    assert summary.n_trials == 6 and summary.n_failed == 0
    record = store.find_experiment("joint")
    assert record is not None
    trials = store.trials(record.id)
    assert len(trials) == 6
    arch_space = nb201_space()
    for trial in trials:
        assert trial.state is TrialStatus.COMPLETE
        assert set(trial.config) == {"arch", "recipe"}
        assert arch_space.validate(trial.config["arch"]) == trial.config["arch"]
        recipe = trial.config["recipe"]
        assert {"optimizer", "learning_rate", "batch_size", "epochs", "augment"} <= set(recipe)
        # the recipe part was used for training: its epochs, not the evaluator's
        assert trial.metrics["epochs"] == recipe["epochs"]
    assert (
        len({(t.config["recipe"]["epochs"], t.config["recipe"]["batch_size"]) for t in trials}) > 1
    )
