"""Zero-cost proxies on NAS-Bench-201: Spearman rho against 200-epoch CIFAR-10 accuracy.

Usage:
    python benchmarks/zero_cost.py --out /tmp/archsearch-zc [--workers 2] [--sample 1000]
        [--dedupe] [--skip-others] [--export-synflow NPY]

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

Both parts are printed as one table, each row saying which cells it covers and what data
it saw. ``--export-synflow NPY`` writes part 1's scores (archsearch cell-index order,
float64) as the file archsearch ships: ``src/archsearch/evaluation/tables/
nb201_synflow_cifar10.npy``, read by :func:`archsearch.evaluation.load_nb201_synflow`.

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
from typing import Any

import numpy as np

from archsearch.evaluation import NB201Benchmark
from archsearch.evaluation.zero_cost import DATA_FREE_PROXIES, PROXIES, ZeroCostEvaluator
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


def synflow_all(
    out: Path, workers: int, dedupe: bool, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
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


def sample_scores(out: Path, n: int, workers: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
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
    np.savez(cache, indices=indices, **columns)  # type: ignore[arg-type]
    return indices, columns


def print_timing(info: dict[str, Any], columns: dict[str, Any] | None) -> None:
    """How the scores were computed (wall and CPU time of each part)."""
    how = "one per functional class" if info["dedupe"] else "every cell"
    print(
        f"SynFlow: {info['n_networks']:,} networks ({how}) on {info['workers']} processes "
        f"x 1 thread, wall {info['wall_s']:.1f} s ({info['wall_s'] / 60:.1f} min)"
        + (f", CPU {info['cpu_s']:.1f} s" if "cpu_s" in info else "")
    )
    if columns is not None:
        sample = json.loads(str(columns["info"]))
        print(
            f"Sample: every proxy on {len(columns['cost_s']):,} cells on {sample['workers']} "
            f"processes, wall {sample['wall_s']:.1f} s, CPU {sample['cpu_s']:.1f} s "
            f"({np.mean(columns['cost_s']):.2f} s per cell for all proxies together)"
        )


def print_table(
    synflow: np.ndarray,
    final: np.ndarray,
    sample: tuple[np.ndarray, dict[str, Any]] | None,
) -> None:
    """One table: SynFlow on all cells, then every proxy on the sample, batch stated."""
    rows = [("synflow", "all 15,625", "none (all-ones input)", synflow, final)]
    batch_note = None
    if sample is not None:
        indices, columns = sample
        info = json.loads(str(columns["info"]))
        batch_note = info["batch"]
        n = f"sample {len(indices):,}"
        for name in sorted(PROXIES):  # synflow again: the same networks, on the sample
            data = "none" if name in DATA_FREE_PROXIES else "batch B"
            rows.append((name, n, data, columns[name], final[indices]))
    print(
        "\nZero-cost proxies vs 200-epoch CIFAR-10 accuracy, NB201 network "
        "(C=16, N=5), CIFAR-10 input size 3x32x32"
    )
    head = f"  {'proxy':<10} {'cells':<12} {'data':<22} {'Spearman':>8} {'Kendall':>8}"
    print(f"{head} {'published':>9} {'NaN':>5}")
    for name, cells, data, values, acc in rows:
        published = PUBLISHED.get(name)
        shown = f"{published:.2f}" if published is not None else "-"
        n_bad = int(np.sum(~np.isfinite(values)))
        print(
            f"  {name:<10} {cells:<12} {data:<22} {spearman_rho(values, acc):>8.3f} "
            f"{kendall_tau(values, acc):>8.3f} {shown:>9} {n_bad:>5}"
        )
    if batch_note is not None:
        print(f"  batch B: {batch_note} (no CIFAR-10 images exist here)")
    print("  published: Spearman on NB201 CIFAR-10 (Abdelfattah et al., ICLR 2021, Table 2)")
    print("  NaN: cells whose score is not finite, dropped from the correlations")


def export_synflow(scores: np.ndarray, path: Path) -> None:
    """Write the all-cells SynFlow scores as the project's data file (float64 .npy)."""
    if len(scores) != N_CELLS or not np.all(np.isfinite(scores)):
        raise SystemExit(f"--export-synflow: expected {N_CELLS} finite scores")
    # float64: the scores reach 7e49, beyond float32
    np.save(path, np.asarray(scores, dtype=np.float64))
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="cache folder (not the repo)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--sample", type=int, default=1000, help="cells for the other proxies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dedupe", action="store_true", help="one network per functional class")
    parser.add_argument("--skip-others", action="store_true", help="only SynFlow on all cells")
    parser.add_argument(
        "--export-synflow",
        type=Path,
        metavar="NPY",
        help="also write the all-cells SynFlow scores there (the shipped data file)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    final = np.array(NB201Benchmark(dataset="cifar10", fidelity=200)._final)

    scores, info = synflow_all(args.out, args.workers, args.dedupe, args.seed)
    sample = None
    if not args.skip_others:
        sample = sample_scores(args.out, args.sample, args.workers, args.seed)
    print_timing(info, None if sample is None else sample[1])
    print_table(scores, final, sample)
    if args.export_synflow is not None:
        export_synflow(scores, args.export_synflow)


if __name__ == "__main__":
    main()
