"""Stores: experiments, trials and checkpoints, in memory, in SQLite and in PostgreSQL.

The PostgreSQL cases need ``$ARCHSEARCH_TEST_POSTGRESQL`` (see ``conftest.py``): they
skip without it, and fail without it when ``CI=true``.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from archsearch.errors import StoreError
from archsearch.store import MemoryStore, SqlStore, Store, open_store
from archsearch.store._sql import meta
from archsearch.trial import Result, TrialStatus

SPEC = {"space": "nb201", "strategy": {"name": "rea", "population_size": 10}, "seeds": [1, 2]}
CELL = {"edge_0_1": "nor_conv_3x3", "edge_0_2": "none"}


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty SQL database of each kind."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/s.db"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqlStore(f"sqlite:///{tmp_path}/s.db")
    else:
        made = SqlStore(request.getfixturevalue("postgres_url"))
    yield made
    made.close()


def ok(score: float | None, **metrics: float) -> Result:
    return Result(metrics or {"valid_accuracy": score or 0.0}, 2.5).with_score(score)


def start(store: Store, exp: int, number: int, config: object = CELL) -> None:
    store.start_trial(exp, number, config, 12.0, float(number), 1000.0 + number)


def finish(store: Store, exp: int, number: int, result: Result) -> None:
    store.finish_trial(exp, number, result, float(number) + 1, 2000.0 + number, None)


# -- experiments ---------------------------------------------------------------------


def test_create_find_and_list_experiments(store: Store) -> None:
    first = store.create_experiment("first", SPEC)
    second = store.create_experiment("second", {"space": "other"})
    assert first.name == "first"
    assert dict(first.spec) == SPEC
    assert first.status == "running"
    assert first.id != second.id
    assert first.created_at <= second.created_at
    found = store.find_experiment("first")
    assert found is not None
    assert (found.id, found.name, dict(found.spec)) == (first.id, "first", SPEC)
    assert store.find_experiment("third") is None
    assert [r.name for r in store.list_experiments()] == ["first", "second"]


def test_duplicate_experiment_name_raises_store_error(store: Store) -> None:
    store.create_experiment("dup", SPEC)
    with pytest.raises(StoreError, match="experiment 'dup' already exists"):
        store.create_experiment("dup", {"other": True})
    assert len(store.list_experiments()) == 1
    found = store.find_experiment("dup")
    assert found is not None and dict(found.spec) == SPEC


def test_update_experiment_status_and_summary(store: Store) -> None:
    exp = store.create_experiment("e", SPEC)
    store.update_experiment(exp.id, status="complete", summary={"best": 91.5, "n": 3})
    found = store.find_experiment("e")
    assert found is not None
    assert found.status == "complete"
    assert dict(found.summary) == {"best": 91.5, "n": 3}
    store.update_experiment(exp.id, summary={"best": 92.0})
    found = store.find_experiment("e")
    assert found is not None
    assert found.status == "complete"
    assert dict(found.summary) == {"best": 92.0}


# -- trials ----------------------------------------------------------------------------


def test_start_trial_records_a_running_trial(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    store.start_trial(exp, 0, CELL, 12.0, 3.5, 1234.0)
    (trial,) = store.trials(exp)
    assert trial.number == 0
    assert trial.config == CELL
    assert trial.fidelity == 12.0
    assert trial.state == TrialStatus.RUNNING
    assert (trial.sim_start, trial.started_at) == (3.5, 1234.0)
    assert trial.score is None and trial.ended_at is None and trial.error is None


def test_start_trial_twice_overwrites_instead_of_duplicating(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    start(store, exp, 0, {"edge_0_1": "none"})
    finish(store, exp, 0, ok(50.0))
    # a resumed experiment re-asks trial 0
    store.start_trial(exp, 0, CELL, 200.0, 9.0, 5000.0)
    trials = store.trials(exp)
    assert len(trials) == 1
    assert trials[0].config == CELL
    assert trials[0].fidelity == 200.0
    assert trials[0].state == TrialStatus.RUNNING
    assert trials[0].score is None
    assert trials[0].started_at == 5000.0
    assert store.count_trials(exp)[TrialStatus.RUNNING] == 1
    assert store.count_trials(exp)[TrialStatus.COMPLETE] == 0


def test_finish_trial_stores_metrics_score_error_and_checkpoint(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    assert store.load_checkpoint(exp) is None
    start(store, exp, 0)
    start(store, exp, 1)
    result = Result({"valid_accuracy": 88.25, "test_accuracy": 87.5}, 96.5).with_score(88.25)
    checkpoint = {"strategy": {"next_id": 2, "population": [[CELL, 88.25]]}, "clock": 96.5}
    store.finish_trial(exp, 0, result, 96.5, 3000.0, checkpoint)
    store.finish_trial(
        exp, 1, Result.failed("CUDA out of memory", cost_s=4.0), 100.5, 3001.0, None
    )

    done, failed = store.trials(exp)
    assert done.state == TrialStatus.COMPLETE
    assert dict(done.metrics) == {"valid_accuracy": 88.25, "test_accuracy": 87.5}
    assert done.score == 88.25
    assert done.cost_s == 96.5
    assert (done.sim_end, done.ended_at) == (96.5, 3000.0)
    assert done.error is None
    assert failed.state == TrialStatus.FAILED
    assert failed.score is None
    assert failed.error == "CUDA out of memory"
    assert failed.cost_s == 4.0
    assert dict(failed.metrics) == {}
    # a finish without a checkpoint keeps the last one
    assert store.load_checkpoint(exp) == checkpoint


def test_checkpoint_is_replaced_and_not_aliased(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    start(store, exp, 0)
    start(store, exp, 1)
    checkpoint = {"next_id": 1, "items": [1, 2]}
    store.finish_trial(exp, 0, ok(1.0), 1.0, 1.0, checkpoint)
    checkpoint["items"].append(3)  # the caller's later changes are not stored
    assert store.load_checkpoint(exp) == {"next_id": 1, "items": [1, 2]}
    loaded = store.load_checkpoint(exp)
    assert loaded is not None
    loaded["next_id"] = 99
    assert store.load_checkpoint(exp) == {"next_id": 1, "items": [1, 2]}
    store.finish_trial(exp, 1, ok(2.0), 2.0, 2.0, {"next_id": 2})
    assert store.load_checkpoint(exp) == {"next_id": 2}


def test_count_trials_counts_every_state(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    assert store.count_trials(exp) == dict.fromkeys(TrialStatus, 0)
    for n in range(7):
        start(store, exp, n)
    finish(store, exp, 0, ok(1.0))
    finish(store, exp, 1, ok(2.0))
    finish(store, exp, 2, ok(3.0))
    finish(store, exp, 3, Result.failed("x"))
    cancelled = Result({}, 0.0, TrialStatus.CANCELLED)
    finish(store, exp, 4, cancelled)
    assert store.count_trials(exp) == {
        TrialStatus.RUNNING: 2,
        TrialStatus.COMPLETE: 3,
        TrialStatus.FAILED: 1,
        TrialStatus.INFEASIBLE: 0,
        TrialStatus.CANCELLED: 1,
        TrialStatus.PRUNED: 0,
    }


def test_best_trial_takes_the_highest_score_and_the_earliest_tie(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    assert store.best_trial(exp) is None
    scores = [70.0, 91.0, None, 85.0, 91.0, 91.0]
    for n, score in enumerate(scores):
        start(store, exp, n)
        finish(store, exp, n, ok(score, valid_accuracy=score or 0.0))
    start(store, exp, 6)  # still running: never the best
    best = store.best_trial(exp)
    assert best is not None
    assert best.number == 1
    assert best.score == 91.0


def test_best_trial_ignores_failed_and_scoreless_trials(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    start(store, exp, 0)
    finish(store, exp, 0, Result.failed("x"))
    start(store, exp, 1)
    finish(store, exp, 1, ok(None))
    assert store.best_trial(exp) is None
    start(store, exp, 2)
    finish(store, exp, 2, ok(-5.0))  # a minimised metric: negative scores are fine
    best = store.best_trial(exp)
    assert best is not None and best.number == 2


def test_trials_are_paged_and_filtered_in_number_order(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    for n in (3, 0, 4, 1, 2, 5, 6, 7):  # started out of order
        start(store, exp, n, {"n": n})
    for n in range(8):
        if n % 2 == 0:
            finish(store, exp, n, ok(float(n)))
        elif n % 3 == 0:
            finish(store, exp, n, Result.failed("x"))

    assert [t.number for t in store.trials(exp)] == list(range(8))
    assert [t.config["n"] for t in store.trials(exp)] == list(range(8))
    assert [t.number for t in store.trials(exp, limit=3)] == [0, 1, 2]
    assert [t.number for t in store.trials(exp, limit=3, offset=3)] == [3, 4, 5]
    assert [t.number for t in store.trials(exp, offset=6)] == [6, 7]
    assert store.trials(exp, offset=8) == []
    complete = store.trials(exp, state=TrialStatus.COMPLETE)
    assert [t.number for t in complete] == [0, 2, 4, 6]
    assert [t.number for t in store.trials(exp, state=TrialStatus.FAILED)] == [3]
    assert [t.number for t in store.trials(exp, state=TrialStatus.RUNNING)] == [1, 5, 7]
    assert [
        t.number for t in store.trials(exp, state=TrialStatus.COMPLETE, limit=2, offset=1)
    ] == [2, 4]


def test_experiments_keep_their_trials_apart(store: Store) -> None:
    a = store.create_experiment("a", SPEC).id
    b = store.create_experiment("b", SPEC).id
    start(store, a, 0)
    finish(store, a, 0, ok(10.0))
    start(store, b, 0, {"other": 1})
    store.finish_trial(b, 0, ok(20.0), 1.0, 1.0, {"who": "b"})
    assert [t.score for t in store.trials(a)] == [10.0]
    assert [t.config for t in store.trials(b)] == [{"other": 1}]
    assert store.load_checkpoint(a) is None
    assert store.load_checkpoint(b) == {"who": "b"}
    best_a = store.best_trial(a)
    assert best_a is not None and best_a.score == 10.0


# -- SQL only ---------------------------------------------------------------------------


def test_sql_store_persists_across_reopening(sql_url: str) -> None:
    url = sql_url
    first = SqlStore(url)
    exp = first.create_experiment("kept", SPEC).id
    start(first, exp, 0)
    first.finish_trial(exp, 0, ok(77.0), 1.0, 2.0, {"next_id": 1})
    first.close()
    again = SqlStore(url)
    found = again.find_experiment("kept")
    assert found is not None and found.id == exp
    assert [t.score for t in again.trials(exp)] == [77.0]
    assert again.load_checkpoint(exp) == {"next_id": 1}
    with pytest.raises(StoreError, match="experiment 'kept' already exists"):
        again.create_experiment("kept", SPEC)
    again.close()


def test_sql_store_refuses_another_schema_version(sql_url: str) -> None:
    first = SqlStore(sql_url)
    with first.engine.begin() as conn:
        conn.execute(meta.update().where(meta.c.key == "schema").values(value="999"))
    first.close()
    with pytest.raises(StoreError, match="schema version 999, this archsearch reads version 2"):
        SqlStore(sql_url)


def test_sql_store_upgrades_a_version_1_database(tmp_path: Path) -> None:
    """A database written before curves were stored opens, keeps its trials, gains curves."""
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:  # the version-1 layout: no curve column
        conn.executescript(
            """
            CREATE TABLE experiments (id INTEGER PRIMARY KEY, name VARCHAR(200) UNIQUE NOT NULL,
                spec TEXT NOT NULL, status VARCHAR(20) NOT NULL, created_at FLOAT NOT NULL,
                updated_at FLOAT NOT NULL, summary TEXT NOT NULL, checkpoint TEXT);
            CREATE TABLE trials (id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL,
                number INTEGER NOT NULL, config TEXT NOT NULL, fidelity FLOAT,
                state VARCHAR(20) NOT NULL, metrics TEXT NOT NULL, score FLOAT, cost_s FLOAT,
                sim_start FLOAT, sim_end FLOAT, started_at FLOAT, ended_at FLOAT, error TEXT,
                failure VARCHAR(20), UNIQUE (experiment_id, number));
            CREATE TABLE archsearch_meta (key VARCHAR(50) PRIMARY KEY, value VARCHAR(200));
            INSERT INTO archsearch_meta VALUES ('schema', '1');
            INSERT INTO experiments VALUES (1, 'old', '{}', 'complete', 0, 0, '{}', NULL);
            INSERT INTO trials VALUES (1, 1, 0, '{"a": 1}', NULL, 'complete', '{"acc": 5}',
                5.0, 1.0, NULL, NULL, 0, 1, NULL, NULL);
            """
        )
    store = SqlStore(f"sqlite:///{path}")
    (old,) = store.trials(1)
    assert old.score == 5.0 and old.curve is None
    start(store, 1, 1)
    store.finish_trial(
        1, 1, Result({"acc": 6.0}, 1.0, curve=[1.0, 2.0], steps=[2, 4]), None, 2.0, None
    )
    assert store.trials(1)[1].curve == [[2.0, 1.0], [4.0, 2.0]]
    store.close()
    SqlStore(f"sqlite:///{path}").close()  # opens again as version 2


def test_curves_round_trip(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    start(store, exp, 0)
    finish(store, exp, 0, Result({"valid_accuracy": 3.0}, 1.0, curve=[1.0, 2.0, 3.0]))
    (trial,) = store.trials(exp)
    assert trial.curve == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]


def test_nan_metrics_of_failed_trials_round_trip(store: Store) -> None:
    exp = store.create_experiment("e", SPEC).id
    start(store, exp, 0)
    nan = Result({"valid_accuracy": math.nan}, 1.0, TrialStatus.FAILED, None, None, "nan")
    finish(store, exp, 0, nan)
    (trial,) = store.trials(exp)
    assert trial.state == TrialStatus.FAILED and trial.score is None
    assert math.isnan(trial.metrics["valid_accuracy"])


def test_unreachable_postgresql_server_raises_store_error() -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    with pytest.raises(StoreError, match="storage: cannot open 'postgresql"):
        SqlStore(url)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/wal.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_sqlite_store_waits_for_another_writer_to_switch_to_wal(tmp_path: Path) -> None:
    # another process creating the file still writes in rollback mode: switching to WAL
    # then fails at once with "database is locked" unless the store waits
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other (a)")
    threading.Timer(0.2, other.execute, args=("COMMIT",)).start()
    store = SqlStore(f"sqlite:///{path}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()
    other.close()


@pytest.mark.parametrize("url", ["not a url", "sqlite//missing-colon.db", "://nothing"])
def test_malformed_url_raises_store_error_naming_it(url: str) -> None:
    with pytest.raises(StoreError, match=rf"malformed URL '{url}'"):
        SqlStore(url)


def test_unsupported_database_raises_store_error() -> None:
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        SqlStore("mysql://user@localhost/db")


def test_missing_folder_raises_store_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "does" / "not" / "exist"
    with pytest.raises(StoreError, match=rf"folder {folder} does not exist"):
        SqlStore(f"sqlite:///{folder}/x.db")
    assert not folder.exists()


def test_open_store_picks_the_kind_from_the_url(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    sql = open_store(f"sqlite:///{tmp_path}/o.db")
    assert isinstance(sql, SqlStore)
    sql.close()
