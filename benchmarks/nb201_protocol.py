"""The NATS-Bench topology protocol through archsearch, against the published figures.

Usage:
    python benchmarks/nb201_protocol.py [--runs 100] [--dataset cifar10]

For each strategy: ``--runs`` seeds, reward = 12-epoch validation accuracy, budget
20,000 / 40,000 / 120,000 simulated seconds for cifar10 / cifar100 / imagenet16-120;
prints the mean ± std of the 200-epoch accuracy of the returned cell, the mean
number of queries, and the published NATS-Bench row.
"""

from __future__ import annotations

import argparse
import statistics
import time

from archsearch.experiment import build_experiment, normalize_spec

BUDGET_S = {"cifar10": 20000, "cifar100": 40000, "imagenet16-120": 120000}
PUBLISHED = {  # NATS-Bench, topology search space, 500 runs
    "rea": {"cifar10": (91.25, 0.31), "cifar100": (72.23, 0.84), "imagenet16-120": (45.77, 0.80)},
    "random": {
        "cifar10": (91.07, 0.26),
        "cifar100": (71.55, 0.97),
        "imagenet16-120": (45.28, 0.97),
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--dataset", default="cifar10", choices=sorted(BUDGET_S))
    parser.add_argument("--strategies", default="rea,random")
    args = parser.parse_args()
    print(f"{args.dataset}, {BUDGET_S[args.dataset]:,} simulated s, {args.runs} runs")
    print(
        f"{'strategy':<10} {'final acc':>14} {'queries':>8} {'published':>14} {'within 1 sd':>12}"
        f" {'wall':>7}"
    )
    for name in args.strategies.split(","):
        t = time.perf_counter()
        accs, queries = [], []
        for seed in range(args.runs):
            spec = normalize_spec(
                {
                    "strategy": name,
                    "seed": seed,
                    "budget": {"seconds": BUDGET_S[args.dataset]},
                    "benchmark": {"name": "nb201", "dataset": args.dataset},
                }
            )
            summary = build_experiment(spec, store=None, name="protocol").run()
            accs.append(summary.truth["final_accuracy"])
            queries.append(summary.n_trials)
        wall = time.perf_counter() - t
        mean, std = statistics.mean(accs), statistics.stdev(accs)
        pub = PUBLISHED.get(name, {}).get(args.dataset)
        pub_text = f"{pub[0]:.2f}±{pub[1]:.2f}" if pub else "-"
        within = "-" if pub is None else ("yes" if abs(mean - pub[0]) <= pub[1] else "no")
        print(
            f"{name:<10} {mean:>8.2f}±{std:.2f} {statistics.mean(queries):>8.1f} "
            f"{pub_text:>14} {within:>12} {wall:>6.2f}s"
        )


if __name__ == "__main__":
    main()
