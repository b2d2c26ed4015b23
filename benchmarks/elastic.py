"""Elastic supernets (OFA, BigNAS): specialised networks against the same trained from scratch.

Usage:
    python benchmarks/elastic.py [--subset 2000] [--epochs 24] [--scratch-epochs N]
        [--finetune-epochs 2] [--rank-samples 30] [--predictor-samples 60]
        [--methods ofa,bignas] [--targets MS,MS,MS] [--seed 0] [--json PATH] [--cache DIR]

On Fashion-MNIST (``--subset`` images per split, 28x28, the stem at stride 2: the CPU
setting), for each method: train the elastic MobileNet supernet for ``--epochs``,
profile its latency table on this machine (one image, one thread), fit the accuracy
predictor on ``--predictor-samples`` sub-networks' inherited validation accuracy, then
specialise to each latency target by evolution on the two predictors (default targets:
a third, two thirds and all of the way from the smallest sub-network's predicted latency
to that of the network the search picks without a limit, where a target decides).
Each specialised network is extracted and scored on the test split three ways, with
the same recipe (SGD, Nesterov, cosine, batch 128, lr 0.05):

- inherited: the supernet's weights, batch norm recalibrated on 256 training images;
- fine-tuned: inherited, then ``--finetune-epochs`` at a tenth of the rate;
- scratch: the same architecture from a fresh initialisation, ``--scratch-epochs``.

With ``--cache DIR`` the supernets' checkpoints and the from-scratch accuracies are kept
there, so a second run (other targets, say) trains neither again.

Then ranking: ``--rank-samples`` random sub-networks (the same for every method) are
trained from scratch; Kendall's tau (and Spearman's rho) of each method's inherited
accuracy against their from-scratch test accuracy (``--scratch-repeat``: trained a
second time with the next seed, how well two from-scratch runs agree, the ceiling).
And the latency table against measurement: every extracted network (the rank sample and
the specialised ones) timed with ``measure_latency`` (the fastest of five rounds) beside
the table's prediction (Spearman, share within +-10 %).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archsearch.analysis import diagnose
from archsearch.data import get_dataset
from archsearch.evaluation import measure_latency
from archsearch.models.mobilenet import MobileNet
from archsearch.oneshot._elastic import ElasticMobileNet, elastic_space, largest, smallest
from archsearch.oneshot._elastic_search import (
    accuracy,
    elastic_search,
    train_network,
)
from archsearch.oneshot._elastic_train import evaluate_subnet
from archsearch.oneshot._specialise import evolve
from archsearch.training import DeviceData

HEAD_WIDTH = 64
STEM_STRIDE = 2


def _fresh(net: ElasticMobileNet, config: dict[str, Any], seed: int) -> MobileNet:
    torch.manual_seed(seed)
    return MobileNet(config["stages"], **net.options)  # type: ignore[arg-type]


def _latency(model: torch.nn.Module) -> float:
    """Measured latency (ms, one image, one thread): the fastest of five rounds' medians
    of 20 runs (as the latency table keeps its parts'), so that a slow spell of the
    machine does not decide it."""
    rounds = [
        measure_latency(model, (1, 1, 28, 28), repeats=20, threads=1)["latency_ms"]
        for _ in range(5)
    ]
    return float(min(rounds))


def _describe(config: dict[str, Any]) -> str:
    return " ".join(f"k{s['kernel']}e{s['expansion']}d{s['n_layers']}" for s in config["stages"])


def _scratch(
    net: ElasticMobileNet,
    config: dict[str, Any],
    data: DeviceData,
    args: argparse.Namespace,
    seed: int | None = None,
) -> float:
    seed = args.seed if seed is None else seed
    key = f"{_describe(config)} n{args.subset} e{args.scratch_epochs} s{seed}"
    cache = Path(args.cache) / "scratch.json" if args.cache else None
    known = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    if key not in known:
        model = _fresh(net, config, seed)
        train_network(model, data, epochs=args.scratch_epochs, seed=seed)
        known[key] = accuracy(model, data, "test")
        if cache is not None:
            cache.write_text(json.dumps(known, indent=1) + "\n")
    return float(known[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--scratch-epochs", type=int, help="default: --epochs")
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--rank-samples", type=int, default=30)
    parser.add_argument("--predictor-samples", type=int, default=60)
    parser.add_argument("--methods", default="ofa,bignas")
    parser.add_argument("--targets", help="latency targets in ms (default: quartiles)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument(
        "--scratch-repeat",
        action="store_true",
        help="train the ranking sample from scratch a second time (seed + 1): the ceiling",
    )
    parser.add_argument("--cache", help="keep supernet checkpoints and scratch accuracies here")
    args = parser.parse_args()
    if args.cache:
        Path(args.cache).mkdir(parents=True, exist_ok=True)
    if args.scratch_epochs is None:
        args.scratch_epochs = args.epochs
    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    started = time.perf_counter()
    dataset = get_dataset("fashion_mnist", subset=args.subset)
    data = DeviceData(dataset, torch.device("cpu"))
    print(f"{dataset}; load average {os.getloadavg()[0]:.1f}", flush=True)

    rng = random.Random(1000 + args.seed)
    space = elastic_space()
    rank_configs = [space.sample(rng) for _ in range(args.rank_samples)]
    report: dict[str, Any] = {"methods": {}}
    scratch_rank: list[float] | None = None
    scratch_again: list[float] | None = None
    measured: dict[str, tuple[float, float]] = {}  # describe -> (predicted, measured)

    for method in args.methods.split(","):
        t0 = time.perf_counter()
        targets = [float(t) for t in args.targets.split(",")] if args.targets else []
        checkpoint = (
            Path(args.cache) / f"{method}-n{args.subset}-e{args.epochs}-s{args.seed}.pt"
            if args.cache
            else None
        )
        cached = " (from the cached checkpoint)" if checkpoint and checkpoint.is_file() else ""
        result = elastic_search(
            dataset,
            method=method,
            epochs=args.epochs,
            targets_ms=targets,
            samples=args.predictor_samples,
            seed=args.seed,
            head_width=HEAD_WIDTH,
            stem_stride=STEM_STRIDE,
            checkpoint=checkpoint,
        )
        net, table = result.net, result.table
        if not targets:  # where a target decides: up to the unconstrained best's latency
            fastest = table.predict(smallest(net.space))
            unconstrained = evolve(
                net,
                result.predictor.predict,
                table.predict,
                table.predict(largest(net.space)),
                seed=args.seed,
            )
            span = unconstrained.predicted_ms - fastest
            targets = [fastest + share * span for share in (1 / 3, 2 / 3, 1.0)]
            chosen = [
                evolve(net, result.predictor.predict, table.predict, t, seed=args.seed)
                for t in targets
            ]
        else:
            chosen = [t.chosen for t in result.targets]
        print(
            f"\n{method}: supernet trained in {result.train_s:.0f} s{cached}; latency table "
            f"{table.profile_s:.1f} s; predictor on {len(result.samples)} sub-networks "
            f"{result.predictor_s:.0f} s",
            flush=True,
        )
        rows = []
        for found in chosen:
            inherited_valid = evaluate_subnet(net, data, found.config)
            model = net.extract(found.config)
            inherited = accuracy(model, data, "test")
            measured_ms = _latency(model)
            measured[_describe(found.config)] = (found.predicted_ms, measured_ms)
            train_network(model, data, epochs=args.finetune_epochs, learning_rate=0.005)
            tuned = accuracy(model, data, "test")
            scratch = _scratch(net, found.config, data, args)
            rows.append(
                {
                    "target_ms": found.target_ms,
                    "arch": _describe(found.config),
                    "predicted_ms": found.predicted_ms,
                    "measured_ms": measured_ms,
                    "search_s": found.search_s,
                    "inherited_valid": inherited_valid,
                    "inherited": inherited,
                    "finetuned": tuned,
                    "scratch": scratch,
                }
            )
        print(
            f"{'target ms':>9} {'pred ms':>7} {'meas ms':>7} {'search s':>8} "
            f"{'inherited':>9} {'fine-tuned':>10} {'scratch':>7} {'gap':>6}  architecture"
        )
        for r in rows:
            print(
                f"{r['target_ms']:9.2f} {r['predicted_ms']:7.2f} {r['measured_ms']:7.2f} "
                f"{r['search_s']:8.1f} {r['inherited']:9.2f} {r['finetuned']:10.2f} "
                f"{r['scratch']:7.2f} {r['inherited'] - r['scratch']:+6.2f}  {r['arch']}"
            )
        gap = statistics.mean(r["inherited"] - r["scratch"] for r in rows)
        tuned_gap = statistics.mean(r["finetuned"] - r["scratch"] for r in rows)
        print(
            f"mean inherited - scratch {gap:+.2f} points (fine-tuned {tuned_gap:+.2f}); "
            f"within 2 points: {'yes' if gap >= -2 else 'no'}; slowest search "
            f"{max(r['search_s'] for r in rows):.1f} s",
            flush=True,
        )

        if scratch_rank is None:
            t1 = time.perf_counter()
            scratch_rank = [_scratch(net, c, data, args) for c in rank_configs]
            print(
                f"{len(rank_configs)} sub-networks trained from scratch in "
                f"{time.perf_counter() - t1:.0f} s",
                flush=True,
            )
        if args.scratch_repeat and scratch_again is None:
            scratch_again = [
                _scratch(net, c, data, args, seed=args.seed + 1) for c in rank_configs
            ]
            twice = diagnose(np.array(scratch_again), np.array(scratch_rank))
            print(
                f"the same {len(rank_configs)} trained from scratch again (seed "
                f"{args.seed + 1}): Kendall tau {twice.kendall:.3f} against the first, "
                f"Spearman {twice.spearman:.3f}; scratch accuracy {min(scratch_rank):.2f} "
                f"to {max(scratch_rank):.2f}",
                flush=True,
            )
            report["scratch_again"] = scratch_again
            report["scratch_twice_kendall"] = twice.kendall
        inherited_rank = [evaluate_subnet(net, data, c, split="test") for c in rank_configs]
        d = diagnose(np.array(inherited_rank), np.array(scratch_rank))
        print(
            f"ranking of {len(rank_configs)} sub-networks, inherited vs scratch test accuracy: "
            f"Kendall tau {d.kendall:.3f} (95% CI {d.kendall_ci[0]:.2f} to "
            f"{d.kendall_ci[1]:.2f}), Spearman {d.spearman:.3f}",
            flush=True,
        )
        if scratch_again is not None:
            mean_scratch = (np.array(scratch_rank) + np.array(scratch_again)) / 2
            d2 = diagnose(np.array(inherited_rank), mean_scratch)
            print(f"  against the mean of both scratch runs: Kendall tau {d2.kendall:.3f}")
        for c in rank_configs:
            key = _describe(c)
            if key not in measured:
                measured[key] = (table.predict(c), _latency(net.extract(c)))
        report["methods"][method] = {
            "rows": rows,
            "mean_gap": gap,
            "mean_finetuned_gap": tuned_gap,
            "kendall": d.kendall,
            "spearman": d.spearman,
            "inherited_rank": inherited_rank,
            "wall_s": time.perf_counter() - t0,
        }

    predicted = np.array([p for p, _ in measured.values()])
    observed = np.array([m for _, m in measured.values()])
    within = float(np.mean(np.abs(predicted / observed - 1.0) <= 0.10)) * 100
    lut = diagnose(predicted, observed)
    print(
        f"\nlatency table vs measured, {len(observed)} extracted networks (1 image, 1 thread): "
        f"Spearman {lut.spearman:.3f}, within +-10 %: {within:.0f} %, mean ratio "
        f"{float(np.mean(predicted / observed)):.3f}"
    )
    print(f"total {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    report.update(
        scratch_rank=scratch_rank,
        latency={"spearman": lut.spearman, "within_10pct": within},
        settings=vars(args),
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
