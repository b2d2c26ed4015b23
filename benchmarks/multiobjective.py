"""Hardware-aware search on NB201: accuracy against measured Pixel 3 latency.

Usage:
    python benchmarks/multiobjective.py [--seeds 20] [--queries 1000] [--device pixel3]

1. The exact Pareto front of (200-epoch CIFAR-10 accuracy, max; latency, min) over all
   15,625 cells, and its hypervolume (reference: the worst accuracy and latency in
   the table).
2. NSGA-II and random search, ``--queries`` queries each, ``--seeds`` seeds: the
   hypervolume of the front each finds, as a share of the exact one.
3. A hard latency budget at the 25th, 50th and 75th percentile of the device's
   latency, ``--budget-trials`` (1,000) queries and ``--seeds`` seeds as in part 2:
   REINFORCE with the hard MnasNet reward (alpha 0, beta -1, every query evaluated),
   and REA, local search and random search with a latency constraint (EEEA early exit: a cell whose
   table latency breaks the budget is rejected before evaluation and is not a query).
   REA runs as NATS-Bench does (10/3) and with ``unique`` (no repeated queries). The
   returned cell is the search's incumbent by its reward, the 200-epoch accuracy:
   its gap to the best feasible cell of the table, mean and worst over seeds, and the
   share of seeds within 0.5 points.
4. Choice rules of the top 1 % of cells by accuracy against the whole space.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from archsearch.analysis import choice_rules, hypervolume, pareto_front
from archsearch.evaluation import NB201Benchmark
from archsearch.evaluation._nb201 import _latency_column
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.spaces import nb201_space
from archsearch.spaces.nb201 import cell_from_index
from archsearch.trial import Candidate, Result


def table(device: str) -> tuple[np.ndarray, np.ndarray]:
    bench = NB201Benchmark(dataset="cifar10")
    return np.array(bench._final), np.array(_latency_column(None, device))


def run_front(strategy: str, seed: int, queries: int, device: str) -> np.ndarray:
    """Objective vectors (accuracy, -latency) of every cell the search evaluated."""
    points: list[tuple[float, ...]] = []

    def collect(candidate: Candidate, result: Result, clock: float) -> None:
        if result.scores is not None:
            points.append(result.scores)

    spec = normalize_spec(
        {
            "strategy": strategy,
            "seed": seed,
            "budget": {"trials": queries},
            "benchmark": {
                "name": "nb201",
                "dataset": "cifar10",
                "fidelity": 200,
                "device": device,
            },
            "objective": {"metrics": {"valid_accuracy": "max", "latency_ms": "min"}},
        }
    )
    build_experiment(spec, store=None, name="mo", on_trial_end=collect).run()
    return np.array(points)


#: part 3: (label, strategy spec, objective form); "mnasnet" is the hard MnasNet reward
BUDGET_RUNS = (
    ("reinforce, MnasNet", {"name": "reinforce"}, "mnasnet"),
    ("rea, constraint", {"name": "rea"}, "constraint"),
    ("rea unique, constraint", {"name": "rea", "unique": True}, "constraint"),
    ("local, constraint", {"name": "local"}, "constraint"),
    ("random, constraint", {"name": "random"}, "constraint"),
)


def budget_run(
    strategy: dict[str, object], form: str, seed: int, target: float, device: str, trials: int
) -> tuple[float, float, int]:
    """(accuracy, latency, early exits) of the cell one run returns."""
    if form == "mnasnet":
        objective = {
            "type": "mnasnet",
            "metric": "valid_accuracy",
            "latency": "latency_ms",
            "target": target,
            "alpha": 0.0,
            "beta": -1.0,
        }
    else:
        objective = {"metric": "valid_accuracy", "constraints": {"latency_ms": target}}
    spec = normalize_spec(
        {
            "strategy": strategy,
            "seed": seed,
            "budget": {"trials": trials},
            "benchmark": {
                "name": "nb201",
                "dataset": "cifar10",
                "fidelity": 200,
                "device": device,
            },
            "objective": objective,
        }
    )
    summary = build_experiment(spec, store=None, name="budget").run()
    early = int(summary.extra.get("early_exits", 0))
    return summary.best_metrics["valid_accuracy"], summary.best_metrics["latency_ms"], early


def budget_table(acc: np.ndarray, lat: np.ndarray, args: argparse.Namespace) -> None:
    print(
        f"\nhard latency budget, {args.budget_trials} queries per run, {args.seeds} seeds; "
        "gap = best feasible accuracy - returned accuracy (points)"
    )
    print(
        f"{'pct':>3} {'budget ms':>9} {'best':>6}  {'strategy':<23} {'feasible':>8} "
        f"{'gap mean':>8} {'worst':>6} {'<= 0.5':>7} {'early exits':>11}"
    )
    for q in (25, 50, 75):
        target = float(np.percentile(lat, q))
        best = float(acc[lat <= target].max())
        for label, strategy, form in BUDGET_RUNS:
            runs = [
                budget_run(strategy, form, s, target, args.device, args.budget_trials)
                for s in range(args.seeds)
            ]
            feasible = sum(latency <= target for _, latency, _ in runs)
            gaps = [best - a for a, _, _ in runs]
            within = sum(g <= 0.5 for g in gaps)
            early = statistics.mean(e for _, _, e in runs)
            print(
                f"{q:>3} {target:>9.3f} {best:>6.2f}  {label:<23} {feasible:>3}/{len(runs):<4} "
                f"{statistics.mean(gaps):>8.2f} {max(gaps):>6.2f} {within:>3}/{len(runs):<3} "
                f"{early:>11.0f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--budget-trials", type=int, default=1000)
    parser.add_argument("--device", default="pixel3")
    args = parser.parse_args()
    t0 = time.perf_counter()
    acc, lat = table(args.device)
    points = np.stack([acc, -lat], axis=1)
    reference = (float(acc.min()), float(-lat.max()))
    front = pareto_front(points)
    exact = hypervolume(points[front], reference)
    print(f"NB201 CIFAR-10, 200-epoch accuracy vs {args.device} latency")
    print(
        f"exact front: {len(front)} cells, hypervolume {exact:.2f} "
        f"(reference: accuracy {reference[0]:.2f}, latency {-reference[1]:.2f} ms)"
    )
    print(
        f"\n{'strategy':<10} {'hypervolume share, mean ± std':>32} {'min':>7}  "
        f"({args.queries} queries, {args.seeds} seeds)"
    )
    for strategy in ("nsga2", "random"):
        shares = [
            hypervolume(run_front(strategy, s, args.queries, args.device), reference) / exact
            for s in range(args.seeds)
        ]
        print(
            f"{strategy:<10} {statistics.mean(shares):>25.4f} ± {statistics.stdev(shares):.4f}"
            f" {min(shares):>7.4f}"
        )

    budget_table(acc, lat, args)

    top = np.argsort(-acc)[: len(acc) // 100]
    print(f"\nchoice rules of the top 1% ({len(top)} cells) by CIFAR-10 accuracy:")
    for rule in choice_rules([cell_from_index(int(i)) for i in top], nb201_space()):
        print(f"  {rule}")
    print(f"\nwall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
