"""Random search: every candidate an independent uniform sample."""

from __future__ import annotations

from archsearch.registry import STRATEGIES
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["RandomSearch"]


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Samples configs uniformly, with replacement (as in the NATS-Bench protocol).

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> strategy = RandomSearch(nb201_space(), seed=0)
        >>> strategy.ask().id
        0
    """

    def ask(self) -> Candidate:
        return self._propose(self.space.sample(self.rng))

    def tell(self, candidate: Candidate, result: Result) -> None:
        return None
