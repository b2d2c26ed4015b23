"""Grid search: every config of a finite space, once, in the space's order."""

from __future__ import annotations

import itertools
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["GridSearch"]


@STRATEGIES.register("grid")
class GridSearch(Strategy):
    """Walks :meth:`Space.enumerate`; finished when every config has been asked.

    Args:
        space: a finite space.
        seed: unused (grid search is deterministic); accepted for a uniform interface.
    """

    def __init__(self, space: Space, *, seed: int | None = None) -> None:
        if not space.is_finite:
            raise ConfigError("strategy: grid search needs a finite space (no Real decision)")
        super().__init__(space, seed=seed)
        self._position = 0
        self._size = int(space.size)
        self._iterator = space.enumerate()

    def ask(self) -> Candidate | None:
        if self._position >= self._size:
            return None
        config = next(self._iterator)
        self._position += 1
        return self._propose(config)

    def tell(self, candidate: Candidate, result: Result) -> None:
        return None

    @property
    def is_finished(self) -> bool:
        return self._position >= self._size

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "position": self._position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._position = int(state["position"])
        self._iterator = itertools.islice(self.space.enumerate(), self._position, None)
