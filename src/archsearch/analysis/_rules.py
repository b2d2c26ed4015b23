"""Choice rules: which decision values characterise a set of configs against a space.

Example:
    >>> from archsearch.space import Choice, Space
    >>> space = Space({"op": Choice(["conv", "pool"]), "k": Choice([3, 5])})
    >>> chosen = [{"op": "conv", "k": 3}, {"op": "conv", "k": 5}]
    >>> rules = choice_rules(chosen, space)
    >>> print(rules[0])
    op is conv in 100% of the set, 50% of the space
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from archsearch.space import Space

__all__ = ["ChoiceRule", "choice_rules"]


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """``path`` takes ``value`` in ``share_set`` of the set and ``share_space`` of the space."""

    path: str
    value: Any
    share_set: float
    share_space: float

    @property
    def lift(self) -> float:
        return self.share_set - self.share_space

    def __str__(self) -> str:
        return (
            f"{self.path} is {self.value} in {self.share_set:.0%} of the set, "
            f"{self.share_space:.0%} of the space"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "value": self.value,
            "share_set": self.share_set,
            "share_space": self.share_space,
        }


def _values(space: Space, configs: Iterable[Any]) -> tuple[Counter[tuple[str, Any]], int]:
    counts: Counter[tuple[str, Any]] = Counter()
    n = 0
    for config in configs:
        n += 1
        for gene in space.genome(config):
            if gene.n_options is None:
                continue  # a Real has no value to count
            counts[gene.path, _value_at(config, gene.path)] += 1
    return counts, n


def _value_at(config: Any, path: str) -> Any:
    value = config
    for part in path.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        value = value[int(part)] if isinstance(value, list) else value[part]
    if isinstance(value, dict):  # a conditional branch: name it by its fixed fields
        return ",".join(f"{k}={v}" for k, v in value.items() if not isinstance(v, dict | list))
    return value


def choice_rules(
    chosen: Sequence[Any],
    space: Space,
    *,
    reference: Sequence[Any] | None = None,
    n_reference: int = 20000,
    top: int = 8,
    min_share: float = 0.3,
    seed: int = 0,
) -> list[ChoiceRule]:
    """The decision values most over-represented in ``chosen`` (a front, a top-k set).

    Args:
        chosen: the configs to characterise.
        space: their space.
        reference: what to compare against; default the whole space (enumerated when
            it has at most ``n_reference`` configs, else ``n_reference`` samples).
        top: rules to return, by decreasing lift.
        min_share: ignore values held by fewer than this share of ``chosen``.
    """
    if not chosen:
        return []
    if reference is None:
        size = space.size
        if size <= n_reference:
            reference = list(space.enumerate())
        else:
            rng = random.Random(seed)
            reference = [space.sample(rng) for _ in range(n_reference)]
    in_set, n_set = _values(space, chosen)
    in_ref, n_ref = _values(space, reference)
    rules = [
        ChoiceRule(path, value, count / n_set, in_ref[path, value] / max(n_ref, 1))
        for (path, value), count in in_set.items()
        if count / n_set >= min_share
    ]
    rules.sort(key=lambda r: (-r.lift, r.path, str(r.value)))
    return rules[:top]
