"""The :class:`Morpher` contract and its registry: one morpher per builder's space."""

from __future__ import annotations

import abc
import random
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from archsearch.errors import ConfigError
from archsearch.registry import Registry

__all__ = ["MORPHERS", "Morpher", "check_growth", "stages_of"]

#: morphers ``f() -> Morpher``, under the name of the space (and builder) they grow
MORPHERS = Registry("morpher")


class Morpher(abc.ABC):
    """Grows a network built from one config into the network of a larger config.

    A morpher knows one builder's layout. :meth:`check` says whether a child config is
    reachable from a parent config by function-preserving growth; :meth:`transfer`
    fills a freshly built child from the parent so that, in eval mode, the child
    computes what the parent computes.
    """

    @abc.abstractmethod
    def check(self, parent_config: Any, child_config: Any) -> None:
        """Raise a ConfigError naming the first field of ``child_config`` that cannot be
        reached from ``parent_config`` by function-preserving growth."""

    @abc.abstractmethod
    def transfer(
        self,
        parent: nn.Module,
        child: nn.Module,
        parent_config: Any,
        child_config: Any,
        *,
        rng: random.Random,
        split: str,
    ) -> None:
        """Fill ``child`` (built from ``child_config``) from ``parent``, in place."""


def stages_of(config: Any, label: str) -> list[Mapping[str, Any]]:
    """The ``stages`` list of a stage-space config (``label`` names it in errors)."""
    stages = config.get("stages") if isinstance(config, Mapping) else None
    if not isinstance(stages, list) or not all(isinstance(s, Mapping) for s in stages):
        raise ConfigError(f"{label}: expected a config with a list of stages, got {config!r}")
    return stages


def check_growth(
    parent: Sequence[Mapping[str, Any]],
    child: Sequence[Mapping[str, Any]],
    *,
    grow: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Check that every ``grow`` field of every stage is at least the parent's and every
    ``keep`` field equal, with as many stages.

    Raises:
        ConfigError: naming the field (``stages[1].width``), the values and what is allowed.
    """
    if len(child) != len(parent):
        raise ConfigError(
            f"stages: the child has {len(child)} stages, the parent {len(parent)}; "
            "morphism keeps the number of stages"
        )
    for s, (a, b) in enumerate(zip(parent, child, strict=True)):
        for name in grow:
            if b[name] < a[name]:
                raise ConfigError(
                    f"stages[{s}].{name}: {a[name]!r} -> {b[name]!r} is a decrease; "
                    f"function-preserving morphism only grows (allowed: >= {a[name]!r})"
                )
        for name in keep:
            if b[name] != a[name]:
                raise ConfigError(
                    f"stages[{s}].{name}: {a[name]!r} -> {b[name]!r} cannot preserve the "
                    f"function; morphism keeps it (allowed: {a[name]!r})"
                )
