"""Early stopping on extrapolated curves: stop when P(final > incumbent) is small.

Domhan et al. (IJCAI 2015) stop a training run when the probability that its final
value beats the best final value so far falls below a threshold (5 %). The same rule
serves a strategy over a benchmark and a user's trial that reports values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from archsearch.curves._models import CurvePredictor, curve_model_from_spec
from archsearch.errors import ConfigError

__all__ = ["CurveStopper", "expected_improvement", "probability_above"]

Curve = tuple[Sequence[float], Sequence[float]]


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = torch.special.ndtr(torch.from_numpy(z)).numpy()
    return out


def probability_above(
    mean: np.ndarray | float, std: np.ndarray | float, threshold: np.ndarray | float
) -> np.ndarray:
    """``P(Y > threshold)`` for ``Y ~ N(mean, std**2)`` (a step function where std is 0).

    Example:
        >>> probability_above(80.0, 2.0, 80.0).item()
        0.5
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    z = (np.asarray(threshold, dtype=float) - mean) / np.maximum(std, 1e-300)
    return 1.0 - _normal_cdf(np.asarray(z, dtype=float))


def expected_improvement(
    mean: np.ndarray | float, std: np.ndarray | float, best: np.ndarray | float
) -> np.ndarray:
    """``E[max(Y - best, 0)]`` for ``Y ~ N(mean, std**2)``; +inf where ``best`` is -inf.

    Example:
        >>> round(expected_improvement(0.0, 1.0, 0.0).item(), 4)
        0.3989
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    best = np.asarray(best, dtype=float)
    sigma = np.maximum(std, 1e-12)
    finite = np.isfinite(best)
    gap = mean - np.where(finite, best, 0.0)
    z = np.asarray(gap / sigma, dtype=float)
    ei = gap * _normal_cdf(z) + sigma * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return np.where(finite, np.maximum(ei, 0.0), np.inf)


@dataclass
class CurveStopper:
    """Stops a curve whose final value will beat the incumbent with probability < threshold.

    Args:
        model: a curve model (an object, a registered name, or ``{name: ..., options}``).
        threshold: the probability below which a curve is stopped (Domhan et al.: 0.05).
        min_points: curves with fewer observations are never stopped (nothing to fit).
        maximize: False for values to minimise (losses): they are negated.

    Example:
        >>> stopper = CurveStopper({"name": "parametric", "upper": 100})
        >>> steps = list(range(1, 11))
        >>> stopper.should_stop(steps, [40 + s for s in steps], incumbent=95, final_step=52)
        True
        >>> stopper.should_stop(steps, [80 + s for s in steps], incumbent=85, final_step=52)
        False
    """

    model: Any = "parametric"
    threshold: float = 0.05
    min_points: int = 3
    maximize: bool = True
    _predictor: CurvePredictor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold: must be in (0, 1), got {self.threshold!r}")
        if not isinstance(self.min_points, int) or self.min_points < 1:
            raise ConfigError(f"min_points: must be an integer >= 1, got {self.min_points!r}")
        self._predictor = curve_model_from_spec(self.model, field="model")

    def probabilities(
        self,
        curves: Sequence[Curve],
        incumbents: Sequence[float] | np.ndarray | float,
        final_step: float,
    ) -> np.ndarray:
        """``P(final > incumbent)`` per curve; 1 for curves too short to judge.

        Args:
            curves: ``(steps, values)`` observed so far.
            incumbents: the best final value so far (one, or one per curve); None-free.
            final_step: the step whose value counts.
        """
        sign = 1.0 if self.maximize else -1.0
        best = np.broadcast_to(np.asarray(incumbents, dtype=float) * sign, (len(curves),))
        out = np.ones(len(curves))
        judged = [
            i
            for i, (steps, values) in enumerate(curves)
            if len(values) >= self.min_points and float(steps[-1]) < final_step
        ]
        if judged:
            signed = [(curves[i][0], [sign * float(v) for v in curves[i][1]]) for i in judged]
            mean, std = self._predictor.predict_curves(
                signed, [final_step] * len(judged), final_step=final_step
            )
            out[judged] = probability_above(mean, std, best[judged])
        return out

    def probability(
        self, steps: Sequence[float], values: Sequence[float], incumbent: float, final_step: float
    ) -> float:
        """``P(final > incumbent)`` of one curve (see :meth:`probabilities`)."""
        return float(self.probabilities([(steps, values)], incumbent, final_step)[0])

    def should_stop(
        self,
        steps: Sequence[float],
        values: Sequence[float],
        incumbent: float | None,
        final_step: float,
    ) -> bool:
        """True when the curve should stop: ``P(final > incumbent) < threshold``.

        Args:
            steps, values: the curve so far (steps increasing, > 0).
            incumbent: the best final value of the finished trials; None: never stop.
            final_step: the step at which a trial finishes (its last epoch).
        """
        if incumbent is None or not math.isfinite(incumbent):
            return False
        return self.probability(steps, values, incumbent, final_step) < self.threshold

    def to_json(self) -> dict[str, Any]:
        """The stopper as JSON (for a driver to send to workers); the model by spec."""
        if not isinstance(self.model, str | dict):
            raise ConfigError("model: only a stopper built from a model spec is JSON-able")
        return {
            "model": self.model,
            "threshold": self.threshold,
            "min_points": self.min_points,
            "maximize": self.maximize,
        }
