"""ASHA on your own model: does it reach random search's best accuracy in half the wall time?

Usage:
    python benchmarks/user_asha.py [--seeds 5] [--random-trials 8] [--eta 3]
        [--workers 2] [--asha-time 1.0] [--json PATH]

The objective is the one of ``examples/search_your_own_model.py``, imported as a user
would (public API only): a small CNN on a fixed 2,000-image Fashion-MNIST subset,
trained for ``trial.fidelity`` epochs from its own checkpoint, reporting the
validation accuracy after every epoch (``trial.report``). For every seed, with
``--workers`` worker processes and a SQLite file of its own:

- random search trains ``--random-trials`` configs for 9 epochs each (a single-fidelity
  strategy gets the largest fidelity). Its target is its best final validation
  accuracy; T_random is its total wall time, T_best the time its incumbent first
  reached the target.
- ASHA (rungs 1, 3, 9 epochs for ``--eta 3``; a promoted config resumes from its
  checkpoint) runs for ``--asha-time`` times random search's wall time (budget in
  seconds, with a generous trial cap). T_asha is the first time a trial at the top
  fidelity (9 epochs, so both sides compare fully trained networks) finished with a
  validation accuracy >= the target.

Times come from the stored trial timestamps (``started_at`` / ``ended_at``, wall
clock), relative to the first trial's start, so both searches pay for starting their
worker processes. ``busy`` is the share of worker time spent in trials (the sum of the
trials' durations over workers x wall time); ``load`` is the machine's mean 1-minute
load average during the search (about ``--workers`` when nothing else runs: the
searches run one after the other, so load from other processes can favour either
side; compare the two ``load`` columns). Printed per seed, then the median over
seeds of T_asha / T_random (the claim: at most 0.5) and of T_asha / T_best (stricter).
A seed whose ASHA never reached the target counts as infinitely slow.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from search_your_own_model import objective  # noqa: E402

import archsearch  # noqa: E402

METRIC = "valid_accuracy"
EPOCHS = 9  # the example's largest fidelity
TRIAL_CAP = 10_000  # ASHA stops on its time budget, not on this


def timeline(records: list[Any]) -> tuple[float, list[dict[str, Any]]]:
    """The first trial's start, and the complete trials (end time relative to that
    start, fidelity, accuracy, duration), in the order they ended."""
    t0 = min(r.started_at for r in records if r.started_at is not None)
    rows = [
        {
            "end": r.ended_at - t0,
            "fidelity": r.fidelity,
            "accuracy": float(r.metrics[METRIC]),
            "cost": r.cost_s or 0.0,
        }
        for r in records
        if str(r.state) == "complete" and METRIC in r.metrics and r.ended_at is not None
    ]
    return t0, sorted(rows, key=lambda row: row["end"])


class LoadMeter:
    """The machine's mean 1-minute load average while a search runs (sampled every 2 s).

    The search's own workers count in it: about ``--workers`` on an otherwise idle
    machine; more means other processes competed for the cores.
    """

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else os.getloadavg()[0]


def busy(rows: list[dict[str, Any]], wall: float, workers: int) -> float:
    return sum(row["cost"] for row in rows) / (workers * wall) if wall > 0 else 0.0


def run_seed(seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    common: dict[str, Any] = {
        "fidelity": EPOCHS,
        "metric": METRIC,
        "mode": "max",
        "workers": args.workers,
        "seed": seed,
        "progress": False,
    }
    with LoadMeter() as random_load:
        random = archsearch.search(
            objective,
            strategy="random",
            budget=args.random_trials,
            storage=f"sqlite:///{folder / 'random.db'}",
            name=f"random-{seed}",
            **common,
        )
    _, rows = timeline(random.trial_records())
    target = max(row["accuracy"] for row in rows)
    t_random = max(row["end"] for row in rows)
    t_best = min(row["end"] for row in rows if row["accuracy"] >= target)

    with LoadMeter() as asha_load:
        asha = archsearch.search(
            objective,
            strategy={"name": "asha", "eta": args.eta},
            budget={"seconds": args.asha_time * t_random, "trials": TRIAL_CAP},
            storage=f"sqlite:///{folder / 'asha.db'}",
            name=f"asha-{seed}",
            **common,
        )
    _, arows = timeline(asha.trial_records())
    full = [row for row in arows if row["fidelity"] == EPOCHS]
    hits = [row["end"] for row in full if row["accuracy"] >= target]
    t_asha = min(hits) if hits else math.inf
    a_wall = max(row["end"] for row in arows)
    return {
        "seed": seed,
        "target": target,
        "t_random": t_random,
        "t_best": t_best,
        "random_trials": len(rows),
        "random_busy": busy(rows, t_random, args.workers),
        "random_load": random_load.mean,
        "t_asha": t_asha,
        "asha_best_full": max((row["accuracy"] for row in full), default=None),
        "asha_trials": len(arows),
        "asha_full": len(full),
        "asha_wall": a_wall,
        "asha_busy": busy(arows, a_wall, args.workers),
        "asha_load": asha_load.mean,
        "ratio": t_asha / t_random,
        "ratio_best": t_asha / t_best,
    }


def _ratio(value: float) -> str:
    return "-" if math.isinf(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--random-trials", type=int, default=8, help="random search's budget in 9-epoch trainings"
    )
    parser.add_argument("--eta", type=float, default=3, help="ASHA's ratio between rungs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--asha-time",
        type=float,
        default=1.0,
        help="ASHA's budget as a multiple of random search's wall time",
    )
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"Fashion-MNIST CNN (examples/search_your_own_model.py), {args.seeds} seeds, "
        f"{args.workers} workers; random: {args.random_trials} x {EPOCHS} epochs; "
        f"ASHA eta {args.eta:g}, {args.asha_time:g} x random's wall time"
    )
    header = (
        f"{'seed':>4} {'random best':>11} {'T_random':>9} {'T_best':>7} {'busy':>5} {'load':>4}  "
        f"{'T_asha':>11} {'ASHA best9':>10} {'trials':>6} {'at 9':>4} {'busy':>5} {'load':>4}  "
        f"{'T_asha/T_random':>15} {'T_asha/T_best':>13}"
    )
    print(header)
    results = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory(prefix="user-asha-") as tmp:
            r = run_seed(seed, args, Path(tmp))
        results.append(r)
        reached = "not reached" if math.isinf(r["t_asha"]) else f"{r['t_asha']:.1f} s"
        best9 = "-" if r["asha_best_full"] is None else f"{r['asha_best_full']:.2f}%"
        print(
            f"{seed:>4} {r['target']:>10.2f}% {r['t_random']:>7.1f} s {r['t_best']:>5.1f} s "
            f"{r['random_busy']:>5.0%} {r['random_load']:>4.1f}  {reached:>11} {best9:>10} "
            f"{r['asha_trials']:>6} {r['asha_full']:>4} {r['asha_busy']:>5.0%} "
            f"{r['asha_load']:>4.1f}  {_ratio(r['ratio']):>15} "
            f"{_ratio(r['ratio_best']):>13}",
            flush=True,
        )
    median = statistics.median(r["ratio"] for r in results)
    median_best = statistics.median(r["ratio_best"] for r in results)
    print(f"{'median':>4} {'':>93} {_ratio(median):>15} {_ratio(median_best):>13}")
    verdict = "holds" if median <= 0.5 else "does not hold"
    print(
        f"claim (median T_asha / T_random <= 0.5): {verdict}; "
        f"ASHA reached the target on {sum(not math.isinf(r['t_asha']) for r in results)} "
        f"of {len(results)} seeds ('-': not within its budget)"
    )
    print(f"wall time {time.perf_counter() - started:.1f} s")
    if args.json:
        clean = [{k: (None if v == math.inf else v) for k, v in r.items()} for r in results]
        Path(args.json).write_text(
            json.dumps({"args": vars(args), "seeds": clean, "median": median}, indent=1)
        )


if __name__ == "__main__":
    main()
