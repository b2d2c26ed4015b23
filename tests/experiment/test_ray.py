"""Ray: the same experiment on a local Ray instance; faults fail trials, not the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archsearch.evaluation import SyntheticEvaluator
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.store import SqlStore
from archsearch.trial import TrialStatus

ray = pytest.importorskip("ray", reason="ray is an optional dependency (pip install ray)")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _run(tmp_path: Path, name: str, executor: dict[str, Any], **bench: Any) -> list[Any]:
    spec = normalize_spec(
        {
            "strategy": "rea",
            "seed": 5,
            "budget": {"trials": 24},
            "benchmark": {"name": "synthetic", **bench},
            "executor": executor,
        }
    )
    store = SqlStore(f"sqlite:///{tmp_path / 'ray.db'}")
    build_experiment(spec, store=store, name=name).run()
    record = store.find_experiment(name)
    return [(t.number, t.config, t.state, t.score, t.failure) for t in store.trials(record.id)]


def test_ray_gives_the_same_trials_as_local_processes(tmp_path: Path) -> None:
    # ordered delivery: with the same number of workers, an adaptive search (REA) sees
    # the same asks and tells on Ray as on local processes, whatever the timing
    ray_rows = _run(tmp_path, "ray", {"name": "ray", "workers": 2})
    local_rows = _run(
        tmp_path, "local", {"name": "processes", "workers": 2, "start_method": "fork"}
    )
    assert ray_rows == local_rows
    assert all(row[2] == TrialStatus.COMPLETE for row in ray_rows)


def test_ray_worker_deaths_and_timeouts_fail_their_trials(tmp_path: Path) -> None:
    bench = {"kill_rate": 0.15, "hang_rate": 0.15, "error_rate": 0.1}
    # the timeout covers a Ray worker's start, which takes seconds on a busy 2-core machine
    rows = _run(tmp_path, "faulty", {"name": "ray", "workers": 2, "timeout_s": 12.0}, **bench)
    evaluator = SyntheticEvaluator(**bench)
    expected = {"kill": "worker_died", "hang": "timeout", "error": "exception", None: None}
    assert len(rows) == 24
    for _, config, state, _, failure in rows:
        assert failure == expected[evaluator.fault(config)]
        assert (state == TrialStatus.FAILED) == (failure is not None)
    assert {r[4] for r in rows} >= {"worker_died", "timeout", "exception"}
