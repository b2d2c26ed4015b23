"""Objectives: metrics in, the score(s) a strategy maximises out.

Every objective answers :meth:`Objective.judge` with a :class:`Verdict`: a scalar
``score`` (higher is better: "min" metrics are negated), a vector ``scores`` for
multi-objective search, and, when a constraint is violated, the reason the trial is
infeasible (it is then stored as such and never scored).

Example:
    >>> Objective("valid_accuracy").score({"valid_accuracy": 91.2})
    91.2
    >>> Objective("latency_ms", mode="min").score({"latency_ms": 4.0})
    -4.0
    >>> lat = Constraint("latency_ms", 5.0)
    >>> Objective("acc", constraints=(lat,)).judge({"acc": 90.0, "latency_ms": 7.5}).infeasible
    'latency_ms = 7.5 > 5 (budget)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archsearch.errors import ConfigError

__all__ = [
    "Constraint",
    "MnasNetReward",
    "MultiObjective",
    "Objective",
    "Verdict",
    "objective_from_spec",
    "precheck",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a trial's metrics score.

    Attributes:
        score: the scalar a single-objective strategy maximises (None: unusable).
        scores: one maximised value per objective (multi-objective), else None.
        missing: the metric that was missing or not finite, if any.
        infeasible: the violated constraint, if any (then ``score`` is None).
        eligible: False when the trial is scored (strategies learn from it) but may
            not be returned as the result: the hard MnasNet reward over its target.
    """

    score: float | None
    scores: tuple[float, ...] | None = None
    missing: str | None = None
    infeasible: str | None = None
    eligible: bool = True


@dataclass(frozen=True, slots=True)
class Constraint:
    """``metric <= budget`` (or ``>=`` with ``at_least=True``); violation = infeasible."""

    metric: str
    budget: float
    at_least: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"constraints.metric: expected a metric name, got {self.metric!r}")
        if not isinstance(self.budget, int | float) or not math.isfinite(self.budget):
            raise ConfigError(f"constraints.{self.metric}: budget must be a number")

    def violation(self, metrics: Mapping[str, float]) -> str | None:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return f"{self.metric} is {'missing' if value is None else value}"
        if self.at_least and value < self.budget:
            return f"{self.metric} = {value:g} < {self.budget:g} (budget)"
        if not self.at_least and value > self.budget:
            return f"{self.metric} = {value:g} > {self.budget:g} (budget)"
        return None

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "max" if not self.at_least else "min": self.budget}


def _value(metrics: Mapping[str, float], name: str) -> float | None:
    value = metrics.get(name)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _check_mode(mode: str, field_name: str) -> None:
    if mode not in ("max", "min"):
        raise ConfigError(f"{field_name}: must be 'max' or 'min', got {mode!r}")


def _violated(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> str | None:
    for constraint in constraints:
        reason = constraint.violation(metrics)
        if reason is not None:
            return reason
    return None


def precheck(objective: Any, estimate: Mapping[str, float]) -> str | None:
    """The first constraint that cheap ``estimate`` metrics already violate, if any.

    Only constraints on metrics present in ``estimate`` are checked, so a candidate
    can be declared infeasible before it is evaluated (EEEA-style early exit).
    """
    constraints = getattr(objective, "constraints", ())
    known = [c for c in constraints if c.metric in estimate]
    return _violated(known, estimate)


@dataclass(frozen=True, slots=True)
class Objective:
    """One metric to maximise or minimise, under optional constraints.

    Args:
        metric: the name of the metric in the evaluator's results.
        mode: ``max`` or ``min``; the score is the metric, negated for ``min``.
        constraints: each makes a violating trial infeasible.
    """

    metric: str
    mode: str = "max"
    constraints: tuple[Constraint, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"objective.metric: expected a metric name, got {self.metric!r}")
        _check_mode(self.mode, "objective.mode")

    def score(self, metrics: Mapping[str, float]) -> float | None:
        """The score of ``metrics``; None when the metric is missing, NaN or infinite."""
        value = _value(metrics, self.metric)
        if value is None:
            return None
        return value if self.mode == "max" else -value

    def judge(self, metrics: Mapping[str, float]) -> Verdict:
        """Score ``metrics``, checking the constraints first."""
        score = self.score(metrics)
        if score is None:
            return Verdict(None, missing=self.metric)
        reason = _violated(self.constraints, metrics)
        if reason is not None:
            return Verdict(None, infeasible=reason)
        return Verdict(score)

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    @property
    def modes(self) -> tuple[str, ...]:
        return (self.mode,)

    def report(self, score: float) -> float:
        """The metric value behind a score (undoes the negation of ``min``)."""
        return score if self.mode == "max" else -score

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "mode": self.mode}
        if self.constraints:
            out["constraints"] = [c.to_json() for c in self.constraints]
        return out


@dataclass(frozen=True, slots=True)
class MnasNetReward:
    """MnasNet's reward ``ACC × (LAT / T)^w`` (Tan et al., CVPR 2019).

    ``w = alpha`` if ``LAT <= T`` else ``beta``. The soft form (α = β = −0.07) trades
    accuracy for latency around the target; the hard form (α = 0, β = −1) leaves
    feasible models their accuracy and penalises the rest steeply. Under the hard
    form a model over the target still scores (the strategy learns from it) but is
    never returned as the search's result.

    Args:
        metric: the accuracy metric.
        latency: the latency (or other cost) metric.
        target: T, in the latency metric's unit.
        alpha, beta: the exponents (default: soft, −0.07 both).
    """

    metric: str
    latency: str
    target: float
    alpha: float = -0.07
    beta: float = -0.07
    mode: str = "max"
    constraints: tuple[Constraint, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.target, int | float) or not self.target > 0:
            raise ConfigError(f"objective.target: must be a number > 0, got {self.target!r}")
        if self.mode != "max":
            raise ConfigError("objective.mode: the MnasNet reward is maximised")

    def score(self, metrics: Mapping[str, float]) -> float | None:
        acc, lat = _value(metrics, self.metric), _value(metrics, self.latency)
        if acc is None or lat is None or lat <= 0:
            return None
        w = self.alpha if lat <= self.target else self.beta
        return float(acc * (lat / self.target) ** w)

    def judge(self, metrics: Mapping[str, float]) -> Verdict:
        score = self.score(metrics)
        if score is None:
            missing = self.metric if _value(metrics, self.metric) is None else self.latency
            return Verdict(None, missing=missing)
        reason = _violated(self.constraints, metrics)
        if reason:
            return Verdict(None, infeasible=reason)
        over = metrics[self.latency] > self.target
        return Verdict(score, eligible=not (over and self.is_hard))

    @property
    def is_hard(self) -> bool:
        """The hard form: no reward for beating the target, a steep penalty past it."""
        return self.alpha == 0 and self.beta <= -1

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric, self.latency)

    def report(self, score: float) -> float:
        return score

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "mnasnet",
            "metric": self.metric,
            "latency": self.latency,
            "target": self.target,
            "alpha": self.alpha,
            "beta": self.beta,
        }


@dataclass(frozen=True, slots=True)
class MultiObjective:
    """Several metrics at once: ``scores`` is the vector (each maximised).

    ``score`` (for single-objective strategies and summaries) is the first objective.
    """

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = field(default=())
    mode: str = "max"

    def __post_init__(self) -> None:
        if len(self.objectives) < 2:
            raise ConfigError("objective.metrics: a multi-objective needs at least two metrics")

    def score(self, metrics: Mapping[str, float]) -> float | None:
        return self.objectives[0].score(metrics)

    def judge(self, metrics: Mapping[str, float]) -> Verdict:
        scores = []
        for objective in self.objectives:
            value = objective.score(metrics)
            if value is None:
                return Verdict(None, missing=objective.metric)
            scores.append(value)
        reason = _violated(self.constraints, metrics)
        if reason is not None:
            return Verdict(None, infeasible=reason)
        return Verdict(scores[0], tuple(scores))

    @property
    def metric(self) -> str:
        return self.objectives[0].metric

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(o.metric for o in self.objectives)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(o.mode for o in self.objectives)

    def report(self, score: float) -> float:
        return self.objectives[0].report(score)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metrics": {o.metric: o.mode for o in self.objectives}}
        if self.constraints:
            out["constraints"] = [c.to_json() for c in self.constraints]
        return out


AnyObjective = Objective | MnasNetReward | MultiObjective


def _constraints(spec: Any) -> tuple[Constraint, ...]:
    """``{metric: budget}`` (at most) or ``[{metric: m, max: b} | {metric: m, min: b}]``."""
    if spec is None:
        return ()
    if isinstance(spec, Mapping):
        return tuple(Constraint(str(k), v) for k, v in spec.items())
    if not isinstance(spec, list):
        raise ConfigError(f"objective.constraints: expected a mapping or a list, got {spec!r}")
    out = []
    for i, item in enumerate(spec):
        if (
            not isinstance(item, Mapping)
            or "metric" not in item
            or not (("max" in item) ^ ("min" in item))
        ):
            raise ConfigError(
                f"objective.constraints[{i}]: expected {{metric: NAME, max: B}} or {{..., min: B}}"
            )
        at_least = "min" in item
        out.append(Constraint(item["metric"], item["min" if at_least else "max"], at_least))
    return tuple(out)


def objective_from_spec(spec: Mapping[str, Any], default_metric: str | None) -> AnyObjective:
    """Build an objective from a config mapping.

    Forms: ``{metric: M, mode: max}``; ``{metrics: {acc: max, latency_ms: min}}``;
    ``{type: mnasnet, metric: M, latency: L, target: T, alpha: a, beta: b}``; each
    with optional ``constraints: {latency_ms: 20}``.
    """
    allowed = {
        "metric",
        "mode",
        "metrics",
        "constraints",
        "type",
        "latency",
        "target",
        "alpha",
        "beta",
    }
    unknown = [k for k in spec if k not in allowed]
    if unknown:
        raise ConfigError(
            f"objective.{unknown[0]}: unknown field; allowed: {', '.join(sorted(allowed))}"
        )
    constraints = _constraints(spec.get("constraints"))
    kind = spec.get("type", "mnasnet" if "target" in spec else None)
    if kind == "mnasnet":
        for key in ("latency", "target"):
            if key not in spec:
                raise ConfigError(f"objective.{key}: required by the MnasNet reward")
        return MnasNetReward(
            spec.get("metric", default_metric) or "valid_accuracy",
            spec["latency"],
            spec["target"],
            spec.get("alpha", -0.07),
            spec.get("beta", -0.07),
            constraints=constraints,
        )
    if kind is not None:
        raise ConfigError(f"objective.type: unknown {kind!r}; allowed: mnasnet")
    if "metrics" in spec:
        metrics = spec["metrics"]
        if not isinstance(metrics, Mapping):
            raise ConfigError("objective.metrics: expected a mapping {metric: max|min}")
        for name, mode in metrics.items():
            _check_mode(mode, f"objective.metrics.{name}")
        objectives = tuple(Objective(str(k), v) for k, v in metrics.items())
        return MultiObjective(objectives, constraints)
    metric = spec.get("metric", default_metric)
    if metric is None:
        raise ConfigError("objective.metric: required for this evaluator")
    return Objective(metric, spec.get("mode", "max"), constraints)
