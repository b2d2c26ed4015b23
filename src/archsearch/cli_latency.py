"""``archsearch latency``: profile a space's latency table, predict latency from it.

``archsearch latency profile nb201 --out lut.json`` times each building block of the
NB201 network on this machine (see :func:`~archsearch.evaluation._latency.profile_lut`);
``archsearch latency predict nb201 lut.json ARCH`` adds the table up for one cell.
torch is imported only when a profile is taken.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from archsearch.errors import ConfigError

__all__ = ["add_latency_parser", "cmd_latency"]


def add_latency_parser(sub: Any) -> None:
    """Add ``latency profile`` and ``latency predict`` to the ``archsearch`` subparsers."""
    latency = sub.add_parser("latency", help="profile a latency table, predict latency from it")
    commands = latency.add_subparsers(dest="latency_command", required=True)
    profile = commands.add_parser("profile", help="time each block of a space's network")
    profile.add_argument("space", help="the search space (nb201)")
    profile.add_argument("--out", default="lut.json", metavar="PATH", help="default lut.json")
    profile.add_argument("--batch-size", type=int, default=1, help="images per pass (1)")
    profile.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    profile.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    profile.add_argument("--repeats", type=int, default=30, help="timed samples per block (30)")
    profile.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="cpu: thread CPU time (1 thread)"
    )
    profile.add_argument("--input-shape", default="3,32,32", metavar="C,H,W")
    profile.add_argument("--channels", type=int, help="channels of the first stage (16)")
    profile.add_argument("--n-cells", type=int, help="cells per stage (5)")
    predict = commands.add_parser("predict", help="predicted latency of one architecture")
    predict.add_argument("space", help="the search space of the table (nb201)")
    predict.add_argument("lut", metavar="LUT.json", help="a table from `latency profile`")
    predict.add_argument("arch", help="NB201 string or JSON config")
    predict.add_argument("--prune", action="store_true", help="the network without dead edges")


def cmd_latency(args: argparse.Namespace) -> int:
    """Run ``archsearch latency profile|predict``; returns the exit status.

    Raises:
        ArchsearchError: for a user error (the CLI prints it and exits 2).
    """
    return _SUBCOMMANDS[args.latency_command](args)


def _profile(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (imported before the clock starts)

    from archsearch.evaluation._latency import LUTPredictor, profile_lut
    from archsearch.spaces.nb201 import EDGES

    options = {"channels": args.channels, "n_cells": args.n_cells}
    start = time.perf_counter()
    table = profile_lut(
        args.space,
        input_shape=_parse_shape(args.input_shape),
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        repeats=args.repeats,
        clock=args.clock,
        model_options={k: v for k, v in options.items() if v is not None},
    )
    elapsed = time.perf_counter() - start
    table.save(args.out)
    print(_describe(table))
    _print_entries(table.entries_ms)
    predictor = LUTPredictor(table)
    low = predictor.predict(dict.fromkeys(EDGES, "none"))
    high = predictor.predict(dict.fromkeys(EDGES, "nor_conv_3x3"))
    print(f"networks from {low:.3f} ms (all none) to {high:.3f} ms (all nor_conv_3x3)")
    print(f"table written to {args.out} ({elapsed:.1f} s)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from archsearch.evaluation._latency import LatencyTable, LUTPredictor

    table = LatencyTable.load(args.lut)
    if table.space != args.space:
        raise ConfigError(f"space: {args.lut} profiles {table.space!r}, not {args.space!r}")
    latency_ms = LUTPredictor(table, prune=args.prune).predict(_parse_arch(args.arch))
    print(f"{latency_ms:.3f} ms predicted ({_describe(table)})")
    return 0


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--input-shape: expected C,H,W such as 3,32,32, got {text!r}") from None


def _parse_arch(text: str) -> Any:
    """An NB201 string, or a config as a JSON object."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"arch: not a JSON object ({exc})") from None


def _describe(table: Any) -> str:
    shape = "x".join(str(v) for v in table.input_shape)
    skeleton = table.skeleton
    return (
        f"{table.space} C={skeleton['channels']} N={skeleton['n_cells']} on {table.device}, "
        f"{table.threads} thread(s), {table.clock} clock, batch {table.batch_size}, {shape}, "
        f"torch {table.torch_version}, profiled {table.created}"
    )


def _print_entries(entries: dict[str, float]) -> None:
    """Per-stage entries as a block x stage table, then the fixed parts."""
    parts = [key.split("/", 1)[1] for key in entries if key.startswith("stage_0/")]
    rows: list[tuple[str, ...]] = [("block (ms)", "stage 0", "stage 1", "stage 2")]
    rows += [(p, *(f"{entries[f'stage_{s}/{p}']:.4f}" for s in range(3))) for p in parts]
    fixed: list[tuple[str, ...]] = [
        (key, f"{value:.4f}") for key, value in entries.items() if "/" not in key
    ]
    for table in (rows, fixed):
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


_SUBCOMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "profile": _profile,
    "predict": _predict,
}
