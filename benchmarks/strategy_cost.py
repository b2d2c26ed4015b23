"""What each strategy's own decisions cost per query on the NATS-Bench CIFAR-10 protocol.

Usage:
    python benchmarks/strategy_cost.py [--runs 20] [--strategies random,rea,...]

Each strategy runs ``--runs`` seeds of the NATS-Bench topology protocol (NB201 CIFAR-10,
20,000 simulated seconds, the protocol's options) through the store-less Experiment
loop, as ``archsearch compare`` runs them. Its ``ask`` and ``tell`` are timed around
each call, so the figure is the strategy's own cost per query (microseconds, ask and
tell together, mean over all queries), apart from the loop and the table lookup.
Printed beside it: queries per run, wall time per run, and the cost per query as a
multiple of random search's, measured in the same process.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from archsearch.experiment import build_experiment, normalize_spec, protocol_options

DEFAULT = "random,rea,reinforce,bohb,hyperband,asha,successive_halving,mcts,local,tpe,lstm"


def timed(method: Any, spent: list[float]) -> Any:
    """``method``, adding the time of each call to ``spent[0]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    return wrapper


def measure(name: str, runs: int) -> tuple[float, float, float]:
    """(strategy microseconds per query, queries per run, wall ms per run)."""
    spent, queries, wall = [0.0], 0, 0.0
    for seed in range(runs):
        spec = normalize_spec(
            {
                "strategy": {"name": name, **protocol_options("nb201", name)},
                "benchmark": {"name": "nb201", "dataset": "cifar10"},
                "budget": {"seconds": 20000},
                "seed": seed,
            }
        )
        experiment = build_experiment(spec, store=None, name="cost")
        strategy = experiment.strategy
        strategy.ask, strategy.tell = timed(strategy.ask, spent), timed(strategy.tell, spent)
        t0 = time.perf_counter()
        summary = experiment.run()
        wall += time.perf_counter() - t0
        queries += summary.n_trials
    return 1e6 * spent[0] / queries, queries / runs, 1e3 * wall / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--strategies", default=DEFAULT)
    args = parser.parse_args()
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    if "random" not in names:
        names.insert(0, "random")
    for name in names:  # warm up: imports (torch for lstm), the table, first-call caches
        measure(name, 1)
    rows = {name: measure(name, args.runs) for name in names}
    base = rows["random"][0]
    print(f"NB201 CIFAR-10, 20,000 simulated s, {args.runs} runs per strategy")
    header = ("strategy", "us per query", "x random", "queries", "ms per run")
    print(f"{header[0]:<20} {header[1]:>13} {header[2]:>9} {header[3]:>8} {header[4]:>11}")
    for name, (cost, queries, wall) in rows.items():
        print(f"{name:<20} {cost:>13.1f} {cost / base:>9.1f} {queries:>8.1f} {wall:>11.1f}")


if __name__ == "__main__":
    main()
