"""How well do the latency predictors rank real NB201 networks on this CPU?

Usage:
    python benchmarks/latency_predictor.py [--n 200] [--seed 0] [--rounds 5] [--repeats 40]
                                           [--lut-repeats 50] [--threads 1] [--json PATH]

On ``--threads`` CPU threads (pinned to as many cores where the OS allows it), with
batch 1 and 32x32 images at NB201's size (C=16, N=5):

1. profiles the NB201 look-up table (``profile_lut``);
2. measures ``--n`` distinct random NB201 networks (seeded): ``--rounds`` interleaved
   rounds over all networks, each a short warm-up and ``repeats / rounds`` timed runs,
   so that a change of background load hits every network alike; a network's latency
   is the median of its round medians;
3. prints Spearman rho, Kendall tau and the mean absolute percentage error of the
   table's prediction against the measurement, then of the learned predictors trained
   on the first half of the networks and tested on the second; and the time each step
   took. The machine's load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from typing import Any

import numpy as np
import torch

from archsearch.evaluation._latency import (
    LearnedLatencyPredictor,
    LUTPredictor,
    device_latency,
    profile_lut,
)
from archsearch.evaluation._nb201 import nb201_devices
from archsearch.models.nb201 import nb201_model
from archsearch.spaces.nb201 import nb201_space, to_arch_str

SHAPE = (1, 3, 32, 32)


def pin(threads: int) -> str:
    """Use ``threads`` torch threads, pinned to the last ``threads`` allowed cores."""
    torch.set_num_threads(threads)
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cores = sorted(os.sched_getaffinity(0))[-threads:]
    os.sched_setaffinity(0, cores)
    return f"pinned to core(s) {cores} of {os.cpu_count()}"


def sample_configs(n: int, seed: int) -> list[dict[str, str]]:
    """``n`` distinct NB201 cells drawn uniformly with ``random.Random(seed)``."""
    space, rng = nb201_space(), random.Random(seed)
    configs: dict[str, dict[str, str]] = {}
    while len(configs) < n:
        config = space.sample(rng)
        configs.setdefault(to_arch_str(config), config)
    return list(configs.values())


def measure_all(configs: list[dict[str, str]], rounds: int, repeats: int) -> dict[str, np.ndarray]:
    """Per network, the median over all timed runs of wall and of CPU milliseconds.

    The rounds go over every network in turn (a short warm-up, then ``repeats / rounds``
    timed runs each), so that load that comes and goes is shared out evenly.
    """
    torch.manual_seed(0)
    models = [nb201_model(c).eval() for c in configs]
    x = torch.zeros(SHAPE)
    per_round = max(1, repeats // rounds)
    wall: list[list[float]] = [[] for _ in models]
    cpu: list[list[float]] = [[] for _ in models]
    with torch.inference_mode():
        for _ in range(rounds):
            for i, model in enumerate(models):
                for _ in range(2):
                    model(x)
                for _ in range(per_round):
                    w, c = time.perf_counter(), time.thread_time()
                    model(x)
                    cpu[i].append((time.thread_time() - c) * 1e3)
                    wall[i].append((time.perf_counter() - w) * 1e3)
    return {
        "wall": np.array([statistics.median(t) for t in wall]),
        "cpu": np.array([statistics.median(t) for t in cpu]),
    }


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 0, ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    result[order] = np.arange(len(values))
    for value in np.unique(values):
        tied = values == value
        result[tied] = result[tied].mean()
    return result


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b (ties counted as in scipy.stats.kendalltau)."""
    sa, sb = np.sign(a[:, None] - a[None, :]), np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), 1)
    sa, sb = sa[upper], sb[upper]
    return float((sa * sb).sum() / np.sqrt((sa != 0).sum() * (sb != 0).sum()))


def scores(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    return {
        "spearman": spearman(predicted, measured),
        "kendall": kendall(predicted, measured),
        "mape_percent": float(np.mean(np.abs(predicted - measured) / measured) * 100),
    }


def learned_rows(configs: list[dict[str, str]], measured: np.ndarray, lut: LUTPredictor) -> Any:
    """Learned predictors fitted on the first half, scored on the second, with the LUT."""
    half = len(configs) // 2
    train, test = configs[:half], configs[half:]
    variants = {
        "ridge, one-hot": LearnedLatencyPredictor(interactions=False),
        "ridge, one-hot + edge pairs": LearnedLatencyPredictor(),
        "LUT + ridge on its residual": LearnedLatencyPredictor(base=lut),
    }
    lut_test = np.array([lut.predict(c) for c in test])
    rows: dict[str, dict[str, Any]] = {"LUT (no training)": scores(lut_test, measured[half:])}
    for name, model in variants.items():
        model.fit(train, measured[:half])
        rows[name] = {**scores(model.predict_many(test), measured[half:])}
        rows[name]["alpha"] = model.chosen_alpha
    return rows


def print_rows(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"  {'predictor':<30} {'Spearman':>9} {'Kendall':>8} {'MAPE %':>7}")
    for name, r in rows.items():
        print(f"  {name:<30} {r['spearman']:>9.3f} {r['kendall']:>8.3f} {r['mape_percent']:>7.1f}")


def device_rows(configs: list[dict[str, str]], measured: np.ndarray) -> list[tuple[str, float]]:
    """Spearman rho of this machine's measurements with each shipped device table."""
    found = []
    for device in nb201_devices():
        values = np.array([device_latency(c, device) for c in configs])
        found.append((device, spearman(values, measured)))
    return sorted(found, key=lambda item: -item[1])


def report(clock: str, lut: LUTPredictor, configs: Any, measured: np.ndarray) -> dict[str, Any]:
    """Print and return the LUT's scores on all networks and the held-out comparison."""
    predicted = np.array([lut.predict(c) for c in configs])
    print(
        f"\n== {clock} clock: measured {measured.min():.2f} .. {measured.max():.2f} ms "
        f"(median {np.median(measured):.2f}); LUT predicts {predicted.min():.2f} .. "
        f"{predicted.max():.2f} ms (median {np.median(predicted):.2f})"
    )
    overall = {"LUT (no training)": scores(predicted, measured)}
    print_rows(f"all {len(configs)} networks", overall)
    held_out = learned_rows(configs, measured, lut)
    half = len(configs) // 2
    print_rows(f"trained on {half}, tested on the other {len(configs) - half}", held_out)
    return {
        "overall": overall,
        "held_out": held_out,
        "measured_ms": measured.tolist(),
        "predicted_ms": predicted.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=40, help="timed runs per network")
    parser.add_argument("--lut-repeats", type=int, default=50, help="samples per table entry")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    args = parser.parse_args()
    clocks = ("wall", "cpu") if args.threads == 1 else ("wall",)

    print(f"{pin(args.threads)}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    timings: dict[str, float] = {}
    tables = {}
    for clock in clocks:
        t = time.perf_counter()
        tables[clock] = profile_lut(
            "nb201", threads=args.threads, repeats=args.lut_repeats, clock=clock
        )
        timings[f"profile_lut_{clock}_s"] = time.perf_counter() - t

    t = time.perf_counter()
    configs = sample_configs(args.n, args.seed)
    measured = measure_all(configs, args.rounds, args.repeats)
    timings["measure_s"] = time.perf_counter() - t
    print(f"load average after measuring: {os.getloadavg()[0]:.2f}")

    t = time.perf_counter()
    results = {c: report(c, LUTPredictor(tables[c]), configs, measured[c]) for c in clocks}
    timings["predict_and_fit_s"] = time.perf_counter() - t

    devices = device_rows(configs, measured[clocks[-1]])
    print(f"\nshipped NB201 device tables, Spearman rho with the {clocks[-1]}-clock measurements:")
    print("  highest: " + ", ".join(f"{d} {rho:.3f}" for d, rho in devices[:5]))
    print("  lowest:  " + ", ".join(f"{d} {rho:.3f}" for d, rho in devices[-3:]))

    print("\ntime: " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in timings.items()))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        data = {
            "args": vars(args),
            "tables": {c: table.to_json() for c, table in tables.items()},
            "results": results,
            "devices": dict(devices),
            "timings": timings,
            "archs": [to_arch_str(c) for c in configs],
        }
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()
