"""Objectives: metrics in, the score a strategy maximises out.

Example:
    >>> Objective("valid_accuracy").score({"valid_accuracy": 91.2})
    91.2
    >>> Objective("latency_ms", mode="min").score({"latency_ms": 4.0})
    -4.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archsearch.errors import ConfigError

__all__ = ["Objective"]


@dataclass(frozen=True, slots=True)
class Objective:
    """One metric to maximise or minimise.

    Args:
        metric: the name of the metric in the evaluator's results.
        mode: ``max`` or ``min``; the score is the metric, negated for ``min``.
    """

    metric: str
    mode: str = "max"

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"objective.metric: expected a metric name, got {self.metric!r}")
        if self.mode not in ("max", "min"):
            raise ConfigError(f"objective.mode: must be 'max' or 'min', got {self.mode!r}")

    def score(self, metrics: Mapping[str, float]) -> float | None:
        """The score of ``metrics``; None when the metric is missing, NaN or infinite."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return None
        return float(value) if self.mode == "max" else -float(value)

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "mode": self.mode}
