"""The records that cross package boundaries: candidates, results, trial states.

Strategies, evaluators, executors and stores all speak in these types, so they live
here, below every package, rather than in any one of them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Candidate", "FailureKind", "Result", "TrialStatus", "is_bad_number"]


class TrialStatus(enum.StrEnum):
    """Where a trial stands."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INFEASIBLE = "infeasible"  # ran, but a constraint is violated: never scored
    CANCELLED = "cancelled"  # not run to the end: over budget, or stopped
    PRUNED = "pruned"  # stopped early by a pruner on its intermediate values; never scored


class FailureKind(enum.StrEnum):
    """Why a trial failed; retry policies choose among these."""

    EXCEPTION = "exception"  # the evaluator raised
    NAN = "nan"  # the objective's metric was missing, NaN or infinite
    TIMEOUT = "timeout"  # the per-trial time limit ran out; the worker was killed
    WORKER_DIED = "worker_died"  # the worker process ended under the trial (a kill, a crash)
    OUT_OF_MEMORY = "out_of_memory"  # MemoryError, or CUDA out of memory


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposal from a strategy: a config, at a fidelity, with an id.

    ``id`` is unique within a strategy's run and becomes the trial number.
    ``fidelity`` is None for single-fidelity strategies (the evaluator's default).
    ``context`` is what the evaluation is told beside the config: by the strategy
    (``parent``: the config whose weights a child inherits) and by the evaluator's
    driver side (a pruner's ``thresholds``). Most strategies leave it None.
    """

    id: int
    config: Any
    fidelity: float | None = None
    context: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """What evaluating a candidate gave.

    Attributes:
        metrics: named numbers (accuracies in percent, losses, latencies in ms).
        cost_s: what the evaluation cost in seconds (simulated for tables).
        status: COMPLETE, or FAILED with ``error`` saying why.
        score: the objective's value (higher is better), set by the experiment;
            None for failed or infeasible trials.
        curve: optional learning curve: intermediate values, one per epoch unless
            ``steps`` says at which step each was reported.
        error: the reason of a failure, one line.
        failure: the kind of failure (what retry policies look at).
        scores: one maximised value per objective, for multi-objective search.
        steps: the step of each ``curve`` entry (None: epochs 1, 2, ...).
    """

    metrics: Mapping[str, float]
    cost_s: float = 0.0
    status: TrialStatus = TrialStatus.COMPLETE
    score: float | None = None
    curve: Sequence[float] | None = None
    error: str | None = None
    failure: FailureKind | None = None
    scores: tuple[float, ...] | None = None
    steps: Sequence[float] | None = None

    def with_score(self, score: float | None, scores: tuple[float, ...] | None = None) -> Result:
        """A copy with ``score`` (and the objective vector ``scores``) set."""
        return Result(
            self.metrics,
            self.cost_s,
            self.status,
            score,
            self.curve,
            self.error,
            self.failure,
            scores,
            self.steps,
        )

    @classmethod
    def failed(
        cls, error: str, *, kind: FailureKind = FailureKind.EXCEPTION, cost_s: float = 0.0
    ) -> Result:
        """A failed result with its reason (one line) and kind."""
        return cls({}, cost_s, TrialStatus.FAILED, None, None, error.splitlines()[0], kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "cost_s": self.cost_s,
            "status": str(self.status),
            "score": self.score,
            "curve": list(self.curve) if self.curve is not None else None,
            "error": self.error,
            "failure": None if self.failure is None else str(self.failure),
            "scores": None if self.scores is None else list(self.scores),
            "steps": None if self.steps is None else list(self.steps),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Result:
        return cls(
            dict(data.get("metrics") or {}),
            float(data.get("cost_s") or 0.0),
            TrialStatus(data.get("status", "complete")),
            data.get("score"),
            data.get("curve"),
            data.get("error"),
            FailureKind(data["failure"]) if data.get("failure") else None,
            tuple(data["scores"]) if data.get("scores") is not None else None,
            data.get("steps"),
        )

    def curve_points(self) -> list[list[float]] | None:
        """The curve as ``[step, value]`` pairs (steps 1, 2, ... when not given)."""
        if self.curve is None:
            return None
        steps = self.steps if self.steps is not None else range(1, len(self.curve) + 1)
        return [[float(s), float(v)] for s, v in zip(steps, self.curve, strict=True)]


def is_bad_number(value: object) -> bool:
    """True for NaN and infinities (which no strategy should ever be told)."""
    return isinstance(value, float) and not math.isfinite(value)
