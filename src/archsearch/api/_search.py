"""``archsearch.search``: search the user's own model, data and training function."""

from __future__ import annotations

import atexit
import datetime as dt
import inspect
import os
import pickle
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archsearch.api._evaluator import ObjectiveEvaluator, import_path
from archsearch.api._trace import trace_space
from archsearch.errors import ConfigError, StoreError
from archsearch.experiment import Progress, build_experiment, normalize_spec
from archsearch.experiment._budget import Budget
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.store import DEFAULT_STORAGE, Store, TrialRecord, open_store
from archsearch.trial import TrialStatus

__all__ = ["SearchResult", "TrialTable", "artifacts_for", "load", "search"]

_NOT_COUNTED = (TrialStatus.RUNNING, TrialStatus.CANCELLED)  # not against the budget


def search(
    objective: Callable[[Any], Any],
    space: Any = None,
    *,
    strategy: str | Mapping[str, Any] = "random",
    budget: int | Mapping[str, Any] | Budget = 20,
    metric: str = "value",
    mode: str = "max",
    metrics: Mapping[str, str] | None = None,
    constraints: Any = None,
    fidelity: int | Sequence[float] | None = None,
    pruner: Any = None,
    workers: int = 1,
    executor: str | None = None,
    timeout_s: float | None = None,
    ordered: bool = True,
    retries: Mapping[str, Any] | None = None,
    storage: str | None = None,
    name: str | None = None,
    seed: int = 0,
    artifacts: str | Path | None = None,
    builder: str | None = None,
    progress: bool | None = None,
) -> SearchResult:
    """Search the configs of ``objective``: stored, resumable, parallel.

    ``objective(trial)`` trains and evaluates one config and returns a number (the
    metric ``metric``) or a dict of metrics. It reads its decisions either from
    ``trial.config`` (a given ``space``) or by drawing them, define-by-run
    (``trial.choice``, ``trial.int``, ``trial.real(..., log=True)``, ``trial.build``
    for an inline :func:`~archsearch.space.symbolic` model), in which case the space
    is traced from the objective before the search (:func:`trace_space`). Both forms
    store the same configs. The search continues what the store holds under ``name``.

    Args:
        objective: the user's function of a :class:`Trial`.
        space: a :class:`~archsearch.space.Space`, a spec of one (dicts of
            ``Choice``/``Int``/``Real``, a ``symbolic`` call), or None (define-by-run).
        strategy: a strategy name (``random``, ``rea``, ``tpe``, ``asha``, ``bohb``,
            ``nsga2``, ...) or ``{"name": ..., options}``.
        budget: a number of trials, or ``{"trials": N, "seconds": S}`` (wall seconds).
        metric: the metric a returned number is stored as, and the one optimised.
        mode: ``max`` or ``min``.
        metrics: several objectives instead, ``{"accuracy": "max", "latency_ms": "min"}``.
        constraints: ``{"params": 50_000}`` (at most) or
            ``[{"metric": m, "min": b}, ...]``; violating trials are infeasible.
        fidelity: the largest fidelity (epochs) the objective trains to, e.g. ``27``
            (any of 1..27 may be asked), or the list of allowed fidelities. Needed by
            multi-fidelity strategies; ``trial.fidelity`` is this maximum otherwise.
        pruner: ``"median"``, ``{"name": "percentile", "percentile": 25}``, or None.
        workers: trials at once; more than one runs them in worker processes.
        executor: ``inline``, ``processes`` or ``ray`` (default: inline for one
            worker, processes for more).
        timeout_s: per-trial time limit (processes, ray).
        ordered: workers' results reach the strategy in the order it asked (the default:
            a seeded search is reproducible); False hands each result over as it comes,
            so no worker waits for an older trial (throughput, not reproducible).
        retries: ``{"count": N, "failures": [worker_died, timeout]}``.
        storage: a database URL (``sqlite:///FILE``, ``postgresql://...``,
            ``memory://``); default ``$ARCHSEARCH_STORAGE`` or ``sqlite:///archsearch.db``.
        name: the experiment's name; an existing one is continued.
        seed: seeds the strategy.
        artifacts: where checkpoints are kept (default: beside the SQLite file).
        builder: import path of ``builder(config) -> nn.Module`` for ``archsearch export``.
        progress: a progress line on stderr (None: only on a terminal).

    Returns:
        The :class:`SearchResult`; after Ctrl-C, the result so far with status
        ``interrupted`` (run again with the same ``name`` to continue).

    Raises:
        ConfigError: one line naming the argument or decision that is wrong.
    """
    if not callable(objective):
        raise ConfigError(f"objective: expected a function of a trial, got {objective!r}")
    if space is None:
        space = trace_space(objective)
    elif not isinstance(space, Space):
        space = Space(space)
    strategy_part = _strategy(strategy, fidelity)
    executor_part = _executor(executor, workers, timeout_s, ordered)
    if executor_part["name"] != "inline":
        _check_sendable(objective)
    url = storage or os.environ.get("ARCHSEARCH_STORAGE") or DEFAULT_STORAGE
    name = name or _default_name(objective)
    objective_spec: dict[str, Any] = (
        {"metrics": dict(metrics)} if metrics else {"metric": metric, "mode": mode}
    )
    if constraints is not None:
        objective_spec["constraints"] = constraints
    fidelities = _fidelities(fidelity)
    spec: dict[str, Any] = {
        "space": {"name": "custom", "definition": space.to_json()},
        "benchmark": {
            "name": "objective",
            "objective": import_path(objective),
            "metric": next(iter(metrics)) if metrics else metric,
            "mode": next(iter(metrics.values())) if metrics else mode,
            "fidelities": fidelities,
            "pruner": _pruner_json(pruner),
            "artifacts": str(artifacts_for(url, name, artifacts)),
            "builder": builder,
        },
        "strategy": strategy_part,
        "objective": objective_spec,
        "budget": _budget(budget),
        "executor": executor_part,
        "seed": seed,
    }
    if retries is not None:
        spec["retries"] = dict(retries)
    spec = normalize_spec(spec)
    store = open_store(url)
    experiment = build_experiment(spec, store=store, name=name)
    evaluator = experiment.evaluator
    assert isinstance(evaluator, ObjectiveEvaluator)
    evaluator.bind(objective)
    bar = Progress(
        experiment.budget,
        report=experiment.objective.report,
        enabled=progress,
    )
    experiment.on_trial_end = bar
    try:
        summary = experiment.run()
    except KeyboardInterrupt:
        bar.close()
        print(
            f"archsearch: interrupted; run again with name={name!r} to continue "
            f"(or: archsearch resume {name})",
            file=sys.stderr,
        )
        return load(name, store)
    bar.close()
    del summary
    return load(name, store)


# -- results ---------------------------------------------------------------------------
class TrialTable:
    """The trials of a search as a table: one row per trial, one column per field.

    Columns: ``number``, ``state``, ``value`` (the objective, in the user's direction),
    ``fidelity``, ``duration_s``, ``params.<decision>`` and ``metrics.<name>``.
    :meth:`to_pandas` gives a DataFrame when pandas is installed.
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        self.columns = list(columns)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, column: str) -> list[Any]:
        if column not in self.columns:
            raise KeyError(f"{column!r}; columns: {', '.join(self.columns)}")
        return [row.get(column) for row in self.rows]

    def to_pandas(self) -> Any:
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame(self.rows, columns=self.columns)

    def to_csv(self, path: str | Path) -> None:
        import csv

        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def __str__(self) -> str:
        shown = [c for c in self.columns if c != "duration_s" and not c.endswith(".@")][:8]
        lines = [[c.removeprefix("params.").removeprefix("metrics.") for c in shown]]
        for row in self.rows[:20]:
            lines.append([_cell(row.get(c)) for c in shown])
        widths = [max(len(line[i]) for line in lines) for i in range(len(shown))]
        text = "\n".join(
            "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines
        )
        more = len(self.rows) - 20
        return text + (f"\n... {more} more" if more > 0 else "")

    __repr__ = __str__


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class SearchResult:
    """What a search found, with every trial one attribute away.

    Attributes:
        name: the experiment's name in the store.
        status: ``complete``, ``interrupted`` or ``running``.
        best_config: the best trial's config (None when no trial completed).
        best_value: its objective value, in the user's direction.
        best_metrics: all its metrics.
        best_trial: its number.
        n_trials, n_failed, n_pruned: counts.
        wall_s: wall time of the search, across resumes.
        storage: where it is stored.
    """

    name: str
    status: str
    best_config: Any
    best_value: float | None
    best_metrics: Mapping[str, float]
    best_trial: int | None
    n_trials: int
    n_failed: int
    n_pruned: int
    wall_s: float
    storage: str
    _store: Store = field(repr=False, compare=False)
    _experiment_id: int = field(repr=False, compare=False)

    @property
    def trials(self) -> TrialTable:
        """Every stored trial, as a :class:`TrialTable`."""
        record = self._store.find_experiment(self.name)
        report = _reporter(record.spec if record else {})
        return TrialTable([_row(t, report) for t in self._store.trials(self._experiment_id)])

    def trial_records(self) -> list[TrialRecord]:
        """The stored trial records (configs, metrics, curves, errors)."""
        return self._store.trials(self._experiment_id)


def load(name: str, storage: str | Store | None = None) -> SearchResult:
    """The stored result of search ``name`` (complete or not).

    Raises:
        StoreError: when no experiment has that name.
    """
    store = storage if isinstance(storage, Store) else open_store(storage)
    record = store.find_experiment(name)
    if record is None:
        where = getattr(store, "url", "the store")
        raise StoreError(f"no experiment {name!r} in {where}; `archsearch list` shows them")
    counts = store.count_trials(record.id)
    best = store.best_trial(record.id)
    report = _reporter(record.spec)
    return SearchResult(
        name=name,
        status=record.status,
        best_config=None if best is None else best.config,
        best_value=None if best is None or best.score is None else report(best.score),
        best_metrics={} if best is None else dict(best.metrics),
        best_trial=None if best is None else best.number,
        n_trials=sum(n for s, n in counts.items() if s not in _NOT_COUNTED),
        n_failed=counts[TrialStatus.FAILED],
        n_pruned=counts[TrialStatus.PRUNED],
        wall_s=float((record.summary or {}).get("wall_seconds", 0.0)),
        storage=getattr(store, "url", "memory://"),
        _store=store,
        _experiment_id=record.id,
    )


def _reporter(spec: Mapping[str, Any]) -> Callable[[float], float]:
    objective = spec.get("objective") or {}
    if "metrics" in objective:
        mode = next(iter(objective["metrics"].values()), "max")
    else:
        mode = objective.get("mode", "max")
    return (lambda s: -s) if mode == "min" else (lambda s: s)


def _row(trial: TrialRecord, report: Callable[[float], float]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "number": trial.number,
        "state": str(trial.state),
        "value": None if trial.score is None else report(trial.score),
        "fidelity": trial.fidelity,
        "duration_s": trial.cost_s,
    }
    config = trial.config if isinstance(trial.config, Mapping) else {"config": trial.config}
    for key, value in _flatten(config):
        row[f"params.{key}"] = value
    for key, value in trial.metrics.items():
        row[f"metrics.{key}"] = value
    if trial.error:
        row["error"] = trial.error.splitlines()[0]
    return row


def _flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# -- argument checks -------------------------------------------------------------------
def _strategy(strategy: Any, fidelity: Any) -> dict[str, Any]:
    if isinstance(strategy, str):
        part: dict[str, Any] = {"name": strategy}
    elif isinstance(strategy, Mapping) and isinstance(strategy.get("name"), str):
        part = dict(strategy)
    else:
        raise ConfigError(f"strategy: expected a name or {{name: ..., options}}, got {strategy!r}")
    factory = STRATEGIES.get_factory(part["name"], field="strategy")
    if "fidelities" in inspect.signature(factory).parameters and fidelity is None:
        raise ConfigError(
            f"fidelity: strategy {part['name']!r} is multi-fidelity; give the largest "
            "fidelity the objective trains to, e.g. search(..., fidelity=27) for epochs"
        )
    return part


def _executor(
    name: str | None, workers: int, timeout_s: float | None, ordered: bool = True
) -> dict[str, Any]:
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers: must be an integer >= 1, got {workers!r}")
    name = name or ("inline" if workers == 1 else "processes")
    if name not in ("inline", "processes", "ray"):
        raise ConfigError(f"executor: unknown {name!r}; allowed: inline, processes, ray")
    if name == "inline":
        if workers != 1:
            raise ConfigError("workers: the inline executor runs one trial at a time")
        if timeout_s is not None:
            raise ConfigError("timeout_s: needs worker processes (executor='processes')")
        return {"name": "inline"}
    part: dict[str, Any] = {"name": name, "workers": workers}
    if timeout_s is not None:
        part["timeout_s"] = timeout_s
    if not ordered:
        part["ordered"] = False
    return part


def _check_sendable(objective: Callable[..., Any]) -> None:
    """Worker processes receive the objective by reference: it must be importable."""
    label = getattr(objective, "__qualname__", repr(objective))
    try:
        pickle.dumps(objective)
    except Exception as exc:  # noqa: BLE001 - any pickling failure: explain it in one line
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"objective: {label} cannot be sent to worker processes ({reason}); define it "
            "with def at the top level of a module or script, or use workers=1"
        ) from None
    if getattr(objective, "__module__", None) == "__main__":
        import __main__

        if not getattr(__main__, "__file__", None):
            raise ConfigError(
                f"objective: {label} is defined in an interactive session, which worker "
                "processes cannot import; put it in a file, or use workers=1"
            )


def _fidelities(fidelity: Any) -> list[float]:
    if fidelity is None:
        return []
    if isinstance(fidelity, int | float) and not isinstance(fidelity, bool):
        if fidelity < 1 or int(fidelity) != fidelity:
            raise ConfigError(
                f"fidelity: the largest fidelity must be an integer >= 1, got {fidelity!r}"
            )
        return [float(f) for f in range(1, int(fidelity) + 1)]
    if (
        isinstance(fidelity, Sequence)
        and fidelity
        and all(isinstance(f, int | float) and not isinstance(f, bool) and f > 0 for f in fidelity)
    ):
        return sorted({float(f) for f in fidelity})
    raise ConfigError(
        f"fidelity: expected the largest fidelity or a list of them, got {fidelity!r}"
    )


def _budget(budget: Any) -> dict[str, Any]:
    if isinstance(budget, Budget):
        return budget.to_json()
    if isinstance(budget, int) and not isinstance(budget, bool):
        return {"trials": budget}
    if isinstance(budget, Mapping):
        return dict(budget)
    raise ConfigError(
        f"budget: expected a number of trials or {{trials, seconds}}, got {budget!r}"
    )


def _pruner_json(pruner: Any) -> Any:
    from archsearch.api._pruners import CurvePruner, PercentilePruner, pruner_from_spec

    if isinstance(pruner, PercentilePruner | CurvePruner):
        return pruner.to_json()
    pruner_from_spec(pruner)  # refuse a bad one before anything runs
    return pruner


def _default_name(objective: Callable[..., Any]) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    label = getattr(objective, "__name__", "objective").strip("<>") or "objective"
    return f"{label}-{stamp}-{secrets.token_hex(2)}"


def artifacts_for(url: str, name: str, artifacts: str | Path | None = None) -> Path:
    """The folder of an experiment's checkpoints: ``artifacts/NAME``, by default beside
    the SQLite file (``archsearch.db`` -> ``archsearch-artifacts/NAME``), a temporary
    folder for ``memory://``, ``./archsearch-artifacts`` for a database server."""
    if artifacts is not None:
        root = Path(artifacts)
    elif url == "memory://":
        root = Path(tempfile.mkdtemp(prefix="archsearch-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    elif url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db = Path(url.removeprefix("sqlite:///")).expanduser()
        root = db.with_name(f"{db.stem}-artifacts")
    else:
        root = Path("archsearch-artifacts")
    return (root / _safe(name)).resolve()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
