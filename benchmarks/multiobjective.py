"""Hardware-aware search on NB201: accuracy against measured Pixel 3 latency.

Usage:
    python benchmarks/multiobjective.py [--seeds 20] [--queries 1000] [--device pixel3]

1. The exact Pareto front of (200-epoch CIFAR-10 accuracy, max; latency, min) over all
   15,625 cells, and its hypervolume (reference: the worst accuracy and latency in
   the table).
2. NSGA-II and random search, ``--queries`` queries each, ``--seeds`` seeds: the
   hypervolume of the front each finds, as a share of the exact one.
3. A hard latency budget at the 25th, 50th and 75th percentile of the device's
   latency: REINFORCE with the hard MnasNet reward (alpha 0, beta -1) and REA with a
   latency constraint; the returned cell's latency and its accuracy against the best
   feasible cell of the table.
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


def budget_run(strategy: str, seed: int, target: float, device: str, trials: int) -> tuple:
    if strategy == "reinforce":
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
    return summary.best_metrics["valid_accuracy"], summary.best_metrics["latency_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--budget-trials", type=int, default=500)
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

    print(f"\nhard latency budget, {args.budget_trials} queries per run, {args.seeds} seeds")
    print(
        f"{'percentile':>10} {'budget ms':>10} {'best feasible':>14} {'strategy':>10} "
        f"{'feasible':>9} {'accuracy (mean, worst)':>23} {'gap (worst)':>12}"
    )
    for q in (25, 50, 75):
        target = float(np.percentile(lat, q))
        best = float(acc[lat <= target].max())
        for strategy in ("reinforce", "rea"):
            runs = [
                budget_run(strategy, s, target, args.device, args.budget_trials)
                for s in range(args.seeds)
            ]
            feasible = all(latency <= target for _, latency in runs)
            accs = [a for a, _ in runs]
            print(
                f"{q:>10} {target:>10.3f} {best:>14.2f} {strategy:>10} {str(feasible):>9} "
                f"{statistics.mean(accs):>14.2f}, {min(accs):>6.2f} {best - min(accs):>12.2f}"
            )

    top = np.argsort(-acc)[: len(acc) // 100]
    print(f"\nchoice rules of the top 1% ({len(top)} cells) by CIFAR-10 accuracy:")
    for rule in choice_rules([cell_from_index(int(i)) for i in top], nb201_space()):
        print(f"  {rule}")
    print(f"\nwall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
