"""``morph``: grow a trained network into a larger config; ``inherit``: the same, in one
call inside a user's objective."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.morphism._base import MORPHERS, Morpher
from archsearch.morphism._ops import SPLITS

__all__ = ["inherit", "morph"]


def morph(
    parent: nn.Module,
    parent_config: Any,
    child_config: Any,
    *,
    space: str,
    seed: int = 0,
    split: str = "random",
    build: Callable[[Any], nn.Module] | None = None,
    **options: Any,
) -> nn.Module:
    """The network of ``child_config``, grown from ``parent`` so that it computes the same.

    The child is built by the space's builder (or ``build``), then each of its layers is
    derived from the parent's: widened stages copy channels chosen at random (Net2Wider,
    Chen et al., 2016) with BN parameters and running statistics copied alike, added
    layers start as the identity, larger kernels are the old ones zero-padded. In eval
    mode the child's outputs equal the parent's up to float rounding (see the space's
    morpher for what holds in train mode: :mod:`archsearch.morphism._cnn`,
    :mod:`archsearch.morphism._mobilenet`). Several fields may grow at once.

    Args:
        parent: the trained network of ``parent_config`` (left unchanged).
        parent_config: its config.
        child_config: a config reachable by growth: per stage the same or more layers,
            width and kernel (``mobilenet``: also expansion from 3 up, the same SE).
            Only ``stages`` is read, so other decisions (a learning rate) may differ.
        space: the builder's space, ``cnn`` or ``mobilenet``.
        seed: draws the copied channels.
        split: how a consumer's weights of a copied channel are shared among its
            copies: ``random`` (default) draws unequal shares that still sum to one,
            which preserves the function exactly and lets the copies learn different
            features; ``even`` divides by the number of copies as in Net2Net, which
            leaves the copies identical under gradient descent (they receive equal
            gradients) unless something else breaks the symmetry.
        build: ``build(config) -> nn.Module`` instead of the registered builder (for a
            builder with options, or a user's own that returns the same modules).
        **options: the registered builder's skeleton options (``in_channels``,
            ``n_classes``, ``head_width``...), as the parent was built with.

    Returns:
        The child, on the parent's device and in its mode (train or eval).

    Raises:
        ConfigError: when ``child_config`` is not reachable from ``parent_config`` by
            function-preserving growth, naming the field (``stages[1].width: 32 -> 16
            is a decrease ...``); for an unknown space or split; when the parent model
            does not match ``parent_config``.

    Example:
        >>> import torch
        >>> from archsearch.models import build_model
        >>> a = {"stages": [{"n_layers": 1, "width": 8, "kernel": 3}]}
        >>> b = {"stages": [{"n_layers": 2, "width": 16, "kernel": 5}]}
        >>> parent = build_model("cnn", a, in_channels=1).eval()
        >>> child = morph(parent, a, b, space="cnn", in_channels=1)
        >>> x = torch.randn(4, 1, 28, 28)
        >>> torch.allclose(child(x), parent(x), atol=1e-5)
        True
    """
    factory = MORPHERS.get_factory(space, field="space")
    morpher: Morpher = factory()
    if split not in SPLITS:
        raise ConfigError(f"split: unknown {split!r}; allowed: {', '.join(SPLITS)}")
    morpher.check(parent_config, child_config)
    if build is None:
        from archsearch.models import build_model

        child = build_model(space, child_config, **options)
    elif options:
        raise ConfigError(
            f"{next(iter(options))}: builder options go to build, not to morph, when "
            "build is given"
        )
    else:
        child = build(child_config)
    weight = next(parent.parameters(), None)
    if weight is not None:
        child.to(weight.device)
    with torch.no_grad():
        morpher.transfer(
            parent, child, parent_config, child_config, rng=random.Random(seed), split=split
        )
    return child.train(parent.training)


class _Trial(Protocol):
    """What :func:`inherit` reads of an :class:`archsearch.api.Trial`."""

    number: int
    config: dict[str, Any]

    @property
    def parent(self) -> Any: ...

    def load_checkpoint(self, config: Any = None) -> Any: ...


def inherit(
    trial: _Trial,
    build: Callable[[Any], nn.Module],
    *,
    space: str,
    seed: int | None = None,
    split: str = "random",
) -> tuple[nn.Module, bool]:
    """The trial's network, grown from its parent's trained weights when it has a parent.

    When the strategy gave the trial a parent (``trial.parent``, as the ``morph``
    strategy does) and that config saved a checkpoint holding ``{"model":
    state_dict}``, the parent is built with ``build``, loads those weights and is
    grown into ``trial.config`` with :func:`morph`. Otherwise the network is built
    afresh. Save ``{"model": model.state_dict(), ...}`` with
    ``trial.save_checkpoint`` at the end of the objective so that children find it.

    Args:
        trial: the objective's trial.
        build: ``build(config) -> nn.Module``, the objective's own builder (it receives
            full configs, including non-architecture decisions).
        space: the builder's layout, ``cnn`` or ``mobilenet``.
        seed: draws the copied channels (default: the trial's number).
        split: see :func:`morph`.

    Returns:
        ``(model, inherited)``: the network (in train mode) and whether it inherited
        weights, e.g. to train it for fewer epochs.

    Raises:
        ConfigError: when the parent's checkpoint has no ``model`` entry, or the
            trial's config is not reachable from its parent's (see :func:`morph`).

    Example:
        >>> def objective(trial):  # doctest: +SKIP
        ...     model, inherited = inherit(trial, build, space="cnn")
        ...     train(model, epochs=2 if inherited else 6)
        ...     trial.save_checkpoint({"model": model.state_dict()})
        ...     return accuracy(model)
    """
    parent = trial.parent
    state = None if parent is None else trial.load_checkpoint(parent)
    if state is None:
        return build(trial.config).train(), False
    if not isinstance(state, Mapping) or "model" not in state:
        raise ConfigError(
            "checkpoint: the parent's checkpoint has no 'model' entry; save "
            "{'model': model.state_dict(), ...} with trial.save_checkpoint"
        )
    model = build(parent)
    model.load_state_dict(state["model"])
    child = morph(
        model,
        parent,
        trial.config,
        space=space,
        seed=trial.number if seed is None else seed,
        split=split,
        build=build,
    )
    return child.train(), True
