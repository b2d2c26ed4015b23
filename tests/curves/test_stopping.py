"""Curve-based stopping: P(final > incumbent), expected improvement, the stopper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from archsearch.curves import CurveStopper, expected_improvement, probability_above
from archsearch.curves._models import LastValue, curve_model_from_spec
from archsearch.errors import ConfigError

STEPS = list(range(1, 11))
HOPELESS = [30 + 0.5 * s for s in STEPS]  # flat, far below the incumbent
PROMISING = [60 + 3 * s for s in STEPS]  # at the incumbent already and still rising


def test_probability_and_expected_improvement_of_a_gaussian() -> None:
    assert probability_above(0.0, 1.0, 1.96).item() == pytest.approx(0.025, abs=1e-3)
    assert probability_above(np.array([0.0, 5.0]), 0.0, 1.0).tolist() == [0.0, 1.0]
    ei = expected_improvement(
        np.array([1.0, 0.0, 0.0]), np.array([1e-9, 1.0, 1.0]), [0.0, 0.0, -math.inf]
    )
    assert ei.tolist() == pytest.approx([1.0, 1 / math.sqrt(2 * math.pi), math.inf])


@pytest.mark.parametrize("model", ["parametric", {"name": "parametric", "upper": 100}])
def test_the_stopper_stops_a_hopeless_curve_and_not_a_promising_one(model: object) -> None:
    stopper = CurveStopper(model, threshold=0.05)
    assert stopper.should_stop(STEPS, HOPELESS, incumbent=90.0, final_step=52)
    assert not stopper.should_stop(STEPS, PROMISING, incumbent=90.0, final_step=52)
    assert stopper.probability(STEPS, HOPELESS, 90.0, 52) < 0.01
    assert stopper.probability(STEPS, PROMISING, 90.0, 52) > 0.5


def test_no_incumbent_short_curves_and_finished_curves_are_never_stopped() -> None:
    stopper = CurveStopper("parametric", min_points=3)
    assert not stopper.should_stop(STEPS, HOPELESS, incumbent=None, final_step=52)
    assert not stopper.should_stop([1, 2], [1.0, 1.1], incumbent=90.0, final_step=52)
    assert not stopper.should_stop([1, 52], [1.0, 1.1], incumbent=90.0, final_step=52)


def test_a_minimised_value_is_negated() -> None:
    stopper = CurveStopper("parametric", maximize=False)
    losses = [2.0 - 0.01 * s for s in STEPS]  # barely falling, far above the best loss
    assert stopper.should_stop(STEPS, losses, incumbent=0.3, final_step=52)
    assert not stopper.should_stop(STEPS, [0.3 / s for s in STEPS], incumbent=0.3, final_step=52)


def test_many_curves_at_once() -> None:
    stopper = CurveStopper(LastValue(std=1.0))
    p = stopper.probabilities([(STEPS, HOPELESS), (STEPS, PROMISING)], [85.0, 85.0], 52)
    assert p[0] < 1e-6 and p[1] > 0.99


def test_the_stopper_travels_as_json() -> None:
    stopper = CurveStopper({"name": "parametric", "upper": 100}, threshold=0.1)
    again = CurveStopper(**stopper.to_json())
    assert again.probability(STEPS, PROMISING, 90.0, 52) == stopper.probability(
        STEPS, PROMISING, 90.0, 52
    )


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="threshold: must be in"):
        CurveStopper("parametric", threshold=1.5)
    with pytest.raises(ConfigError, match="model: unknown curve model 'nope'"):
        CurveStopper("nope")
    with pytest.raises(ConfigError, match="model.upper2: unknown option"):
        curve_model_from_spec({"name": "parametric", "upper2": 1})
