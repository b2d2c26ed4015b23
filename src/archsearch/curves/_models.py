"""What the strategies and the stopper need of a curve model, and the registry of models.

A curve model answers :meth:`CurvePredictor.predict_curves`: for partial curves, a
Gaussian ``(mean, std)`` of each one's value at a later step. Registered models:

- ``parametric``: :class:`ParametricEnsemble` (no training; any benchmark);
- ``lcbench``: a :class:`LearnedCurveModel` trained on LCBench tasks (``exclude`` the
  task searched);
- ``last_value``: the last value seen, with a fixed standard deviation (a baseline).

A config prior answers :meth:`ConfigPrior.score`: how good each config is expected to
be at the end of training, before any of it is trained (higher is better; only the
order counts). Registered priors (:data:`CONFIG_PRIORS`): ``lcbench``, learned from the
final accuracies of configs on the other LCBench tasks (transfer across tasks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from archsearch.curves._parametric import ParametricEnsemble
from archsearch.errors import ConfigError
from archsearch.registry import Registry

__all__ = [
    "CONFIG_PRIORS",
    "CURVE_MODELS",
    "ConfigPrior",
    "CurvePredictor",
    "LastValue",
    "config_prior_from_spec",
    "curve_model_from_spec",
]

Curve = tuple[Sequence[float], Sequence[float]]

#: curve models by name; options as in a strategy spec (``{name: parametric, upper: 100}``)
CURVE_MODELS = Registry("curve model")
CURVE_MODELS.register("parametric")(ParametricEnsemble)
CURVE_MODELS.register_lazy("lcbench", "archsearch.curves._lcbench")
#: config priors by name, built from specs as the curve models are
CONFIG_PRIORS = Registry("config prior")
CONFIG_PRIORS.register_lazy("lcbench", "archsearch.curves._lcbench")


@runtime_checkable
class CurvePredictor(Protocol):
    """Predicts where partial learning curves will be at later steps."""

    def predict_curves(
        self,
        curves: Sequence[Curve],
        targets: Sequence[float] | np.ndarray,
        *,
        final_step: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)``, each ``(n,)``: each curve's value at its target step.

        Args:
            curves: ``(steps, values)`` pairs, steps increasing and > 0.
            targets: one step per curve, at or after its last step.
            final_step: the last step of a full curve.
        """
        ...


@CURVE_MODELS.register("last_value")
class LastValue:
    """The baseline: a curve stays at its last value, give or take ``std``.

    Args:
        std: the standard deviation of every prediction.
    """

    def __init__(self, *, std: float = 1.0) -> None:
        if not std > 0:
            raise ConfigError(f"std: must be > 0, got {std!r}")
        self.std = float(std)

    def predict_curves(
        self,
        curves: Sequence[Curve],
        targets: Sequence[float] | np.ndarray,
        *,
        final_step: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        mean = np.array([float(values[-1]) for _, values in curves])
        return mean, np.full(len(curves), self.std)


def curve_model_from_spec(spec: Any, *, field: str = "model") -> CurvePredictor:
    """A model from a name, ``{name: ..., options}``, or a model object itself.

    Raises:
        ConfigError: naming ``field`` for an unknown name or option.
    """
    model: CurvePredictor = _from_spec(
        spec, CURVE_MODELS, CurvePredictor, field, "a curve model", "predict curves"
    )
    return model


def _from_spec(spec: Any, registry: Registry, kind: type, field: str, what: str, does: str) -> Any:
    """An object of protocol ``kind`` from a name, ``{name: ..., options}``, or itself."""
    if isinstance(spec, kind):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ConfigError(
            f"{field}: expected {what} name ({', '.join(registry)}) or "
            f"{{name: ..., options}}, got {spec!r}"
        )
    options = {k: v for k, v in spec.items() if k != "name"}
    made = registry.create(spec["name"], options, field=field)
    if not isinstance(made, kind):
        raise ConfigError(f"{field}: {spec['name']!r} does not {does}")
    return made


@runtime_checkable
class ConfigPrior(Protocol):
    """Scores configs before any training: the higher, the better expected at the end."""

    def score(self, configs: Sequence[Any]) -> np.ndarray:
        """One score per config, ``(n,)``; only their order is read."""
        ...


def config_prior_from_spec(spec: Any, *, field: str = "prior") -> ConfigPrior:
    """A prior from a name, ``{name: ..., options}``, or a prior object itself.

    Raises:
        ConfigError: naming ``field`` for an unknown name or option.
    """
    prior: ConfigPrior = _from_spec(
        spec, CONFIG_PRIORS, ConfigPrior, field, "a config prior", "score configs"
    )
    return prior
