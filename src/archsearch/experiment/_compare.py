"""Compare strategies on a benchmark: strategies × seeds under one protocol.

The NATS-Bench protocol: every run searches with its own seed until the simulated
budget is spent; the reported figure is the ground truth (for NB201, the 200-epoch
accuracy) of the config the search returns. Runs go in parallel over processes, each
store-less (the fast path of :class:`Experiment`).
"""

from __future__ import annotations

import inspect
import math
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.evaluation import Benchmark
from archsearch.experiment._spec import build_experiment, normalize_spec
from archsearch.registry import BENCHMARKS, STRATEGIES
from archsearch.trial import Candidate, Result

__all__ = [
    "DEFAULT_BUDGETS",
    "PUBLISHED",
    "StrategyStats",
    "compare",
    "protocol_options",
    "published",
]

#: NATS-Bench budgets (simulated seconds) per (benchmark, dataset)
DEFAULT_BUDGETS: dict[tuple[str, str | None], float] = {
    ("nb201", "cifar10"): 20000.0,
    ("nb201", "cifar100"): 40000.0,
    ("nb201", "imagenet16-120"): 120000.0,
}

#: strategy options that a benchmark's published protocol fixes (see each strategy)
PROTOCOL_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "nb201": {
        "rea": {"population_size": 10, "sample_size": 3},  # NATS-Bench defaults
        "reinforce": {"learning_rate": 0.01},  # NATS-Bench
        # NATS-Bench's BOHB settings (4 samples per iteration, no random fraction, min
        # bandwidth 0.3) at the 12-epoch fidelity only: the table has no epochs 1-11,
        # and 200 epochs are what the search is judged by (see BOHB's docstring)
        "bohb": {
            "min_fidelity": 12,
            "max_fidelity": 12,
            "num_samples": 4,
            "random_fraction": 0.0,
            "min_bandwidth": 0.3,
        },
        # multi-fidelity strategies likewise search at 12 epochs on NB201
        "hyperband": {"min_fidelity": 12, "max_fidelity": 12},
        "successive_halving": {"min_fidelity": 12, "max_fidelity": 12},
        "asha": {"min_fidelity": 12, "max_fidelity": 12},
    },
    # LCBench's surrogate at epoch 1 ranks configs no better than chance (Spearman
    # -0.61..0.35 against epoch 52 on seven tasks; 0.41..0.89 at epoch 3), and one epoch
    # costs 2-13 % of 52 epochs: the rungs start at 3 epochs (3, 9, 27, 52 with eta 3)
    "lcbench": {
        "hyperband": {"min_fidelity": 3},
        "successive_halving": {"min_fidelity": 3},
        "asha": {"min_fidelity": 3},
        "bohb": {"min_fidelity": 3},
        # the curve-based strategies likewise (steps 3, 6, 12, 24, 48, 52): with steps from
        # 1 epoch, freeze-thaw missed random search's final accuracy on 6 of 8 tasks
        "curve_stop": {"min_fidelity": 3},
        "freeze_thaw": {"min_fidelity": 3},
    },
}

N_GRID = 101  # points of the anytime curve

#: NATS-Bench's table (topology space, 500 runs): mean and std of the 200-epoch accuracy
#: (CIFAR-10 validation, CIFAR-100 and ImageNet16-120 test) of the returned cell
PUBLISHED: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    ("nb201", "cifar10"): {
        "rea": (91.25, 0.31),
        "reinforce": (91.12, 0.25),
        "random": (91.07, 0.26),
        "bohb": (91.17, 0.27),
    },
    ("nb201", "cifar100"): {
        "rea": (72.23, 0.84),
        "reinforce": (71.86, 0.89),
        "random": (71.55, 0.97),
        "bohb": (72.00, 0.86),
    },
    ("nb201", "imagenet16-120"): {
        "rea": (45.77, 0.80),
        "reinforce": (45.64, 0.78),
        "random": (45.28, 0.97),
        "bohb": (45.70, 0.86),
    },
}


def published(benchmark: str, dataset: str | None, strategy: str) -> tuple[float, float] | None:
    """The published (mean, std) for a strategy under a benchmark's protocol, if any."""
    return PUBLISHED.get((benchmark, dataset or ""), {}).get(strategy)


def protocol_options(benchmark: str, strategy: str) -> dict[str, Any]:
    """The options a benchmark's published protocol uses for a strategy (may be empty)."""
    return dict(PROTOCOL_OPTIONS.get(benchmark, {}).get(strategy, {}))


@dataclass
class StrategyStats:
    """The outcome of one strategy's runs."""

    strategy: str
    finals: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    curves: list[list[float]] = field(default_factory=list)  # best-so-far truth on the grid

    def to_json(self) -> dict[str, Any]:
        finals = self.finals
        mean, std = _band(self.curves)
        return {
            "mean": statistics.fmean(finals) if finals else None,
            "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "runs": len(finals),
            "mean_queries": statistics.fmean(self.queries) if self.queries else None,
            "mean_reward": statistics.fmean(self.rewards) if self.rewards else None,
            "anytime_mean": _nan_to_none(mean),
            "anytime_std": _nan_to_none(std),
        }


def _band(curves: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over runs at each grid point; NaN until half of the runs have a value."""
    if not curves:
        return np.full(N_GRID, np.nan), np.full(N_GRID, np.nan)
    values = np.array(curves, dtype=float)
    enough = np.isfinite(values).sum(axis=0) >= max(1, len(values) / 2)
    filled = np.where(np.isfinite(values), values, 0.0)
    counts = np.maximum(np.isfinite(values).sum(axis=0), 1)
    mean = filled.sum(axis=0) / counts
    var = (np.where(np.isfinite(values), values - mean, 0.0) ** 2).sum(axis=0) / counts
    return np.where(enough, mean, np.nan), np.where(enough, np.sqrt(var), np.nan)


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), 4) for v in values]


def _one_run(spec: dict[str, Any], grid: np.ndarray) -> tuple[float, float, int, list[float]]:
    """One seeded search; returns (final truth, reward, queries, anytime curve)."""
    events: list[tuple[float, float]] = []  # (clock, truth of the best so far)
    best = [(-math.inf, -math.inf)]  # (fidelity, score) of the incumbent, as in Experiment

    def on_trial_end(candidate: Candidate, result: Result, clock: float) -> None:
        if result.score is None:
            return
        fidelity = -math.inf if candidate.fidelity is None else candidate.fidelity
        if (fidelity, result.score) > best[0]:
            best[0] = (fidelity, result.score)
            # the truth of a new incumbent is looked up only when the incumbent changes
            events.append((clock, bench.truth(candidate.config)["final_accuracy"]))

    experiment = build_experiment(spec, store=None, name="compare", on_trial_end=on_trial_end)
    evaluator = experiment.evaluator
    if not isinstance(evaluator, Benchmark):
        raise ConfigError("benchmark: compare needs a benchmark with a ground truth")
    bench: Benchmark = evaluator
    summary = experiment.run()
    curve = [math.nan] * len(grid)
    if events:
        clocks = np.array([e[0] for e in events])
        values = np.array([e[1] for e in events])
        positions = np.searchsorted(clocks, grid, side="right") - 1
        curve = [float(values[p]) if p >= 0 else math.nan for p in positions]
    final = summary.truth.get("final_accuracy", math.nan)
    reward = summary.best_score if summary.best_score is not None else math.nan
    return float(final), float(reward), summary.n_trials, curve


def _chunk(job: tuple[dict[str, Any], list[int], list[float]]) -> tuple[str, list[Any]]:
    base, seeds, grid = job
    out = [_one_run({**base, "seed": seed}, np.asarray(grid)) for seed in seeds]
    return base["strategy"]["name"], out


def compare(
    *,
    benchmark: str,
    dataset: str | None,
    strategies: Sequence[str],
    runs: int,
    budget_s: float | None = None,
    workers: int = 1,
    jobs: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    benchmark_options: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``runs`` seeds of each strategy; returns the table, curves and timing.

    Args:
        benchmark: a registered benchmark name (``nb201``).
        dataset: the benchmark's dataset (``cifar10``, ``cifar100``, ``imagenet16-120``).
        strategies: registered strategy names.
        runs: seeds per strategy (``seed``, ``seed + 1``, ...).
        budget_s: simulated seconds per run; default: the published protocol's budget.
        workers: simulated workers per run.
        jobs: processes (default: the machine's cores).
        options: per-strategy options overriding the protocol's.
        benchmark_options: further options of the benchmark (e.g. ``with_curve``).
    """
    if not strategies:
        raise ConfigError("strategies: give at least one strategy name")
    for name in strategies:
        STRATEGIES.get_factory(name, field="strategies")
    if not isinstance(runs, int) or runs < 1:
        raise ConfigError(f"runs: must be an integer >= 1, got {runs!r}")
    if budget_s is None:
        budget_s = DEFAULT_BUDGETS.get((benchmark, dataset))
        if budget_s is None:
            raise ConfigError(f"budget: no published budget for {benchmark}/{dataset}; give one")
    grid = np.linspace(0.0, float(budget_s), N_GRID)
    bench_part: dict[str, Any] = {"name": benchmark, **dict(benchmark_options or {})}
    if dataset is not None:
        bench_part[_dataset_option(benchmark)] = dataset
    specs = {}
    for name in strategies:
        strategy_part = {
            "name": name,
            **protocol_options(benchmark, name),
            **dict((options or {}).get(name, {})),
        }
        spec = normalize_spec(
            {
                "strategy": strategy_part,
                "benchmark": bench_part,
                "budget": {"seconds": budget_s},
                "executor": {"name": "simulated", "workers": workers},
                "space": _space_for(benchmark, bench_part),
            }
        )
        build_experiment(spec, store=None, name="check")  # fail fast on bad options
        specs[name] = spec
    jobs = jobs or os.cpu_count() or 1
    work = []
    n_chunks = max(1, min(runs, 4 * jobs))
    for name in strategies:
        seeds = list(range(seed, seed + runs))
        for k in range(n_chunks):
            part = seeds[k::n_chunks]
            if part:
                work.append((specs[name], part, grid.tolist()))
    t0 = time.perf_counter()
    stats = {name: StrategyStats(name) for name in strategies}
    if jobs > 1 and len(work) > 1:
        with mp.get_context("fork").Pool(jobs) as pool:
            outputs = pool.map(_chunk, work, chunksize=1)
    else:
        outputs = [_chunk(job) for job in work]
    for name, rows in outputs:
        for final, reward, queries, curve in rows:
            stats[name].finals.append(final)
            stats[name].rewards.append(reward)
            stats[name].queries.append(queries)
            stats[name].curves.append(curve)
    wall = time.perf_counter() - t0
    return {
        "benchmark": benchmark,
        "dataset": dataset,
        "budget_seconds": float(budget_s),
        "workers": workers,
        "grid": [float(x) for x in grid],
        "results": {name: stats[name].to_json() for name in strategies},
        "wall_seconds": wall,
    }


def _dataset_option(benchmark: str) -> str:
    """The benchmark's option that picks the data: ``dataset``, or ``task`` (LCBench)."""
    parameters = inspect.signature(BENCHMARKS.get_factory(benchmark, field="benchmark")).parameters
    if "dataset" in parameters or "task" not in parameters:
        return "dataset"
    return "task"


def _space_for(benchmark: str, options: Mapping[str, Any]) -> Any:
    """The space a benchmark is searched in: its ``space_spec(options)``, else its name."""
    factory = BENCHMARKS.get_factory(benchmark, field="benchmark")
    hook = getattr(factory, "space_spec", None)
    return hook(options) if hook is not None else benchmark
