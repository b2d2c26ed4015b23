"""Quantisation-aware search on Fashion-MNIST: per-layer bit widths against model size.

Usage:
    python benchmarks/quantisation.py [--trials 120] [--seeds 2] [--subset 8000]
        [--epochs 6] [--qat-steps 200] [--joint-trials 24] [--no-joint]

Everything is real: the float networks are trained with the project's ``Trainer`` on a
Fashion-MNIST subset (``--subset`` images per split, 2,000 of the training images held
out for validation), every policy is applied with fake quantisation (weights per
channel, activations per tensor at 8 bits, ranges calibrated on 1,024 training images)
and evaluated; one CPU thread throughout. Searches run through ``build_experiment``
(``quantisation`` space and benchmark, objectives ``valid_accuracy`` max and
``size_kib`` min), the float model trained once and loaded from a temporary
``checkpoint_dir`` by every later experiment.

(a) One trained ``cnn`` network (5 convs and the classifier): per-layer weight bits
    from {2, 3, 4, 5, 6, 8} searched by NSGA-II and by random search, ``--trials`` trials
    each, ``--seeds`` seeds. Hypervolume of (validation accuracy, -size in KiB) with
    the reference (10 %: chance, the float model's size), mean ± std over seeds, and
    as a share of the front of all runs pooled. Then each strategy's pooled front
    against uniform 4-, 8- and 16-bit: the best accuracy at or below the uniform
    model's size, and the smallest model within 0.5 points of its accuracy (picked on
    validation; test accuracy on the held-out test subset alongside). With
    ``--qat-steps``, a few picks and low uniform widths are also fine-tuned
    quantisation-aware (straight-through estimator) for that many steps.
(b) Unless ``--no-joint``: NSGA-II over architecture and bits together
    (``quantised_cnn``: 3 stages of 1-2 layers, widths 8/16/32, kernels 3/5, one bit
    width per stage and the classifier from {3, 4, 6, 8}; cheaper training: 4,000
    images, 3 epochs), against uniform 8- and 4-bit versions of the architectures it trained.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import numpy as np
import torch

from archsearch.analysis import hypervolume, pareto_front
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.quantisation import QuantisationEvaluator
from archsearch.trial import Candidate, Result

#: the fixed network of part (a): 26k parameters, 5 convs and the classifier
ARCH: dict[str, Any] = {
    "stages": [
        {"n_layers": 2, "width": 16, "kernel": 3},
        {"n_layers": 2, "width": 32, "kernel": 3},
        {"n_layers": 1, "width": 32, "kernel": 3},
    ]
}
SEARCH_BITS = [2, 3, 4, 5, 6, 8]
UNIFORM = (2, 3, 4, 5, 6, 8, 16, 32)
CHANCE = 10.0

Point = tuple[float, float, Any]  # (valid accuracy, size KiB, config)


def benchmark_options(args: argparse.Namespace, epochs: int, folder: str) -> dict[str, Any]:
    return {
        "space": "cnn",
        "dataset": "fashion_mnist",
        "subset": args.subset,
        "n_valid": 2000,
        "recipe": {
            "name": "adamw",
            "learning_rate": 3e-3,
            "weight_decay": 0.01,
            "batch_size": 128,
            "augment": False,
        },
        "epochs": epochs,
        "device": "cpu",
        "n_threads": 1,
        "activation_bits": 8,
        "checkpoint_dir": folder,
    }


def search(space: dict[str, Any], bench: dict[str, Any], strategy: dict[str, Any],
           trials: int, seed: int) -> list[Point]:  # fmt: skip
    """(accuracy, size, config) of every trial of one experiment."""
    points: list[Point] = []

    def collect(candidate: Candidate, result: Result, clock: float) -> None:
        if result.scores is not None:
            points.append(
                (result.metrics["valid_accuracy"], result.metrics["size_kib"], candidate.config)
            )

    spec = normalize_spec(
        {
            "space": space,
            "benchmark": {"name": "quantisation", **bench},
            "strategy": strategy,
            "objective": {"metrics": {"valid_accuracy": "max", "size_kib": "min"}},
            "budget": {"trials": trials},
            "executor": {"name": "inline"},
            "seed": seed,
        }
    )
    build_experiment(spec, store=None, name="quantisation", on_trial_end=collect).run()
    return points


def objective_array(points: list[Point]) -> np.ndarray:
    return np.array([(acc, -size) for acc, size, _ in points], dtype=float).reshape(-1, 2)


def front_of(points: list[Point]) -> list[Point]:
    index = pareto_front(objective_array(points))
    return sorted((points[i] for i in index), key=lambda p: p[1])


def bits_text(config: Any) -> str:
    bits = config.get("bits") or config.get("stage_bits")
    return "/".join(str(b) for b in bits)


def part_a(args: argparse.Namespace, folder: str) -> None:
    bench = {**benchmark_options(args, args.epochs, folder), "arch": ARCH}
    tester = QuantisationEvaluator(report_test=True, **bench)
    t = time.perf_counter()
    uniform = {b: tester.evaluate({"bits": [b] * 6}).metrics for b in UNIFORM}
    float_kib = uniform[32]["size_kib"]
    print(
        f"(a) fixed cnn, {int(uniform[32]['n_params'])} params; float: valid "
        f"{uniform[32]['float_valid_accuracy']:.2f}, test {uniform[32]['float_test_accuracy']:.2f}"
        f" (trained in {time.perf_counter() - t:.0f} s with the uniform points)"
    )
    print(f"\n{'uniform bits':>12} {'size KiB':>9} {'valid':>6} {'test':>6}")
    for b, m in uniform.items():
        print(
            f"{b:>12} {m['size_kib']:>9.2f} {m['valid_accuracy']:>6.2f} {m['test_accuracy']:>6.2f}"
        )

    space = {"name": "quantisation", "arch": ARCH, "bits": SEARCH_BITS}
    reference = (CHANCE, -float_kib)
    runs: dict[str, list[list[Point]]] = {}
    for name, strategy in (("nsga2", {"name": "nsga2", "population_size": 20}),
                           ("random", {"name": "random"})):  # fmt: skip
        runs[name] = [search(space, bench, strategy, args.trials, s) for s in range(args.seeds)]
    pooled = [p for seeds in runs.values() for run in seeds for p in run]
    best_hv = hypervolume(objective_array(pooled), reference)
    print(
        f"\nhypervolume of (valid accuracy, -size KiB), reference ({CHANCE:.0f} %, "
        f"{float_kib:.2f} KiB); {args.trials} trials, {args.seeds} seeds; "
        f"all runs pooled: {best_hv:.2f}"
    )
    print(f"{'strategy':<8} {'hypervolume':>20} {'share of pooled':>16} {'front size':>10}")
    for name, seeds in runs.items():
        hvs = [hypervolume(objective_array(run), reference) for run in seeds]
        std = statistics.stdev(hvs) if len(hvs) > 1 else 0.0
        sizes = statistics.mean(len(front_of(run)) for run in seeds)
        print(
            f"{name:<8} {statistics.mean(hvs):>11.2f} ± {std:<6.2f} "
            f"{statistics.mean(hvs) / best_hv:>16.4f} {sizes:>10.1f}"
        )

    print(
        "\neach strategy's pooled front against uniform points (valid picks; test beside)\n"
        f"{'strategy':<8} {'vs':>4} {'rule':<26} {'bits':<13} {'KiB':>6} {'x unif':>6} "
        f"{'valid':>6} {'Δvalid':>6} {'test':>6} {'Δtest':>6}"
    )
    picks: list[tuple[str, Any]] = []
    for name, seeds in runs.items():
        front = front_of([p for run in seeds for p in run])
        for b in (4, 8, 16):
            u = uniform[b]
            at_size = [p for p in front if p[1] <= u["size_kib"]]
            close = [p for p in front if p[0] >= u["valid_accuracy"] - 0.5]
            rows = (
                ("best accuracy at its size", max(at_size, key=lambda p: p[0], default=None)),
                ("smallest within 0.5 points", min(close, key=lambda p: p[1], default=None)),
            )
            for rule, point in rows:
                if point is None:
                    print(f"{name:<8} {b:>4} {rule:<26} (no front point)")
                    continue
                test = tester.evaluate(point[2]).metrics["test_accuracy"]
                print(
                    f"{name:<8} {b:>4} {rule:<26} {bits_text(point[2]):<13} {point[1]:>6.2f} "
                    f"{point[1] / u['size_kib']:>6.2f} {point[0]:>6.2f} "
                    f"{point[0] - u['valid_accuracy']:>+6.2f} {test:>6.2f} "
                    f"{test - u['test_accuracy']:>+6.2f}"
                )
                if name == "nsga2" and b == 8:
                    picks.append((f"nsga2 {rule} of 8-bit", point[2]))
    if args.qat_steps:
        qat_table(args, bench, tester, picks)


def qat_table(args: argparse.Namespace, bench: dict[str, Any], tester: QuantisationEvaluator,
              picks: list[tuple[str, Any]]) -> None:  # fmt: skip
    tuned = QuantisationEvaluator(report_test=True, qat_steps=args.qat_steps, **bench)
    print(
        f"\nquantisation-aware fine-tuning, {args.qat_steps} steps of 128 images "
        "(post-training quantisation beside)"
    )
    print(f"{'policy':<44} {'KiB':>6} {'PTQ test':>8} {'QAT test':>8}")
    rows = [(f"uniform {b}", {"bits": [b] * 6}) for b in (2, 3)] + picks
    done: set[str] = set()
    for label, config in rows:
        if bits_text(config) in done:
            continue
        done.add(bits_text(config))
        ptq = tester.evaluate(config).metrics["test_accuracy"]
        after = tuned.evaluate(config).metrics
        label = f"{label} ({bits_text(config)})"
        print(f"{label:<44} {after['size_kib']:>6.2f} {ptq:>8.2f} {after['test_accuracy']:>8.2f}")


def part_b(args: argparse.Namespace, folder: str) -> None:
    bench = benchmark_options(args, 3, folder)
    bench["subset"] = min(args.subset, 4000)
    space = {
        "name": "quantised_cnn",
        "n_stages": 3,
        "max_layers": 2,
        "widths": [8, 16, 32],
        "kernels": [3, 5],
        "bits": [3, 4, 6, 8],
    }
    t = time.perf_counter()
    strategy = {"name": "nsga2", "population_size": 10}
    joint = search(space, bench, strategy, args.joint_trials, 0)
    archs = {str(p[2]["arch"]): p[2]["arch"] for p in joint}
    evaluator = QuantisationEvaluator(**bench)
    uniform: dict[int, list[Point]] = {}
    for b in (8, 4):
        uniform[b] = []
        for arch in archs.values():
            config = {"arch": arch, "stage_bits": [b] * 4}
            m = evaluator.evaluate(config).metrics
            uniform[b].append((m["valid_accuracy"], m["size_kib"], config))
    floats = [
        evaluator.evaluate({"arch": a, "stage_bits": [32] * 4}).metrics for a in archs.values()
    ]
    reference = (CHANCE, -max(m["size_kib"] for m in floats))
    print(
        f"\n(b) joint arch + stage bits, NSGA-II, {args.joint_trials} trials, "
        f"{len(archs)} architectures trained ({time.perf_counter() - t:.0f} s); "
        f"reference ({CHANCE:.0f} %, {-reference[1]:.2f} KiB)"
    )
    print(f"{'front of':<36} {'hypervolume':>11} {'points':>6} {'best valid':>10} {'min KiB':>7}")
    for label, points in (
        ("joint search (mixed bits)", joint),
        ("same architectures, uniform 8-bit", uniform[8]),
        ("same architectures, uniform 4-bit", uniform[4]),
    ):
        front = front_of(points)
        hv = hypervolume(objective_array(points), reference)
        print(
            f"{label:<36} {hv:>11.2f} {len(front):>6} {max(p[0] for p in points):>10.2f} "
            f"{min(p[1] for p in points):>7.2f}"
        )
    u8 = max(uniform[8], key=lambda p: p[0])
    close = [p for p in front_of(joint) if p[0] >= u8[0] - 0.5]
    if close:
        small = min(close, key=lambda p: p[1])
        print(
            f"best uniform 8-bit: {u8[0]:.2f} at {u8[1]:.2f} KiB; smallest joint point within "
            f"0.5: {small[0]:.2f} at {small[1]:.2f} KiB ({small[1] / u8[1]:.2f}x), "
            f"bits {bits_text(small[2])}, arch {[s['width'] for s in small[2]['arch']['stages']]}"
            f" widths"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--subset", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--qat-steps", type=int, default=200)
    parser.add_argument("--joint-trials", type=int, default=24)
    parser.add_argument("--no-joint", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        part_a(args, folder)
        if not args.no_joint:
            part_b(args, folder)
    print(f"\nwall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
