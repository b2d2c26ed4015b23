"""Network morphism on Fashion-MNIST: the same evolution with and without weight inheritance.

Usage:
    python benchmarks/morphism.py [--seeds 5] [--seconds 90] [--jobs 2]
        [--epochs-scratch 4] [--epochs-child 1] [--split random]
        [--widths 4,8,12,16] [--population 6] [--sample 3] [--json PATH]

The search space is the plain CNN space (``cnn``: three stages, each with 1-3 conv
layers of width 4/8/12/16 (``--widths``) and kernel 3/5/7), searched by the ``morph`` strategy
(regularized evolution, population 6, tournament 3, aging; a child is its parent grown
by one step: deepen, widen or grow the kernel of one stage). The data are a fixed
Fashion-MNIST subset: 2,000 training, 1,000 validation and 1,000 test images.

Both arms run the very same strategy under the same wall-clock budget
(``budget={"seconds": S}``, inline executor, one torch thread):

- ``inherit``: children name their parent; the objective grows the parent's trained
  checkpoint into the child (:func:`archsearch.morphism.inherit`, function-preserving)
  and trains it for ``--epochs-child`` epochs;
- ``scratch``: ``inherit=False``; every network trains from scratch for
  ``--epochs-scratch`` epochs (as the random start population does in both arms).

Each trial trains with SGD (momentum 0.9, lr 0.05 cosine-annealed over its epochs,
weight decay 5e-4, batches of 64) and returns its validation accuracy (what the search
maximises) and its test accuracy (never seen by the search). Printed per seed: the test
accuracy of the selected network (the best validation accuracy of the run) and the
number of candidates evaluated (of them inherited), then median and mean over seeds.

The two arms of one seed run at the same time (``--jobs 2``, one process each), so
that load from other processes on the machine hits both alike; the 1-minute load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from multiprocessing import get_context
from typing import Any

import torch
from torch import nn

import archsearch
from archsearch.api import Trial
from archsearch.data import get_dataset
from archsearch.models import build_model
from archsearch.morphism import inherit
from archsearch.spaces import cnn_space

N_TRAIN, N_VALID, N_TEST = 2000, 1000, 1000
BATCH, LR, MOMENTUM, WEIGHT_DECAY = 64, 0.05, 0.9, 5e-4
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST pixel statistics


@cache
def data() -> dict[str, torch.Tensor]:
    d = get_dataset("fashion_mnist", subset=N_TRAIN)

    def norm(x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255 - MEAN) / STD

    return {
        "train_x": norm(d.train_x[:N_TRAIN]),
        "train_y": d.train_y[:N_TRAIN],
        "valid_x": norm(d.valid_x[:N_VALID]),
        "valid_y": d.valid_y[:N_VALID],
        "test_x": norm(d.test_x[:N_TEST]),
        "test_y": d.test_y[:N_TEST],
    }


def build(config: Any) -> nn.Module:
    return build_model("cnn", config, in_channels=1)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean()) * 100


def train(model: nn.Module, epochs: int, seed: int) -> None:
    d = data()
    x, y = d["train_x"], d["train_y"]
    optimizer = torch.optim.SGD(
        model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    steps = epochs * ((len(y) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=g).split(BATCH):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()


class Objective:
    """Grow the parent's checkpoint when there is one (fewer epochs), else train afresh."""

    def __init__(self, seed: int, epochs_scratch: int, epochs_child: int, split: str) -> None:
        self.seed, self.epochs_scratch, self.epochs_child = seed, epochs_scratch, epochs_child
        self.split = split
        self.__name__ = "morph_objective"

    def __call__(self, trial: Trial) -> dict[str, float]:
        torch.manual_seed(self.seed * 100_003 + trial.number)
        model, inherited = inherit(trial, build, space="cnn", split=self.split)
        epochs = self.epochs_child if inherited else self.epochs_scratch
        train(model, epochs, self.seed * 100_003 + trial.number)
        trial.save_checkpoint({"model": model.state_dict()})
        d = data()
        return {
            "valid_accuracy": accuracy(model, d["valid_x"], d["valid_y"]),
            "test_accuracy": accuracy(model, d["test_x"], d["test_y"]),
            "inherited": float(inherited),
            "epochs": float(epochs),
        }


def run(seed: int, inherits: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One search; returns the selected network's test accuracy and the trial counts."""
    torch.set_num_threads(1)
    data()  # load before the clock starts, as a user's script would
    folder = tempfile.mkdtemp(prefix="morph-bench-")
    try:
        result = archsearch.search(
            Objective(seed, args.epochs_scratch, args.epochs_child, args.split),
            cnn_space(widths=args.widths),
            strategy={
                "name": "morph",
                "inherit": inherits,
                "population_size": args.population,
                "sample_size": args.sample,
            },
            budget={"seconds": args.seconds},
            metric="valid_accuracy",
            storage="memory://",
            artifacts=folder,
            name=f"morph-{seed}-{'inherit' if inherits else 'scratch'}",
            seed=seed,
            progress=False,
        )
        trials = result.trials
        return {
            "seed": seed,
            "inherit": inherits,
            "test": result.best_metrics["test_accuracy"],
            "valid": result.best_metrics["valid_accuracy"],
            "best_config": result.best_config,
            "n": result.n_trials,
            "n_inherited": int(sum(v or 0 for v in trials["metrics.inherited"])),
            "wall_s": result.wall_s,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def summary_rows(rows: list[dict[str, Any]], seeds: list[int]) -> list[str]:
    by = {(r["seed"], r["inherit"]): r for r in rows}
    lines = [
        f"{'seed':>6}  {'inherit: test %':>15} {'n (inherited)':>14}  "
        f"{'scratch: test %':>15} {'n':>4}",
    ]
    for s in seeds:
        a, b = by[(s, True)], by[(s, False)]
        lines.append(
            f"{s:>6}  {a['test']:>15.2f} {a['n']:>6} ({a['n_inherited']:>3})    "
            f"{b['test']:>15.2f} {b['n']:>4}"
        )
    for label, f in (("median", statistics.median), ("mean", statistics.fmean)):
        a = [by[(s, True)] for s in seeds]
        b = [by[(s, False)] for s in seeds]
        lines.append(
            f"{label:>6}  {f([r['test'] for r in a]):>15.2f} "
            f"{f([r['n'] for r in a]):>6.1f} ({f([r['n_inherited'] for r in a]):>5.1f})  "
            f"{f([r['test'] for r in b]):>15.2f} {f([r['n'] for r in b]):>4.1f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=90.0, help="wall budget per search")
    parser.add_argument("--jobs", type=int, default=2, help="searches at once (1 thread each)")
    parser.add_argument("--epochs-scratch", type=int, default=4)
    parser.add_argument("--epochs-child", type=int, default=1)
    parser.add_argument(
        "--split", default="random", choices=["random", "even"], help="Net2Wider weight split"
    )
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--sample", type=int, default=3)
    parser.add_argument(
        "--widths",
        type=lambda text: [int(w) for w in text.split(",")],
        default=[4, 8, 12, 16],
        help="channel counts a stage may have (comma-separated)",
    )
    parser.add_argument("--json", help="write the per-run rows here")
    args = parser.parse_args()

    seeds = list(range(args.seeds))
    print(
        f"cnn space (widths {args.widths}) on Fashion-MNIST "
        f"({N_TRAIN} train / {N_VALID} valid / {N_TEST} test), "
        f"morph evolution (population {args.population}, sample {args.sample}), "
        f"{args.seconds:g} s per search, epochs: scratch {args.epochs_scratch}, "
        f"inherited child {args.epochs_child} ({args.split} split); "
        f"{args.jobs} searches at once, 1 thread each"
    )
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    start = time.perf_counter()
    tasks = [(seed, inherits) for seed in seeds for inherits in (True, False)]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(run, seed, inherits, args) for seed, inherits in tasks]
        rows = [future.result() for future in futures]
    elapsed = time.perf_counter() - start
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"total wall time {elapsed:.0f} s")
    print()
    print("test accuracy of the best-validation network; n = candidates evaluated")
    print("\n".join(summary_rows(rows, seeds)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
