"""Local search with best improvement and random restarts.

White, Nolen, Ravi & Savani, "Exploring the loss landscape in neural architecture
search" / "Local search is state of the art for NAS benchmarks" (UAI 2021): start
from a random config, evaluate all of its one-decision neighbours, move to the best
one if it beats the current config, and restart from a fresh random config at a
local optimum.
"""

from __future__ import annotations

from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["LocalSearch"]


@STRATEGIES.register("local")
class LocalSearch(Strategy):
    """Best-improvement hill climbing over :meth:`Space.neighbours`, restarted at optima.

    A *walk* runs from a random start to a local optimum. The neighbours of the
    current config are asked one by one in a random order, without waiting for the
    current config's own result (best improvement needs them all anyway); asks made
    while results are out get the next unasked neighbour, and None once none
    remain. When every result is in, the search moves to the best neighbour if it
    scores strictly higher (a failed config is beaten by any score), else it
    restarts from a fresh random config. Within a walk no config is asked twice
    (configs are compared by :meth:`Space.key`): a neighbour already evaluated, such
    as the config just left, counts with its known score.

    Args:
        space: a space whose decisions are all finite (Choice, Int).
        seed: fixes the search.

    Raises:
        ConfigError: naming ``space`` when the space has a Real decision.

    Example:
        >>> from archsearch.space import Choice, Space
        >>> strategy = LocalSearch(Space({"a": Choice([1, 2, 3])}), seed=0)
        >>> [strategy.ask().config["a"] for _ in range(3)]  # a start, then its neighbours
        [3, 2, 1]
        >>> strategy.ask() is None  # no neighbour left while results are out
        True
    """

    def __init__(self, space: Space, *, seed: int | None = None) -> None:
        if not space.is_finite:
            raise ConfigError(
                "space: local needs finite decisions (Choice, Int) to list neighbours; "
                "this space has a Real"
            )
        super().__init__(space, seed=seed)
        self._centre: Any = None  # the config the walk stands on; None before a start
        self._hood: list[Any] = []  # neighbours of the centre
        self._queue: list[Any] = []  # neighbours not yet asked, taken from the end
        self._walk: dict[str, float | None] = {}  # key -> score of configs asked in the walk
        self._pending: dict[int, Any] = {}  # id -> config
        self.n_restarts = 0  # restarts at a local optimum
        self.n_moves = 0  # moves to a better neighbour

    # -- ask ----------------------------------------------------------------------------
    def ask(self) -> Candidate | None:
        while True:
            if self._centre is None:  # first ask, or after a restart
                self._walk = {}
                start = self.space.sample(self.rng)
                self._stand_on(start)
                return self._hand_out(start)
            while self._queue:
                config = self._queue.pop()
                if self.space.key(config) not in self._walk:
                    return self._hand_out(config)
            if self._pending:
                return None
            self._conclude()

    def _hand_out(self, config: Any) -> Candidate:
        self._walk[self.space.key(config)] = None
        candidate = self._propose(config)
        self._pending[candidate.id] = config
        return candidate

    def _stand_on(self, config: Any) -> None:
        self._centre = config
        self._hood = self.space.neighbours(config)
        self._queue = list(self._hood)
        self.rng.shuffle(self._queue)

    def _conclude(self) -> None:
        """Every result is in: move to the best neighbour if it improves, else restart."""
        key = self.space.key
        best: tuple[Any, float] | None = None
        for config in self._hood:
            score = self._walk.get(key(config))
            if score is not None and (best is None or score > best[1]):
                best = (config, score)
        here = self._walk.get(key(self._centre))
        if best is not None and (here is None or best[1] > here):
            self.n_moves += 1
            self._stand_on(best[0])
        else:
            self.n_restarts += 1
            self._centre, self._hood, self._queue = None, [], []

    # -- tell ---------------------------------------------------------------------------
    def tell(self, candidate: Candidate, result: Result) -> None:
        config = self._pending.pop(candidate.id, None)
        if config is not None:  # a config not asked by this search is no part of the walk
            self._walk[self.space.key(config)] = result.score

    # -- inspection and state -----------------------------------------------------------
    @property
    def current(self) -> tuple[Any, float | None] | None:
        """The config the walk stands on and its score (None if unknown yet)."""
        if self._centre is None:
            return None
        return self._centre, self._walk.get(self.space.key(self._centre))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "centre": self._centre,
            "hood": self._hood,
            "queue": self._queue,
            "walk": [[key, score] for key, score in self._walk.items()],
            "pending": [[cid, config] for cid, config in self._pending.items()],
            "n_restarts": self.n_restarts,
            "n_moves": self.n_moves,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._centre = state["centre"]
        self._hood = list(state["hood"])
        self._queue = list(state["queue"])
        self._walk = {key: score for key, score in state["walk"]}
        self._pending = {int(cid): config for cid, config in state["pending"]}
        self.n_restarts = int(state["n_restarts"])
        self.n_moves = int(state["n_moves"])
