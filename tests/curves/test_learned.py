"""The learned curve model: features, training, and that it beats the last value."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.curves import LastValue, LearnedCurveModel, extrapolation_quality, spearman
from archsearch.curves._learned import curve_features, pad
from archsearch.errors import ConfigError

N_STEPS = 30


def synthetic(n: int, seed: int) -> np.ndarray:
    """Saturating curves (power laws and exponentials) with noise, one value per step."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, N_STEPS + 1, dtype=float)
    top = rng.uniform(50, 95, (n, 1))
    start = rng.uniform(10, 40, (n, 1))
    power = top - (top - start) * x ** -rng.uniform(0.2, 1.5, (n, 1))
    rate = rng.uniform(0.03, 0.4, (n, 1))
    exponential = top - (top - start) * np.exp(-rate * (x - 1))
    curves = np.where(rng.random((n, 1)) < 0.5, power, exponential)
    return curves + rng.normal(0, 0.3, curves.shape)


@pytest.fixture(scope="module")
def model() -> LearnedCurveModel:
    return LearnedCurveModel.train(synthetic(600, seed=0), scale=100, epochs=40, seed=0)


def test_the_learned_model_beats_the_last_value_on_held_out_curves(
    model: LearnedCurveModel,
) -> None:
    held_out = synthetic(300, seed=1)
    for seen in (3, 8):
        learned = extrapolation_quality(model, held_out, seen)
        last = extrapolation_quality(LastValue(), held_out, seen)
        assert learned["mae"] < 0.6 * last["mae"]
        assert learned["spearman"] > last["spearman"]
        assert learned["coverage"] > 0.8


def test_sparse_observations_give_sensible_predictions(model: LearnedCurveModel) -> None:
    held_out = synthetic(200, seed=2)
    ladder = [3.0, 6.0, 12.0]  # rungs only, as a strategy without curves sees them
    curves = [(ladder, row[[2, 5, 11]].tolist()) for row in held_out]
    mean, std = model.predict_curves(curves, [N_STEPS] * len(curves), final_step=N_STEPS)
    assert spearman(mean, held_out[:, -1]) > 0.9
    assert np.all(std > 0)


def test_training_is_seeded_and_the_state_round_trips(model: LearnedCurveModel) -> None:
    curves = [([1.0, 2.0, 3.0], [20.0, 30.0, 35.0])]

    def answer(m: LearnedCurveModel) -> list[float]:
        return [float(v[0]) for v in m.predict_curves(curves, [30], final_step=30)]

    again = LearnedCurveModel.train(synthetic(600, seed=0), scale=100, epochs=40, seed=0)
    assert answer(again) == answer(model)
    restored = LearnedCurveModel.from_state_dict(json.loads(json.dumps(model.state_dict())))
    assert answer(restored) == answer(model)


def test_features_read_the_last_value_at_or_before_each_fraction() -> None:
    steps, values, counts = pad([([2.0, 4.0, 10.0], [10.0, 20.0, 40.0])])
    x = curve_features(steps, values, counts, np.array([20.0]), final_step=20, scale=100)
    assert x[0, :4] == pytest.approx([0.4, 0.5, 1.0, np.log(2)])
    # fractions 0.1..0.9 of step 10: steps 1 (before the first: its value), 2, 3, 4.5, 6,
    # 7.5, 9 -> values 10, 10, 10, 20, 20, 20, 20, each less the last (40), over 100
    assert x[0, 4:11] == pytest.approx([-0.3, -0.3, -0.3, -0.2, -0.2, -0.2, -0.2])


def test_bad_training_curves_are_refused() -> None:
    with pytest.raises(ConfigError, match="curves: expected a finite"):
        LearnedCurveModel.train(np.ones((5, 1)))
    with pytest.raises(ConfigError, match="targets: 1 given for 2 curves"):
        LearnedCurveModel().predict_curves([([1], [1]), ([1], [2])], [5], final_step=5)


def test_an_lcbench_model_never_sees_its_held_out_task() -> None:
    from archsearch.curves import lcbench_curve_model, lcbench_curves

    model = lcbench_curve_model(exclude="3945", n_configs=30, epochs=30)
    held_out = lcbench_curves("3945", n_configs=60, seed=1)
    learned = extrapolation_quality(model, held_out, 5)
    last = extrapolation_quality(LastValue(), held_out, 5)
    assert learned["mae"] < last["mae"]
    with pytest.raises(ConfigError, match="exclude: unknown LCBench tasks"):
        lcbench_curve_model(exclude="no-such-task")


def test_lcbench_config_prior_ranks_configs_of_a_task_it_never_saw() -> None:
    """Learned on the other tasks, the prior's order agrees with the held-out task's finals."""
    from archsearch.curves import lcbench_config_prior, lcbench_curves, spearman
    from archsearch.curves._lcbench import _configs

    prior = lcbench_config_prior(exclude="167181", n_configs=100)
    held_out = lcbench_curves("167181", n_configs=100, seed=1)[:, -1]
    rho = spearman(prior.score(_configs(100, 1)), held_out)
    assert rho > 0.3  # random scores: about 0 (+-0.1)
    with pytest.raises(ConfigError, match="exclude: unknown LCBench tasks"):
        lcbench_config_prior(exclude="no-such-task")
    with pytest.raises(ConfigError, match="bandwidth: must be > 0"):
        lcbench_config_prior(exclude="167181", n_configs=100, bandwidth=0)
