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

#: draws (tournament and mutation) before a repeated child is accepted under ``unique``
MAX_REDRAWS = 100


@STRATEGIES.register("rea")
class RegularizedEvolution(Strategy):
    """Tournament selection, one-decision mutation, and death of the oldest.

    The first ``population_size`` candidates are random; afterwards each candidate
    is a mutation of the best of ``sample_size`` members drawn (with replacement,
    as in NATS-Bench) from the population. A told result joins the population and,
    once it is full, the oldest member leaves (``aging=False``: the worst leaves,
    which is plain tournament evolution). Failed results never join.

    With ``unique=True`` a child (or random start member) that was asked before is
    drawn again (a new tournament and mutation), up to ``MAX_REDRAWS`` times, as
    NSGA-II here and BOHB already do: a tabular or deterministic evaluator answers a
    repeat with what it said before, so a repeat spends a query and teaches nothing.
    On NB201 with 1,000 queries about half of the default search's children are
    repeats: once the population has converged on a local optimum, its one-edge
    neighbours are evaluated again and again instead of the search moving on. The
    default (False) is the algorithm as published and as NATS-Bench runs it.

    Args:
        space: the search space.
        population_size: members kept (NATS-Bench default 10).
        sample_size: tournament size (NATS-Bench default 3).
        aging: remove the oldest (regularized) rather than the worst member.
        unique: never ask a config twice while a new one can be drawn.
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
        unique: bool = False,
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
        self.unique = bool(unique)
        self._asked: set[str] = set()  # keys of the configs asked so far (``unique`` only)
        self.population: deque[tuple[Any, float]] = deque()
        self._pending_random: set[int] = set()

    def ask(self) -> Candidate:
        is_start = len(self.population) + len(self._pending_random) < self.population_size
        config = self._draw(is_start)
        if self.unique:
            key = self.space.key
            for _ in range(MAX_REDRAWS):
                if key(config) not in self._asked:
                    break
                config = self._draw(is_start)
            self._asked.add(key(config))
        candidate = self._propose(config)
        if is_start:
            self._pending_random.add(candidate.id)
        return candidate

    def _draw(self, is_start: bool) -> Any:
        """A random sample for the start, else the mutant of a tournament's winner."""
        population = self.population
        if is_start or not population:  # (empty: every start member failed, others run)
            return self.space.sample(self.rng)
        rand, n = self.rng.random, len(population)
        parent = population[int(rand() * n)]
        for _ in range(self.sample_size - 1):
            other = population[int(rand() * n)]
            if other[1] > parent[1]:
                parent = other
        return self.space.mutate(parent[0], self.rng)

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
            "asked": sorted(self._asked),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = deque((config, float(score)) for config, score in state["population"])
        self._pending_random = set(state["pending_random"])
        self._asked = set(state.get("asked", ()))
