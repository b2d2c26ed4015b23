"""Pruners: stop a trial whose intermediate values trail those of the trials before it.

The driver keeps the curves of finished trials; when it starts a trial it computes one
threshold per step (a percentile of the values other trials reported at that step) and
sends them with the trial. The trial's :meth:`~archsearch.api.Trial.report` compares
each value with the threshold of its step, in the worker, without a round trip to the
driver or the database. Thresholds are those known when the trial starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.errors import ConfigError

__all__ = ["PRUNERS", "CurvePruner", "PercentilePruner", "pruner_from_spec"]


@dataclass(frozen=True, slots=True)
class PercentilePruner:
    """Stop a trial at a step when its value there is worse than the ``percentile``-th
    percentile of the values the finished trials reported at the same step.

    ``percentile=50`` is the median rule. For a maximised metric a trial below the
    threshold stops; for a minimised one, a trial above the (100 - percentile)-th
    percentile. The rule needs ``min_trials`` finished trials with a value at a step
    before it judges that step, and never judges steps before ``warmup_steps``.
    """

    percentile: float = 50.0
    min_trials: int = 5
    warmup_steps: float = 0

    def __post_init__(self) -> None:
        if not 0 < self.percentile < 100:
            raise ConfigError(f"pruner.percentile: must be in (0, 100), got {self.percentile!r}")
        if not isinstance(self.min_trials, int) or self.min_trials < 1:
            raise ConfigError(
                f"pruner.min_trials: must be an integer >= 1, got {self.min_trials!r}"
            )

    def thresholds(
        self, curves: Mapping[int, Mapping[float, float]], maximize: bool
    ) -> dict[str, float]:
        """``{step: threshold}`` from the finished trials' ``{number: {step: value}}``."""
        by_step: dict[float, list[float]] = {}
        for curve in curves.values():
            for step, value in curve.items():
                if step >= self.warmup_steps and math.isfinite(value):
                    by_step.setdefault(step, []).append(value)
        q = self.percentile if maximize else 100.0 - self.percentile
        return {
            f"{step:g}": float(np.percentile(values, q))
            for step, values in by_step.items()
            if len(values) >= self.min_trials
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": "percentile",
            "percentile": self.percentile,
            "min_trials": self.min_trials,
            "warmup_steps": self.warmup_steps,
        }


@dataclass(frozen=True, slots=True)
class CurvePruner:
    """Stop a trial when its extrapolated learning curve is unlikely to beat the best
    finished trial: ``P(final > incumbent) < threshold`` (Domhan et al., 2015).

    The driver sends the stopper's spec, the incumbent (the best last value the complete
    trials reported) and the final step (the largest fidelity, else the furthest step a
    finished trial reached); the trial fits its own curve in the worker at every
    report (:class:`archsearch.curves.CurveStopper`, ``model``: ``parametric`` or
    ``last_value``). No trial is judged before one has completed.
    """

    model: str = "parametric"
    threshold: float = 0.05
    min_points: int = 3

    def __post_init__(self) -> None:
        if self.model not in ("parametric", "last_value"):
            raise ConfigError(f"pruner.model: {self.model!r}; allowed: parametric, last_value")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"pruner.threshold: must be in (0, 1), got {self.threshold!r}")
        if not isinstance(self.min_points, int) or self.min_points < 2:
            raise ConfigError(
                f"pruner.min_points: must be an integer >= 2, got {self.min_points!r}"
            )

    def context(
        self,
        curves: Mapping[int, Mapping[float, float]],
        complete: set[int],
        maximize: bool,
        final_step: float | None,
    ) -> dict[str, Any] | None:
        """What a new trial needs, or None while no trial has completed."""
        finals = [c[max(c)] for n, c in curves.items() if n in complete and c]
        if not finals:
            return None
        if final_step is None:
            final_step = max(max(c) for c in curves.values() if c)
        return {
            "stopper": {
                "model": self.model,
                "threshold": self.threshold,
                "min_points": self.min_points,
                "maximize": maximize,
            },
            "incumbent": max(finals) if maximize else min(finals),
            "final_step": final_step,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": "curve",
            "model": self.model,
            "threshold": self.threshold,
            "min_points": self.min_points,
        }


PRUNERS = ("median", "percentile", "curve")
AnyPruner = PercentilePruner | CurvePruner


def pruner_from_spec(spec: Any) -> AnyPruner | None:
    """``None``, ``"median"``, ``{"name": "percentile", "percentile": 25, ...}``,
    ``{"name": "curve", "threshold": 0.05}`` or a pruner."""
    if spec is None or isinstance(spec, PercentilePruner | CurvePruner):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or spec.get("name") not in PRUNERS:
        raise ConfigError(
            f"pruner: expected one of {', '.join(PRUNERS)} or {{name: ..., options}}, got {spec!r}"
        )
    options = {k: v for k, v in spec.items() if k != "name"}
    if spec["name"] == "curve":
        for key in options:
            if key not in ("model", "threshold", "min_points"):
                raise ConfigError(
                    f"pruner.{key}: unknown option; allowed: model, threshold, min_points"
                )
        return CurvePruner(**options)
    allowed = ("percentile", "min_trials", "warmup_steps")
    for key in options:
        if key not in allowed:
            raise ConfigError(f"pruner.{key}: unknown option; allowed: {', '.join(allowed)}")
    if spec["name"] == "median":
        if "percentile" in options:
            raise ConfigError("pruner.percentile: the median pruner is percentile 50")
        options["percentile"] = 50.0
    return PercentilePruner(**options)
