"""Budgets: when an experiment stops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archsearch.errors import ConfigError
from archsearch.trial import FailureKind

__all__ = ["Budget", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class Budget:
    """Stop after ``n_trials`` finished trials and/or ``seconds`` on the executor's clock.

    On a simulated clock (tabular benchmarks) ``seconds`` are simulated seconds and
    follow the NATS-Bench protocol: a trial that would end after the budget is
    cancelled and not counted. On a real clock a trial started in time may finish.
    """

    n_trials: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.n_trials is None and self.seconds is None:
            raise ConfigError("budget: give trials and/or seconds")
        if self.n_trials is not None and (
            not isinstance(self.n_trials, int)
            or isinstance(self.n_trials, bool)
            or self.n_trials < 1
        ):
            raise ConfigError(f"budget.trials: must be an integer >= 1, got {self.n_trials!r}")
        if self.seconds is not None and (
            not isinstance(self.seconds, int | float)
            or isinstance(self.seconds, bool)
            or not self.seconds > 0
        ):
            raise ConfigError(f"budget.seconds: must be a number > 0, got {self.seconds!r}")

    @classmethod
    def from_spec(cls, spec: Any) -> Budget:
        """From a config mapping: ``{trials: N}`` and/or ``{seconds: S}``."""
        if not isinstance(spec, dict):
            raise ConfigError(
                f"budget: expected a mapping with trials and/or seconds, got {spec!r}"
            )
        unknown = set(spec) - {"trials", "seconds"}
        if unknown:
            raise ConfigError(
                f"budget.{sorted(unknown)[0]}: unknown field; allowed: trials, seconds"
            )
        seconds = spec.get("seconds")
        return cls(n_trials=spec.get("trials"), seconds=seconds)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.n_trials is not None:
            out["trials"] = self.n_trials
        if self.seconds is not None:
            out["seconds"] = self.seconds
        return out


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Run a failed trial again, up to ``count`` times, when its failure is one of ``on``.

    The default retries nothing. Worker deaths and timeouts are the usual candidates
    (a pre-empted machine, a hung data loader); an exception or a NaN loss usually
    repeats, so retrying them only costs time.
    """

    count: int = 0
    on: frozenset[FailureKind] = frozenset({FailureKind.WORKER_DIED, FailureKind.TIMEOUT})

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 0:
            raise ConfigError(f"retries.count: must be an integer >= 0, got {self.count!r}")

    @classmethod
    def from_spec(cls, spec: Any) -> RetryPolicy:
        """From ``{count: N, failures: [worker_died, timeout, ...]}``.

        (Not ``on:``: YAML reads a bare ``on`` as the boolean true.)
        """
        if not isinstance(spec, dict):
            raise ConfigError(f"retries: expected a mapping with count and failures, got {spec!r}")
        unknown = [k for k in spec if k not in ("count", "failures")]
        if unknown:
            raise ConfigError(f"retries.{unknown[0]}: unknown field; allowed: count, failures")
        kinds = spec.get("failures", sorted(k.value for k in cls().on))
        allowed = ", ".join(k.value for k in FailureKind)
        if not isinstance(kinds, list):
            raise ConfigError(f"retries.failures: expected a list of failure kinds ({allowed})")
        for i, kind in enumerate(kinds):
            if kind not in {k.value for k in FailureKind}:
                raise ConfigError(
                    f"retries.failures[{i}]: unknown failure {kind!r}; allowed: {allowed}"
                )
        return cls(count=spec.get("count", 0), on=frozenset(FailureKind(k) for k in kinds))
