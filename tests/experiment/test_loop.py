"""The experiment loop: failures, NaN metrics, store-less runs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import Evaluator
from archsearch.experiment import Budget, Experiment, InlineExecutor
from archsearch.objectives import Objective
from archsearch.space import Int, Space
from archsearch.store import MemoryStore
from archsearch.strategies import GridSearch
from archsearch.trial import Result, TrialStatus


class Flaky(Evaluator):
    """x=1 raises, x=2 gives NaN, x=3 misses the metric; otherwise score = x."""

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        x = config["x"]
        if x == 1:
            raise RuntimeError("boom\nsecond line")
        if x == 2:
            return Result({"acc": math.nan}, 1.0)
        if x == 3:
            return Result({"other": 1.0}, 1.0)
        return Result({"acc": float(x)}, 1.0)


def _experiment(store: Any, **kwargs: Any) -> Experiment:
    space = Space({"x": Int(0, 6)})
    return Experiment(
        space=space,
        strategy=GridSearch(space),
        evaluator=Flaky(),
        objective=Objective("acc"),
        budget=Budget(n_trials=50),
        store=store,
        name="flaky",
        **kwargs,
    )


def test_failures_are_stored_with_reason_and_search_continues() -> None:
    store = MemoryStore()
    summary = _experiment(store).run()
    assert summary.n_trials == 7  # grid finished: every config tried once
    assert summary.n_failed == 3
    assert summary.best_config == {"x": 6}
    record = store.find_experiment("flaky")
    errors = {t.config["x"]: t.error for t in store.trials(record.id, state=TrialStatus.FAILED)}
    assert errors[1] == "RuntimeError: boom"
    assert errors[2] == "objective metric 'acc' is nan"
    assert errors[3] == "objective metric 'acc' is missing"


def test_minimise_reports_metric_not_negated_score() -> None:
    space = Space({"x": Int(4, 6)})
    experiment = Experiment(
        space=space,
        strategy=GridSearch(space),
        evaluator=Flaky(),
        objective=Objective("acc", mode="min"),
        budget=Budget(n_trials=3),
    )
    summary = experiment.run()
    assert summary.best_config == {"x": 4}
    assert summary.best_score == 4.0


def test_inline_executor_runs_without_store() -> None:
    summary = _experiment(None, executor=InlineExecutor()).run()
    assert summary.best_config == {"x": 6}
    assert summary.simulated_s is None


def test_budget_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="budget.trials"):
        Budget(n_trials=0)
    with pytest.raises(ConfigError, match="budget: give trials"):
        Budget()
