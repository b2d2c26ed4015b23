"""Multi-fidelity search on LCBench: how soon do Hyperband, ASHA and BOHB match random search?

Usage:
    python benchmarks/lcbench_multifidelity.py [--runs 20] [--tasks all] [--trainings 50]
        [--plot PNG] [--json PATH]

For each LCBench task (YAHPO surrogate, epochs 1..52): the budget is ``--trainings``
(default 50) times the median 52-epoch training time of 20 random configs; random
search trains every config for 52 epochs, the multi-fidelity strategies climb the
rungs 3, 9, 27, 52 (eta 3; ``PROTOCOL_OPTIONS`` in ``archsearch.experiment``).
Every strategy runs ``--runs`` seeds; its anytime curve is the mean over seeds of the
52-epoch validation accuracy of its incumbent. Printed per task: the fraction of the
budget each strategy needs to reach random search's final mean accuracy (``>1``: not
within the budget), then the median over tasks. The plot shows,
against the fraction of the budget, the share of tasks on which each strategy has
reached random search's final accuracy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.evaluation._yahpo import LCBENCH, lcbench_benchmark
from archsearch.experiment import compare
from archsearch.spaces import lcbench_space
from archsearch.spaces._configspace import load_json, yahpo_dir

# successive halving (Hyperband's widest bracket alone) shows what Hyperband's hedging
# brackets cost where 3 epochs already rank the configs well
STRATEGIES = ("random", "hyperband", "successive_halving", "asha", "bohb")
WIDTH = {name: max(10, len(name)) for name in STRATEGIES}
BUDGET_FULL_TRAININGS = 50


def tasks() -> list[str]:
    """The 34 OpenML task ids of the surrogate's config space (its encoding lists 35)."""
    space = load_json(yahpo_dir(LCBENCH.name) / "config_space.json")
    for hp in space["hyperparameters"]:
        if hp["name"] == "OpenML_task_id":
            return [str(t) for t in hp["choices"]]
    raise SystemExit("lcbench: no OpenML_task_id in the config space")


def budget_for(task: str, trainings: float = BUDGET_FULL_TRAININGS) -> float:
    bench = lcbench_benchmark(task=task, with_curve=False)
    space = lcbench_space()
    full = [bench.evaluate(space.sample(seed=i), 52).cost_s for i in range(20)]
    return trainings * statistics.median(full)


def time_to_reach(curve: list[float | None], target: float) -> float:
    """First fraction of the budget at which ``curve`` reaches ``target`` (inf: never)."""
    grid = np.linspace(0.0, 1.0, len(curve))
    for x, value in zip(grid, curve, strict=True):
        if value is not None and value >= target - 1e-9:
            return float(x)
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tasks", default="all", help="comma-separated task ids, or all")
    parser.add_argument(
        "--trainings",
        type=float,
        default=BUDGET_FULL_TRAININGS,
        help="budget in median 52-epoch trainings",
    )
    parser.add_argument("--plot", default="lcbench-multifidelity.png")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    chosen = tasks() if args.tasks == "all" else args.tasks.split(",")
    t0 = time.perf_counter()
    fractions: dict[str, list[float]] = {s: [] for s in STRATEGIES[1:]}
    rows: list[dict[str, Any]] = []
    print(
        f"LCBench, {args.runs} runs per strategy and task, budget = "
        f"{args.trainings:g} median 52-epoch trainings"
    )
    print(
        f"{'task':>7} {'budget s':>10} {'random final':>13} "
        + " ".join(f"{s:>{WIDTH[s]}}" for s in STRATEGIES[1:])
    )
    for task in chosen:
        budget = budget_for(task, args.trainings)
        result = compare(
            benchmark="lcbench",
            dataset=task,
            strategies=list(STRATEGIES),
            runs=args.runs,
            budget_s=budget,
            benchmark_options={"with_curve": False},
        )
        target = result["results"]["random"]["anytime_mean"][-1]
        row: dict[str, Any] = {"task": task, "budget_s": budget, "random_final": target}
        for name in STRATEGIES[1:]:
            frac = time_to_reach(result["results"][name]["anytime_mean"], target)
            fractions[name].append(frac)
            row[name] = frac
        rows.append(row)
        cells = " ".join(
            f"{row[s]:>{WIDTH[s]}.2f}" if row[s] != float("inf") else f"{'>1':>{WIDTH[s]}}"
            for s in STRATEGIES[1:]
        )
        print(f"{task:>7} {budget:>10.0f} {target:>12.2f}% {cells}")
    medians = {s: statistics.median(v) for s, v in fractions.items()}
    print(
        f"{'median':>7} {'':>10} {'':>13} "
        + " ".join(f"{medians[s]:>{WIDTH[s]}.2f}" for s in STRATEGIES[1:])
    )
    print(
        "(fraction of the budget needed to reach random search's final accuracy; "
        "target: at most 0.33)"
    )
    print(f"wall time {time.perf_counter() - t0:.1f} s")
    _plot(fractions, args.plot)
    print(f"plot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps({"tasks": rows, "median": medians}, indent=1))


def _plot(fractions: dict[str, list[float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, values in fractions.items():
        share = [np.mean([v <= x for v in values]) for x in grid]
        ax.plot(grid, share, label=f"{name} (median {statistics.median(values):.2f})")
    ax.axvline(1 / 3, color="grey", linestyle="--", linewidth=1, label="a third of the budget")
    ax.set_xlabel("fraction of the budget")
    ax.set_ylabel("share of tasks at random search's final accuracy")
    ax.set_title(f"LCBench, {len(next(iter(fractions.values())))} tasks")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
