"""A real search on Fashion-MNIST on the CPU, then the winner against the ResNet-like cell.

REA over NB201 cells in a reduced skeleton (8 channels, one cell per stage), each
candidate trained for 4 epochs of the NB201 recipe on 5,000 training images (the
settings of ``train_fashion_mnist.yaml``). The search selects by validation accuracy;
each trial also records its test accuracy, which the search never looks at. Then
NB201's ResNet-like cell is trained with the same recipe, data, budget and seed, and the
two are compared on the test split.

Run: python examples/search_fashion_mnist.py [--trials 20] [--workers 2] [--storage URL]
Needs Fashion-MNIST: Debian's dataset-fashion-mnist, or ARCHSEARCH_DATA.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.registry import BENCHMARKS
from archsearch.spaces.nb201 import from_arch_str, to_arch_str
from archsearch.store import open_store

RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
BENCHMARK: dict[str, Any] = {
    "name": "training",
    "space": "nb201",
    "dataset": "fashion_mnist",
    "subset": 5000,
    "epochs": 4,
    "model": {"channels": 8, "n_cells": 1},
    "report_test": True,  # stored with each trial; the search itself sees validation only
    "n_threads": 1,  # one thread per worker process: no oversubscription of the cores
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", default="memory://", help="where trials are stored")
    args = parser.parse_args()

    spec = normalize_spec(
        {
            "space": "nb201",
            "benchmark": {**BENCHMARK, "seed": args.seed},
            "strategy": {"name": "rea", "population_size": 10, "sample_size": 3},
            "objective": {"metric": "valid_accuracy", "mode": "max"},
            "budget": {"trials": args.trials},
            "executor": {"name": "processes", "workers": args.workers, "start_method": "spawn"},
            "seed": args.seed,
        }
    )
    start = time.perf_counter()
    experiment = build_experiment(spec, store=open_store(args.storage), name="fashion-mnist")
    summary = experiment.run()
    search_s = time.perf_counter() - start
    best = summary.best_config
    print(f"search: {summary.n_trials} trials in {search_s:.0f} s")
    print(f"best cell by validation accuracy: {to_arch_str(best)} ({summary.best_score:.2f} %)")

    # the same recipe, budget, data and seed as every candidate; the test split decides
    options = {k: v for k, v in BENCHMARK.items() if k != "name"}
    evaluator = BENCHMARKS.create("training", {**options, "seed": args.seed}, field="benchmark")
    resnet = evaluator.evaluate(from_arch_str(RESNET_CELL))
    rows = [
        ("searched", to_arch_str(best), summary.best_metrics),
        ("ResNet-like", RESNET_CELL, resnet.metrics),
    ]
    print(f"\n{'cell':<12} {'valid %':>8} {'test %':>7} {'params':>8}  architecture")
    for label, arch, m in rows:
        print(
            f"{label:<12} {m['valid_accuracy']:8.2f} {m['test_accuracy']:7.2f} "
            f"{int(m['n_params']):8,}  {arch}"
        )
    gap = rows[0][2]["test_accuracy"] - rows[1][2]["test_accuracy"]
    verdict = "beats" if gap > 0 else "does not beat"
    print(f"\nthe searched cell {verdict} the ResNet-like cell by {gap:+.2f} test points")
    print(f"total wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
