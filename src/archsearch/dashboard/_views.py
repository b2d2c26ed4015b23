"""What the pages and the report show, as JSON-able dicts built from :class:`Queries`.

Large experiments are reduced here before anything is sent: best-so-far curves keep
only the trials that improved the best, score distributions are histograms counted in
SQL, and scatters keep the whole Pareto front plus one trial per cell of a grid.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from archsearch.analysis import choice_rules
from archsearch.dashboard._arch import arch_graph
from archsearch.dashboard._queries import Queries, objective_sign
from archsearch.errors import ArchsearchError
from archsearch.registry import BENCHMARKS, SPACES
from archsearch.space import Space
from archsearch.store import ExperimentRecord, TrialRecord
from archsearch.store._sql import trials

__all__ = [
    "best_so_far",
    "decisions",
    "describe",
    "experiment_info",
    "experiment_rows",
    "histogram",
    "rules",
    "scatter",
    "trial_detail",
    "trial_json",
]

#: metric names that are costs (minimised) unless the objective says otherwise
_COST_WORDS = ("latency", "param", "flop", "mac", "cost", "loss", "error", "time", "size")
_GRID = (160, 100)  # scatter cells (x, y): at most one background point per cell
_RULES_MAX = 1000  # top trials the choice rules read


def _finite(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def trial_json(trial: TrialRecord, sign: float) -> dict[str, Any]:
    """A trial row for the table (score in the objective's units)."""
    return {
        "number": trial.number,
        "state": str(trial.state),
        "score": None if trial.score is None else sign * trial.score,
        "fidelity": trial.fidelity,
        "cost_s": trial.cost_s,
        "sim_end": trial.sim_end,
        "metrics": {k: _finite(v) for k, v in trial.metrics.items()},
        "failure": trial.failure,
        "error": trial.error,
    }


def experiment_rows(queries: Queries) -> list[dict[str, Any]]:
    """The experiments list: name, space, strategy, status, counts, best score, start."""
    out = []
    for record, counts, best in queries.overview():
        spec = record.spec
        sign = objective_sign(spec)
        out.append(
            {
                "name": record.name,
                "space": (spec.get("space") or {}).get("name"),
                "strategy": (spec.get("strategy") or {}).get("name"),
                "benchmark": (spec.get("benchmark") or {}).get("name"),
                "status": record.status,
                "done": counts.get("complete", 0) + counts.get("infeasible", 0),
                "failed": counts.get("failed", 0),
                "running": counts.get("running", 0),
                "best": None if best is None else sign * best,
                "created_at": record.created_at,
            }
        )
    return out


@functools.lru_cache(maxsize=32)
def _space(spec_text: str) -> Space | None:
    part = json.loads(spec_text).get("space") or {}
    options = {k: v for k, v in part.items() if k != "name"}
    try:
        space: Space = SPACES.create(part.get("name"), options, field="space")
    except (ArchsearchError, TypeError):
        return None  # a space of a plug-in not installed here: no decisions, no rules
    return space


def space_of(record: ExperimentRecord) -> Space | None:
    """The experiment's search space, rebuilt from its spec (cached), or None."""
    return _space(json.dumps(record.spec, sort_keys=True, default=str))


@functools.lru_cache(maxsize=8)
def _benchmark(spec_text: str) -> Any:
    part = json.loads(spec_text).get("benchmark") or {}
    options = {k: v for k, v in part.items() if k != "name"}
    try:
        return BENCHMARKS.create(part.get("name"), options, field="benchmark")
    except (ArchsearchError, TypeError):
        return None


def objective_metric(record: ExperimentRecord) -> str | None:
    """The metric the experiment optimised: its objective's, else the benchmark's default."""
    metric = (record.spec.get("objective") or {}).get("metric")
    if metric is None:
        bench = _benchmark(json.dumps(record.spec, sort_keys=True, default=str))
        metric = getattr(bench, "default_metric", None)
    return None if metric is None else str(metric)


def experiment_info(queries: Queries, record: ExperimentRecord) -> dict[str, Any]:
    """The experiment page's header: spec, status, counts, best, metric names."""
    space = space_of(record)
    best = queries.store.best_trial(record.id)
    sign = objective_sign(record.spec)
    return {
        "name": record.name,
        "status": record.status,
        "spec": record.spec,
        "summary": record.summary,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "counts": queries.counts(record.id),
        "best": None if best is None else trial_json(best, sign),
        "metrics": queries.metric_names(record.id),
        "objective_metric": objective_metric(record),
        "has_decisions": space is not None,
    }


def best_so_far(queries: Queries, record: ExperimentRecord, *, axis: str) -> dict[str, Any]:
    """Best score against trial number (``axis="trials"``) or time (``"time"``).

    Only improvements are returned (a step curve, found by a window query), plus the
    last complete trial's x so the line reaches the end. Time is simulated where the
    run had a simulated clock, else wall seconds from the first trial's start.
    """
    sign = objective_sign(record.spec)
    c = trials.c
    executor = record.spec.get("executor") or {}
    if axis == "trials":
        x, label = c.number, "trial"
    elif executor.get("name", "simulated") == "simulated":
        x, label = c.sim_end, "simulated time (s)"
    else:
        x, label = c.ended_at, "wall time (s)"
    found, n, low, end = queries.improvements(record.id, x)
    shift = float(low) if label == "wall time (s)" and low is not None else 0.0
    points = [[a - shift, sign * b] for a, b in found]
    end = None if end is None else float(end) - shift
    return {"axis": axis, "label": label, "points": points, "end": end, "n": int(n)}


def histogram(queries: Queries, record: ExperimentRecord, *, bins: int) -> dict[str, Any]:
    """Counts of complete trials' scores in ``bins`` equal bins (counted in SQL)."""
    sign = objective_sign(record.spec)
    found = queries.score_bounds(record.id)
    if found is None:
        return {"edges": [], "counts": [], "n": 0}
    low, high = found
    width = (high - low) / bins if high > low else 1.0
    counts = [0] * bins
    for bucket, count, _, _ in queries.group_scores(record.id, queries.bucket(low, width)):
        counts[min(max(int(bucket), 0), bins - 1)] += count
    n = sum(counts)
    edges = [sign * (low + width * i) for i in range(bins + 1)]
    if sign < 0:
        edges, counts = edges[::-1], counts[::-1]
    return {"edges": edges, "counts": counts, "n": n}


def _is_cost(name: str, record: ExperimentRecord) -> bool:
    objective = record.spec.get("objective") or {}
    metrics, modes = objective.get("metrics"), objective.get("modes") or objective.get("mode")
    if isinstance(metrics, list) and isinstance(modes, list) and name in metrics:
        return bool(modes[metrics.index(name)] == "min")
    if objective.get("metric") == name:
        return objective.get("mode") == "min"
    if name == "score":
        return False
    return any(word in name.lower() for word in _COST_WORDS)


def scatter(queries: Queries, record: ExperimentRecord, x: str, y: str) -> dict[str, Any]:
    """Two values of every complete trial, reduced in the database for any number of trials.

    Returns the Pareto front (``[number, x, y]``, one trial per distinct point) and the
    other trials binned on a grid (``[first number, mean x, mean y, count]`` per cell).
    A value is minimised on the front when the objective says so or its name reads as
    a cost (latency, params, cost_s, ...); ``score`` is the stored score.
    """
    sign = objective_sign(record.spec)
    minimise = [_is_cost(x, record), _is_cost(y, record)]
    values = [trials.c.score * sign if v == "score" else queries.column(v) for v in (x, y)]
    oriented = [-v if m else v for v, m in zip(values, minimise, strict=True)]
    found, (n, *spans) = queries.front(record.id, *oriented)
    if not n:
        return {"x": x, "y": y, "minimise": minimise, "front": [], "points": [], "n": 0}
    front = [
        [number, -a if minimise[0] else a, -b if minimise[1] else b] for number, a, b in found
    ]
    (x_low, x_high), (y_low, y_high) = (
        sorted((-lo, -hi) if m else (lo, hi))
        for lo, hi, m in ((spans[0], spans[1], minimise[0]), (spans[2], spans[3], minimise[1]))
    )
    front.sort(key=lambda p: (p[1], p[2]))
    steps = (
        (x_high - x_low) / (_GRID[0] - 1) if x_high > x_low else 1.0,
        (y_high - y_low) / (_GRID[1] - 1) if y_high > y_low else 1.0,
    )
    cells = queries.grid(record.id, values[0], values[1], (x_low, y_low), steps, _GRID[1])
    on_front = {p[0] for p in front}
    points = [list(cell) for cell in cells if cell[0] not in on_front or cell[3] > 1]
    return {"x": x, "y": y, "minimise": minimise, "front": front, "points": points, "n": int(n)}


def _gene_path(path: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        if part:
            parts.append(int(part) if part.isdigit() else part)
    return tuple(parts)


def decisions(queries: Queries, record: ExperimentRecord) -> list[dict[str, Any]]:
    """Per decision of the space: count, mean and best score for each value taken.

    Decisions are read from the genomes of the best trials (a conditional space's
    active decisions vary); branch choices (whole sub-configs) are left out.
    """
    space = space_of(record)
    if space is None:
        return []
    sign = objective_sign(record.spec)
    paths: dict[str, None] = {}
    for trial in queries.store.top_trials(record.id, 20):
        for gene in space.genome(trial.config):
            if gene.n_options is not None:
                paths.setdefault(gene.path)
    flat = all(len(_gene_path(p)) == 1 for p in paths)
    rows = queries.top_level_scores(record.id, list(paths)) if flat and paths else None
    by_path: dict[str, list[tuple[Any, int, float, float]]] = {p: [] for p in paths}
    if rows is not None:
        for key, *group in rows:
            by_path[key].append((group[0], group[1], group[2], group[3]))
    out = []
    for path in paths:
        if rows is not None:
            groups = by_path[path]
        else:
            groups = queries.group_scores(record.id, queries.config_value(_gene_path(path)))
        values = [
            {"value": v, "count": n, "mean": sign * mean, "best": sign * top}
            for v, n, mean, top in groups
            if v is not None and not (isinstance(v, str) and v.startswith("{"))
        ]
        if values:
            values.sort(key=lambda g: str(g["value"]))
            out.append({"path": path, "values": values})
    return out


def rules(queries: Queries, record: ExperimentRecord, *, top_percent: float) -> dict[str, Any]:
    """Choice rules of the best ``top_percent`` % of complete trials (at most 1,000)."""
    space = space_of(record)
    n_complete = queries.counts(record.id).get("complete", 0)
    k = min(_RULES_MAX, max(1, round(n_complete * top_percent / 100))) if n_complete else 0
    if space is None or not k:
        return {"label": "", "rules": []}
    top = queries.store.top_trials(record.id, k)
    found = choice_rules([t.config for t in top], space, top=10)
    label = f"top {top_percent:g}% ({len(top)} of {n_complete} complete trials)"
    return {"label": label, "rules": [{**r.to_json(), "text": str(r)} for r in found]}


def trial_detail(queries: Queries, record: ExperimentRecord, trial: TrialRecord) -> dict[str, Any]:
    """A trial: its row, config, architecture graph and learning curve.

    The curve holds the experiment's own evaluations of this config (one per fidelity
    it reached) and, for a benchmark with fidelities, the benchmark's values at each.
    """
    sign = objective_sign(record.spec)
    metric = objective_metric(record)
    stored = [
        [t.fidelity, sign * t.score]
        for t in queries.same_config(record.id, trial.config)
        if t.fidelity is not None and t.score is not None
    ]
    bench = _benchmark(json.dumps(record.spec, sort_keys=True, default=str))
    table: list[list[float]] = []
    if bench is not None and getattr(bench, "fidelities", None):
        try:
            for fidelity in bench.fidelities:
                value = bench.evaluate(trial.config, fidelity).metrics.get(metric)
                if value is not None and math.isfinite(value):
                    table.append([float(fidelity), float(value)])
        except ArchsearchError:
            table = []  # a config the benchmark cannot answer (an edited space)
    return {
        **trial_json(trial, sign),
        "experiment": record.name,
        "config": trial.config,
        "arch": describe(record, trial.config),
        "graph": arch_graph(trial.config),
        "curve": {"metric": metric, "stored": stored, "benchmark": table},
        "started_at": trial.started_at,
        "ended_at": trial.ended_at,
        "sim_start": trial.sim_start,
    }


def compare(queries: Queries, records: list[ExperimentRecord]) -> dict[str, Any]:
    """Best-so-far against time of several experiments (their anytime curves)."""
    curves = [{"name": r.name, **best_so_far(queries, r, axis="time")} for r in records]
    return {"curves": curves}


def describe(record: ExperimentRecord, config: Any) -> str | None:
    """The benchmark's short name of ``config`` (an NB201 string), or None."""
    bench = _benchmark(json.dumps(record.spec, sort_keys=True, default=str))
    method = getattr(bench, "describe", None)
    try:
        return None if method is None else str(method(config))
    except (ArchsearchError, KeyError, TypeError, ValueError):
        return None
