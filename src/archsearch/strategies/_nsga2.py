"""NSGA-II (Deb et al., 2002): multi-objective evolution by non-dominated sorting."""

from __future__ import annotations

from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["NSGA2", "crowding_distance", "non_dominated_sort"]

Member = tuple[Any, tuple[float, ...] | None]  # (config, objective vector or None)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and a != b


def non_dominated_sort(scores: list[tuple[float, ...] | None]) -> list[list[int]]:
    """Fronts of indices (all objectives maximised); unscored members form the last front."""
    scored = [i for i, s in enumerate(scores) if s is not None]
    dominated_by: dict[int, list[int]] = {i: [] for i in scored}
    counts = dict.fromkeys(scored, 0)
    for a in scored:
        for b in scored:
            if a != b and _dominates(scores[a], scores[b]):  # type: ignore[arg-type]
                dominated_by[a].append(b)
                counts[b] += 1
    fronts, current = [], [i for i in scored if counts[i] == 0]
    while current:
        fronts.append(current)
        following = []
        for a in current:
            for b in dominated_by[a]:
                counts[b] -= 1
                if counts[b] == 0:
                    following.append(b)
        current = sorted(following)
    unscored = [i for i, s in enumerate(scores) if s is None]
    return fronts + ([unscored] if unscored else [])


def crowding_distance(
    front: list[int], scores: list[tuple[float, ...] | None]
) -> dict[int, float]:
    """Crowding distance of each member of ``front`` (boundary members: infinite)."""
    distance = dict.fromkeys(front, 0.0)
    if not front or scores[front[0]] is None:
        return distance
    for k in range(len(scores[front[0]])):  # type: ignore[arg-type]
        ordered = sorted(front, key=lambda i: scores[i][k])  # type: ignore[index]
        low, high = scores[ordered[0]][k], scores[ordered[-1]][k]  # type: ignore[index]
        distance[ordered[0]] = distance[ordered[-1]] = float("inf")
        if high == low:
            continue
        for j in range(1, len(ordered) - 1):
            gap = scores[ordered[j + 1]][k] - scores[ordered[j - 1]][k]  # type: ignore[index]
            distance[ordered[j]] += gap / (high - low)
    return distance


@STRATEGIES.register("nsga2")
class NSGA2(Strategy):
    """NSGA-II over any space, on the objective vector ``Result.scores``.

    The first ``population_size`` candidates are random. Afterwards offspring come
    from binary tournaments on (front rank, crowding distance), uniform crossover of
    the parents' genomes (for spaces whose configs share one genome layout) and one
    mutation. Once ``population_size`` offspring are told, parents and offspring are
    merged and the best ``population_size`` by rank and crowding survive. Configs
    already evaluated are not proposed again (on a table a repeat only costs a query).
    Single-objective results (no ``scores``) are treated as one-element vectors.

    Args:
        space: the search space.
        population_size: members kept per generation.
        crossover_rate: probability an offspring is a crossover before its mutation.
        seed: fixes the search.
    """

    def __init__(
        self,
        space: Space,
        *,
        population_size: int = 50,
        crossover_rate: float = 0.9,
        seed: int | None = None,
    ) -> None:
        if not isinstance(population_size, int) or population_size < 2:
            raise ConfigError(f"population_size: must be an integer >= 2, got {population_size!r}")
        if not 0 <= crossover_rate <= 1:
            raise ConfigError(f"crossover_rate: must be in [0, 1], got {crossover_rate!r}")
        super().__init__(space, seed=seed)
        self.population_size = population_size
        self.crossover_rate = crossover_rate
        self.population: list[Member] = []  # survivors (parents of the next offspring)
        self.offspring: list[Member] = []  # told since the last selection
        self._n_random = 0
        self._seen: set[str] = set()
        self._rank: dict[int, tuple[int, float]] = {}

    # -- ask ----------------------------------------------------------------------------
    def ask(self) -> Candidate:
        if self._n_random < self.population_size or not self.population:
            self._n_random += 1
            return self._propose(self._fresh(lambda: self.space.sample(self.rng)))
        return self._propose(self._fresh(self._child))

    def _fresh(self, make: Any) -> Any:
        """A config not evaluated before (after a few tries, whatever comes)."""
        for _ in range(20):
            config = make()
            key = self.space.key(config)
            if key not in self._seen:
                break
        self._seen.add(key)
        return config

    def _child(self) -> Any:
        a, b = self._tournament(), self._tournament()
        child = a
        if self.rng.random() < self.crossover_rate:
            child = self._crossover(a, b)
        return self.space.mutate(child, self.rng)

    def _tournament(self) -> Any:
        n = len(self.population)
        i, j = int(self.rng.random() * n), int(self.rng.random() * n)
        ri, rj = self._rank.get(i, (0, 0.0)), self._rank.get(j, (0, 0.0))
        # lower front first, then larger crowding distance
        better = i if (ri[0], -ri[1]) <= (rj[0], -rj[1]) else j
        return self.population[better][0]

    def _crossover(self, a: Any, b: Any) -> Any:
        ga, gb = self.space.genome(a), self.space.genome(b)
        if [(g.path, g.n_options) for g in ga] != [(g.path, g.n_options) for g in gb]:
            return a  # different branches of a conditional space: no uniform crossover
        mixed = [
            x.index if self.rng.random() < 0.5 else y.index for x, y in zip(ga, gb, strict=True)
        ]
        try:
            return self.space.from_genome(mixed)
        except ConfigError:  # the mix turns conditional keys on or off (``when``): no crossover
            return a

    # -- tell ---------------------------------------------------------------------------
    def tell(self, candidate: Candidate, result: Result) -> None:
        scores = result.scores
        if scores is None and result.score is not None:
            scores = (result.score,)
        member: Member = (candidate.config, None if scores is None else tuple(scores))
        if len(self.population) < self.population_size and not self.offspring:
            self.population.append(member)
            if len(self.population) == self.population_size:
                self._select([])
            return
        self.offspring.append(member)
        if len(self.offspring) >= self.population_size:
            merged, self.offspring = self.offspring, []
            self._select(merged)

    def _select(self, newcomers: list[Member]) -> None:
        """Keep the best ``population_size`` of parents + newcomers; rank the survivors."""
        pool = self.population + newcomers
        scores = [m[1] for m in pool]
        survivors: list[int] = []
        for front in non_dominated_sort(scores):
            if len(survivors) + len(front) <= self.population_size:
                survivors += front
                continue
            distance = crowding_distance(front, scores)
            front = sorted(front, key=lambda i: -distance[i])
            survivors += front[: self.population_size - len(survivors)]
            break
        self.population = [pool[i] for i in survivors]
        self._rerank()

    def _rerank(self) -> None:
        """Front rank and crowding distance of each member, for the tournaments."""
        kept = [m[1] for m in self.population]
        self._rank = {}
        for r, front in enumerate(non_dominated_sort(kept)):
            distance = crowding_distance(front, kept)
            for i in front:
                self._rank[i] = (r, distance[i])

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        def members(items: list[Member]) -> list[Any]:
            return [[c, None if s is None else list(s)] for c, s in items]

        return {
            **super().state_dict(),
            "population": members(self.population),
            "offspring": members(self.offspring),
            "n_random": self._n_random,
            "seen": sorted(self._seen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)

        def members(items: list[Any]) -> list[Member]:
            return [(c, None if s is None else tuple(s)) for c, s in items]

        self.population = members(state["population"])
        self.offspring = members(state["offspring"])
        self._n_random = int(state["n_random"])
        self._seen = set(state["seen"])
        self._rerank()
