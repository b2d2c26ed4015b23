"""Evaluate a given list of configs, each at a ladder of fidelities: no search at all.

What ``archsearch bench build`` runs to train a sample of a space, and what a user
runs to evaluate a hand-picked set of architectures with the experiment machinery
(stored trials, resume, parallel workers). A config's next fidelity is asked only
after its previous one has been told, so that with checkpoints its training continues
instead of starting over; meanwhile other configs keep the workers busy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["SequenceStrategy"]


@STRATEGIES.register("sequence")
class SequenceStrategy(Strategy):
    """Asks each of ``configs`` at each of ``ladder`` (ascending), in order.

    Args:
        space: the space the configs belong to (each is validated against it).
        configs: the configs to evaluate, in order.
        ladder: fidelities to evaluate each config at (None: the evaluator's default).
        seed: unused (nothing is random); accepted for a uniform interface.

    Raises:
        ConfigError: for a config outside the space or a bad ladder.
    """

    def __init__(
        self,
        space: Space,
        *,
        configs: Sequence[Any],
        ladder: Sequence[float] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if not isinstance(configs, Sequence) or isinstance(configs, str) or not configs:
            raise ConfigError("strategy.configs: give a non-empty list of configs")
        for i, config in enumerate(configs):
            try:
                space.validate(config)
            except ConfigError as exc:
                raise ConfigError(f"strategy.configs[{i}]: {exc}") from None
        steps: list[float | None] = [None]
        if ladder is not None:
            if not ladder or any(
                not isinstance(f, int | float) or isinstance(f, bool) or f <= 0 for f in ladder
            ):
                raise ConfigError(f"strategy.ladder: positive numbers, got {ladder!r}")
            if list(ladder) != sorted(set(ladder)):
                raise ConfigError(f"strategy.ladder: must ascend without repeats, got {ladder!r}")
            steps = [float(f) for f in ladder]
        self.configs = list(configs)
        self.ladder = steps
        self._started = 0  # configs whose first step has been asked
        self._ready: deque[tuple[int, int]] = deque()  # (config, step) unlocked by a tell
        self._pending: dict[int, tuple[int, int]] = {}  # candidate id -> (config, step)
        self._done = 0  # (config, step) pairs told

    def ask(self) -> Candidate | None:
        if self._ready:
            i, step = self._ready.popleft()
        elif self._started < len(self.configs):
            i, step = self._started, 0
            self._started += 1
        else:
            return None
        candidate = self._propose(self.configs[i], self.ladder[step])
        self._pending[candidate.id] = (i, step)
        return candidate

    def tell(self, candidate: Candidate, result: Result) -> None:
        entry = self._pending.pop(candidate.id, None)
        if entry is None:
            return
        i, step = entry
        self._done += 1
        if step + 1 < len(self.ladder):
            if result.status.name == "COMPLETE":
                self._ready.append((i, step + 1))
            else:  # a failed run is not trained further: its later steps count as done
                self._done += len(self.ladder) - step - 1

    @property
    def is_finished(self) -> bool:
        return self._done >= len(self.configs) * len(self.ladder)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "started": self._started,
            "ready": [list(x) for x in self._ready],
            "pending": {str(k): list(v) for k, v in self._pending.items()},
            "done": self._done,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._started = int(state["started"])
        self._ready = deque((int(a), int(b)) for a, b in state["ready"])
        self._pending = {int(k): (int(v[0]), int(v[1])) for k, v in state["pending"].items()}
        self._done = int(state["done"])
