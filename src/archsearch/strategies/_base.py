"""The Strategy contract: ``ask`` for a candidate, ``tell`` its result."""

from __future__ import annotations

import abc
import random
from typing import Any

from archsearch.space import Space, as_rng
from archsearch.trial import Candidate, Result

__all__ = ["Strategy", "rng_state", "set_rng_state"]


def rng_state(rng: random.Random) -> list[Any]:
    """A JSON-able snapshot of a ``random.Random``."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list[Any]) -> None:
    """Restore a snapshot made by :func:`rng_state`."""
    rng.setstate((state[0], tuple(state[1]), state[2]))


class Strategy(abc.ABC):
    """Proposes candidates of a space and learns from their results.

    Subclasses write two methods: :meth:`ask` and :meth:`tell`. Everything a
    strategy remembers lives in :meth:`state_dict`, so that a resumed experiment
    continues the very same search. Scores are maximised (``Result.score``; the
    objective has already turned "minimise" into a negated score), and a result
    with ``score=None`` (failed, infeasible) must be accepted without error.

    Args:
        space: the search space.
        seed: fixes every random choice of the strategy.
    """

    def __init__(self, space: Space, *, seed: int | None = None) -> None:
        self.space = space
        self.rng = as_rng(seed)
        self._next_id = 0

    @abc.abstractmethod
    def ask(self) -> Candidate | None:
        """The next candidate, or None when there is nothing to propose right now."""

    @abc.abstractmethod
    def tell(self, candidate: Candidate, result: Result) -> None:
        """Learn the result of a candidate this strategy proposed."""

    @property
    def is_finished(self) -> bool:
        """True when the strategy will never propose again (e.g. a finished grid)."""
        return False

    def _propose(self, config: Any, fidelity: float | None = None) -> Candidate:
        candidate = Candidate(self._next_id, config, fidelity)
        self._next_id += 1
        return candidate

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the search; JSON-able."""
        return {"next_id": self._next_id, "rng": rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` snapshot."""
        self._next_id = int(state["next_id"])
        set_rng_state(self.rng, state["rng"])
