"""A synthetic evaluator: a deterministic score per config, optionally slow.

For trying out executors, stores and strategies without a benchmark table: the
score is a fixed pseudo-random function of the config's canonical key, and each
evaluation can sleep (``sleep_s``) to stand in for training time.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from archsearch.errors import ConfigError
from archsearch.evaluation._base import Benchmark
from archsearch.registry import BENCHMARKS
from archsearch.space import config_key
from archsearch.trial import Result

__all__ = ["SyntheticEvaluator"]


@BENCHMARKS.register("synthetic")
class SyntheticEvaluator(Benchmark):
    """``score`` in [0, 100), a deterministic function of the config and ``seed``.

    Args:
        sleep_s: wall seconds each evaluation sleeps (0: none).
        seed: changes the function.
    """

    default_metric = "score"

    def __init__(self, *, sleep_s: float = 0.0, seed: int = 0) -> None:
        if not isinstance(sleep_s, int | float) or sleep_s < 0:
            raise ConfigError(f"sleep_s: must be a number >= 0, got {sleep_s!r}")
        self.sleep_s = float(sleep_s)
        self.seed = seed

    def _score(self, config: Any) -> float:
        digest = hashlib.sha256(f"{self.seed}:{config_key(config)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 * 100.0

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        if self.sleep_s:
            time.sleep(self.sleep_s)
        return Result({"score": self._score(config)}, self.sleep_s)

    def truth(self, config: Any) -> dict[str, float]:
        return {"final_accuracy": self._score(config)}
