"""Predictors: fixed-size encodings, learning a toy ranking, determinism, ensembles."""

from __future__ import annotations

import random

import numpy as np
import pytest

from archsearch.errors import ConfigError
from archsearch.predictors import PREDICTORS, EnsemblePredictor, NeuralPredictor, kendall_tau
from archsearch.space import Choice, Space
from archsearch.spaces.nb201 import cell_from_index

CELLS = [cell_from_index(i) for i in random.Random(0).sample(range(15_625), 400)]


def toy_score(cell: dict[str, str]) -> float:
    """A synthetic target: 3x3 convs count, a 1x1 conv half, the output edges twice."""
    weight = {"nor_conv_3x3": 1.0, "nor_conv_1x1": 0.5}
    return sum(
        weight.get(op, 0.0) * (2 if edge.endswith("_3") else 1) for edge, op in cell.items()
    )


TRAIN, TEST = CELLS[:80], CELLS[80:]
TRAIN_Y = [toy_score(c) for c in TRAIN]
TEST_Y = [toy_score(c) for c in TEST]


@pytest.mark.parametrize(("model", "dim"), [("mlp", 64), ("gcn", 64), ("gates", 64)])
def test_encoders_give_fixed_size_encodings(model: str, dim: int) -> None:
    predictor = NeuralPredictor(model=model, epochs=1).fit(TRAIN[:8], TRAIN_Y[:8])
    assert predictor.embed(TEST[:5]).shape == (5, dim)
    assert predictor.predict(TEST[:5]).shape == (5,)


@pytest.mark.parametrize("model", ["mlp", "gcn", "gates"])
@pytest.mark.parametrize("loss", ["hinge", "mse"])
def test_each_encoder_learns_a_toy_ranking(model: str, loss: str) -> None:
    predictor = NeuralPredictor(model=model, loss=loss, epochs=60, seed=0).fit(TRAIN, TRAIN_Y)
    assert kendall_tau(predictor.predict(TEST), TEST_Y) > 0.5


def test_the_same_seed_gives_the_same_predictor() -> None:
    def predictions(seed: int) -> np.ndarray:
        return NeuralPredictor(epochs=5, seed=seed).fit(TRAIN, TRAIN_Y).predict(TEST)

    assert np.array_equal(predictions(1), predictions(1))
    assert not np.array_equal(predictions(1), predictions(2))


def test_mse_predictions_are_on_the_target_scale() -> None:
    predictor = NeuralPredictor(model="mlp", loss="mse", epochs=100).fit(TRAIN, TRAIN_Y)
    assert abs(float(np.mean(predictor.predict(TRAIN))) - float(np.mean(TRAIN_Y))) < 0.5


def test_ensemble_spread_is_the_uncertainty() -> None:
    ensemble = EnsemblePredictor(n_members=3, epochs=20).fit(TRAIN, TRAIN_Y)
    mean, std = ensemble.predict_with_std(TEST[:10])
    assert mean.shape == std.shape == (10,)
    assert np.all(std > 0)
    assert np.allclose(mean, ensemble.predict(TEST[:10]))


def test_mlp_works_on_a_flat_non_cell_space() -> None:
    space = Space({"a": Choice([1, 2, 3]), "b": Choice(["x", "y"])})
    configs = [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]
    scores = [a + (b == "y") * 0.5 for a in (1, 2, 3) for b in ("x", "y")]
    predictor = PREDICTORS["mlp"](space, epochs=80).fit(configs, scores)
    assert kendall_tau(predictor.predict(configs), scores) > 0.8


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "lstm"}, r"^model: unknown 'lstm'; allowed: gates, gcn, mlp"),
        ({"loss": "l1"}, r"^loss: unknown loss 'l1'; allowed: bce, hinge"),
        ({"epochs": 0}, r"^epochs: must be an integer >= 1, got 0"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NeuralPredictor(**options)  # type: ignore[arg-type]


def test_predict_before_fit_and_mismatched_data_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"^predict: the predictor has not been fitted"):
        NeuralPredictor().predict(TEST[:1])
    with pytest.raises(ConfigError, match=r"^fit: needs as many scores as configs"):
        NeuralPredictor().fit(TRAIN[:3], [1.0])
