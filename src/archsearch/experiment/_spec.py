"""Experiments from a config mapping (the YAML file of ``archsearch run``).

A config names every part by its registered name::

    space: nb201                      # or {name: nb201, ops: [...]}
    benchmark: {name: nb201, dataset: cifar10}
    strategy: {name: rea, population_size: 10, sample_size: 3}
    objective: {metric: valid_accuracy, mode: max}
    budget: {seconds: 20000}          # and/or {trials: N}
    executor: {name: simulated, workers: 1}
    seed: 0
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from archsearch.errors import ConfigError
from archsearch.experiment._budget import Budget, RetryPolicy
from archsearch.experiment._executors import Executor, InlineExecutor, SimulatedExecutor
from archsearch.experiment._loop import Experiment
from archsearch.objectives import objective_from_spec
from archsearch.registry import BENCHMARKS, SPACES, STRATEGIES
from archsearch.store import Store
from archsearch.trial import Candidate, Result

__all__ = ["DEFAULT_SPEC", "build_experiment", "load_spec", "normalize_spec"]

#: the embedded default: REA on NB201 CIFAR-10 under the NATS-Bench protocol
DEFAULT_SPEC: dict[str, Any] = {
    "space": {"name": "nb201"},
    "benchmark": {"name": "nb201", "dataset": "cifar10"},
    "strategy": {"name": "rea", "population_size": 10, "sample_size": 3},
    "objective": {"mode": "max"},  # metric: the benchmark's default (NB201: valid_accuracy)
    "budget": {"seconds": 20000},
    "executor": {"name": "simulated", "workers": 1},
    "seed": 0,
}

FIELDS = (
    "name",
    "space",
    "benchmark",
    "strategy",
    "objective",
    "budget",
    "executor",
    "retries",
    "seed",
    "storage",
)
EXECUTORS = ("simulated", "inline", "processes", "ray")


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file.

    Raises:
        ConfigError: naming the file when it is missing or not a YAML mapping.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: no such config file")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}:{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of fields ({', '.join(FIELDS)})")
    return data


def _named(value: Any, field: str) -> dict[str, Any]:
    """``"rea"`` or ``{name: rea, ...}`` -> a dict with a name."""
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return dict(value)
    raise ConfigError(f"{field}: expected a name or a mapping with 'name', got {value!r}")


def normalize_spec(user: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's config over the defaults, every part in ``{name: ..., options}`` form."""
    user = dict(user or {})
    for key in user:
        if key not in FIELDS:
            raise ConfigError(f"{key}: unknown field; allowed: {', '.join(FIELDS)}")
    spec = copy.deepcopy(DEFAULT_SPEC)
    for key in ("space", "benchmark", "strategy", "executor"):
        if key in user:
            spec[key] = _named(user[key], key)
    for key in ("objective", "budget"):
        if key in user:
            if not isinstance(user[key], Mapping):
                raise ConfigError(f"{key}: expected a mapping, got {user[key]!r}")
            spec[key] = dict(user[key])
    for key in ("seed", "name", "storage", "retries"):
        if key in user:
            spec[key] = user[key]
    seed = spec.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ConfigError(f"seed: must be an integer >= 0, got {seed!r}")
    return spec


def _options(part: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in part.items() if k != "name"}


def _executor(part: Mapping[str, Any]) -> Executor:
    name = part["name"]
    options = _options(part)
    allowed = {
        "simulated": ("workers",),
        "inline": (),
        "processes": ("workers", "timeout_s", "ordered", "start_method"),
        "ray": ("workers", "address", "timeout_s", "ordered"),
    }
    if name not in allowed:
        raise ConfigError(f"executor: unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
    for key in options:
        if key not in allowed[name]:
            raise ConfigError(
                f"executor.{key}: unknown option for '{name}'; "
                f"allowed: {', '.join(allowed[name]) or '(none)'}"
            )
    if name == "simulated":
        return SimulatedExecutor(options.get("workers", 1))
    if name == "inline":
        return InlineExecutor()
    renamed = {("n_workers" if k == "workers" else k): v for k, v in options.items()}
    if name == "processes":
        from archsearch.experiment._processes import ProcessExecutor

        return ProcessExecutor(**renamed)
    from archsearch.experiment._ray import RayExecutor

    return RayExecutor(**renamed)


def build_experiment(
    spec: Mapping[str, Any],
    *,
    store: Store | None,
    name: str,
    on_trial_end: Callable[[Candidate, Result, float], None] | None = None,
) -> Experiment:
    """Build an :class:`Experiment` from a normalized spec (see :func:`normalize_spec`).

    Raises:
        ConfigError: naming the field of the first bad value and the allowed values.
    """
    space_part = spec["space"]
    space = SPACES.create(space_part["name"], _options(space_part), field="space")
    bench_part = spec["benchmark"]
    evaluator = BENCHMARKS.create(bench_part["name"], _options(bench_part), field="benchmark")
    seed = spec.get("seed")
    strategy_part = spec["strategy"]
    extra: dict[str, Any] = {"space": space, "seed": seed}
    factory = STRATEGIES.get_factory(strategy_part["name"], field="strategy")
    if "fidelities" in inspect.signature(factory).parameters and evaluator.fidelities:
        # multi-fidelity strategies learn the evaluator's fidelities unless told otherwise
        extra["fidelities"] = tuple(evaluator.fidelities)
        strategy_part = {k: v for k, v in strategy_part.items() if k != "fidelities"}
    strategy = STRATEGIES.create(
        strategy_part["name"], _options(strategy_part), field="strategy", **extra
    )
    default_metric = getattr(evaluator, "default_metric", None)
    objective = objective_from_spec(dict(spec["objective"]), default_metric)
    return Experiment(
        space=space,
        strategy=strategy,
        evaluator=evaluator,
        objective=objective,
        budget=Budget.from_spec(spec["budget"]),
        retry=RetryPolicy.from_spec(spec["retries"]) if "retries" in spec else None,
        executor=_executor(spec["executor"]),
        store=store,
        name=name,
        spec={k: v for k, v in spec.items() if k not in ("name", "storage")},
        on_trial_end=on_trial_end,
    )
