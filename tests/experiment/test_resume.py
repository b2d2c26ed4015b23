"""Resume: an experiment stopped anywhere ends like an uninterrupted one."""

from __future__ import annotations

from typing import Any

import pytest

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.store import SqlStore
from archsearch.trial import TrialStatus


class Crash(BaseException):
    """Stands for a SIGKILL: nothing after it runs, no handler sees it."""


def _spec(strategy: str = "rea", **budget: Any) -> dict[str, Any]:
    return normalize_spec({"strategy": strategy, "seed": 7, "budget": budget or {"seconds": 6000}})


def _trials(store: SqlStore, name: str) -> list[tuple[Any, ...]]:
    record = store.find_experiment(name)
    assert record is not None
    return [(t.number, t.config, t.state, t.score) for t in store.trials(record.id)]


def _run_crashing_at(store: SqlStore, name: str, spec: dict[str, Any], crash_at: int) -> None:
    experiment = build_experiment(spec, store=store, name=name)
    evaluate = experiment.evaluator.evaluate
    calls = {"n": 0}

    def crashing(config: Any, fidelity: float | None = None) -> Any:
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise Crash
        return evaluate(config, fidelity)

    experiment.evaluator.evaluate = crashing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        experiment.run()


@pytest.mark.parametrize("strategy", ["rea", "random"])
@pytest.mark.parametrize("crash_points", [(1,), (5,), (12,), (3, 9, 30)])
def test_resume_after_crashes_matches_uninterrupted_run(
    tmp_path: Any, strategy: str, crash_points: tuple[int, ...]
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    spec = _spec(strategy)
    reference = build_experiment(spec, store=store, name="ref").run()

    for crash_at in crash_points:
        _run_crashing_at(store, "crashy", spec, crash_at)
        assert store.find_experiment("crashy").status == "running"
    resumed = build_experiment(spec, store=store, name="crashy").run()

    assert _trials(store, "crashy") == _trials(store, "ref")
    assert resumed.best_config == reference.best_config
    assert resumed.best_score == reference.best_score
    assert resumed.n_trials == reference.n_trials
    assert resumed.simulated_s == pytest.approx(reference.simulated_s)


def test_resume_with_simulated_workers_matches(tmp_path: Any) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'w.db'}")
    spec = normalize_spec(
        {"seed": 3, "budget": {"seconds": 4000}, "executor": {"name": "simulated", "workers": 4}}
    )
    build_experiment(spec, store=store, name="ref").run()
    _run_crashing_at(store, "crashy", spec, 17)
    build_experiment(spec, store=store, name="crashy").run()
    assert _trials(store, "crashy") == _trials(store, "ref")


def test_trial_budget_counts_finished_trials(tmp_path: Any) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'n.db'}")
    summary = build_experiment(_spec(trials=25), store=store, name="n").run()
    assert summary.n_trials == 25
    record = store.find_experiment("n")
    assert store.count_trials(record.id)[TrialStatus.COMPLETE] == 25


def test_completed_experiment_is_not_run_again(tmp_path: Any) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'c.db'}")
    first = build_experiment(_spec(trials=10), store=store, name="c").run()
    again = build_experiment(_spec(trials=10), store=store, name="c").run()
    assert again.best_config == first.best_config
    assert len(_trials(store, "c")) == 10


def test_over_budget_trial_is_cancelled_not_counted(tmp_path: Any) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'b.db'}")
    summary = build_experiment(_spec(seconds=3000), store=store, name="b").run()
    record = store.find_experiment("b")
    counts = store.count_trials(record.id)
    assert counts[TrialStatus.CANCELLED] == 1
    assert counts[TrialStatus.COMPLETE] == summary.n_trials
    assert summary.simulated_s <= 3000
    cancelled = store.trials(record.id, state=TrialStatus.CANCELLED)[0]
    assert "budget" in cancelled.error
