"""Monte-Carlo tree search over the decisions (UCT; Negrinho & Gordon, DeepArchitect 2017).

A node of the tree is a partial config: the option indices of its first decisions,
taken in :meth:`Space.decide` order. An ask walks down from the root choosing
children by UCB1 (Auer et al., 2002), adds one untried child (expansion), and
finishes the config with uniform random choices (the rollout); the told score is
added to every tree node on that path (backup).
"""

from __future__ import annotations

import math
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["MonteCarloTreeSearch"]

Prefix = tuple[int, ...]


@STRATEGIES.register("mcts")
class MonteCarloTreeSearch(Strategy):
    """UCT: UCB1 selection on normalised scores, one expansion per ask, random rollouts.

    A child's value is its mean score rescaled to [0, 1] by the lowest and highest
    scores seen so far, so the exploration constant means the same on any metric.
    Candidates asked but not yet told count as visits (without a score) where UCB1
    weighs exploration, so that asks in parallel spread over the tree. Failed
    results are dropped: their path keeps no visit.

    Args:
        space: a space whose decisions are all finite (Choice, Int).
        exploration: the UCB1 constant ``c`` in ``q + c * sqrt(ln N / n)`` (>= 0;
            ``sqrt(2)`` is UCB1's own, Auer et al. 2002, and DeepArchitect's default).
        seed: fixes the search.

    Raises:
        ConfigError: naming ``exploration`` for a bad value, or ``space`` when the
            space has a Real decision.

    Example:
        >>> from archsearch.space import Choice, Space
        >>> strategy = MonteCarloTreeSearch(Space({"a": Choice([1, 2])}), seed=0)
        >>> sorted(strategy.ask().config["a"] for _ in range(2))  # both tried first
        [1, 2]
    """

    def __init__(
        self, space: Space, *, exploration: float = math.sqrt(2), seed: int | None = None
    ) -> None:
        if not space.is_finite:
            raise ConfigError(
                "space: mcts needs finite decisions (Choice, Int); this space has a Real"
            )
        if (
            not isinstance(exploration, int | float)
            or isinstance(exploration, bool)
            or not math.isfinite(exploration)
            or exploration < 0
        ):
            raise ConfigError(f"exploration: must be a finite number >= 0, got {exploration!r}")
        super().__init__(space, seed=seed)
        self.exploration = float(exploration)
        self._tree: dict[Prefix, list[Any]] = {(): [0, 0.0]}  # prefix -> [visits, score sum]
        self._in_flight: dict[Prefix, int] = {}  # prefix -> candidates asked, not yet told
        self._pending: dict[int, tuple[Prefix, int]] = {}  # id -> (indices, tree depth)
        self._low: float | None = None
        self._high: float | None = None

    # -- ask ----------------------------------------------------------------------------
    def ask(self) -> Candidate:
        indices: list[int] = []
        walk = [0, True]  # decisions taken inside the tree (an expansion included); inside?

        def choose(path: str, n: int | None, domain: Any) -> int:
            assert n is not None  # finite spaces only, checked in __init__
            if walk[1]:
                index, expanded = self._select(tuple(indices), n)
                walk[0] += 1
                walk[1] = not expanded  # after an expansion, roll out the rest
            else:
                index = int(self.rng.random() * n)
            indices.append(index)
            return index

        config = self.space.decide(choose)
        path, depth = tuple(indices), int(walk[0])
        for d in range(depth + 1):
            self._in_flight[path[:d]] = self._in_flight.get(path[:d], 0) + 1
        candidate = self._propose(config)
        self._pending[candidate.id] = (path, depth)
        return candidate

    def _select(self, node: Prefix, n: int) -> tuple[int, bool]:
        """The child to follow from ``node``, and whether it was just added (expanded)."""
        tree = self._tree
        untried = [i for i in range(n) if node + (i,) not in tree]
        if untried:
            index = untried[int(self.rng.random() * len(untried))]
            tree[node + (index,)] = [0, 0.0]
            return index, True
        in_flight = self._in_flight
        parent = tree[node][0] + in_flight.get(node, 0)
        log_parent = math.log(max(parent, 1))
        best, best_value = 0, -math.inf
        for i in range(n):
            child = node + (i,)
            visits, total = tree[child]
            count = visits + in_flight.get(child, 0)
            if count == 0:  # in the tree but never scored (its results failed)
                return i, False
            value = self._normalise(total / visits) if visits else 1.0  # optimistic till scored
            value += self.exploration * math.sqrt(log_parent / count)
            if value > best_value:
                best, best_value = i, value
        return best, False

    def _normalise(self, mean: float) -> float:
        low, high = self._low, self._high
        if low is None or high is None or high <= low:
            return 0.5
        return (mean - low) / (high - low)

    # -- tell ---------------------------------------------------------------------------
    def tell(self, candidate: Candidate, result: Result) -> None:
        entry = self._pending.pop(candidate.id, None)
        if entry is None:  # not asked by this strategy: read its genome
            path = tuple(int(gene.index) for gene in self.space.genome(candidate.config))
            depth = _expansion_depth(self._tree, path)
        else:
            path, depth = entry
            for d in range(depth + 1):
                count = self._in_flight[path[:d]] - 1
                if count:
                    self._in_flight[path[:d]] = count
                else:
                    del self._in_flight[path[:d]]
        score = result.score
        if score is None:
            return
        self._low = score if self._low is None else min(self._low, score)
        self._high = score if self._high is None else max(self._high, score)
        for d in range(depth + 1):
            stats = self._tree[path[:d]]
            stats[0] += 1
            stats[1] += score

    # -- inspection and state -----------------------------------------------------------
    def visits(self, prefix: Prefix = ()) -> list[int] | None:
        """Scored visits of the children of ``prefix`` (0 for one not in the tree yet).

        None when ``prefix`` itself is not a node of the tree.
        """
        if prefix not in self._tree:
            return None
        children = [p for p in self._tree if len(p) == len(prefix) + 1 and p[:-1] == prefix]
        width = 1 + max((p[-1] for p in children), default=-1)
        return [self._tree.get(prefix + (i,), [0])[0] for i in range(width)]

    @property
    def n_nodes(self) -> int:
        """Number of nodes in the tree, the root included."""
        return len(self._tree)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "tree": [[list(p), visits, total] for p, (visits, total) in self._tree.items()],
            "pending": [[cid, list(p), d] for cid, (p, d) in self._pending.items()],
            "score_range": [self._low, self._high],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._tree = {tuple(p): [int(v), float(s)] for p, v, s in state["tree"]}
        self._pending = {int(cid): (tuple(p), int(d)) for cid, p, d in state["pending"]}
        self._in_flight = {}
        for path, depth in self._pending.values():
            for d in range(depth + 1):
                self._in_flight[path[:d]] = self._in_flight.get(path[:d], 0) + 1
        self._low, self._high = state["score_range"]


def _expansion_depth(tree: dict[Prefix, list[Any]], indices: Any) -> int:
    """Length of the longest prefix of ``indices`` that is a node of the tree."""
    depth = 0
    while depth < len(indices) and tuple(indices[: depth + 1]) in tree:
        depth += 1
    return depth
