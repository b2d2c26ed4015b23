"""Local process workers: faults end trials, never the experiment; results reproducible."""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import Evaluator, SyntheticEvaluator
from archsearch.experiment import (
    Budget,
    Experiment,
    InlineExecutor,
    ProcessExecutor,
    RetryPolicy,
    build_experiment,
    normalize_spec,
)
from archsearch.objectives import Objective
from archsearch.space import Choice, Int, Space
from archsearch.store import SqlStore
from archsearch.strategies import GridSearch, RandomSearch
from archsearch.trial import FailureKind, Result, TrialStatus


class Faulty(Evaluator):
    """x=1 raises, 2 kills its own process, 3 hangs, 4 runs out of memory, 5 gives NaN."""

    def __init__(self, flag: str | None = None) -> None:
        self.flag = flag  # a file: while it exists, x=6 kills its worker (for retries)

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        x = config["x"]
        if x == 1:
            raise ValueError("bad luck")
        if x == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        if x == 3:
            time.sleep(60)
        if x == 4:
            raise MemoryError
        if x == 5:
            return Result({"acc": math.nan})
        if x == 6 and self.flag and os.path.exists(self.flag):
            os.remove(self.flag)
            os.kill(os.getpid(), signal.SIGKILL)
        return Result({"acc": float(x)}, 0.01)


def _grid_experiment(store: Any, executor: Any, **kwargs: Any) -> Experiment:
    space = Space({"x": Int(0, 7)})
    return Experiment(
        space=space,
        strategy=GridSearch(space),
        evaluator=kwargs.pop("ev", Faulty()),
        objective=Objective("acc"),
        budget=Budget(n_trials=100),
        store=store,
        executor=executor,
        name="faulty",
        **kwargs,
    )


def test_every_fault_fails_its_trial_with_reason(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'f.db'}")
    summary = _grid_experiment(store, ProcessExecutor(2, timeout_s=6.0)).run()
    assert summary.n_trials == 8 and summary.n_failed == 5
    assert summary.best_config == {"x": 7}
    record = store.find_experiment("faulty")
    failed = {t.config["x"]: t for t in store.trials(record.id, state=TrialStatus.FAILED)}
    assert failed[1].error == "ValueError: bad luck" and failed[1].failure == "exception"
    assert (
        failed[2].error.startswith("worker died: SIGKILL") and failed[2].failure == "worker_died"
    )
    assert failed[3].error.startswith("timeout:") and failed[3].failure == "timeout"
    assert failed[4].failure == "out_of_memory"
    assert failed[5].failure == "nan"


def test_retry_policy_reruns_a_killed_worker_once(tmp_path: Path) -> None:
    flag = tmp_path / "kill-once"
    flag.write_text("")
    store = SqlStore(f"sqlite:///{tmp_path / 'r.db'}")
    retry = RetryPolicy(count=1, on=frozenset({FailureKind.WORKER_DIED}))
    summary = _grid_experiment(
        store, ProcessExecutor(2, timeout_s=6.0), ev=Faulty(str(flag)), retry=retry
    ).run()
    record = store.find_experiment("faulty")
    trials = {t.config["x"]: t for t in store.trials(record.id)}
    assert trials[6].state == TrialStatus.COMPLETE  # killed once, then ran again
    assert trials[2].state == TrialStatus.FAILED  # killed every time: retried, then failed
    assert not flag.exists()
    assert summary.n_trials == 8


def test_processes_give_the_same_trials_as_inline(tmp_path: Path) -> None:
    space = Space({"a": Choice(list(range(10))), "b": Int(0, 50)})

    def run(executor: Any, name: str) -> list[Any]:
        store = SqlStore(f"sqlite:///{tmp_path / (name + '.db')}")
        Experiment(
            space=space,
            strategy=RandomSearch(space, seed=4),
            evaluator=SyntheticEvaluator(),
            objective=Objective("score"),
            budget=Budget(n_trials=30),
            store=store,
            executor=executor,
            name=name,
        ).run()
        record = store.find_experiment(name)
        return [(t.number, t.config, t.score) for t in store.trials(record.id)]

    assert run(ProcessExecutor(3), "p") == run(InlineExecutor(), "i")


def test_ordered_processes_reproduce_an_adaptive_search(tmp_path: Path) -> None:
    runs = []
    for name in ("one", "two"):
        spec = normalize_spec(
            {
                "strategy": "rea",
                "seed": 2,
                "budget": {"trials": 40},
                "benchmark": {"name": "synthetic"},
                "executor": {"name": "processes", "workers": 3},
            }
        )
        store = SqlStore(f"sqlite:///{tmp_path / (name + '.db')}")
        summary = build_experiment(spec, store=store, name=name).run()
        assert summary.n_failed == 0 and summary.best_score is not None
        record = store.find_experiment(name)
        runs.append([(t.number, t.config, t.score) for t in store.trials(record.id)])
    assert runs[0] == runs[1]
    assert len(runs[0]) == 40


def test_bad_executor_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="executor.workers"):
        ProcessExecutor(0)
    with pytest.raises(ConfigError, match="executor.timeout_s"):
        ProcessExecutor(2, timeout_s=-1)
    with pytest.raises(ConfigError, match=r"executor.thread: unknown option for 'processes'"):
        build_experiment(
            normalize_spec({"executor": {"name": "processes", "thread": 2}}), store=None, name="x"
        )
