"""The parametric curve ensemble: fits, extrapolation, uncertainty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.curves import FAMILIES, ParametricEnsemble
from archsearch.curves._parametric import pad_curves
from archsearch.errors import ConfigError

STEPS = np.arange(1, 21, dtype=float)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_each_family_recovers_its_own_curve_and_asymptote(family) -> None:  # type: ignore[no-untyped-def]
    theta = family.grid[len(family.grid) // 2]  # a shape from the middle of its grid

    def curve(steps: np.ndarray) -> np.ndarray:
        g = family.basis(torch.from_numpy(steps / STEPS[-1]), theta).numpy()
        return np.asarray(85.0 * g if family.product else 85.0 - 40.0 * g)

    # one member (the best grid point) and room for any asymptote: the fit is exact
    ensemble = ParametricEnsemble([family], skip=0.0, headroom=1e3, top_k=1)
    fitted = ensemble.fit(STEPS, curve(STEPS))
    far = np.array([52.0, 1e3, 1e9])
    mean, _ = fitted.predict(far)
    assert mean[0] == pytest.approx(curve(far), abs=1e-6)
    assert float(fitted._fits[0].c[0, 0]) == pytest.approx(85.0, abs=1e-6)  # the asymptote


def test_the_ensemble_extrapolates_a_power_law_closely() -> None:
    values = 90 - 40 * STEPS**-0.7
    mean, std = ParametricEnsemble(upper=100).fit(STEPS, values).predict([52])
    assert mean[0, 0] == pytest.approx(90 - 40 * 52**-0.7, abs=1.0)
    assert 0 < std[0, 0] < 5


def test_std_grows_with_the_distance_extrapolated() -> None:
    steps = np.arange(1, 11, dtype=float)
    values = 90 - 40 * steps**-0.7 + 0.3 * np.sin(steps)
    _, std = ParametricEnsemble(upper=100).fit(steps, values).predict([11, 20, 52, 200])
    assert np.all(np.diff(std[0]) > 0)


def test_the_asymptote_stays_within_headroom_of_the_range_seen() -> None:
    steps = np.arange(1, 4, dtype=float)
    values = np.array([50.0, 51.0, 52.0])  # seen for 3 steps, still rising
    mean, _ = ParametricEnsemble(headroom=3.0).fit(steps, values).predict([1e6])
    assert mean[0, 0] <= 52.0 + 3.0 * 2.0 + 1e-9


def test_predictions_never_pass_the_upper_bound_nor_fall_with_the_steps() -> None:
    steps = np.arange(1, 6, dtype=float)
    values = np.array([20.0, 50.0, 70.0, 82.0, 90.0])  # steep: would overshoot 100
    mean, _ = ParametricEnsemble(upper=100).fit(steps, values).predict([6, 20, 52, 1000])
    assert np.all(mean <= 100 + 1e-9)
    assert np.all(np.diff(mean[0]) >= -1e-9)


def test_batch_fits_equal_single_fits() -> None:
    rng = np.random.default_rng(0)
    curves = []
    for n in (4, 9, 15):
        steps = np.arange(1, n + 1, dtype=float)
        curves.append((steps, 80 - 30 * steps ** -rng.uniform(0.3, 1.2) + rng.normal(0, 0.2, n)))
    ensemble = ParametricEnsemble(upper=100)
    mean, std = ensemble.fit_many(curves).predict([52])
    for i, (steps, values) in enumerate(curves):
        one_mean, one_std = ensemble.fit(steps, values).predict([52])
        assert mean[i, 0] == pytest.approx(one_mean[0, 0], rel=1e-9)
        assert std[i, 0] == pytest.approx(one_std[0, 0], rel=1e-9)


def test_predict_curves_takes_one_target_per_curve() -> None:
    curves = [(STEPS, 90 - 40 * STEPS**-0.7), (STEPS[:5], 60 - 20 * STEPS[:5] ** -0.5)]
    mean, std = ParametricEnsemble(upper=100).predict_curves(curves, [52, 10])
    assert mean.shape == std.shape == (2,)
    with pytest.raises(ConfigError, match="targets: 1 given for 2 curves"):
        ParametricEnsemble().predict_curves(curves, [52])


def test_a_single_point_predicts_itself() -> None:
    mean, std = ParametricEnsemble().fit([3.0], [42.0]).predict([52])
    assert mean[0, 0] == pytest.approx(42.0)
    assert np.isfinite(std[0, 0])


def test_bad_curves_are_refused_naming_the_curve() -> None:
    with pytest.raises(ConfigError, match=r"curves\[1\]: steps must increase"):
        pad_curves([([1, 2], [0.1, 0.2]), ([2, 1], [0.1, 0.2])])
    with pytest.raises(ConfigError, match=r"curves\[0\]: need as many steps as values"):
        pad_curves([([1, 2, 3], [0.1, 0.2])])
    with pytest.raises(ConfigError, match=r"curves\[0\]: steps must be > 0"):
        pad_curves([([0, 1], [0.1, 0.2])])
    with pytest.raises(ConfigError, match="skip: must be in"):
        ParametricEnsemble(skip=1.0)
