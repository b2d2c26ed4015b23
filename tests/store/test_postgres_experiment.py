"""Whole experiments in SQL stores: process workers over PostgreSQL, crashes, kills,
several processes writing at once.

The PostgreSQL cases need ``$ARCHSEARCH_TEST_POSTGRESQL`` (see ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.store import MemoryStore, SqlStore, Store
from archsearch.store._sql import trials
from archsearch.trial import TrialStatus

N_TRIALS = 40
PROCESS_SPEC = normalize_spec(
    {
        "benchmark": {"name": "synthetic"},
        "strategy": {"name": "rea", "population_size": 8, "sample_size": 3},
        "budget": {"trials": N_TRIALS},
        "executor": {"name": "processes", "workers": 2, "start_method": "fork"},
        "seed": 11,
    }
)


class Crash(BaseException):
    """Stands for a SIGKILL of the driver: nothing after it runs, no handler sees it."""


def _rows(store: Store, name: str) -> list[tuple[Any, ...]]:
    record = store.find_experiment(name)
    assert record is not None
    return [(t.number, t.config, t.state, t.score, t.metrics) for t in store.trials(record.id)]


def _run_crashing(url: str, name: str, at: int, *, committed: bool) -> None:
    """Run until the ``at``-th finished trial, then die just before or after its commit."""
    store = SqlStore(url)
    finish, calls = store.finish_trial, {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == at and not committed:
            raise Crash
        finish(*args, **kwargs)
        if calls["n"] == at:
            raise Crash

    store.finish_trial = crashing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        build_experiment(PROCESS_SPEC, store=store, name=name).run()
    store.close()


def test_process_workers_in_postgresql_resume_after_crashes_like_no_crash(
    postgres_url: str,
) -> None:
    store = SqlStore(postgres_url)
    reference = build_experiment(PROCESS_SPEC, store=store, name="ref").run()
    assert reference.n_trials == N_TRIALS

    _run_crashing(postgres_url, "crashy", 7, committed=False)
    _run_crashing(postgres_url, "crashy", 11, committed=True)  # counts from the resume
    record = store.find_experiment("crashy")
    assert record is not None and record.status == "running"
    assert store.count_trials(record.id)[TrialStatus.COMPLETE] == 6 + 11
    resumed = build_experiment(PROCESS_SPEC, store=SqlStore(postgres_url), name="crashy").run()

    assert _rows(store, "crashy") == _rows(store, "ref")
    assert store.count_trials(record.id) == {
        **dict.fromkeys(TrialStatus, 0),
        TrialStatus.COMPLETE: N_TRIALS,
    }
    assert (resumed.best_config, resumed.best_score, resumed.best_number) == (
        reference.best_config,
        reference.best_score,
        reference.best_number,
    )
    assert store.find_experiment("crashy").status == "complete"  # type: ignore[union-attr]
    store.close()


# -- a driver killed in mid-transaction, its forked workers alive ------------------------


def _die_in_transaction(url: str, experiment_id: int, worker_pid_file: str) -> None:
    """A driver: insert trial 0 without committing, fork a worker, then get SIGKILLed."""
    store = SqlStore(url)
    with store.engine.begin() as conn:
        conn.execute(
            trials.insert().values(
                experiment_id=experiment_id, number=0, config="{}", state="running"
            )
        )
        worker = mp.get_context("fork").Process(target=time.sleep, args=(60,))
        worker.start()  # like a `fork` executor's worker: it outlives the driver
        Path(worker_pid_file).write_text(str(worker.pid))
        os.kill(os.getpid(), signal.SIGKILL)


def test_killed_driver_leaves_no_locks_behind_through_forked_workers(
    postgres_url: str, tmp_path: Path
) -> None:
    store = SqlStore(postgres_url)
    experiment_id = store.create_experiment("e", {}).id
    pid_file = tmp_path / "worker.pid"
    driver = mp.get_context("fork").Process(
        target=_die_in_transaction, args=(postgres_url, experiment_id, str(pid_file))
    )
    driver.start()
    deadline = time.monotonic() + 30  # not join(): the worker holds the driver's sentinel
    while driver.exitcode is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert driver.exitcode == -signal.SIGKILL
        # the resumed driver writes trial 0 again: it must not wait on the dead one's lock
        url = sa.make_url(postgres_url)
        options = f"{url.query['options']} -c lock_timeout=3000"
        resumed = SqlStore(url.update_query_dict({"options": options}).render_as_string(False))
        resumed.start_trial(experiment_id, 0, {"x": 1}, None, None, 1.0)
        assert [t.config for t in resumed.trials(experiment_id)] == [{"x": 1}]
        resumed.close()
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    store.close()


# -- several processes writing to one database at once ------------------------------------

N_WRITERS, WRITER_TRIALS = 4, 100


def _writer_spec(seed: int) -> dict[str, Any]:
    return normalize_spec(
        {
            "benchmark": {"name": "synthetic"},
            "strategy": "random",
            "budget": {"trials": WRITER_TRIALS},
            "executor": "inline",
            "seed": seed,
        }
    )


def _writer(url: str, seed: int, barrier: Any, errors: Any) -> None:
    try:
        barrier.wait(timeout=30)  # all open the (new) database and write at the same moment
        store = SqlStore(url)
        build_experiment(_writer_spec(seed), store=store, name=f"writer-{seed}").run()
        store.close()
        errors.put((seed, None))
    except BaseException:  # reported to the test, whatever it is
        errors.put((seed, traceback.format_exc()))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_write_their_experiments_to_one_database_at_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    context = mp.get_context("fork")
    barrier, errors = context.Barrier(N_WRITERS), context.Queue()
    writers = [
        context.Process(target=_writer, args=(url, seed, barrier, errors))
        for seed in range(N_WRITERS)
    ]
    for writer in writers:
        writer.start()
    reports = dict(errors.get(timeout=60) for _ in writers)
    for writer in writers:
        writer.join(timeout=10)
    assert {seed: error for seed, error in reports.items() if error} == {}
    assert [w.exitcode for w in writers] == [0] * N_WRITERS

    store = SqlStore(url)
    assert sorted(r.name for r in store.list_experiments()) == [
        f"writer-{seed}" for seed in range(N_WRITERS)
    ]
    for seed in range(N_WRITERS):
        alone = MemoryStore()
        build_experiment(_writer_spec(seed), store=alone, name="alone").run()
        rows = _rows(store, f"writer-{seed}")
        assert len(rows) == WRITER_TRIALS
        assert rows == _rows(alone, "alone")
    store.close()
