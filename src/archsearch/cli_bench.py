"""``archsearch bench build``: train a sample of a space into a benchmark table.

``archsearch bench build nb201 --dataset fashion_mnist --fidelities 1,2,4 --sample 100
--out nb201_fmnist.npz`` trains 100 NB201 cells (stored as an experiment, so running
the same command again resumes) and writes a table that ``archsearch run`` and
``archsearch compare --benchmark table --table PATH`` replay. ``archsearch bench show
PATH`` prints a table's summary.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from archsearch.errors import ConfigError

__all__ = ["add_bench_parser", "cmd_bench"]


def add_bench_parser(sub: Any) -> None:
    """Add ``bench build`` and ``bench show`` to the ``archsearch`` subparsers."""
    bench = sub.add_parser("bench", help="build a benchmark table by training, or show one")
    commands = bench.add_subparsers(dest="bench_command", required=True)
    build = commands.add_parser("build", help="train a sample of a space into a table")
    build.add_argument("space", help="the search space (nb201, nats_size, darts, mobilenet)")
    build.add_argument("--dataset", required=True, help="fashion_mnist, cifar10, cifar100, digits")
    build.add_argument("--fidelities", default="1,4,12", help="epochs, ascending (1,4,12)")
    build.add_argument("--sample", type=int, help="configs to draw (default: the whole space)")
    build.add_argument("--out", required=True, metavar="PATH", help="the table file (.npz)")
    build.add_argument("--storage", metavar="URL", help="the store (default: OUT with .db)")
    build.add_argument("--name", help="experiment name (default bench-SPACE-DATASET)")
    build.add_argument("--seed", type=int, default=0, help="seed of the sample and training")
    build.add_argument("--subset", type=int, help="images per split (default: all)")
    build.add_argument("--model", default="{}", metavar="JSON", help='e.g. {"channels": 8}')
    build.add_argument("--recipe", default="nb201", help="nb201 (default) or adamw")
    build.add_argument("--device", default="auto", help="auto, cpu or cuda")
    build.add_argument("--workers", type=int, default=1, help="trainings at once (1)")
    build.add_argument("--threads", type=int, help="CPU threads per training")
    build.add_argument("--data", metavar="DIR", help="where the dataset's files are")
    build.add_argument("--n-valid", type=int, help="validation split size (the dataset's own)")
    show = commands.add_parser("show", help="summarise a table file")
    show.add_argument("path", help="a table from `bench build`")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``archsearch bench build|show``; returns the exit status."""
    return _SUBCOMMANDS[args.bench_command](args)


def _parse_fidelities(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"--fidelities: whole epochs separated by commas, got {text!r}"
        ) from None


def _build(args: argparse.Namespace) -> int:
    from archsearch.bench import build_table

    try:
        model = json.loads(args.model)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--model: not JSON ({exc.msg})") from None
    if not isinstance(model, dict):
        raise ConfigError(f"--model: expected a JSON object, got {args.model!r}")
    table = build_table(
        args.space,
        dataset=args.dataset,
        fidelities=_parse_fidelities(args.fidelities),
        out=args.out,
        sample=args.sample,
        seed=args.seed,
        storage=args.storage,
        name=args.name,
        model=model,
        subset=args.subset,
        recipe=args.recipe,
        device=args.device,
        workers=args.workers,
        data_path=args.data,
        n_threads=args.threads,
        n_valid=args.n_valid,
    )
    print(f"wrote {args.out}")
    _summary(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    from archsearch.bench import BenchTable

    _summary(BenchTable.load(args.path))
    return 0


def _summary(table: Any) -> None:
    meta = table.meta
    print(
        f"{len(table)} architectures of {meta.get('space')} on {meta.get('dataset')}, "
        f"model {json.dumps(meta.get('model', {}))}, subset {meta.get('subset')}, "
        f"recipe {meta.get('recipe')}"
    )
    heads = ("epochs", "valid mean", "valid best", "test best", "time mean s")
    print("  ".join(f"{h:>{w}}" for h, w in zip(heads, (6, 10, 10, 9, 11), strict=True)))
    for f in table.fidelities:
        valid = table.column("valid_accuracy", f)
        test = table.column("test_accuracy", f)
        time = table.column("train_time_s", f)
        print(
            f"{f:6g}  {np.nanmean(valid):10.2f}  {np.nanmax(valid):10.2f}  "
            f"{np.nanmax(test):9.2f}  {np.nanmean(time):11.1f}"
        )
    best = int(np.nanargmax(table.column("test_accuracy")))
    print(f"best by final test accuracy: {table.keys[best]}")


_SUBCOMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"build": _build, "show": _show}
