"""Trials per second of the inline, local-process and Ray executors, in one run.

Usage:
    python benchmarks/executor_speed.py [--sleep 0.2] [--trials 40] [--workers 2]

Every executor runs the same random search on a synthetic evaluator that sleeps
``--sleep`` seconds a trial. Throughput is counted in steady state, from the first
finished trial to the last (worker start-up, such as starting Ray, is reported
apart), and each parallel executor is given as a ratio to the inline one.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.store import MemoryStore


def measure(executor: dict[str, Any], trials: int, sleep_s: float) -> tuple[float, float]:
    """(steady-state trials per second, seconds before the first trial finished)."""
    ends: list[float] = []
    spec = normalize_spec(
        {
            "strategy": "random",
            "seed": 0,
            "budget": {"trials": trials},
            "benchmark": {"name": "synthetic", "sleep_s": sleep_s},
            "executor": executor,
        }
    )
    t0 = time.perf_counter()
    experiment = build_experiment(
        spec,
        store=MemoryStore(),
        name="speed",
        on_trial_end=lambda *_: ends.append(time.perf_counter()),
    )
    summary = experiment.run()
    assert summary.n_trials == trials and summary.n_failed == 0
    return (len(ends) - 1) / (ends[-1] - ends[0]), ends[0] - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep", type=float, default=0.2)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for label, executor in (
        ("inline", {"name": "inline"}),
        (f"processes x{args.workers}", {"name": "processes", "workers": args.workers}),
        (f"ray x{args.workers} (local)", {"name": "ray", "workers": args.workers}),
    ):
        rate, startup = measure(executor, args.trials, args.sleep)
        rows.append((label, rate, startup))
    base = rows[0][1]
    print(f"{args.trials} trials of {args.sleep} s (sleep), random search, in-memory store")
    print(f"{'executor':<22} {'trials/s':>9} {'vs inline':>10} {'first trial after':>18}")
    for label, rate, startup in rows:
        print(f"{label:<22} {rate:>9.2f} {rate / base:>9.2f}x {startup:>16.2f} s")


if __name__ == "__main__":
    main()
