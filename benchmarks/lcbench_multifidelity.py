"""Multi-fidelity search on LCBench: how soon do Hyperband, ASHA, BOHB and the curve-based
strategies match random search? And how well do curve models extrapolate?

Usage:
    python benchmarks/lcbench_multifidelity.py [--runs 20] [--tasks all] [--trainings 50]
        [--parts search,extrapolation,costs] [--quick] [--curve-configs 200]
        [--plot PNG] [--json PATH]

Search (``--parts search``). For each LCBench task (YAHPO surrogate, epochs 1..52): the
budget is ``--trainings`` (default 50) times the median 52-epoch training time of 20
random configs; random search trains every config for 52 epochs, the multi-fidelity
strategies climb the rungs 3, 9, 27, 52 (eta 3; ``PROTOCOL_OPTIONS`` in
``archsearch.experiment``). The curve-based strategies see every epoch's validation
accuracy (``with_curve``) and extrapolate it with the learned curve model trained on the
other 33 tasks (leave-one-task-out): ``curve_stop`` (random configs stopped when
P(final > incumbent) < 0.05, steps 3, 6, 12, 24, 48, 52), ``freeze_thaw`` (DyHPO-style
EI at the next step, same ladder), ``ft_final`` (freeze-thaw with EI of the final
value per epoch it takes to get there) and ``ft_model`` (EI of the final value per
second it takes, new configs from BOHB's density model over the pool's predicted
finals). Two columns use transfer across tasks, which the others do not:
``ft_prior`` (as ``ft_model``, but each new config the best of 64 random draws by
a config prior learned from the final accuracies on the other 33 tasks, one in ten at
random) and ``prior_full`` (the prior's configs trained for all 52 epochs one after
another, no curves: what the prior alone buys). Every strategy runs ``--runs`` seeds;
its anytime curve is the mean over seeds of the 52-epoch validation accuracy of its
incumbent. Printed per task: the fraction of the budget each strategy needs to reach
random search's final mean accuracy (``>1``: not within the budget), then the median
over tasks. The plot shows, against the fraction of the budget, the share of tasks on
which each strategy has reached random search's final accuracy.

Extrapolation (``--parts extrapolation``). For each task, ``--curve-configs`` random
configs (not those the models were trained on) are observed for the first 10 % (5) or
25 % (13) of their 52 epochs; the table gives, per task and as median and mean over
tasks, Spearman's rank correlation of predicted against true 52-epoch accuracy and the
mean absolute error (percentage points) of the parametric ensemble, of the learned
model (trained on the other tasks) and of the last observed value.

Costs (``--parts costs``). Why screening is dear on LCBench: per task, the median over
30 random configs of the simulated time of 1 and 3 epochs as a share of 52 epochs
(linear in epochs would be 0.019 and 0.058), then the median over tasks.

``--quick``: 4 tasks, 4 runs, 60 curves per task, for a look in about a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archsearch.curves import (
    LastValue,
    ParametricEnsemble,
    extrapolation_quality,
    lcbench_curve_model,
    lcbench_curves,
)
from archsearch.evaluation._yahpo import LCBENCH, lcbench_benchmark
from archsearch.experiment import compare
from archsearch.spaces import lcbench_space
from archsearch.spaces._configspace import load_json, yahpo_dir

# successive halving (Hyperband's widest bracket alone) shows what Hyperband's hedging
# brackets cost where 3 epochs already rank the configs well
STRATEGIES = ("random", "hyperband", "successive_halving", "asha", "bohb")
#: column -> (strategy, options); each gets the leave-one-task-out learned curve model
CURVE_STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    "curve_stop": ("curve_stop", {}),
    "freeze_thaw": ("freeze_thaw", {}),
    "ft_final": ("freeze_thaw", {"horizon": "final", "per_step": True}),
    "ft_model": (
        "freeze_thaw",
        {"horizon": "final", "per_second": True, "new_configs": "density"},
    ),
    # transfer: new configs chosen by a prior learned on the other 33 tasks
    "ft_prior": (
        "freeze_thaw",
        {
            "horizon": "final",
            "per_second": True,
            "new_configs": "prior",
            "random_fraction": 0.1,
            "prior": "lcbench",
        },
    ),
    # the prior alone: its configs trained for the full 52 epochs, one after another
    "prior_full": (
        "freeze_thaw",
        {"min_fidelity": 52, "new_configs": "prior", "random_fraction": 0.1, "prior": "lcbench"},
    ),
}
BUDGET_FULL_TRAININGS = 50
EPOCHS = 52
SEEN = {"10%": 5, "25%": 13}  # epochs observed: 10 % and 25 % of 52
MODELS = ("ensemble", "learned", "last")


def tasks() -> list[str]:
    """The 34 OpenML task ids of the surrogate's config space (its encoding lists 35)."""
    space = load_json(yahpo_dir(LCBENCH.name) / "config_space.json")
    for hp in space["hyperparameters"]:
        if hp["name"] == "OpenML_task_id":
            return [str(t) for t in hp["choices"]]
    raise SystemExit("lcbench: no OpenML_task_id in the config space")


def budget_for(task: str, trainings: float = BUDGET_FULL_TRAININGS) -> float:
    bench = lcbench_benchmark(task=task, with_curve=False)
    space = lcbench_space()
    full = [bench.evaluate(space.sample(seed=i), 52).cost_s for i in range(20)]
    return trainings * statistics.median(full)


def time_to_reach(curve: list[float | None], target: float) -> float:
    """First fraction of the budget at which ``curve`` reaches ``target`` (inf: never)."""
    grid = np.linspace(0.0, 1.0, len(curve))
    for x, value in zip(grid, curve, strict=True):
        if value is not None and value >= target - 1e-9:
            return float(x)
    return float("inf")


def _prior(options: dict[str, Any], task: str) -> dict[str, Any]:
    """The prior of a column, learned on every task but ``task``."""
    if "prior" not in options:
        return {}
    return {"prior": {"name": options["prior"], "exclude": [task]}}


def _cell(value: float, width: int) -> str:
    return f"{value:>{width}.2f}" if value != float("inf") else f"{'>1':>{width}}"


def search_table(chosen: Sequence[str], runs: int, trainings: float) -> dict[str, Any]:
    """The time-to-random's-final table; prints it as it goes."""
    columns = [*STRATEGIES[1:], *CURVE_STRATEGIES]
    width = {name: max(10, len(name)) for name in columns}
    fractions: dict[str, list[float]] = {s: [] for s in columns}
    rows: list[dict[str, Any]] = []
    print(
        f"LCBench, {runs} runs per strategy and task, budget = "
        f"{trainings:g} median 52-epoch trainings"
    )
    print(
        f"{'task':>7} {'budget s':>10} {'random final':>13} "
        + " ".join(f"{s:>{width[s]}}" for s in columns)
    )
    for task in chosen:
        budget = budget_for(task, trainings)
        result = compare(
            benchmark="lcbench",
            dataset=task,
            strategies=list(STRATEGIES),
            runs=runs,
            budget_s=budget,
            benchmark_options={"with_curve": False},
        )
        curves = {name: result["results"][name]["anytime_mean"] for name in STRATEGIES}
        model = {"name": "lcbench", "exclude": [task]}  # never trained on this task
        for column, (name, options) in CURVE_STRATEGIES.items():
            # the same seeds and budget; the curve strategies read every epoch's accuracy
            run = compare(
                benchmark="lcbench",
                dataset=task,
                strategies=[name],
                runs=runs,
                budget_s=budget,
                options={name: {**options, "model": model, **_prior(options, task)}},
                benchmark_options={"with_curve": True},
            )
            curves[column] = run["results"][name]["anytime_mean"]
        target = curves["random"][-1]
        row: dict[str, Any] = {"task": task, "budget_s": budget, "random_final": target}
        for name in columns:
            row[name] = time_to_reach(curves[name], target)
            fractions[name].append(row[name])
        rows.append(row)
        cells = " ".join(_cell(row[s], width[s]) for s in columns)
        print(f"{task:>7} {budget:>10.0f} {target:>12.2f}% {cells}", flush=True)
    medians = {s: statistics.median(v) for s, v in fractions.items()}
    print(
        f"{'median':>7} {'':>10} {'':>13} "
        + " ".join(_cell(medians[s], width[s]) for s in columns)
    )
    print(
        "(fraction of the budget needed to reach random search's final accuracy; "
        "target: at most 0.33; freeze-thaw's goal: at most 0.15)"
    )
    return {"tasks": rows, "median": medians, "fractions": fractions}


def extrapolation_table(chosen: Sequence[str], n_configs: int) -> dict[str, Any]:
    """Spearman and MAE of predicted final accuracy from 10 % and 25 % of each curve."""
    ensemble, last = ParametricEnsemble(upper=100.0), LastValue()
    rows: list[dict[str, Any]] = []
    print(
        f"\nExtrapolation: {n_configs} random configs per task, final (52-epoch) "
        "accuracy predicted from the first 10 % (5) / 25 % (13) epochs"
    )
    print("Spearman rank correlation (higher is better), MAE in points (lower is better)")
    head = "  ".join(
        f"{'rho ' + part:>{7 * len(MODELS)}}  {'MAE ' + part:>{7 * len(MODELS)}}" for part in SEEN
    )
    names = " ".join(f"{m[:6]:>6}" for m in MODELS)
    print(f"{'':>7}  {head}")
    print(f"{'task':>7}  " + "  ".join(f"{names}  {names}" for _ in SEEN))
    for task in chosen:
        curves = lcbench_curves(task, n_configs=n_configs, seed=1)  # unlike the training seeds
        models = {"ensemble": ensemble, "learned": lcbench_curve_model(exclude=task), "last": last}
        row: dict[str, Any] = {"task": task}
        for part, seen in SEEN.items():
            for name, model in models.items():
                quality = extrapolation_quality(model, curves, seen)
                row[f"rho {part} {name}"] = quality["spearman"]
                row[f"mae {part} {name}"] = quality["mae"]
                row[f"cov {part} {name}"] = quality["coverage"]
        rows.append(row)
        print(f"{task:>7}  {_quality_cells(row)}", flush=True)
    summary = {}
    for label, reduce in (("median", statistics.median), ("mean", statistics.fmean)):
        summary[label] = {k: reduce([r[k] for r in rows]) for k in rows[0] if k != "task"}
        print(f"{label:>7}  {_quality_cells(summary[label])}")
    cover = ", ".join(
        f"{name} {summary['mean'][f'cov {part} {name}']:.2f} ({part})"
        for part in SEEN
        for name in ("ensemble", "learned")
    )
    print(f"(share of true finals within the 95 % interval, mean over tasks: {cover})")
    return {"tasks": rows, **summary}


def _quality_cells(row: dict[str, Any]) -> str:
    parts = []
    for part in SEEN:
        rho = " ".join(f"{row[f'rho {part} {m}']:>6.3f}" for m in MODELS)
        mae = " ".join(f"{row[f'mae {part} {m}']:>6.2f}" for m in MODELS)
        parts.append(f"{rho}  {mae}")
    return "  ".join(parts)


def cost_table(chosen: Sequence[str]) -> dict[str, Any]:
    """Each task's median time of 1 and 3 epochs as a share of 52 (30 random configs)."""
    space = lcbench_space()
    configs = [space.sample(seed=i) for i in range(30)]
    rows: list[dict[str, Any]] = []
    print("\nCost of a short training as a share of 52 epochs (median over 30 configs)")
    print(f"{'task':>7} {'1 epoch':>8} {'3 epochs':>9}")
    for task in chosen:
        bench = lcbench_benchmark(task=task, with_curve=False)
        full = [bench.evaluate(c, EPOCHS).cost_s for c in configs]
        row: dict[str, Any] = {"task": task}
        for epochs in (1, 3):
            short = [bench.evaluate(c, epochs).cost_s for c in configs]
            row[f"{epochs}"] = statistics.median(a / b for a, b in zip(short, full, strict=True))
        rows.append(row)
        print(f"{task:>7} {row['1']:>8.3f} {row['3']:>9.3f}")
    median = {k: statistics.median(r[k] for r in rows) for k in ("1", "3")}
    print(f"{'median':>7} {median['1']:>8.3f} {median['3']:>9.3f}  (linear: 0.019, 0.058)")
    return {"tasks": rows, "median": median}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tasks", default="all", help="comma-separated task ids, or all")
    parser.add_argument(
        "--trainings",
        type=float,
        default=BUDGET_FULL_TRAININGS,
        help="budget in median 52-epoch trainings",
    )
    parser.add_argument(
        "--parts",
        default="search,extrapolation",
        help="search, extrapolation, costs (comma-separated)",
    )
    parser.add_argument("--curve-configs", type=int, default=200, help="curves per task")
    parser.add_argument("--quick", action="store_true", help="4 tasks, 4 runs, 60 curves")
    parser.add_argument("--plot", default="lcbench-multifidelity.png")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"search", "extrapolation", "costs"}:
        parser.error(f"--parts: search, extrapolation and/or costs, got {args.parts!r}")
    chosen = tasks() if args.tasks == "all" else args.tasks.split(",")
    if args.quick:
        chosen, args.runs, args.curve_configs = chosen[:4], 4, 60
    # one thread per process: compare runs a process per core, and the curve models'
    # small tensors only wait on other threads
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if "search" in parts:
        out["search"] = search_table(chosen, args.runs, args.trainings)
    if "extrapolation" in parts:
        out["extrapolation"] = extrapolation_table(chosen, args.curve_configs)
    if "costs" in parts:
        out["costs"] = cost_table(chosen)
    print(f"wall time {time.perf_counter() - t0:.1f} s")
    if "search" in parts:
        _plot(out["search"]["fractions"], args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


def _plot(fractions: dict[str, list[float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, values in fractions.items():
        share = [np.mean([v <= x for v in values]) for x in grid]
        ax.plot(grid, share, label=f"{name} (median {statistics.median(values):.2f})")
    ax.axvline(1 / 3, color="grey", linestyle="--", linewidth=1, label="a third of the budget")
    ax.set_xlabel("fraction of the budget")
    ax.set_ylabel("share of tasks at random search's final accuracy")
    ax.set_title(f"LCBench, {len(next(iter(fractions.values())))} tasks")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
