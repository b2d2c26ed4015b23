"""Read-only queries over a SQL store: paged trials and per-experiment overviews.

Everything a page shows is computed in the database or from a few columns, never by
loading whole trial records, so an experiment of 100,000 trials answers in
milliseconds. Metrics live in a JSON column; they are read with the database's JSON
functions (``json_extract`` on SQLite, ``->>`` on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from archsearch.store import ExperimentRecord, SqlStore, TrialRecord
from archsearch.store._sql import trials
from archsearch.trial import TrialStatus

__all__ = ["COLUMNS", "Queries", "TrialPage", "objective_sign"]

#: trial columns the table can sort and filter by, besides metrics
COLUMNS: tuple[str, ...] = ("number", "score", "cost_s", "fidelity", "sim_end", "state")
_METRIC_SAMPLE = 50  # trials read to learn an experiment's metric names


@dataclass(frozen=True, slots=True)
class TrialPage:
    """One page of the trials table and the number of trials the filter keeps."""

    total: int
    rows: list[TrialRecord]


def objective_sign(spec: Mapping[str, Any]) -> float:
    """-1 when the stored score is a minimised metric negated (show it as the metric)."""
    objective = spec.get("objective") or {}
    single = "metrics" not in objective and objective.get("type") in (None, "single")
    return -1.0 if single and objective.get("mode") == "min" else 1.0


class Queries:
    """The dashboard's reads from one :class:`~archsearch.store.SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.engine = store.engine
        self.is_postgresql = self.engine.dialect.name == "postgresql"

    # -- experiments ------------------------------------------------------------------
    def overview(self) -> list[tuple[ExperimentRecord, dict[str, int], float | None]]:
        """Every experiment with its trial counts per state and its best stored score."""
        query = sa.select(
            trials.c.experiment_id, trials.c.state, sa.func.count(), sa.func.max(trials.c.score)
        ).group_by(trials.c.experiment_id, trials.c.state)
        counts: dict[int, dict[str, int]] = {}
        best: dict[int, float] = {}
        with self.engine.connect() as conn:
            for eid, state, n, top in conn.execute(query):
                counts.setdefault(eid, {})[state] = n
                if state == TrialStatus.COMPLETE and top is not None:
                    best[eid] = top
        return [(r, counts.get(r.id, {}), best.get(r.id)) for r in self.store.list_experiments()]

    def counts(self, eid: int) -> dict[str, int]:
        """Trials per state (every state named, zeros included)."""
        return {str(k): v for k, v in self.store.count_trials(eid).items()}

    def metric_names(self, eid: int) -> list[str]:
        """The metric names of the first and the latest complete trials, sorted."""
        base = sa.select(trials.c.metrics).where(
            (trials.c.experiment_id == eid) & (trials.c.state == str(TrialStatus.COMPLETE))
        )
        names: set[str] = set()
        with self.engine.connect() as conn:
            for order in (trials.c.number, trials.c.number.desc()):
                for (text,) in conn.execute(base.order_by(order).limit(_METRIC_SAMPLE)):
                    names.update(json.loads(text or "{}"))
        return sorted(names)

    # -- expressions ------------------------------------------------------------------
    def metric(self, name: str) -> Any:
        """A float expression: metric ``name`` of a trial (NULL when absent or not JSON)."""
        if self.is_postgresql:
            return sa.cast(sa.cast(trials.c.metrics, postgresql.JSONB).op("->>")(name), sa.Float)
        path = sa.literal(f'$."{name}"')
        # failed trials may store NaN, which SQLite's JSON reader rejects: skip those rows
        return sa.case(
            (
                sa.func.json_valid(trials.c.metrics) == 1,
                sa.func.json_extract(trials.c.metrics, path),
            )
        )

    def config_value(self, path: tuple[str | int, ...]) -> Any:
        """The JSON value (as text) at ``path`` of a trial's config."""
        if self.is_postgresql:
            keys = "{" + ",".join(str(p) for p in path) + "}"
            return sa.cast(trials.c.config, postgresql.JSONB).op("#>>")(sa.literal(keys))
        json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path)
        return sa.func.json_extract(trials.c.config, sa.literal(json_path))

    def column(self, name: str) -> Any:
        """A trial column by name, or else the metric of that name."""
        return trials.c[name] if name in COLUMNS else self.metric(name)

    # -- trials -----------------------------------------------------------------------
    def page(
        self,
        eid: int,
        *,
        sort: str = "number",
        descending: bool = False,
        state: str | None = None,
        metric: str | None = None,
        low: float | None = None,
        high: float | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> TrialPage:
        """Trials filtered by state and a metric range, sorted, one page of them.

        Rows without the sort value come last; ties keep number order.
        """
        where = trials.c.experiment_id == eid
        if state is not None:
            where &= trials.c.state == state
        if metric is not None:
            value = self.column(metric)
            if low is not None:
                where &= value >= low
            if high is not None:
                where &= value <= high
        key = self.column(sort)
        order = [key.desc() if descending else key]
        if sort != "number":
            order = [order[0].nulls_last(), trials.c.number]
        # numbers first (a sort over two values), then only the page's whole rows
        numbers = sa.select(trials.c.number).where(where).order_by(*order)
        numbers = numbers.offset(offset).limit(limit)
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
            keep = [n for (n,) in conn.execute(numbers)]
            query = trials.select().where(
                (trials.c.experiment_id == eid) & trials.c.number.in_(keep)
            )
            rows = {r.number: SqlStore._trial(r) for r in conn.execute(query)}
        return TrialPage(int(total), [rows[n] for n in keep])

    def version(self, eid: int) -> tuple[int, ...]:
        """Trials per state: changes whenever a trial starts or ends (an index-only count)."""
        return tuple(self.store.count_trials(eid).values())

    def trial(self, eid: int, number: int) -> TrialRecord | None:
        """Trial ``number`` of experiment ``eid``, or None."""
        query = trials.select().where(
            (trials.c.experiment_id == eid) & (trials.c.number == number)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else SqlStore._trial(row)

    def same_config(self, eid: int, config: Any) -> list[TrialRecord]:
        """The complete trials of ``config`` (at any fidelity), by fidelity then number."""
        text = json.dumps(config, separators=(",", ":"), default=str, allow_nan=True)
        query = (
            trials.select()
            .where(
                (trials.c.experiment_id == eid)
                & (trials.c.config == text)
                & (trials.c.state == str(TrialStatus.COMPLETE))
            )
            .order_by(trials.c.fidelity, trials.c.number)
            .limit(1000)
        )
        with self.engine.connect() as conn:
            return [SqlStore._trial(r) for r in conn.execute(query)]

    def complete_columns(self, eid: int, *columns: Any, order: Any = None) -> list[Any]:
        """Rows of ``columns`` over the experiment's complete, scored trials."""
        query = sa.select(*columns).where(
            (trials.c.experiment_id == eid)
            & (trials.c.state == str(TrialStatus.COMPLETE))
            & trials.c.score.is_not(None)
        )
        if order is not None:
            query = query.order_by(order)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def group_scores(self, eid: int, key: Any) -> list[tuple[Any, int, float, float]]:
        """``(value, count, mean score, best score)`` of complete trials per ``key``."""
        query = (
            sa.select(
                key, sa.func.count(), sa.func.avg(trials.c.score), sa.func.max(trials.c.score)
            )
            .where(
                (trials.c.experiment_id == eid)
                & (trials.c.state == str(TrialStatus.COMPLETE))
                & trials.c.score.is_not(None)
            )
            .group_by(key)
        )
        with self.engine.connect() as conn:
            return [
                (v, int(n), float(mean), float(top)) for v, n, mean, top in conn.execute(query)
            ]

    def _complete(self, eid: int) -> Any:
        return (
            (trials.c.experiment_id == eid)
            & (trials.c.state == str(TrialStatus.COMPLETE))
            & trials.c.score.is_not(None)
        )

    def improvements(self, eid: int, x: Any) -> tuple[list[tuple[float, float]], int, Any, Any]:
        """The complete trials that beat every earlier one in ``x`` order, in one scan.

        Returns ``[(x, score)]`` (ties in ``x`` by number), the number of complete trials,
        and the lowest and highest ``x`` (a window query in the database).
        """
        previous = sa.func.max(trials.c.score).over(order_by=(x, trials.c.number), rows=(None, -1))
        inner = (
            sa.select(
                x.label("x"),
                trials.c.score.label("s"),
                previous.label("prev"),
                sa.func.count().over().label("n"),
                sa.func.min(x).over().label("low"),
                sa.func.max(x).over().label("high"),
            )
            .where(self._complete(eid) & x.is_not(None))
            .subquery()
        )
        query = (
            sa.select(inner.c.x, inner.c.s, inner.c.n, inner.c.low, inner.c.high)
            .where(inner.c.prev.is_(None) | (inner.c.s > inner.c.prev))
            .order_by(inner.c.x)
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        if not rows:
            return [], 0, None, None
        return [(float(r[0]), float(r[1])) for r in rows], int(rows[0][2]), rows[0][3], rows[0][4]

    def score_bounds(self, eid: int) -> tuple[float, float] | None:
        """Lowest and highest stored score (read from the score index alone)."""
        query = sa.select(sa.func.min(trials.c.score), sa.func.max(trials.c.score)).where(
            (trials.c.experiment_id == eid) & trials.c.score.is_not(None)
        )
        with self.engine.connect() as conn:
            low, high = conn.execute(query).one()
        return None if low is None else (float(low), float(high))

    def top_level_scores(
        self, eid: int, keys: list[str]
    ) -> list[tuple[str, Any, int, float, float]] | None:
        """``(key, value, count, mean, best)`` per top-level config key, in one scan.

        SQLite only (``json_each``); None elsewhere, where callers group key by key.
        """
        if self.is_postgresql:
            return None
        each = sa.func.json_each(trials.c.config).table_valued("key", "value", "type")
        query = (
            sa.select(
                each.c.key,
                each.c.value,
                sa.func.count(),
                sa.func.avg(trials.c.score),
                sa.func.max(trials.c.score),
            )
            .select_from(trials.join(each, sa.true()))
            .where(self._complete(eid) & each.c.key.in_(keys) & each.c.type.not_in(["object"]))
            .group_by(each.c.key, each.c.value)
        )
        with self.engine.connect() as conn:
            return [(k, v, int(n), float(m), float(b)) for k, v, n, m, b in conn.execute(query)]

    def front(self, eid: int, x: Any, y: Any) -> tuple[list[tuple[int, float, float]], list[Any]]:
        """The 2-D Pareto front of complete trials, both values maximised (a window query).

        One trial (the earliest) per distinct point. Also returns the count and the
        lowest and highest ``x`` and ``y`` over all those trials (same scan).
        """
        where = self._complete(eid) & x.is_not(None) & y.is_not(None)
        best_y = sa.func.max(y).over(
            order_by=(x.desc(), y.desc(), trials.c.number), rows=(None, -1)
        )
        spans = [sa.func.count().over().label("n")]
        for i, value in enumerate((x, y)):
            spans += [
                sa.func.min(value).over().label(f"lo{i}"),
                sa.func.max(value).over().label(f"hi{i}"),
            ]
        inner = (
            sa.select(trials.c.number, x.label("x"), y.label("y"), best_y.label("prev"), *spans)
            .where(where)
            .subquery()
        )
        query = sa.select(
            inner.c.number, inner.c.x, inner.c.y, inner.c.n,
            inner.c.lo0, inner.c.hi0, inner.c.lo1, inner.c.hi1,
        ).where(inner.c.prev.is_(None) | (inner.c.y > inner.c.prev))  # fmt: skip
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        extent = list(rows[0][3:]) if rows else [0, None, None, None, None]
        return [(int(r[0]), float(r[1]), float(r[2])) for r in rows], extent

    def grid(
        self,
        eid: int,
        x: Any,
        y: Any,
        lows: tuple[float, float],
        steps: tuple[float, float],
        columns: int,
    ) -> list[tuple[int, float, float, int]]:
        """Complete trials binned on a grid: per cell its first trial, mean x and y, count."""
        where = self._complete(eid) & x.is_not(None) & y.is_not(None)
        cell = self.floor((x - lows[0]) / steps[0]) * columns + self.floor(
            (y - lows[1]) / steps[1]
        )
        query = (
            sa.select(
                sa.func.min(trials.c.number), sa.func.avg(x), sa.func.avg(y), sa.func.count()
            )
            .where(where)
            .group_by(cell)
        )
        with self.engine.connect() as conn:
            return [(int(n), float(a), float(b), int(k)) for n, a, b, k in conn.execute(query)]

    def floor(self, value: Any) -> Any:
        """An integer floor of a non-negative ``value`` in the store's dialect."""
        if self.is_postgresql:
            return sa.cast(sa.func.floor(value), sa.Integer)
        return sa.cast(value, sa.Integer)  # SQLite truncates, which is floor at >= 0

    def bucket(self, low: float, width: float) -> Any:
        """The histogram bucket of a trial's score (bins of ``width`` from ``low``)."""
        return self.floor((trials.c.score - low) / width)
