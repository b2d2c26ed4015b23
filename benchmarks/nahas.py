"""Architecture-accelerator co-search (NAHAS) against the two-step baseline on NB201.

Usage:
    python benchmarks/nahas.py [--seeds 10] [--evaluations 300] [--area 2.0]
                               [--strategies random rea nsga2]

The ``nahas`` benchmark answers a joint config ``{"arch": cell, "hardware": accelerator}``
with the cell's 200-epoch CIFAR-10 accuracy from the NB201 table and the latency,
energy and area of the cell's network on the accelerator from the analytical model of
:mod:`archsearch.hardware`. Objectives: accuracy (max), latency and energy (min, on a
log10 scale: they span three orders of magnitude); the area budget ``--area`` (mm^2) is
a constraint (an accelerator over it is rejected before evaluation, EEEA's early exit,
and costs no evaluation).

Per strategy and seed, at the same budget of ``--evaluations`` evaluations:

- joint: the strategy searches the joint space (random and NSGA-II on the three
  objectives, REA on MnasNet's soft reward ``acc * latency^-0.07``, whose ranking does
  not depend on the target);
- two-step: half the budget searches the architecture by accuracy alone on a fixed
  mid-size accelerator (16x16, 4 words/PE, 128 KiB, weight-stationary), then the other
  half searches accelerators for the most accurate cell found (same objective as joint).

Every feasible evaluation of a run counts towards its front. The table gives the
hypervolume of each run's front as a share of the exact front's: the cost of an NB201
network depends on the cell only through its numbers of 1x1 and 3x3 conv edges, so the
exact front is the best cell of each such class on every accelerator under the budget.
The reference point is the worst latency and energy of the feasible space with the
worst cell's accuracy (10 %: cheap degenerate cells count) and, in a second table, the
median cell's accuracy (only the better half of the cells counts).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch

from archsearch.analysis import hypervolume, pareto_front
from archsearch.evaluation import NB201Benchmark
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.hardware import (
    AcceleratorBenchmark,
    accelerator_from_config,
    hardware_space,
    nb201_layers,
    network_cost,
)
from archsearch.spaces.nb201 import EDGES, cell_from_index
from archsearch.trial import Candidate, Result, TrialStatus

#: the accelerator the two-step baseline searches architectures on
DEFAULT_HARDWARE = {"rows": 16, "cols": 16, "pe_buffer": 4, "glb_kib": 128, "dataflow": "ws"}
METRICS = {"valid_accuracy": "max", "latency_ms": "min", "energy_uj": "min"}


def as_point(metrics: Any) -> tuple[float, float, float]:
    """(accuracy, -log10 latency, -log10 energy): every objective maximised."""
    return (
        float(metrics["valid_accuracy"]),
        -float(np.log10(metrics["latency_ms"])),
        -float(np.log10(metrics["energy_uj"])),
    )


def exact_front(area: float) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The exact Pareto front of the feasible joint space and the reference point."""
    bench = NB201Benchmark(dataset="cifar10", fidelity=200)
    best: dict[tuple[int, int], tuple[float, dict[str, str]]] = {}
    worst_acc = float("inf")
    for i in range(15_625):
        cell = cell_from_index(i)
        acc = bench.evaluate(cell).metrics["valid_accuracy"]
        worst_acc = min(worst_acc, acc)
        ops = [cell[e] for e in EDGES]
        key = (ops.count("nor_conv_1x1"), ops.count("nor_conv_3x3"))
        if key not in best or acc > best[key][0]:
            best[key] = (acc, cell)
    accelerators = [
        accelerator_from_config(c)
        for c in hardware_space().enumerate()
        if accelerator_from_config(c).area_mm2 <= area
    ]
    points, worst_lat, worst_energy = [], 0.0, 0.0
    for acc, cell in best.values():
        layers = nb201_layers(cell)
        for accelerator in accelerators:
            cost = network_cost(layers, accelerator)
            worst_lat = max(worst_lat, cost.latency_ms)
            worst_energy = max(worst_energy, cost.energy_uj)
            points.append(as_point({"valid_accuracy": acc, **cost.metrics()}))
    pts = np.array(points)
    reference = (worst_acc, -float(np.log10(worst_lat)), -float(np.log10(worst_energy)))
    return pts[pareto_front(pts)], reference


def objective(strategy: str, area: float) -> dict[str, Any]:
    constraints = {"area_mm2": area}
    if strategy == "rea":  # single-objective: MnasNet's soft reward
        return {
            "type": "mnasnet",
            "metric": "valid_accuracy",
            "latency": "latency_ms",
            "target": 1.0,
            "constraints": constraints,
        }
    return {"metrics": METRICS, "constraints": constraints}


def run(
    strategy: str,
    seed: int,
    trials: int,
    space: dict[str, Any],
    objective_spec: dict[str, Any],
    points: list[tuple[float, float, float]],
) -> Any:
    """One store-less experiment; appends the points of its feasible evaluations."""

    def collect(candidate: Candidate, result: Result, clock: float) -> None:
        if result.status is TrialStatus.COMPLETE:
            points.append(as_point(result.metrics))

    options: dict[str, Any] = {"name": strategy}
    if strategy == "nsga2":
        options["population_size"] = max(2, min(50, trials // 5))
    spec = normalize_spec(
        {
            "space": space,
            "benchmark": {"name": "nahas", "dataset": "cifar10", "fidelity": 200},
            "strategy": options,
            "seed": seed,
            "budget": {"trials": trials},
            "objective": objective_spec,
        }
    )
    return build_experiment(spec, store=None, name="nahas", on_trial_end=collect).run()


def joint(strategy: str, seed: int, budget: int, area: float) -> np.ndarray:
    points: list[tuple[float, float, float]] = []
    run(strategy, seed, budget, {"name": "hardware_joint"}, objective(strategy, area), points)
    return np.array(points)


def two_step(strategy: str, seed: int, budget: int, area: float) -> np.ndarray:
    points: list[tuple[float, float, float]] = []
    arch_space = {"name": "hardware_joint", "fixed_hardware": DEFAULT_HARDWARE}
    first = budget // 2
    accuracy_only = {"metric": "valid_accuracy", "constraints": {"area_mm2": area}}
    summary = run(strategy, seed, first, arch_space, accuracy_only, points)
    hw_space = {"name": "hardware_joint", "fixed_arch": summary.best_config["arch"]}
    run(strategy, seed, budget - first, hw_space, objective(strategy, area), points)
    return np.array(points)


def spread(values: list[float]) -> str:
    q = np.percentile(values, [25, 75])
    return f"{statistics.median(values):.4f} [{q[0]:.4f}, {q[1]:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=300)
    parser.add_argument("--area", type=float, default=2.0, help="area budget in mm^2")
    parser.add_argument("--strategies", nargs="+", default=["random", "rea", "nsga2"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if accelerator_from_config(DEFAULT_HARDWARE).area_mm2 > args.area:
        parser.error(f"--area: the two-step baseline's accelerator needs more than {args.area}")
    front, worst = exact_front(args.area)
    median_acc = float(np.median(NB201Benchmark(fidelity=200)._final))
    references = {"worst": worst, "median": (median_acc, worst[1], worst[2])}
    exact = {k: hypervolume(front, ref) for k, ref in references.items()}
    AcceleratorBenchmark()  # load the table before timing the searches
    print(
        f"NAHAS on NB201 CIFAR-10: accuracy (max), log10 latency and log10 energy (min), "
        f"area <= {args.area} mm^2"
    )
    print(
        f"exact front: {len(front)} points ({len(np.unique(front, axis=0))} distinct), "
        f"accuracy {front[:, 0].min():.2f} to {front[:, 0].max():.2f}; reference: "
        f"latency {10 ** -worst[1]:.3g} ms, energy {10 ** -worst[2]:.3g} uJ, accuracy "
        f"{worst[0]:.2f} (worst cell) or {median_acc:.2f} (median cell)"
    )
    runs: dict[str, dict[str, list[np.ndarray]]] = {}
    for strategy in args.strategies:
        runs[strategy] = {"joint": [], "two-step": []}
        for seed in range(args.seeds):
            runs[strategy]["joint"].append(joint(strategy, seed, args.evaluations, args.area))
            runs[strategy]["two-step"].append(
                two_step(strategy, seed, args.evaluations, args.area)
            )
    for name, reference in references.items():
        print(
            f"\nreference accuracy: {name} cell; {args.evaluations} evaluations per run, "
            f"{args.seeds} seeds; hypervolume as a share of the exact front's, "
            "median [25th, 75th percentile]"
        )
        print(
            f"{'strategy':<8} {'joint':>26} {'two-step':>26} {'joint > two-step':>17} "
            f"{'best acc joint / 2-step':>24}"
        )
        for strategy, methods in runs.items():
            shares = {
                m: [hypervolume(p, reference) / exact[name] for p in pts]
                for m, pts in methods.items()
            }
            wins = sum(j > t for j, t in zip(shares["joint"], shares["two-step"], strict=True))
            accs = " / ".join(
                f"{statistics.median(float(p[:, 0].max()) for p in pts):.2f}"
                for pts in methods.values()
            )
            print(
                f"{strategy:<8} {spread(shares['joint']):>26} {spread(shares['two-step']):>26} "
                f"{wins:>10}/{args.seeds:<6} {accs:>24}"
            )
    print(f"\nwall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
