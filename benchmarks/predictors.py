"""Performance predictors and predictor-based search on NAS-Bench-201 (CIFAR-10).

Usage:
    python benchmarks/predictors.py [--seeds 5] [--search-seeds 100] [--workers 2]
        [--zero-cost /tmp/archsearch-zc] [--skip-ranking] [--skip-search]

1. Ranking: the 15,625 cells are split in two halves by ``--split-seed``; each seed
   trains a predictor on 390 cells (5 % of the first half) and ranks the other half
   (7,813 cells). Reported: Kendall tau against the 200-epoch CIFAR-10 validation
   accuracy, mean ± std over ``--seeds`` seeds, for GATES, GCN and MLP (one-hot)
   encoders with the pairwise hinge loss (margin 0.1), the other ranking losses and MSE.
   Published: GATES 0.858 at this proportion (Ning et al., ECCV 2020).
2. Search: queries until the best cell by 200-epoch validation accuracy (the strategy
   sees exactly that metric) is evaluated, over ``--search-seeds`` seeds: the
   predictor strategy (3 GATES, independent Thompson sampling), optionally warm-started
   by SynFlow scores cached by ``benchmarks/zero_cost.py --out DIR`` (``--zero-cost
   DIR``), against random search and regularized evolution (population 10, sample 3;
   both sample with replacement, as in the NATS-Bench protocol). Runs that have not
   found the best cell within ``--max-queries`` count as not found (the median is then
   a lower bound).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.evaluation import NB201Benchmark
from archsearch.predictors import NeuralPredictor, kendall_tau
from archsearch.spaces import nb201_space
from archsearch.spaces.nb201 import arch_index, cell_from_index
from archsearch.strategies import RandomSearch, RegularizedEvolution
from archsearch.strategies._predictor import PredictorSearch

N_CELLS, N_TRAIN = 15_625, 390
RANKING_ROWS = [
    ("gates", "hinge"),
    ("gates", "bce"),
    ("gates", "listmle"),
    ("gates", "mse"),
    ("gcn", "hinge"),
    ("gcn", "mse"),
    ("mlp", "hinge"),
    ("mlp", "mse"),
]


# -- ranking ------------------------------------------------------------------------------
def ranking_run(model: str, loss: str, seed: int, split_seed: int) -> tuple[float, float]:
    """Kendall tau on the test half and the fit time of one predictor."""
    final = np.array(NB201Benchmark(fidelity=200)._final)
    order = np.random.default_rng(split_seed).permutation(N_CELLS)
    train_half, test = order[: N_CELLS // 2], order[N_CELLS // 2 :]
    train = np.random.default_rng(1000 + seed).choice(train_half, N_TRAIN, replace=False)
    start = time.perf_counter()
    predictor = NeuralPredictor(model=model, loss=loss, seed=seed)
    predictor.fit([cell_from_index(int(i)) for i in train], final[train].tolist())
    fit_s = time.perf_counter() - start
    predicted = predictor.predict([cell_from_index(int(i)) for i in test])
    return kendall_tau(predicted, final[test]), fit_s


def print_ranking(seeds: int, split_seed: int, pool: ProcessPoolExecutor) -> None:
    jobs = [(m, loss, s, split_seed) for m, loss in RANKING_ROWS for s in range(seeds)]
    results = list(pool.map(_star, [(ranking_run, job) for job in jobs]))
    print(f"Kendall tau, {N_TRAIN} training cells (5% of one half), test: the other half")
    print("(200-epoch CIFAR-10 validation accuracy; mean ± std over seeds)")
    print(f"  {'encoder':<8} {'loss':<8} {'tau':>15} {'fit s':>7}")
    for row, (model, loss) in enumerate(RANKING_ROWS):
        taus = [tau for tau, _ in results[row * seeds : (row + 1) * seeds]]
        fit = statistics.mean(t for _, t in results[row * seeds : (row + 1) * seeds])
        spread = statistics.stdev(taus) if len(taus) > 1 else 0.0
        print(f"  {model:<8} {loss:<8} {statistics.mean(taus):>8.3f} ± {spread:.3f} {fit:>7.1f}")
    print("  published: GATES + hinge 0.858 (Ning et al., 2020)")


# -- search -------------------------------------------------------------------------------
def _synflow_prior(folder: Path) -> Callable[[Any], float]:
    with np.load(folder / "synflow_all_seed0.npz") as data:
        scores = np.log(np.maximum(data["scores"], 1e-300)).tolist()
    return lambda config: scores[arch_index(config)]


STRATEGIES_RUN: dict[str, Callable[..., Any]] = {
    "random": lambda space, seed, prior: RandomSearch(space, seed=seed),
    # population 10, sample 3: NATS-Bench defaults
    "rea": lambda space, seed, prior: RegularizedEvolution(space, seed=seed),
    "predictor": lambda space, seed, prior: PredictorSearch(space, seed=seed),
    "predictor+synflow": lambda space, seed, prior: PredictorSearch(space, prior=prior, seed=seed),
}


def search_run(name: str, seed: int, max_queries: int, zero_cost: str | None) -> tuple[int, float]:
    """Queries until the best cell is evaluated (max_queries + 1: not found) and seconds."""
    bench = NB201Benchmark(dataset="cifar10", fidelity=200)
    best = int(np.argmax(bench._final))
    space = nb201_space()
    prior = _synflow_prior(Path(zero_cost)) if name == "predictor+synflow" and zero_cost else None
    start = time.perf_counter()
    strategy = STRATEGIES_RUN[name](space, seed, prior)
    for query in range(1, max_queries + 1):
        candidate = strategy.ask()
        result = bench.evaluate(candidate.config)
        strategy.tell(candidate, result.with_score(result.metrics["valid_accuracy"]))
        if bench.index(candidate.config) == best:
            return query, time.perf_counter() - start
    return max_queries + 1, time.perf_counter() - start


def print_search(args: argparse.Namespace, pool: ProcessPoolExecutor) -> None:
    names = ["predictor"] + (["predictor+synflow"] if args.zero_cost else []) + ["rea", "random"]
    caps = {"random": 200_000, "rea": 200_000}
    print(
        f"\nQueries to find the best NB201 CIFAR-10 cell (200-epoch validation accuracy), "
        f"{args.search_seeds} seeds"
    )
    print(f"  {'strategy':<18} {'median':>7} {'q25':>7} {'q75':>7} {'found':>7} {'s/run':>7}")
    for name in names:
        cap = caps.get(name, args.max_queries)
        jobs = [(search_run, (name, s, cap, args.zero_cost)) for s in range(args.search_seeds)]
        runs = []
        for seed, run in enumerate(pool.map(_star, jobs)):
            runs.append(run)
            print(f"    {name} seed {seed}: {run[0]} queries, {run[1]:.1f} s", file=sys.stderr)
        queries = np.array([q for q, _ in runs])
        found = int(np.sum(queries <= cap))
        q25, median, q75 = np.percentile(queries, [25, 50, 75])
        print(
            f"  {name:<18} {median:>7.0f} {q25:>7.0f} {q75:>7.0f} "
            f"{found:>3}/{len(runs):<3} {statistics.mean(t for _, t in runs):>7.1f}"
        )
    print(f"  (predictor runs stop at {args.max_queries} queries; 'found' counts the others)")


def _star(job: tuple[Callable[..., Any], tuple[Any, ...]]) -> Any:
    fn, arguments = job
    return fn(*arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the ranking table")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--search-seeds", type=int, default=100)
    parser.add_argument("--max-queries", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--zero-cost", help="folder of benchmarks/zero_cost.py's cache")
    parser.add_argument("--skip-ranking", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        if not args.skip_ranking:
            print_ranking(args.seeds, args.split_seed, pool)
        if not args.skip_search:
            print_search(args, pool)


if __name__ == "__main__":
    main()
