"""``archsearch oneshot METHOD``: a weight-sharing search on a dataset, stored with its curves.

``archsearch oneshot darts --dataset fashion_mnist --epochs 10`` trains DARTS' supernet
of the NB201 cell space and prints each epoch (losses, the derived cell's inherited
accuracy and skip connections) and the chosen cell. ``--truth TABLE.npz`` (a table
from ``archsearch bench build``) then scores the table's cells with the trained
supernet and reports Kendall's tau and precision@K; ``--scores-out`` writes those
scores as the ``{arch_str: score}`` JSON that ``archsearch diagnose file:PATH`` reads.
torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from archsearch.errors import ConfigError

__all__ = ["add_oneshot_parser", "cmd_oneshot"]

#: the registered methods (listed here so that building the parser imports no torch)
METHODS = (
    "darts",
    "darts2",
    "darts-es",
    "pcdarts",
    "gdas",
    "setn",
    "enas",
    "rsps",
    "spos",
    "proxyless",
)
#: elastic-supernet methods (the MobileNet stage space; ``--targets`` specialises)
ELASTIC = ("ofa", "bignas", "spnas", "tunas")


def add_oneshot_parser(sub: Any) -> None:
    """Add ``oneshot`` to the ``archsearch`` subparsers."""
    p = sub.add_parser("oneshot", help="weight-sharing search (DARTS, GDAS, ENAS, SPOS, ...)")
    p.add_argument("method", choices=METHODS + ELASTIC, help="the one-shot method")
    p.add_argument("--space", default="nb201", choices=("nb201", "darts"), help="default nb201")
    p.add_argument("--dataset", default="fashion_mnist", help="default fashion_mnist")
    p.add_argument("--data-path", help="folder of the dataset files")
    p.add_argument("--subset", type=int, help="images per split (default: all)")
    p.add_argument("--epochs", type=int, default=10, help="search epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=64, help="default 64 (DARTS)")
    p.add_argument("--channels", type=int, help="supernet channels (16)")
    p.add_argument("--n-cells", type=int, help="cells per stage, nb201 (5); cells, darts (8)")
    p.add_argument("--eval-images", type=int, default=2000, help="validation images (2000)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--storage", help="store URL (default $ARCHSEARCH_STORAGE or archsearch.db)")
    p.add_argument("--name", help="experiment name (default oneshot-METHOD-SPACE-sSEED)")
    p.add_argument("--truth", metavar="TABLE.npz", help="rank this table's cells (nb201)")
    p.add_argument("--scores-out", metavar="PATH.json", help="write the cells' scores")
    p.add_argument(
        "--targets", metavar="MS,MS,...", help="ofa/bignas: latency targets (ms, 1 image, CPU)"
    )
    p.add_argument("--samples", type=int, default=100, help="ofa/bignas: predictor samples")
    p.add_argument("--checkpoint", metavar="PATH", help="ofa/bignas: training state (resume)")
    p.add_argument(
        "--stem-stride", type=int, default=1, choices=(1, 2), help="ofa/bignas: 2 on a CPU"
    )


def cmd_oneshot(args: argparse.Namespace) -> int:
    """Run ``archsearch oneshot``; returns the exit status.

    Raises:
        ArchsearchError: for a user error (the CLI prints it and exits 2).
    """
    if args.method in ELASTIC:
        return _cmd_elastic(args)
    from archsearch.data import get_dataset
    from archsearch.oneshot import ONESHOT, darts_recipe
    from archsearch.store import open_store
    from archsearch.training import Recipe

    model: dict[str, int] = {}
    if args.channels is not None:
        model["channels"] = args.channels
    if args.n_cells is not None:
        model["n_cells" if args.space == "nb201" else "n_layers"] = args.n_cells
    recipe = Recipe(**{**darts_recipe(args.epochs).to_json(), "batch_size": args.batch_size})
    method = ONESHOT.create(
        args.method,
        {"recipe": recipe, "model": model, "eval_images": args.eval_images},
        field="method",
        space=args.space,
    )
    truth = _load_truth(args.truth) if args.truth else None
    data = get_dataset(args.dataset, path=args.data_path, subset=args.subset)
    store = open_store(args.storage)
    result = method.search(data, seed=args.seed, device=args.device, store=store, name=args.name)
    _print_history(result.history)
    print(f"chosen: {result.arch}")
    print(
        f"search time {result.wall_s:.1f} s" + (", stopped early" if result.stopped_early else "")
    )
    if truth is not None and result.estimator is not None:
        _rank(result.estimator, truth, args.scores_out)
    return 0


def _targets(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--targets: expected milliseconds like 5,10,20, got {text!r}") from None
    if any(v <= 0 for v in values):
        raise ConfigError(f"--targets: must be positive, got {text!r}")
    return values


def _cmd_elastic(args: argparse.Namespace) -> int:
    from archsearch.data import get_dataset
    from archsearch.oneshot._elastic_search import elastic_search
    from archsearch.store import open_store

    targets = _targets(args.targets)
    data = get_dataset(args.dataset, path=args.data_path, subset=args.subset)
    store = open_store(args.storage)
    name = args.name or f"oneshot-{args.method}-elastic-s{args.seed}"
    if args.method in ("spnas", "tunas"):
        return _cmd_latency_search(args, data, store, name, targets)

    def show(row: dict[str, Any]) -> None:
        print(
            f"epoch {row['epoch']} ({row['phase']}): loss {row['train_loss']:.3f}, valid "
            f"largest {row['valid_accuracy_largest']:.1f} %, smallest "
            f"{row['valid_accuracy_smallest']:.1f} %, {row['seconds']:.0f} s",
            flush=True,
        )

    result = elastic_search(
        data,
        method=args.method,
        epochs=args.epochs,
        targets_ms=targets,
        samples=args.samples,
        batch_size=args.batch_size,
        seed=args.seed,
        store=store,
        name=name,
        checkpoint=args.checkpoint,
        stem_stride=args.stem_stride,
        device=args.device if args.device != "auto" else "cpu",
        on_epoch=show,
    )
    print(
        f"trained in {result.train_s:.0f} s; latency table {result.table.profile_s:.1f} s; "
        f"predictor on {len(result.samples)} sub-networks {result.predictor_s:.1f} s"
    )
    for target in result.targets:
        chosen = target.chosen
        stages = " | ".join(
            f"k{s['kernel']} e{s['expansion']} d{s['n_layers']}" for s in chosen.config["stages"]
        )
        print(
            f"target {chosen.target_ms:g} ms: {stages}; predicted {chosen.predicted_ms:.2f} ms "
            f"(measured {target.measured_ms:.2f}), accuracy predicted "
            f"{chosen.predicted_accuracy:.1f} % (inherited {target.valid_accuracy:.1f} %), "
            f"search {chosen.search_s:.1f} s"
        )
    return 0


def _cmd_latency_search(
    args: argparse.Namespace, data: Any, store: Any, name: str, targets: list[float]
) -> int:
    """Single-Path NAS or TuNAS for one latency target over a fresh elastic supernet."""
    import torch

    from archsearch.evaluation import measure_latency
    from archsearch.oneshot import (
        ElasticLatencyTable,
        ElasticMobileNet,
        SinglePathNAS,
        TuNAS,
        evaluate_subnet,
    )
    from archsearch.training import DeviceData

    if len(targets) != 1:
        raise ConfigError(f"--targets: {args.method} searches for one target, got {targets}")
    torch.manual_seed(args.seed)
    shape = tuple(int(v) for v in data.train_x.shape[1:])
    net = ElasticMobileNet(
        in_channels=shape[0], n_classes=data.num_classes, stem_stride=args.stem_stride
    )
    table = ElasticLatencyTable(net, shape)  # type: ignore[arg-type]
    options = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "store": store,
        "name": name,
        "checkpoint": args.checkpoint,
    }
    method: Any = (
        SinglePathNAS(target_ms=targets[0], **options)
        if args.method == "spnas"
        else TuNAS(target_ms=targets[0], **options)
    )
    result = method.search(net, data, table)
    config = result.config
    accuracy = evaluate_subnet(net, DeviceData(data, torch.device("cpu")), config)
    measured = measure_latency(net.extract(config), (1, *shape), repeats=30, threads=1)
    stages = " | ".join(
        f"k{s['kernel']} e{s['expansion']} d{s['n_layers']}" for s in config["stages"]
    )
    print(
        f"target {targets[0]:g} ms: {stages}; predicted {table.predict(config):.2f} ms "
        f"(measured {measured['latency_ms']:.2f}), inherited accuracy {accuracy:.1f} %, "
        f"search {result.wall_s:.0f} s"
    )
    return 0


def _load_truth(path: str) -> Any:
    from archsearch.bench import BenchTable

    table = BenchTable.load(path)
    if table.space != "nb201":
        raise ConfigError(f"--truth: {path} is a table of {table.space!r}; nb201 is needed")
    return table


def _rank(estimator: Any, table: Any, scores_out: str | None) -> None:
    from archsearch.oneshot import rank_supernet, write_scores

    fidelity = table.fidelities[-1]
    truth = table.column("valid_accuracy", fidelity)
    ranking = rank_supernet(estimator, table.configs, table.arch_strs, list(truth))
    precision = ", ".join(f"P@{k} {v:.2f}" for k, v in ranking.precision.items())
    print(
        f"supernet ranking of {ranking.n} cells against {fidelity:g}-epoch validation accuracy: "
        f"Kendall tau {ranking.kendall_tau:.3f}, {precision}"
    )
    if ranking.diagnosis is not None:
        print(f"diagnosis: {ranking.diagnosis.get('verdict', '')}")
    if scores_out:
        print(f"scores written to {write_scores(ranking.scores, scores_out)}")


def _print_history(history: list[dict[str, Any]]) -> None:
    rows = [("epoch", "train loss", "train acc", "valid acc", "skips", "time s", "derived")]
    for row in history:
        rows.append(
            (
                str(row["epoch"]),
                f"{row['train_loss']:.3f}",
                f"{row['train_accuracy']:.1f}",
                f"{row['valid_accuracy']:.1f}",
                str(int(row["skip_count"])),
                f"{row['epoch_s']:.1f}",
                row["arch"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
