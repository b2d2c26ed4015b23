"""Zero-cost proxies on NAS-Bench-201: Spearman rho against 200-epoch CIFAR-10 accuracy.

Usage:
    python benchmarks/zero_cost.py --out /tmp/archsearch-zc [--workers 2] [--sample 1000]
        [--dedupe] [--skip-others]

1. SynFlow of all 15,625 cells at CIFAR-10 input size (3x32x32, C=16, N=5, one
   all-ones image; float32 on a rescaled input, exact up to rounding, float64 where that
   would overflow): every cell's network built and scored, on ``--workers`` processes
   of one torch thread each, with the wall time and the CPU time of the workers (the
   machine may be shared: CPU time / workers is the wall time it would take on idle
   cores). ``--dedupe`` scores cells that compute the same function (same
   :func:`~archsearch.spaces.nb201.functional_key`: isomorphic cells, edges cut off from
   the input or the output) once, on the network of the class's lowest index.
2. Every proxy on a seeded sample of ``--sample`` cells, with the data-dependent ones
   on one batch of 64 images: Fashion-MNIST resized to 32x32 and replicated to 3
   channels when its files are installed (no CIFAR-10 images exist here), else Gaussian
   noise. The table says which.

Scores are cached as ``.npz`` files under ``--out`` (outside the repository); a second
run prints from the cache (with the time the first run measured).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from archsearch.evaluation import NB201Benchmark
from archsearch.evaluation.zero_cost import PROXIES, ZeroCostEvaluator
from archsearch.predictors import kendall_tau, spearman_rho
from archsearch.spaces.nb201 import cell_from_index, functional_key

N_CELLS = 15_625
# Spearman rho on NB201 CIFAR-10 (Abdelfattah et al., ICLR 2021, Table 2)
PUBLISHED = {
    "synflow": 0.74,
    "jacob_cov": 0.73,
    "grad_norm": 0.58,
    "snip": 0.58,
    "grasp": 0.48,
    "fisher": 0.36,
}


def representatives(dedupe: bool) -> tuple[list[int], np.ndarray]:
    """Cells to score and, for every cell, the position of its score among them."""
    if not dedupe:
        return list(range(N_CELLS)), np.arange(N_CELLS)
    first: dict[str, int] = {}
    slot = np.empty(N_CELLS, dtype=np.int64)
    reps: list[int] = []
    for i in range(N_CELLS):
        key = functional_key(cell_from_index(i))
        if key not in first:
            first[key] = len(reps)
            reps.append(i)
        slot[i] = first[key]
    return reps, slot


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def synflow_all(out: Path, workers: int, dedupe: bool, seed: int) -> tuple[np.ndarray, dict]:
    """SynFlow of every cell (cached), and how it was computed."""
    cache = out / f"synflow_all_seed{seed}{'_dedupe' if dedupe else ''}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return data["scores"], json.loads(str(data["info"]))
    reps, slot = representatives(dedupe)
    evaluator = ZeroCostEvaluator(space="nb201", proxies=["synflow"], seed=seed)
    start, cpu_start = time.perf_counter(), _cpu_s()
    results = evaluator.evaluate_many([cell_from_index(i) for i in reps], n_workers=workers)
    wall_s, cpu_s = time.perf_counter() - start, _cpu_s() - cpu_start
    rep_scores = np.array([r.metrics["synflow"] for r in results])
    scores = rep_scores[slot]
    info = {
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "n_networks": len(reps),
        "workers": workers,
        "dedupe": dedupe,
    }
    np.savez(cache, scores=scores, info=json.dumps(info))
    return scores, info


def sample_scores(out: Path, n: int, workers: int, seed: int) -> tuple[np.ndarray, dict]:
    """Every proxy on ``n`` seeded cells (cached): indices and one column per proxy."""
    cache = out / f"proxies_sample{n}_seed{seed}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return data["indices"], {k: data[k] for k in data.files if k != "indices"}
    indices = np.sort(np.random.default_rng(seed).choice(N_CELLS, size=n, replace=False))
    evaluator = ZeroCostEvaluator(space="nb201", proxies=sorted(PROXIES), seed=seed)
    source = evaluator.batch.describe()
    start, cpu_start = time.perf_counter(), _cpu_s()
    results = evaluator.evaluate_many(
        [cell_from_index(int(i)) for i in indices], n_workers=workers
    )
    wall_s, cpu_s = time.perf_counter() - start, _cpu_s() - cpu_start
    columns = {name: np.array([r.metrics[name] for r in results]) for name in PROXIES}
    columns["cost_s"] = np.array([r.cost_s for r in results])
    columns["info"] = np.array(
        json.dumps({"batch": source, "wall_s": wall_s, "cpu_s": cpu_s, "workers": workers})
    )
    np.savez(cache, indices=indices, **columns)
    return indices, columns


def print_synflow(scores: np.ndarray, info: dict, final: np.ndarray) -> None:
    rho = spearman_rho(scores, final)
    how = (
        f"{info['n_networks']:,} networks (one per functional class)"
        if info["dedupe"]
        else f"{info['n_networks']:,} networks (every cell)"
    )
    print("SynFlow, all 15,625 NB201 cells, CIFAR-10 input 3x32x32 (C=16, N=5)")
    print(f"  scored {how} on {info['workers']} processes x 1 thread")
    print(f"  wall time {info['wall_s']:.1f} s ({info['wall_s'] / 60:.1f} min)")
    if "cpu_s" in info:
        idle = info["cpu_s"] / info["workers"]
        workers = info["workers"]
        print(f"  CPU time {info['cpu_s']:.1f} s: {idle / 60:.1f} min on {workers} idle cores")
    print(f"  Spearman rho vs 200-epoch CIFAR-10 accuracy: {rho:.3f} (published 0.74)")
    print(f"  Kendall tau: {kendall_tau(scores, final):.3f}")


def print_sample(
    indices: np.ndarray, columns: dict, final: np.ndarray, synflow: np.ndarray
) -> None:
    info = json.loads(str(columns["info"]))
    acc = final[indices]
    print(f"\nAll proxies on {len(indices):,} sampled cells (seeded); batch: {info['batch']}")
    print(
        f"  wall time {info['wall_s']:.1f} s on {info['workers']} processes, "
        f"{np.mean(columns['cost_s']):.2f} s per cell for all proxies together"
    )
    print(f"  {'proxy':<10} {'Spearman':>9} {'Kendall':>8} {'published':>10} {'NaN':>5}")
    rows = [(name, columns[name]) for name in sorted(PROXIES)]
    rows.append(("synflow*", synflow[indices]))
    for name, values in rows:
        published = PUBLISHED.get(name)
        shown = f"{published:.2f}" if published is not None else "-"
        n_bad = int(np.sum(~np.isfinite(values)))
        print(
            f"  {name:<10} {spearman_rho(values, acc):>9.3f} {kendall_tau(values, acc):>8.3f} "
            f"{shown:>10} {n_bad:>5}"
        )
    print("  (synflow*: the all-cells scores of part 1 on the same sample)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="cache folder (not the repo)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--sample", type=int, default=1000, help="cells for the other proxies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dedupe", action="store_true", help="one network per functional class")
    parser.add_argument("--skip-others", action="store_true", help="only SynFlow on all cells")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    final = np.array(NB201Benchmark(dataset="cifar10", fidelity=200)._final)

    scores, info = synflow_all(args.out, args.workers, args.dedupe, args.seed)
    print_synflow(scores, info, final)
    if not args.skip_others:
        indices, columns = sample_scores(args.out, args.sample, args.workers, args.seed)
        print_sample(indices, columns, final, scores)


if __name__ == "__main__":
    main()
