"""``archsearch diagnose``: how far an estimator of NB201 accuracy can be trusted.

``archsearch diagnose ESTIMATOR`` compares an estimator's scores of NB201 cells with
the ground truth (default: the 200-epoch accuracy) and prints
:func:`archsearch.analysis.diagnose`'s report. ESTIMATOR is one of:

- ``synflow``: the SynFlow scores that ship with archsearch
  (:func:`archsearch.evaluation.load_nb201_synflow`), all 15,625 cells;
- a column of the NB201 table for ``--dataset``: ``valid_12``, ``test_12`` (the
  12-epoch runs), ``zen``, ``acc_200``, or ``latency/DEVICE`` (27 devices);
- ``params`` or ``flops`` (MACs): each cell's network at the dataset's input size,
  counted by :class:`~archsearch.evaluation.CostEvaluator` (the counts add up over
  edges, so 25 networks give all 15,625 cells);
- ``file:PATH``: scores of some cells, for instance a supernet's inherited accuracies.
  A ``.npz`` holds ``score`` (floats) and one of ``index`` (archsearch cell index,
  :func:`archsearch.spaces.nb201.arch_index`), ``nb201_index`` (the official index)
  or ``arch`` (NB201 strings ``|nor_conv_3x3~0|+|...|``), one entry per cell. A
  ``.json`` holds either an object ``{"ARCH or INDEX": score}`` or a list of records
  ``{"arch" | "index" | "nb201_index" | "config": ..., "score": float}`` (``config``:
  the edge dict of a search). Only the listed cells are diagnosed.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError, DataError

__all__ = ["add_diagnose_parser", "cmd_diagnose", "estimator_scores"]

N_CELLS = 15_625
_INPUT = {"cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100)}
_INPUT["imagenet16-120"] = ((3, 16, 16), 120)


def add_diagnose_parser(sub: Any) -> None:
    """Add ``diagnose`` to the ``archsearch`` subparsers."""
    p = sub.add_parser("diagnose", help="how far an estimator of accuracy can be trusted")
    p.add_argument(
        "estimator",
        help="synflow, params, flops, an NB201 column (valid_12, test_12, zen, "
        "latency/DEVICE) or file:PATH (.npz/.json of cell -> score)",
    )
    p.add_argument("--truth", default="acc_200", help="NB201 column to judge by (acc_200)")
    p.add_argument("--benchmark", default="nb201", help="the benchmark (nb201)")
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100, imagenet16-120")
    p.add_argument("--sample", type=int, metavar="N", help="a seeded sample of N cells")
    p.add_argument("--seed", type=int, default=0, help="seeds the sample and the bootstrap")
    p.add_argument("--bootstrap", type=int, default=200, help="resamples for tau's CI (200)")
    p.add_argument(
        "--lower-is-better", action="store_true", help="a lower score predicts a better cell"
    )
    p.add_argument("--json", metavar="PATH", help="also write the diagnosis as JSON")


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Run ``archsearch diagnose``; returns the exit status.

    Raises:
        ArchsearchError: for a user error (the CLI prints it and exits 2).
    """
    from archsearch.analysis import diagnose

    if args.benchmark != "nb201":
        raise ConfigError(f"--benchmark: diagnose knows nb201 only, got {args.benchmark!r}")
    truth = _table_column(args.truth, args.dataset, "--truth")
    cells, scores, source = estimator_scores(args.estimator, args.dataset)
    if args.sample is not None:
        if args.sample < 3:
            raise ConfigError(f"--sample: must be at least 3, got {args.sample}")
        rng = np.random.default_rng(args.seed)
        picked = np.sort(rng.choice(len(cells), min(args.sample, len(cells)), replace=False))
        cells, scores = cells[picked], scores[picked]
    result = diagnose(
        scores,
        truth[cells],
        higher_is_better=not args.lower_is_better,
        n_boot=args.bootstrap,
        seed=args.seed,
    )
    sampled = " (seeded sample)" if args.sample is not None else ""
    print(
        f"{args.estimator} as an estimator of NB201 {args.dataset} {args.truth}, "
        f"{result.n:,} cells{sampled}"
    )
    print(f"  estimator: {source}")
    if result.n_dropped:
        print(f"  dropped {result.n_dropped:,} cells with a non-finite score")
    for line in result.lines():
        print(f"  {line}")
    if args.json:
        record = {
            "estimator": args.estimator,
            "source": source,
            "truth": args.truth,
            "dataset": args.dataset,
            **result.to_json(),
        }
        try:
            Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
        except OSError as exc:
            raise ConfigError(f"--json: cannot write {args.json}: {exc.strerror}") from None
    return 0


# -- estimators --------------------------------------------------------------------
def estimator_scores(name: str, dataset: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Cell indices, the estimator's scores of them, and a line saying where they came from.

    Raises:
        ConfigError: an unknown estimator or dataset.
        DataError: an unreadable ``file:`` estimator.
    """
    if name.startswith("file:"):
        cells, scores = read_score_file(Path(name[len("file:") :]))
        return cells, scores, f"scores of {len(cells):,} cells from {name[5:]}"
    if name in _COMPUTED:
        scores, source = _COMPUTED[name](dataset)
        return np.arange(N_CELLS), scores, source
    column = _table_column(name, dataset, "estimator", extra=sorted(_COMPUTED) + ["file:PATH"])
    return np.arange(N_CELLS), column, f"NB201 table column {_column_key(name, dataset)}"


def _synflow(dataset: str) -> tuple[np.ndarray, str]:
    from archsearch.evaluation import load_nb201_synflow

    source = "shipped SynFlow scores (seed 0, 3x32x32 all-ones input, data-free)"
    return np.asarray(load_nb201_synflow(), dtype=np.float64), source


@functools.lru_cache(maxsize=4)
def nb201_costs(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Parameters and MACs of every cell's network, in cell-index order.

    Both are sums over the cell's edges (every edge has its own modules, and the counted
    operations are the convolutions and the classifier), so the network with no edge
    and the 24 networks with one edge give all 15,625 cells exactly.
    """
    import torch

    from archsearch.evaluation import CostEvaluator
    from archsearch.spaces.nb201 import EDGES, OPS

    shape, n_classes = _INPUT[_check_dataset(dataset)]
    evaluator = CostEvaluator(space="nb201", input_shape=shape, n_classes=n_classes)

    def cost(cell: dict[str, str]) -> np.ndarray:
        metrics = evaluator.evaluate(cell).metrics
        return np.array([metrics["params_m"], metrics["flops_m"]]) * 1e6

    empty = dict.fromkeys(EDGES, OPS[0])
    codes = np.stack(np.unravel_index(np.arange(N_CELLS), (len(OPS),) * len(EDGES)), axis=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one-image passes: more threads only wait on each other
    try:
        base = cost(empty)
        total = np.tile(base, (N_CELLS, 1))
        for e, edge in enumerate(EDGES):
            for o, op in enumerate(OPS[1:], start=1):
                total[codes[:, e] == o] += cost({**empty, edge: op}) - base
    finally:
        torch.set_num_threads(threads)
    total = np.round(total)
    return total[:, 0], total[:, 1]


def _params(dataset: str) -> tuple[np.ndarray, str]:
    return nb201_costs(dataset)[0], "parameters of the network (CostEvaluator)"


def _flops(dataset: str) -> tuple[np.ndarray, str]:
    return nb201_costs(dataset)[1], "multiply-adds of one forward pass (CostEvaluator)"


_COMPUTED: dict[str, Callable[[str], tuple[np.ndarray, str]]] = {
    "synflow": _synflow,
    "params": _params,
    "flops": _flops,
}


def _check_dataset(dataset: str) -> str:
    if dataset not in _INPUT:
        raise ConfigError(f"--dataset: unknown {dataset!r}; allowed: {', '.join(_INPUT)}")
    return dataset


def _column_key(name: str, dataset: str) -> str:
    return name if name.startswith("latency/") else f"{dataset}/{name}"


def _table_column(
    name: str, dataset: str, field: str, extra: list[str] | None = None
) -> np.ndarray:
    """An NB201 table column by archsearch cell index (float64)."""
    from archsearch.evaluation import load_nb201_table

    table = load_nb201_table()
    key = _column_key(name, _check_dataset(dataset))
    if key not in table:
        columns = sorted(k.split("/", 1)[1] for k in table if k.startswith(f"{dataset}/"))
        allowed = [*(extra or []), *columns, "latency/DEVICE"]
        raise ConfigError(f"{field}: unknown {name!r}; allowed: {', '.join(allowed)}")
    return np.asarray(table[key][table["index_of_cell"]], dtype=np.float64)


# -- score files -------------------------------------------------------------------
def read_score_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Cell indices and scores from a ``.npz`` or ``.json`` score file (see the module).

    Raises:
        DataError: a missing or malformed file, an unknown cell, a cell given twice.
    """
    if not path.is_file():
        raise DataError(f"{path}: score file not found")
    pairs = _read_npz(path) if path.suffix == ".npz" else _read_json(path)
    if not pairs:
        raise DataError(f"{path}: no scores")
    cells = np.array([_cell(key, kind, path) for kind, key, _ in pairs], dtype=np.int64)
    unique, counts = np.unique(cells, return_counts=True)
    if len(unique) != len(cells):
        raise DataError(f"{path}: cell index {int(unique[counts > 1][0])} has several scores")
    try:
        scores = np.array([float(score) for _, _, score in pairs], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: every score must be a number") from None
    return cells, scores


def _read_npz(path: Path) -> list[tuple[str, Any, Any]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    kinds = [k for k in ("index", "nb201_index", "arch") if k in arrays]
    if "score" not in arrays or len(kinds) != 1:
        raise DataError(
            f"{path}: expected arrays 'score' and one of 'index', 'nb201_index', 'arch'; "
            f"got {sorted(arrays)}"
        )
    keys, scores = arrays[kinds[0]], arrays["score"]
    if keys.shape != scores.shape or keys.ndim != 1:
        raise DataError(f"{path}: '{kinds[0]}' and 'score' must be 1-d of one length")
    return [(kinds[0], k.item(), s.item()) for k, s in zip(keys, scores, strict=True)]


def _read_json(path: Path) -> list[tuple[str, Any, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from None
    if isinstance(data, dict):
        return [("index" if k.strip().isdigit() else "arch", k, v) for k, v in data.items()]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected an object or a list of records")
    pairs = []
    for i, record in enumerate(data):
        fields = record if isinstance(record, dict) else {}
        kinds = [k for k in ("arch", "index", "nb201_index", "config") if k in fields]
        if "score" not in fields or len(kinds) != 1:
            raise DataError(
                f"{path}: record [{i}] needs 'score' and one of arch, index, nb201_index, config"
            )
        pairs.append((kinds[0], fields[kinds[0]], fields["score"]))
    return pairs


def _cell(key: Any, kind: str, path: Path) -> int:
    """archsearch's cell index of one entry of a score file."""
    from archsearch.spaces.nb201 import arch_index, from_arch_str

    try:
        if kind == "arch":
            return arch_index(from_arch_str(str(key)))
        if kind == "config":
            return arch_index(key)
        index = int(key)
    except (ConfigError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: bad {kind} {key!r}: {exc}") from None
    if not 0 <= index < N_CELLS:
        raise DataError(f"{path}: {kind} {index} outside 0..{N_CELLS - 1}")
    return index if kind == "index" else _cell_of_official()[index]


@functools.lru_cache(maxsize=1)
def _cell_of_official() -> list[int]:
    from archsearch.evaluation import load_nb201_table

    cells: list[int] = np.argsort(load_nb201_table()["index_of_cell"]).tolist()
    return cells
