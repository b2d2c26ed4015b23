"""The SQL store: SQLAlchemy Core over SQLite (default) or PostgreSQL (by URL)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from archsearch.errors import StoreError
from archsearch.store._base import ExperimentRecord, Store, TrialRecord
from archsearch.trial import Result, TrialStatus

__all__ = ["SCHEMA_VERSION", "SqlStore"]

SCHEMA_VERSION = 2  # 2: trials.curve (intermediate values)
_SCHEMA_ATTEMPTS = 5  # tries to create the tables when other processes race

_metadata = sa.MetaData()

experiments = sa.Table(
    "experiments",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default="{}"),
    sa.Column("checkpoint", sa.Text, nullable=True),
)

trials = sa.Table(
    "trials",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("fidelity", sa.Float, nullable=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False, default="{}"),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("cost_s", sa.Float, nullable=True),
    sa.Column("sim_start", sa.Float, nullable=True),
    sa.Column("sim_end", sa.Float, nullable=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("failure", sa.String(20), nullable=True),
    sa.Column("curve", sa.Text, nullable=True),  # JSON [[step, value], ...]
    sa.UniqueConstraint("experiment_id", "number", name="uq_trial_number"),
    # with the number, "the first failed trials" reads 20 index entries, not every trial
    sa.Index("ix_trials_state", "experiment_id", "state", "number"),
    sa.Index("ix_trials_score", "experiment_id", "score"),
)

meta = sa.Table(
    "archsearch_meta",
    _metadata,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)


# Statements built once: per-trial writes then only bind parameters (building a
# statement per call cost more than the database work itself).
_FINISH_TRIAL = (
    trials.update()
    .where(
        (trials.c.experiment_id == sa.bindparam("b_experiment"))
        & (trials.c.number == sa.bindparam("b_number"))
    )
    .values(
        {
            c: sa.bindparam(c)
            for c in (
                "state",
                "metrics",
                "score",
                "cost_s",
                "sim_end",
                "ended_at",
                "error",
                "failure",
                "curve",
            )
        }
    )
)
_SAVE_CHECKPOINT = (
    experiments.update()
    .where(experiments.c.id == sa.bindparam("b_experiment"))
    .values(checkpoint=sa.bindparam("checkpoint"), updated_at=sa.bindparam("updated_at"))
)

# An ExperimentRecord's columns: all but the checkpoint, which can be large (a strategy's
# whole state) and is read by load_checkpoint alone, never by `list` or `find`.
_EXPERIMENT_COLUMNS = [c for c in experiments.c if c.name != "checkpoint"]


def _upsert_trial_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (experiment_id, number) DO UPDATE, in the store's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement: Any = (postgresql if dialect == "postgresql" else sqlite).insert(trials)
    keep = {"id", "experiment_id", "number"}
    return statement.on_conflict_do_update(
        index_elements=[trials.c.experiment_id, trials.c.number],
        set_={c.name: statement.excluded[c.name] for c in trials.columns if c.name not in keep},
    )


def _dumps(value: Any) -> str:
    # NaN/inf are not JSON; they only reach here inside failed trials' metrics.
    return json.dumps(value, separators=(",", ":"), default=str, allow_nan=True)


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (dashboard, `show`) work while the driver writes; a busy
    # timeout makes concurrent writers wait instead of failing "database is locked".
    cursor.execute("PRAGMA busy_timeout=60000")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: Any, timeout_s: float = 60.0) -> None:
    """Put the file in WAL mode (it stays so), waiting while other connections hold it.

    The switch needs the file to itself and, unlike other statements, fails at once
    with "database is locked" instead of waiting out the busy timeout: processes that
    open a new file together would fail without this loop.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# PostgreSQL connections and engines of this process, for _forget_after_fork
_SERVER_CONNECTIONS: weakref.WeakSet[Any] = weakref.WeakSet()
_SERVER_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _track_connection(dbapi_connection: Any, _record: Any) -> None:
    _SERVER_CONNECTIONS.add(dbapi_connection)


def _forget_after_fork() -> None:
    """In a forked child (a ``fork`` worker): close the copies of the parent's sockets.

    Otherwise a driver killed in mid-transaction stays connected through its workers:
    the server keeps that transaction and its row locks, and the resumed run waits on
    them for ever. Only the child's copies are closed (no goodbye to the server): the
    parent's connections go on; the child's pools start afresh if it uses a store.
    """
    for connection in list(_SERVER_CONNECTIONS):
        with contextlib.suppress(Exception):
            os.close(connection.fileno())
    _SERVER_CONNECTIONS.clear()
    for engine in list(_SERVER_ENGINES):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


class SqlStore(Store):
    """Experiments and trials in SQL tables.

    Args:
        url: an SQLAlchemy URL: ``sqlite:///path.db`` (the default kind; the file is
            created) or ``postgresql://user:pass@host/db``.

    Raises:
        StoreError: for a malformed URL, an unreachable server, or a database
            written by an incompatible archsearch version.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise StoreError(
                f"storage: malformed URL {url!r}; use sqlite:///FILE or postgresql://..."
            ) from None
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                parent = Path(database).expanduser().resolve().parent
                if not parent.is_dir():
                    raise StoreError(f"storage: folder {parent} does not exist (from {url!r})")
            kwargs["connect_args"] = {"timeout": 60}
        elif parsed.get_backend_name() not in ("postgresql",):
            raise StoreError(
                f"storage: unsupported database {parsed.get_backend_name()!r}; "
                "use sqlite:///FILE or postgresql://..."
            )
        try:
            self.engine: Engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, ImportError, sa.exc.NoSuchModuleError) as exc:
            raise StoreError(f"storage: cannot open {url!r}: {exc}") from None
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            sa.event.listen(self.engine, "connect", _track_connection)
            _SERVER_ENGINES.add(self.engine)
        self._upsert_trial = _upsert_trial_statement(parsed.get_backend_name())
        try:
            self._create_schema()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
            raise StoreError(f"storage: cannot open {url!r}: {exc.orig}") from None

    def _create_schema(self) -> None:
        """Create the missing tables and check the schema version.

        Processes that open a new database at the same moment race to create its
        tables; the losers fail with "already exists" or a duplicate key and look again.
        """
        for attempt in range(_SCHEMA_ATTEMPTS):
            try:
                _metadata.create_all(self.engine)
                self._check_version()
                return
            except (
                sa.exc.OperationalError,
                sa.exc.ProgrammingError,
                sa.exc.IntegrityError,
            ) as exc:
                lost_race = isinstance(exc, sa.exc.IntegrityError) or any(
                    text in str(exc) for text in ("already exists", "duplicate column")
                )
                if not lost_race or attempt == _SCHEMA_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _check_version(self) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).first()
            if row is None:
                conn.execute(meta.insert().values(key="schema", value=str(SCHEMA_VERSION)))
            elif row[0] == "1":  # version 1 had no curves: add the column, keep every row
                conn.execute(sa.text("ALTER TABLE trials ADD COLUMN curve TEXT"))
                conn.execute(
                    meta.update().where(meta.c.key == "schema").values(value=str(SCHEMA_VERSION))
                )
            elif row[0] != str(SCHEMA_VERSION):
                raise StoreError(
                    f"storage {self.url}: schema version {row[0]}, this archsearch "
                    f"reads version {SCHEMA_VERSION}"
                )

    # -- experiments ------------------------------------------------------------------
    def create_experiment(self, name: str, spec: Mapping[str, Any]) -> ExperimentRecord:
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    experiments.insert().values(
                        name=name,
                        spec=_dumps(dict(spec)),
                        status="running",
                        created_at=now,
                        updated_at=now,
                        summary="{}",
                    )
                )
        except sa.exc.IntegrityError:
            raise StoreError(f"experiment {name!r} already exists in {self.url}") from None
        record = self.find_experiment(name)
        assert record is not None  # just inserted
        return record

    @staticmethod
    def _experiment(row: Any) -> ExperimentRecord:
        return ExperimentRecord(
            row.id,
            row.name,
            json.loads(row.spec),
            row.status,
            row.created_at,
            row.updated_at,
            json.loads(row.summary or "{}"),
        )

    def find_experiment(self, name: str) -> ExperimentRecord | None:
        with self.engine.connect() as conn:
            query = sa.select(*_EXPERIMENT_COLUMNS).where(experiments.c.name == name)
            row = conn.execute(query).first()
        return self._experiment(row) if row is not None else None

    def list_experiments(self) -> list[ExperimentRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*_EXPERIMENT_COLUMNS).order_by(experiments.c.id)).all()
        return [self._experiment(r) for r in rows]

    def update_experiment(
        self,
        experiment_id: int,
        *,
        status: str | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": time.time()}
        if status is not None:
            values["status"] = status
        if summary is not None:
            values["summary"] = _dumps(dict(summary))
        with self.engine.begin() as conn:
            conn.execute(
                experiments.update().where(experiments.c.id == experiment_id).values(**values)
            )

    # -- trials -----------------------------------------------------------------------
    def start_trial(
        self,
        experiment_id: int,
        number: int,
        config: Any,
        fidelity: float | None,
        sim_start: float | None,
        started_at: float,
    ) -> None:
        values = {
            "experiment_id": experiment_id,
            "number": number,
            "config": _dumps(config),
            "fidelity": fidelity,
            "state": str(TrialStatus.RUNNING),
            "metrics": "{}",
            "score": None,
            "cost_s": None,
            "sim_start": sim_start,
            "sim_end": None,
            "started_at": started_at,
            "ended_at": None,
            "error": None,
            "failure": None,
            "curve": None,
        }
        with self.engine.begin() as conn:
            # A resumed experiment re-asks trials that were running: overwrite, never add.
            conn.execute(self._upsert_trial, values)

    def finish_trial(
        self,
        experiment_id: int,
        number: int,
        result: Result,
        sim_end: float | None,
        ended_at: float,
        checkpoint: Mapping[str, Any] | None,
    ) -> None:
        values = {
            "b_experiment": experiment_id,
            "b_number": number,
            "state": str(result.status),
            "metrics": _dumps(dict(result.metrics)),
            "score": _finite(result.score),
            "cost_s": _finite(result.cost_s),
            "sim_end": sim_end,
            "ended_at": ended_at,
            "error": result.error,
            "failure": None if result.failure is None else str(result.failure),
            "curve": None if result.curve is None else _dumps(result.curve_points()),
        }
        with self.engine.begin() as conn:
            if conn.execute(_FINISH_TRIAL, values).rowcount != 1:
                raise StoreError(f"trial {number} of experiment {experiment_id} was never started")
            if checkpoint is not None:
                conn.execute(
                    _SAVE_CHECKPOINT,
                    {
                        "b_experiment": experiment_id,
                        "checkpoint": _dumps(dict(checkpoint)),
                        "updated_at": ended_at,
                    },
                )

    def load_checkpoint(self, experiment_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            text = conn.execute(
                sa.select(experiments.c.checkpoint).where(experiments.c.id == experiment_id)
            ).scalar()
        return json.loads(text) if text else None

    @staticmethod
    def _trial(row: Any) -> TrialRecord:
        return TrialRecord(
            row.number,
            json.loads(row.config),
            row.fidelity,
            TrialStatus(row.state),
            json.loads(row.metrics or "{}"),
            row.score,
            row.cost_s,
            row.sim_start,
            row.sim_end,
            row.started_at,
            row.ended_at,
            row.error,
            row.failure,
            json.loads(row.curve) if row.curve else None,
        )

    def trials(
        self,
        experiment_id: int,
        *,
        state: TrialStatus | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TrialRecord]:
        query = trials.select().where(trials.c.experiment_id == experiment_id)
        if state is not None:
            query = query.where(trials.c.state == str(state))
        query = query.order_by(trials.c.number).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [self._trial(r) for r in conn.execute(query)]

    def count_trials(self, experiment_id: int) -> dict[TrialStatus, int]:
        query = (
            sa.select(trials.c.state, sa.func.count())
            .where(trials.c.experiment_id == experiment_id)
            .group_by(trials.c.state)
        )
        counts = dict.fromkeys(TrialStatus, 0)
        with self.engine.connect() as conn:
            for state, n in conn.execute(query):
                counts[TrialStatus(state)] = n
        return counts

    def top_trials(self, experiment_id: int, k: int) -> list[TrialRecord]:
        query = (
            trials.select()
            .where(
                (trials.c.experiment_id == experiment_id)
                & (trials.c.state == str(TrialStatus.COMPLETE))
                & trials.c.score.is_not(None)
            )
            .order_by(trials.c.score.desc(), trials.c.number)
            .limit(k)
        )
        with self.engine.connect() as conn:
            return [self._trial(row) for row in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()
