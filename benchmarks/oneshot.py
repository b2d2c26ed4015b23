"""One-shot methods on NB201 over Fashion-MNIST: derived cell, its true accuracy, time, memory.

Usage:
    python benchmarks/oneshot.py --device cuda             # GPU: full Fashion-MNIST
    python benchmarks/oneshot.py --device cpu              # CPU: the reduced setting
    python benchmarks/oneshot.py --device cpu --methods darts,pcdarts --epochs 2

Each method runs in its own process (so that peak memory is its own: resident set on
the CPU, ``torch.cuda.max_memory_allocated`` on CUDA, with the data on the device
counted; "search MiB" is the peak less the memory held before the search
started) and prints one row: the derived cell, its skip connections, the ground-truth
accuracy of the cell, the search wall time and the peak memory. The ground truth
comes from a table built by ``archsearch bench build nb201 --dataset fashion_mnist``
(``--truth``, default the shipped ``nb201_fashion_mnist.npz``): the cell's row, or a
row of a cell computing the same function; a cell the table lacks is trained
standalone with the table's own recipe, skeleton, subset and seed (``--no-train``
skips that). For RSPS and SPOS the trained supernet also scores every cell of the
table (inherited validation accuracy): Kendall's tau and precision@5/10 against the
table's validation accuracy, the scores written to ``--scores-dir`` as
``{arch_str: score}`` JSON for ``archsearch diagnose file:PATH``.

Recipes (stated, both from DARTS' search recipe: SGD momentum 0.9, wd 3e-4, cosine,
gradient clip 5; architecture Adam 3e-4, betas (0.5, 0.999), wd 1e-3; crop + flip):

- GPU (``--device cuda``): all 50,000 training images (weights) and the 10,000
  validation images (architecture steps; the first 2,000 score candidates), supernet
  C=16, N=2, batch 256, lr 0.05, 10 epochs; 100 candidates for RSPS/SPOS/SETN/ENAS.
- CPU (``--device cpu``): ``--subset 1000`` images per split, C=8, N=1, batch 50,
  lr 0.025, 5 epochs, 500 validation images score candidates, 30 candidates, one
  thread per method process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "src/archsearch/evaluation/tables/nb201_fashion_mnist.npz"
METHODS = ("rsps", "spos", "darts", "darts2", "darts-es", "pcdarts", "gdas", "setn", "enas",
           "proxyless")  # fmt: skip
PRESETS: dict[str, dict[str, Any]] = {
    "cuda": {"subset": None, "channels": 16, "n_cells": 2, "batch_size": 256, "lr": 0.05,
             "epochs": 10, "eval_images": 2000, "eval_batch_size": 1000, "n_candidates": 100},
    "cpu": {"subset": 1000, "channels": 8, "n_cells": 1, "batch_size": 50, "lr": 0.025,
            "epochs": 5, "eval_images": 500, "eval_batch_size": 100, "n_candidates": 30},
}  # fmt: skip
CANDIDATE_METHODS = ("rsps", "spos", "setn", "enas")


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    names = ("epochs", "subset", "channels", "n_cells", "batch_size", "eval_images")
    for name in (*names, "eval_batch_size"):
        p.add_argument("--" + name.replace("_", "-"), type=int, help="override the preset")
    p.add_argument("--n-candidates", type=int, help="override the preset")
    p.add_argument("--lr", type=float, help="override the preset")
    p.add_argument("--arch-lr", type=float, help="architecture Adam step (DARTS: 3e-4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads per method (1)")
    p.add_argument("--truth", default=str(TABLE), help="ground-truth table (.npz)")
    p.add_argument("--no-train", action="store_true", help="cells not in the table: no truth")
    p.add_argument("--scores-dir", default="oneshot-scores", help="RSPS/SPOS scores (JSON)")
    p.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    p.add_argument("--child", help=argparse.SUPPRESS)  # one method, in this process
    return p.parse_args()


def _settings(args: argparse.Namespace, device: str) -> dict[str, Any]:
    preset = dict(PRESETS["cuda" if device.startswith("cuda") else "cpu"])
    for key in preset:
        value = getattr(args, key, None)
        if value is not None:
            preset[key] = value
    return preset


def _resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


# -- one method, in a child process ---------------------------------------------------
def run_one(args: argparse.Namespace) -> dict[str, Any]:
    """Search with one method; its row (and ranking numbers for RSPS/SPOS)."""
    import torch

    from archsearch.data import get_dataset
    from archsearch.oneshot import ONESHOT, darts_recipe
    from archsearch.training import Recipe

    device = _resolve_device(args.device)
    s = _settings(args, device)
    if device == "cpu":
        torch.set_num_threads(args.threads)
    data = get_dataset("fashion_mnist", subset=s["subset"])
    recipe = Recipe(
        **{**darts_recipe(s["epochs"]).to_json(), "batch_size": s["batch_size"],
           "learning_rate": s["lr"]}
    )  # fmt: skip
    options: dict[str, Any] = {
        "recipe": recipe,
        "model": {"channels": s["channels"], "n_cells": s["n_cells"]},
        "eval_images": s["eval_images"],
        "eval_batch_size": s["eval_batch_size"],
    }
    if args.child in CANDIDATE_METHODS:
        options["n_candidates"] = s["n_candidates"]
    if args.arch_lr is not None and args.child not in ("rsps", "spos", "enas"):
        options["arch_learning_rate"] = args.arch_lr
    method = ONESHOT[args.child]("nb201", **options)
    _warm_up(device)
    base_mb = _memory_mb(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    result = method.search(data, seed=args.seed, device=device)
    peak_mb = _memory_mb(device, peak=True)
    row = {
        "method": args.child,
        "arch": result.arch,
        "config": result.config,
        "skip_count": method.cells.skip_count(result.config),
        "inherited_accuracy": result.estimator(result.config) if result.estimator else None,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "skips_per_epoch": [int(r["skip_count"]) for r in result.history],
        "skip_weight_per_epoch": [r.get("skip_weight") for r in result.history],
        "wall_s": result.wall_s,
        "peak_mb": peak_mb,
        "base_mb": base_mb,
        "device": device,
        "settings": s,
    }
    if args.child in ("rsps", "spos") and Path(args.truth).exists() and result.estimator:
        row.update(_ranking(args, result.estimator))
    return row


def _warm_up(device: str) -> None:
    """Pay torch's one-off costs (optimizer imports, kernels) before memory is measured."""
    import torch

    weight = torch.zeros(2, 1, 3, 3, device=device, requires_grad=True)
    for optimizer in (torch.optim.SGD([weight], lr=0.1), torch.optim.Adam([weight])):
        out = torch.nn.functional.conv2d(torch.ones(2, 1, 8, 8, device=device), weight)
        optimizer.zero_grad()
        torch.autograd.backward(out.sum())
        optimizer.step()


def _memory_mb(device: str, *, peak: bool = False) -> float:
    """Allocated (peak) CUDA memory; on the CPU the resident set (its peak since the reset).

    Before the search the CPU peak is reset (``/proc/self/clear_refs``, Linux), so the
    peak is the search's own high-water mark, not loading the data's.
    """
    import torch

    if device.startswith("cuda"):
        used = torch.cuda.max_memory_allocated() if peak else torch.cuda.memory_allocated()
        return used / 2**20
    status = Path("/proc/self/status")
    if not status.exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if not peak:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    field = "VmHWM:" if peak else "VmRSS:"
    for line in status.read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def _ranking(args: argparse.Namespace, estimator: Any) -> dict[str, Any]:
    from archsearch.bench import BenchTable
    from archsearch.oneshot import rank_supernet, write_scores

    table = BenchTable.load(args.truth)
    truth = list(table.column("valid_accuracy"))
    ranking = rank_supernet(estimator, table.configs, table.arch_strs, truth, ks=(5, 10))
    Path(args.scores_dir).mkdir(parents=True, exist_ok=True)
    path = write_scores(ranking.scores, Path(args.scores_dir) / f"{args.child}.json")
    out: dict[str, Any] = {
        "tau": ranking.kendall_tau,
        "precision": {str(k): v for k, v in ranking.precision.items()},
        "n_ranked": ranking.n,
        "scores_file": str(path),
    }
    if ranking.diagnosis is not None:
        out["diagnosis_kendall"] = ranking.diagnosis.get("kendall")
    return out


# -- the driver -----------------------------------------------------------------------
def _child(args: argparse.Namespace, method: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", method]
    for key, value in vars(args).items():
        if key in ("child", "methods", "json") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"method": method, "error": " | ".join(tail)}
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


class Truth:
    """Ground-truth test accuracy of cells: the table's row, or standalone training."""

    def __init__(self, path: str, device: str, train: bool) -> None:
        from archsearch.bench import BenchTable
        from archsearch.spaces.nb201 import functional_key

        self.table = BenchTable.load(path) if Path(path).exists() else None
        self.device, self.train = device, train
        self.by_function: dict[str, int] = {}
        if self.table is not None:
            for i, config in enumerate(self.table.configs):
                self.by_function.setdefault(functional_key(config), i)
        self.trained: dict[str, tuple[float, str]] = {}
        self._functional_key = functional_key

    def of(self, config: Any) -> tuple[float | None, str]:
        """(test accuracy, where it came from)."""
        if self.table is None:
            return None, "no table"
        key = self._functional_key(config)
        row = self.by_function.get(key)
        if row is not None:
            return float(self.table.column("test_accuracy")[row]), "table"
        if not self.train:
            return None, "not in table"
        if key not in self.trained:
            self.trained[key] = (self._train(config), "trained")
        return self.trained[key]

    def _train(self, config: Any) -> float:
        from archsearch.evaluation._training import training_evaluator

        assert self.table is not None
        meta = self.table.meta
        evaluator = training_evaluator(
            space="nb201",
            dataset=str(meta["dataset"]),
            subset=meta.get("subset"),
            recipe=str(meta.get("recipe", "nb201")),
            epochs=int(meta.get("epochs") or self.table.fidelities[-1]),
            seed=int(meta.get("seed") or 0),
            model=dict(meta.get("model") or {}),
            device=self.device,
            report_test=True,
        )
        result = evaluator.evaluate(config, float(self.table.fidelities[-1]))
        return float(result.metrics["test_accuracy"])


def _print(rows: list[dict[str, Any]], memory: str) -> None:
    header = ("method", "skips", "truth test %", "source", "inherited %", "time s",
              memory, "search MiB", "tau", "P@5", "P@10", "derived cell")  # fmt: skip
    table = [header]
    for r in rows:
        if "error" in r:
            table.append((r["method"], *["-"] * 10, "error: " + r["error"][:80]))
            continue
        truth = "-" if r.get("truth") is None else f"{r['truth']:.2f}"
        precision = r.get("precision", {})
        table.append(
            (
                r["method"] + (" (stopped)" if r["stopped_early"] else ""),
                str(r["skip_count"]),
                truth,
                r.get("truth_source", "-"),
                f"{r['inherited_accuracy']:.1f}",
                f"{r['wall_s']:.0f}",
                f"{r['peak_mb']:.0f}",
                f"{r['peak_mb'] - r['base_mb']:.0f}",
                "-" if "tau" not in r else f"{r['tau']:.3f}",
                "-" if "5" not in precision else f"{precision['5']:.2f}",
                "-" if "10" not in precision else f"{precision['10']:.2f}",
                r["arch"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main() -> int:
    args = _parse()
    if args.child:
        print(json.dumps(run_one(args)))
        return 0
    device = _resolve_device(args.device)
    args.device = device
    s = _settings(args, device)
    print(f"device {device}; settings {s}; truth {args.truth}", flush=True)
    truth = Truth(args.truth, device, train=not args.no_train)
    rows = []
    for method in args.methods.split(","):
        start = time.perf_counter()
        row = _child(args, method)
        if "error" not in row:
            row["truth"], row["truth_source"] = truth.of(row["config"])
        rows.append(row)
        print(f"{method}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    memory = "peak GPU MiB" if device.startswith("cuda") else "peak RSS MiB"
    _print(rows, memory)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
