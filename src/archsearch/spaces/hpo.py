"""The training-recipe space, and joint architecture + recipe spaces (AutoHAS, FBNetV3).

A config of :func:`hpo_space` holds the fields of a
:class:`~archsearch.training.Recipe` (``Recipe.from_config`` reads it). A
:func:`joint_space` config is ``{"arch": ..., "recipe": ...}``: every strategy
searches both at once, and the training evaluator builds the model from ``arch``
and trains it with ``recipe``.

Example:
    >>> space = hpo_space(epochs=12)
    >>> sorted(space.sample(seed=0))  # doctest: +NORMALIZE_WHITESPACE
    ['augment', 'batch_size', 'dropout', 'epochs', 'label_smoothing', 'learning_rate',
     'optimizer', 'weight_decay']
    >>> joint = joint_space("nb201", space)
    >>> sorted(joint.sample(seed=0))
    ['arch', 'recipe']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Real, Space

__all__ = ["OPTIMIZERS", "as_space", "hpo_space", "joint_space"]

#: the optimizers of the recipe space (the trainer's names)
OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw")


def _range(name: str, value: Any) -> tuple[float, float]:
    ok = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
    if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{name}: expected [low, high], got {value!r}")
    return float(value[0]), float(value[1])


def _options(name: str, value: Any) -> Any:
    """An int is a fixed value; a list of ints a Choice."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    is_list = isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0
    if is_list and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        return value[0] if len(value) == 1 else Choice(list(value))
    raise ConfigError(f"{name}: expected an integer or a list of integers >= 1, got {value!r}")


@SPACES.register("hpo")
def hpo_space(
    *,
    optimizers: Sequence[str] = OPTIMIZERS,
    learning_rate: Sequence[float] = (1e-4, 1.0),
    weight_decay: Sequence[float] = (1e-6, 1e-1),
    batch_size: int | Sequence[int] = (64, 128, 256, 512),
    epochs: int | Sequence[int] = (12, 25, 50, 100, 200),
    label_smoothing: Sequence[float] = (0.0, 0.2),
    dropout: Sequence[float] = (0.0, 0.5),
) -> Space:
    """The recipe space: optimizer, learning rate and weight decay (log scales), batch
    size, epochs, label smoothing, dropout and augmentation on/off.

    Args:
        optimizers: the optimizers to choose from.
        learning_rate: ``[low, high]``, searched on a log scale.
        weight_decay: ``[low, high]``, searched on a log scale.
        batch_size: a fixed batch size or the list to choose from.
        epochs: a fixed number of epochs (the usual choice under a multi-fidelity
            strategy, whose fidelity is the epoch) or the list to choose from.
        label_smoothing: ``[low, high]``.
        dropout: ``[low, high]``, before the classifier.

    Raises:
        ConfigError: naming the bad option.
    """
    if (
        isinstance(optimizers, str)
        or not optimizers
        or any(o not in OPTIMIZERS for o in optimizers)
    ):
        raise ConfigError(
            f"optimizers: expected a list from {', '.join(OPTIMIZERS)}, got {optimizers!r}"
        )
    spec = {
        "optimizer": Choice(list(optimizers)) if len(optimizers) > 1 else optimizers[0],
        "learning_rate": Real(*_range("learning_rate", learning_rate), log=True),
        "weight_decay": Real(*_range("weight_decay", weight_decay), log=True),
        "batch_size": _options("batch_size", batch_size),
        "epochs": _options("epochs", epochs),
        "label_smoothing": Real(*_range("label_smoothing", label_smoothing)),
        "dropout": Real(*_range("dropout", dropout)),
        "augment": Choice([True, False]),
    }
    return Space(spec, name="hpo")


def as_space(value: Any, field: str) -> Space:
    """A space given as a ``Space``, a registered name or ``{name: ..., **options}``."""
    if isinstance(value, Space):
        return value
    if isinstance(value, str):
        return SPACES.create(value, {}, field=field)  # type: ignore[no-any-return]
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        options = {k: v for k, v in value.items() if k != "name"}
        return SPACES.create(value["name"], options, field=field)  # type: ignore[no-any-return]
    raise ConfigError(
        f"{field}: expected a Space, a space name or {{name: ..., options}}, got {value!r}"
    )


@SPACES.register("joint")
def joint_space(arch: Any = "nb201", recipe: Any = "hpo") -> Space:
    """Architecture and training recipe searched together: ``{"arch": ..., "recipe": ...}``.

    Args:
        arch: the architecture space: a :class:`Space`, a registered name, or
            ``{"name": ..., **options}``.
        recipe: the recipe space, given the same ways (default: :func:`hpo_space`).

    Raises:
        ConfigError: for an unknown space name or bad options.
    """
    arch_space, recipe_space = as_space(arch, "arch"), as_space(recipe, "recipe")
    name = f"{arch_space.name or 'arch'}+{recipe_space.name or 'recipe'}"
    return Space({"arch": arch_space, "recipe": recipe_space}, name=name)
