"""The Store contract: the single source of truth of every experiment."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archsearch.trial import Result, TrialStatus

__all__ = ["ExperimentRecord", "Store", "TrialRecord"]


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    """An experiment as stored."""

    id: int
    name: str
    spec: Mapping[str, Any]
    status: str
    created_at: float
    updated_at: float
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """A trial as stored: written when it starts, completed when it ends."""

    number: int
    config: Any
    fidelity: float | None
    state: TrialStatus
    metrics: Mapping[str, float]
    score: float | None
    cost_s: float | None
    sim_start: float | None
    sim_end: float | None
    started_at: float | None
    ended_at: float | None
    error: str | None
    failure: str | None = None
    #: intermediate values as ``[step, value]`` pairs (learning curve), if any
    curve: list[list[float]] | None = None


class Store(abc.ABC):
    """Where experiments and their trials live.

    A trial row is written before the trial runs (:meth:`start_trial`) and updated
    when it ends (:meth:`finish_trial`), together with the experiment's checkpoint
    (strategy and executor state) in one transaction: a crash at any moment leaves
    either the state before that trial ended or the state after, never a mix.
    """

    #: False for stores that forget everything when the process ends
    is_persistent: bool = True

    @abc.abstractmethod
    def create_experiment(self, name: str, spec: Mapping[str, Any]) -> ExperimentRecord:
        """Create an experiment; StoreError if the name is taken."""

    @abc.abstractmethod
    def find_experiment(self, name: str) -> ExperimentRecord | None:
        """The experiment called ``name``, or None."""

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentRecord]:
        """Every experiment, oldest first."""

    @abc.abstractmethod
    def update_experiment(
        self,
        experiment_id: int,
        *,
        status: str | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Change an experiment's status and/or summary."""

    @abc.abstractmethod
    def start_trial(
        self,
        experiment_id: int,
        number: int,
        config: Any,
        fidelity: float | None,
        sim_start: float | None,
        started_at: float,
    ) -> None:
        """Write (or re-write, on resume) trial ``number`` as RUNNING."""

    @abc.abstractmethod
    def finish_trial(
        self,
        experiment_id: int,
        number: int,
        result: Result,
        sim_end: float | None,
        ended_at: float,
        checkpoint: Mapping[str, Any] | None,
    ) -> None:
        """Record the end of a trial and, in the same transaction, the checkpoint."""

    @abc.abstractmethod
    def load_checkpoint(self, experiment_id: int) -> dict[str, Any] | None:
        """The last checkpoint saved by :meth:`finish_trial`, or None."""

    @abc.abstractmethod
    def trials(
        self,
        experiment_id: int,
        *,
        state: TrialStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TrialRecord]:
        """Trials in number order, optionally of one state, paged."""

    @abc.abstractmethod
    def count_trials(self, experiment_id: int) -> dict[TrialStatus, int]:
        """How many trials are in each state."""

    @abc.abstractmethod
    def top_trials(self, experiment_id: int, k: int) -> list[TrialRecord]:
        """The ``k`` complete trials with the highest scores (earlier first among ties)."""

    def best_trial(self, experiment_id: int) -> TrialRecord | None:
        """The complete trial with the highest score (the earliest among ties)."""
        top = self.top_trials(experiment_id, 1)
        return top[0] if top else None

    def close(self) -> None:
        """Release connections."""
        return None
