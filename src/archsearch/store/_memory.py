"""A store that lives in memory: for benchmarks, tests and throw-away searches."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from archsearch.errors import StoreError
from archsearch.store._base import ExperimentRecord, Store, TrialRecord
from archsearch.trial import Result, TrialStatus

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keeps experiments in dicts; everything is gone when the process ends."""

    is_persistent = False

    def __init__(self) -> None:
        self._experiments: dict[str, ExperimentRecord] = {}
        self._trials: dict[int, dict[int, TrialRecord]] = {}
        self._checkpoints: dict[int, dict[str, Any]] = {}

    def create_experiment(self, name: str, spec: Mapping[str, Any]) -> ExperimentRecord:
        if name in self._experiments:
            raise StoreError(f"experiment {name!r} already exists")
        now = time.time()
        record = ExperimentRecord(
            len(self._experiments) + 1, name, copy.deepcopy(dict(spec)), "running", now, now
        )
        self._experiments[name] = record
        self._trials[record.id] = {}
        return record

    def find_experiment(self, name: str) -> ExperimentRecord | None:
        return self._experiments.get(name)

    def list_experiments(self) -> list[ExperimentRecord]:
        return sorted(self._experiments.values(), key=lambda r: r.id)

    def update_experiment(
        self,
        experiment_id: int,
        *,
        status: str | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        for name, record in self._experiments.items():
            if record.id == experiment_id:
                self._experiments[name] = replace(
                    record,
                    status=status or record.status,
                    summary=dict(summary) if summary is not None else record.summary,
                    updated_at=time.time(),
                )
                return
        raise StoreError(f"no experiment with id {experiment_id}")

    def start_trial(
        self,
        experiment_id: int,
        number: int,
        config: Any,
        fidelity: float | None,
        sim_start: float | None,
        started_at: float,
    ) -> None:
        self._trials[experiment_id][number] = TrialRecord(
            number,
            copy.deepcopy(config),
            fidelity,
            TrialStatus.RUNNING,
            {},
            None,
            None,
            sim_start,
            None,
            started_at,
            None,
            None,
        )

    def finish_trial(
        self,
        experiment_id: int,
        number: int,
        result: Result,
        sim_end: float | None,
        ended_at: float,
        checkpoint: Mapping[str, Any] | None,
    ) -> None:
        trials = self._trials[experiment_id]
        if number not in trials:
            raise StoreError(f"trial {number} of experiment {experiment_id} was never started")
        trials[number] = replace(
            trials[number],
            state=result.status,
            metrics=dict(result.metrics),
            score=result.score,
            cost_s=result.cost_s,
            sim_end=sim_end,
            ended_at=ended_at,
            error=result.error,
            failure=None if result.failure is None else str(result.failure),
            curve=result.curve_points(),
        )
        if checkpoint is not None:
            self._checkpoints[experiment_id] = copy.deepcopy(dict(checkpoint))

    def load_checkpoint(self, experiment_id: int) -> dict[str, Any] | None:
        checkpoint = self._checkpoints.get(experiment_id)
        return copy.deepcopy(checkpoint) if checkpoint is not None else None

    def trials(
        self,
        experiment_id: int,
        *,
        state: TrialStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TrialRecord]:
        rows = [t for _, t in sorted(self._trials[experiment_id].items())]
        if state is not None:
            rows = [t for t in rows if t.state == state]
        return rows[offset : None if limit is None else offset + limit]

    def count_trials(self, experiment_id: int) -> dict[TrialStatus, int]:
        counts = dict.fromkeys(TrialStatus, 0)
        for trial in self._trials[experiment_id].values():
            counts[trial.state] += 1
        return counts

    def top_trials(self, experiment_id: int, k: int) -> list[TrialRecord]:
        scored = [
            t
            for t in self.trials(experiment_id, state=TrialStatus.COMPLETE)
            if t.score is not None
        ]
        scored.sort(key=lambda t: (-t.score, t.number))  # type: ignore[operator]
        return scored[:k]
