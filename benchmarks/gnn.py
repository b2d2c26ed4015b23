"""GNN architecture search on Fashion-MNIST superpixel graphs: REA vs random, and a GCN.

Usage:
    python benchmarks/gnn.py [--trials 20] [--seeds 0 1] [--subset 2000] [--epochs 10]
                             [--max-layers 3] [--with-max]

Real training on real data, one CPU thread (``torch.set_num_threads(1)``). The data are
the ``fashion_mnist_superpixels`` graphs (SLIC superpixels of Fashion-MNIST, 1 to 49
nodes, 8-nearest-neighbour edges; see ``archsearch.data._graphs``): the first
``--subset`` graphs of each seeded split (train, validation, test). Every candidate of
the ``gnn`` space trains ``--epochs`` epochs of AdamW (lr 1e-2, weight decay 0.01,
batch 64, cosine) from seed 0, through ``TrainingEvaluator``; the searches select by
validation accuracy and never see the test accuracy, which each trial records all the
same. The space is cut to fit about ten minutes on one core: at most ``--max-layers``
layers, 1 or 2 heads of 8 or 16, and no ``max`` aggregation unless ``--with-max`` (it
materialises a ``(B, heads, N, N, hidden)`` tensor: 20 to 50 times the cost of a sum,
a 3-layer 4x32 max network took 9 minutes here).

For each seed, regularized evolution (``rea``, population 6, tournament 3) and random
search run ``--trials`` trials each through ``archsearch.search`` (the public API, a
memory store). Then the hand-designed baseline: a plain GCN (constant attention, mean
aggregation over the neighbours and the node itself, ReLU, one head, no skip or norm,
mean readout) with the depth of the best architecture found overall and the hidden
size whose parameter count is closest to it (within 20 % where one exists), trained
with the same recipe, data and seed; and the same GCN with residual connections and
LayerNorm (the "Benchmarking GNNs" form of a GCN), so that the search is not only
judged against a weak baseline.

The first run builds the graphs (about two minutes, cached in ``$ARCHSEARCH_CACHE``,
default ``~/.cache/archsearch``). Needs Fashion-MNIST (Debian's dataset-fashion-mnist).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

import archsearch
from archsearch.data import get_dataset
from archsearch.evaluation._training import ModelBuilder, TrainingEvaluator
from archsearch.models import build_model, count_parameters
from archsearch.spaces.gnn import gnn_space, layer_key
from archsearch.training import Recipe
from archsearch.trial import TrialStatus

DATASET = "fashion_mnist_superpixels"
RECIPE = Recipe("adamw", 1e-2, 0.01, 64, 10)
_EVALUATOR: TrainingEvaluator | None = None


def evaluator(args: argparse.Namespace) -> TrainingEvaluator:
    """One evaluator for the whole run: the data are loaded once."""
    global _EVALUATOR
    if _EVALUATOR is None:
        _EVALUATOR = TrainingEvaluator(
            ModelBuilder("gnn"),
            dataset=DATASET,
            subset=args.subset,
            recipe=RECIPE,
            epochs=args.epochs,
            seed=0,
            device="cpu",
            report_test=True,
            n_threads=1,
        )
    return _EVALUATOR


def train(args: argparse.Namespace, config: Any) -> dict[str, float]:
    """The trained config's metrics; NaN accuracies when training diverged (a failed trial)."""
    result = evaluator(args).evaluate(config)
    if result.status is not TrialStatus.COMPLETE:
        nan = float("nan")
        return {"valid_accuracy": nan, "test_accuracy": nan, "n_params": nan}
    return dict(result.metrics)


def gcn(n_layers: int, hidden: int, *, residual: bool = False) -> dict[str, Any]:
    layer = {"attention": "const", "aggregation": "mean", "heads": 1, "hidden": hidden,
             "activation": "relu"}  # fmt: skip
    layers = {layer_key(i): dict(layer) for i in range(1, n_layers + 1)}
    return {
        "n_layers": n_layers,
        **layers,
        "skip": "residual" if residual else "none",
        "norm": "layer" if residual else "none",
        "readout": "mean",
    }


def matched_gcn(best: Any, options: dict[str, Any], *, residual: bool) -> tuple[Any, int, int]:
    """The GCN of ``best``'s depth whose parameter count is closest to ``best``'s."""
    target = count_parameters(build_model("gnn", best, **options))
    candidates = []
    for hidden in range(2, 257):
        config = gcn(best["n_layers"], hidden, residual=residual)
        params = count_parameters(build_model("gnn", config, **options))
        candidates.append((abs(params - target), config, params))
    _, config, params = min(candidates, key=lambda c: c[0])
    return config, params, target


def describe(config: Any) -> str:
    layers = [config[layer_key(i)] for i in range(1, config["n_layers"] + 1)]
    parts = [
        f"{c['attention']}/{c['aggregation']}/{c['heads']}x{c['hidden']}/{c['activation']}"
        for c in layers
    ]
    return f"{' | '.join(parts)}; skip={config['skip']} norm={config['norm']} " \
        f"readout={config['readout']}"  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-layers", type=int, default=3)
    parser.add_argument("--with-max", action="store_true", help="allow max aggregation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    aggregations = ["sum", "mean", "max"] if args.with_max else ["sum", "mean"]
    space = gnn_space(
        max_layers=args.max_layers, heads=[1, 2], hidden=[8, 16], aggregations=aggregations
    )
    options = get_dataset(DATASET, subset=8).builder_options()

    def objective(trial: Any) -> dict[str, float]:
        metrics = train(args, trial.config)
        return {k: metrics[k] for k in ("valid_accuracy", "test_accuracy", "n_params")}

    rows: list[tuple[str, int, dict[str, float], Any, float]] = []
    for seed in args.seeds:
        for strategy in (
            {"name": "rea", "population_size": 6, "sample_size": 3},
            {"name": "random"},
        ):
            t = time.perf_counter()
            found = archsearch.search(
                objective,
                space,
                strategy=strategy,
                budget=args.trials,
                metric="valid_accuracy",
                storage="memory://",
                name=f"gnn-{strategy['name']}-{seed}",
                seed=seed,
                progress=False,
            )
            rows.append(
                (strategy["name"], seed, dict(found.best_metrics), found.best_config,
                 time.perf_counter() - t)
            )  # fmt: skip
            print(f"{strategy['name']} seed {seed}: {found.n_trials} trials, "
                  f"{rows[-1][4]:.0f} s", flush=True)  # fmt: skip

    best = max(rows, key=lambda r: r[2]["valid_accuracy"])[3]
    for residual, label in ((False, "GCN"), (True, "GCN+res+LN")):
        config, params, target = matched_gcn(best, options, residual=residual)
        t = time.perf_counter()
        metrics = train(args, config)
        rows.append((label, 0, metrics, config, time.perf_counter() - t))
        print(f"{label}: {params:,} params vs best found {target:,} "
              f"({100 * (params - target) / target:+.0f} %)", flush=True)  # fmt: skip

    print(f"\nFashion-MNIST superpixel graphs, {args.subset} graphs per split, "
          f"{args.epochs} epochs, {args.trials} trials per search, 1 thread\n")  # fmt: skip
    print(f"{'method':<11} {'seed':>4} {'valid %':>8} {'test %':>7} {'params':>7} {'time s':>7}"
          "  best architecture")  # fmt: skip
    for name, seed, m, config, seconds in rows:
        print(f"{name:<11} {seed:>4} {m['valid_accuracy']:8.2f} {m['test_accuracy']:7.2f} "
              f"{int(m['n_params']):7,} {seconds:7.0f}  {describe(config)}")  # fmt: skip
    for name in ("rea", "random"):
        valid = [r[2]["valid_accuracy"] for r in rows if r[0] == name]
        test = [r[2]["test_accuracy"] for r in rows if r[0] == name]
        if len(valid) > 1:
            print(f"{name}: mean over {len(valid)} seeds valid {statistics.mean(valid):.2f}, "
                  f"test {statistics.mean(test):.2f}")  # fmt: skip
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
