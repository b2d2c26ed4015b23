"""A synthetic evaluator: a deterministic score per config, optionally slow or faulty.

For trying out executors, stores and strategies without a benchmark table: the
score is a fixed pseudo-random function of the config's canonical key, and each
evaluation can sleep (``sleep_s``) to stand in for training time. Faults can be
injected for a fixed share of configs (decided by the config, so the same configs
fail every time): an exception, a NaN metric, a hang, or the worker killing itself.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
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
        error_rate: share of configs whose evaluation raises RuntimeError.
        nan_rate: share of configs whose score is NaN.
        hang_rate: share of configs whose evaluation sleeps an hour (for timeouts).
        kill_rate: share of configs whose evaluation kills its own process (SIGKILL).
    """

    default_metric = "score"
    FAULTS = ("error", "nan", "hang", "kill")

    def __init__(
        self,
        *,
        sleep_s: float = 0.0,
        seed: int = 0,
        error_rate: float = 0.0,
        nan_rate: float = 0.0,
        hang_rate: float = 0.0,
        kill_rate: float = 0.0,
    ) -> None:
        if not isinstance(sleep_s, int | float) or sleep_s < 0:
            raise ConfigError(f"sleep_s: must be a number >= 0, got {sleep_s!r}")
        rates = (error_rate, nan_rate, hang_rate, kill_rate)
        for name, rate in zip(self.FAULTS, rates, strict=True):
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigError(f"{name}_rate: must be in [0, 1], got {rate!r}")
        if sum(rates) > 1:
            raise ConfigError(
                f"error_rate + nan_rate + hang_rate + kill_rate: at most 1, got {sum(rates)}"
            )
        self.sleep_s = float(sleep_s)
        self.seed = seed
        self.rates = rates

    def _hash(self, config: Any, salt: str) -> float:
        digest = hashlib.sha256(f"{salt}{self.seed}:{config_key(config)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def _score(self, config: Any) -> float:
        return self._hash(config, "") * 100.0

    def fault(self, config: Any) -> str | None:
        """The fault injected for ``config``, or None."""
        u, edge = self._hash(config, "fault:"), 0.0
        for name, rate in zip(self.FAULTS, self.rates, strict=True):
            edge += rate
            if u < edge:
                return name
        return None

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        fault = self.fault(config) if any(self.rates) else None
        if fault == "error":
            raise RuntimeError("injected fault")
        if fault == "hang":
            time.sleep(3600)
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.sleep_s:
            time.sleep(self.sleep_s)
        score = math.nan if fault == "nan" else self._score(config)
        return Result({"score": score}, self.sleep_s)

    def truth(self, config: Any) -> dict[str, float]:
        return {"final_accuracy": self._score(config)}
