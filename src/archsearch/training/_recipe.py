"""Training recipes: the hyperparameters of one training run, as a frozen dataclass.

A :class:`Recipe` is what the trainer needs besides the model and the data. Named
recipes are registered in :data:`RECIPES`; a config of the recipe search space
(:func:`archsearch.spaces.hpo.hpo_space`) becomes a recipe with
:meth:`Recipe.from_config`.

Example:
    >>> recipe = RECIPES["nb201"]()
    >>> recipe.optimizer, recipe.learning_rate, recipe.batch_size
    ('sgd', 0.1, 256)
    >>> recipe.from_config({"learning_rate": 0.05, "epochs": 12}).learning_rate
    0.05
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import Registry

__all__ = ["OPTIMIZERS", "RECIPES", "Recipe", "adamw_recipe", "nb201_recipe"]

#: optimizers a recipe may name
OPTIMIZERS = ("sgd", "adamw")
#: named recipes: ``f() -> Recipe``
RECIPES = Registry("recipe")


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer, schedule, regularisation and augmentation.

    The learning rate follows a cosine from ``learning_rate`` to 0 over ``epochs``
    (per step), whatever fidelity a run stops at: training 12 epochs and then
    continuing to 36 equals training 36 epochs straight.

    Attributes:
        optimizer: ``sgd`` (with ``momentum``, Nesterov when ``nesterov``) or ``adamw``.
        learning_rate: peak learning rate.
        weight_decay: weight decay (L2 for SGD, decoupled for AdamW), on all parameters.
        batch_size: images per step.
        epochs: length of the schedule, the highest fidelity.
        label_smoothing: of the training loss, in [0, 1).
        dropout: before the classifier, in [0, 1) (see :func:`add_dropout`).
        augment: random crop (``crop_padding`` pixels of zero padding) and flip.
        momentum: SGD momentum, AdamW's beta1.
        nesterov: Nesterov momentum (SGD only).
        crop_padding: padding of the random crop.
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.1
    weight_decay: float = 5e-4
    batch_size: int = 256
    epochs: int = 200
    label_smoothing: float = 0.0
    dropout: float = 0.0
    augment: bool = True
    momentum: float = 0.9
    nesterov: bool = True
    crop_padding: int = 4

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"recipe.optimizer: unknown {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}"
            )
        _check_number("learning_rate", self.learning_rate, 0.0, math.inf, low_open=True)
        _check_number("weight_decay", self.weight_decay, 0.0, math.inf)
        _check_number("label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        _check_number("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _check_number("momentum", self.momentum, 0.0, 1.0, high_open=True)
        for name, low in (("batch_size", 1), ("epochs", 1), ("crop_padding", 0)):
            # an integral float (a fidelity such as 12.0) is taken as the integer
            object.__setattr__(self, name, _check_int(name, getattr(self, name), low))
        for name in ("augment", "nesterov"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"recipe.{name}: must be true or false, got {getattr(self, name)!r}"
                )

    def from_config(self, config: Mapping[str, Any]) -> Recipe:
        """This recipe with the fields ``config`` sets (a recipe-space config).

        Raises:
            ConfigError: for an unknown field (listing the allowed ones) or a bad value.
        """
        if not isinstance(config, Mapping):
            raise ConfigError(f"recipe: expected a mapping of recipe fields, got {config!r}")
        fields = [f.name for f in dataclasses.fields(self)]
        for key in config:
            if key not in fields:
                raise ConfigError(f"recipe.{key}: unknown field; allowed: {', '.join(fields)}")
        return dataclasses.replace(self, **dict(config))

    def to_json(self) -> dict[str, Any]:
        """The recipe as a plain dict (``Recipe(**d)`` rebuilds it)."""
        return dataclasses.asdict(self)


def _check_number(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(
            f"recipe.{name}: must be a number in {lo}{low:g}, {high:g}{hi}, got {value!r}"
        )


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"recipe.{name}: must be an integer >= {low}, got {value!r}")
    return value


@RECIPES.register("nb201")
def nb201_recipe(epochs: int = 200) -> Recipe:
    """NAS-Bench-201's recipe: SGD, Nesterov momentum 0.9, lr 0.1, wd 5e-4, batch 256.

    Cosine schedule, no label smoothing, random crop (padding 4) and flip. NB201
    trained 200 epochs (its "hp=12" runs: 12, on their own 12-epoch schedule).
    """
    return Recipe("sgd", 0.1, 5e-4, 256, epochs)


@RECIPES.register("adamw")
def adamw_recipe(epochs: int = 200) -> Recipe:
    """AdamW, lr 1e-3, weight decay 0.05, batch 256, cosine; crop and flip."""
    return Recipe("adamw", 1e-3, 0.05, 256, epochs)
