"""How fast the YAHPO surrogate benchmarks (LCBench, NB301) answer.

Usage:
    python benchmarks/yahpo_speed.py [--configs 200]

Prints, per scenario, the microseconds per query of ``evaluate`` (one config per model
call) and of ``evaluate_many`` (all configs in one call), with learning curves (the
model runs on one row per epoch) and without (one row per query), at the last epoch
and at epoch 10; then ``truth`` and ``encode`` alone. Timings are the best of five
repeats, on one onnxruntime thread.
"""

from __future__ import annotations

import argparse
import itertools
import timeit
from collections.abc import Callable
from typing import Any

from archsearch.evaluation._yahpo import lcbench_benchmark, nb301_benchmark
from archsearch.spaces.lcbench import lcbench_space
from archsearch.spaces.nb301 import nb301_space


def best_us(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def report(name: str, make: Callable[..., Any], configs: list[Any]) -> None:
    full, fast = make(), make(with_curve=False)
    top, n = int(full.default_fidelity), len(configs)
    cycle = itertools.cycle(configs)
    for label, bench, fidelity in (
        (f"curve, epoch {top}", full, top),
        ("curve, epoch 10", full, 10),
        (f"no curve, epoch {top}", fast, top),
    ):
        one = best_us(lambda b=bench, f=fidelity: b.evaluate(next(cycle), f), 100)
        many = best_us(lambda b=bench, f=fidelity: b.evaluate_many(configs, [f] * n), 2) / n
        print(f"{name:8s} {label:20s} {one:9.0f} {many:14.0f}")
    truth = best_us(lambda: full.truth(next(cycle)), 100)
    encode = best_us(lambda: full.encode(next(cycle)), 1000)
    print(f"{name:8s} truth {truth:.0f} us, encode {encode:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=200)
    args = parser.parse_args()
    print(f"{'scenario':8s} {'query':20s} {'evaluate us':>9s} {'evaluate_many us':>14s}")
    for name, make, space in (
        ("lcbench", lcbench_benchmark, lcbench_space()),
        ("nb301", nb301_benchmark, nb301_space()),
    ):
        report(name, make, [space.sample(seed=s) for s in range(args.configs)])


if __name__ == "__main__":
    main()
