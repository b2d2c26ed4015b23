"""Regularized (aging) evolution (Real et al., AAAI 2019)."""

from __future__ import annotations

from collections import deque
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["RegularizedEvolution"]


@STRATEGIES.register("rea")
class RegularizedEvolution(Strategy):
    """Tournament selection, one-decision mutation, and death of the oldest.

    The first ``population_size`` candidates are random; afterwards each candidate
    is a mutation of the best of ``sample_size`` members drawn (with replacement,
    as in NATS-Bench) from the population. A told result joins the population and,
    once it is full, the oldest member leaves (``aging=False``: the worst leaves,
    which is plain tournament evolution). Failed results never join.

    Args:
        space: the search space.
        population_size: members kept (NATS-Bench default 10).
        sample_size: tournament size (NATS-Bench default 3).
        aging: remove the oldest (regularized) rather than the worst member.
        seed: fixes the search.

    Raises:
        ConfigError: when ``sample_size`` exceeds ``population_size`` or either is < 1.
    """

    def __init__(
        self,
        space: Space,
        *,
        population_size: int = 10,  # population 10, sample 3: NATS-Bench defaults
        sample_size: int = 3,
        aging: bool = True,
        seed: int | None = None,
    ) -> None:
        if not isinstance(population_size, int) or population_size < 1:
            raise ConfigError(f"population_size: must be an integer >= 1, got {population_size!r}")
        if not isinstance(sample_size, int) or sample_size < 1:
            raise ConfigError(f"sample_size: must be an integer >= 1, got {sample_size!r}")
        if sample_size > population_size:
            raise ConfigError(
                f"sample_size: must be <= population_size ({population_size}), got {sample_size}"
            )
        super().__init__(space, seed=seed)
        self.population_size = population_size
        self.sample_size = sample_size
        self.aging = aging
        self.population: deque[tuple[Any, float]] = deque()
        self._pending_random: set[int] = set()

    def ask(self) -> Candidate:
        population = self.population
        if len(population) + len(self._pending_random) < self.population_size:
            candidate = self._propose(self.space.sample(self.rng))
            self._pending_random.add(candidate.id)
            return candidate
        if not population:  # every initial member failed and others are still running
            return self._propose(self.space.sample(self.rng))
        rand, n = self.rng.random, len(population)
        parent = population[int(rand() * n)]
        for _ in range(self.sample_size - 1):
            other = population[int(rand() * n)]
            if other[1] > parent[1]:
                parent = other
        return self._propose(self.space.mutate(parent[0], self.rng))

    def tell(self, candidate: Candidate, result: Result) -> None:
        self._pending_random.discard(candidate.id)
        if result.score is None:
            return
        self.population.append((candidate.config, result.score))
        if len(self.population) > self.population_size:
            if self.aging:
                self.population.popleft()
            else:
                worst = min(range(len(self.population)), key=lambda i: self.population[i][1])
                del self.population[worst]

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "population": [[config, score] for config, score in self.population],
            "pending_random": sorted(self._pending_random),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = deque((config, float(score)) for config, score in state["population"])
        self._pending_random = set(state["pending_random"])
