"""The ``archsearch`` command.

Every user error (unknown name, bad value, missing file) is one line on stderr and
exit status 2; an interrupted run says how to continue it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from archsearch import __version__
from archsearch.errors import ArchsearchError, ConfigError, StoreError
from archsearch.experiment import (
    Progress,
    Summary,
    build_experiment,
    load_spec,
    normalize_spec,
)
from archsearch.store import DEFAULT_STORAGE, Store, open_store
from archsearch.trial import TrialStatus

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line and exit 2, like every user error
        self.exit(2, f"archsearch: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="archsearch", description="Neural architecture search and HPO.")
    parser.add_argument("--version", action="version", version=f"archsearch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    storage = _Parser(add_help=False)
    storage.add_argument(
        "--storage",
        metavar="URL",
        help="sqlite:///FILE (default sqlite:///archsearch.db) or postgresql://...",
    )

    run = sub.add_parser("run", parents=[storage], help="run a search (default: REA on NB201)")
    run.add_argument("config", nargs="?", help="YAML config; none runs the embedded default")
    run.add_argument("--name", help="experiment name (default: generated)")
    run.add_argument("--seed", type=int, help="seed (overrides the config)")
    run.add_argument("--json", metavar="PATH", help="also write the summary as JSON")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    resume = sub.add_parser("resume", parents=[storage], help="continue a stopped experiment")
    resume.add_argument("name")
    resume.add_argument("--json", metavar="PATH", help="also write the summary as JSON")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("list", parents=[storage], help="list stored experiments")

    show = sub.add_parser("show", parents=[storage], help="show one stored experiment")
    show.add_argument("name")
    show.add_argument("--top", type=int, default=5, help="best trials to list (default 5)")

    rules = sub.add_parser(
        "rules",
        parents=[storage],
        help="decision values that characterise the best or Pareto trials",
    )
    rules.add_argument("name")
    rules.add_argument(
        "--top-percent",
        type=float,
        default=5.0,
        help="single objective: the best this share of trials (default 5)",
    )

    cmp = sub.add_parser("compare", help="compare strategies on a benchmark (many seeds)")
    cmp.add_argument("--benchmark", default="nb201")
    cmp.add_argument(
        "--table", metavar="PATH", help="replay a table from `archsearch bench build` instead"
    )
    cmp.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10, cifar100, imagenet16-120, or several joined by commas",
    )
    cmp.add_argument(
        "--strategies", default="rea,reinforce,random,bohb", help="comma-separated strategy names"
    )
    cmp.add_argument("--runs", type=int, default=500, help="seeds per strategy (default 500)")
    cmp.add_argument("--budget", type=float, help="simulated seconds (default: the protocol's)")
    cmp.add_argument("--workers", type=int, default=1, help="simulated workers per run")
    cmp.add_argument("--jobs", type=int, help="processes (default: all cores)")
    cmp.add_argument("--seed", type=int, default=0, help="first seed")
    cmp.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    cmp.add_argument("--plot", metavar="PNG", help="anytime plot (default compare-BENCH-DATA.png)")

    from archsearch.cli_latency import add_latency_parser

    add_latency_parser(sub)

    from archsearch.cli_oneshot import add_oneshot_parser

    add_oneshot_parser(sub)

    from archsearch.cli_dashboard import add_dashboard_parser

    add_dashboard_parser(sub, [storage])

    from archsearch.cli_diagnose import add_diagnose_parser

    add_diagnose_parser(sub)

    from archsearch.cli_bench import add_bench_parser

    add_bench_parser(sub)

    from archsearch import cli_export

    cli_export.add_parser(sub, [storage])

    query = sub.add_parser("query", help="look up an NB201 cell in the benchmark")
    query.add_argument("arch", help="NB201 string, e.g. '|nor_conv_3x3~0|+|...|'")
    query.add_argument("--dataset", default="cifar10")
    return parser


# -- commands -----------------------------------------------------------------------
def _default_name(spec: dict[str, Any]) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    bench = spec["benchmark"]
    dataset = bench.get("dataset")
    parts = [spec["strategy"]["name"], bench["name"], *([dataset] if dataset else [])]
    return "-".join([*parts, stamp, secrets.token_hex(2)])


def _reward_label(objective: Any) -> str:
    from archsearch.objectives import MnasNetReward, MultiObjective

    if isinstance(objective, MnasNetReward):
        return f"MnasNet reward of {objective.metric} and {objective.latency}"
    if isinstance(objective, MultiObjective):
        return f"{objective.metric}, first of {len(objective.objectives)} objectives"
    return str(objective.metric)


def _print_summary(summary: Summary, storage: str, metric: str, evaluator: Any = None) -> None:
    best = summary.to_json()["best"]
    lines = [("experiment", summary.name), ("status", summary.status)]
    if summary.best_number is None:
        lines.append(("best", "no trial completed"))
    else:
        lines.append(
            (
                "best cell" if summary.best_arch else "best config",
                summary.best_arch or json.dumps(summary.best_config),
            )
        )
        lines.append(
            ("reward", f"{summary.best_score:.4g} ({metric}, trial {summary.best_number})")
        )
        if "final_accuracy" in best:
            rank = best.get("rank")
            label = getattr(evaluator, "truth_label", "200 epochs")
            n_archs = getattr(evaluator, "n_archs", 15_625)
            rank_text = f", rank {int(rank):,} of {n_archs:,}" if rank is not None else ""
            lines.append(
                ("final accuracy", f"{best['final_accuracy']:.2f} % ({label}){rank_text}")
            )
    lines.append(("trials", f"{summary.n_trials} ({summary.n_failed} failed)"))
    sim = f"{summary.simulated_s:,.0f} simulated s, " if summary.simulated_s is not None else ""
    lines.append(("time", f"{sim}{summary.wall_s:.2f} s wall"))
    lines.append(("stored in", storage))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")


def _write_json(path: str | None, summary: Summary, storage: str) -> None:
    if not path:
        return
    try:
        Path(path).write_text(
            json.dumps({**summary.to_json(), "storage": storage}, indent=2) + "\n"
        )
    except OSError as exc:
        raise ConfigError(f"--json: cannot write {path}: {exc.strerror}") from None


def _execute(spec: dict[str, Any], store: Store, name: str, storage: str, args: Any) -> int:
    experiment = build_experiment(spec, store=store, name=name)
    progress = Progress(
        experiment.budget,
        simulated=experiment.executor.is_simulated,
        report=experiment.objective.report,
        enabled=False if args.quiet else None,
    )
    experiment.on_trial_end = progress
    try:
        summary = experiment.run()
    except KeyboardInterrupt:
        progress.close()
        print(
            f"archsearch: interrupted; continue with: archsearch resume {name}"
            f"{' --storage ' + storage if args.storage else ''}",
            file=sys.stderr,
        )
        return 130
    progress.close()
    _print_summary(summary, storage, _reward_label(experiment.objective), experiment.evaluator)
    _write_json(args.json, summary, storage)
    return 0


def _storage_url(args: Any, spec: dict[str, Any] | None = None) -> str:
    return (
        args.storage
        or (spec or {}).get("storage")
        or os.environ.get("ARCHSEARCH_STORAGE")
        or DEFAULT_STORAGE
    )


def _cmd_run(args: Any) -> int:
    user = load_spec(args.config) if args.config else {}
    if args.seed is not None:
        user["seed"] = args.seed
    spec = normalize_spec(user)
    name = args.name or spec.get("name") or _default_name(spec)
    storage = _storage_url(args, spec)
    store = open_store(storage)
    if store.find_experiment(name) is not None:
        raise StoreError(
            f"experiment {name!r} already exists; continue it with "
            f"`archsearch resume {name}` or choose another --name"
        )
    return _execute(spec, store, name, storage, args)


def _cmd_resume(args: Any) -> int:
    storage = _storage_url(args)
    store = open_store(storage)
    record = store.find_experiment(args.name)
    if record is None:
        raise StoreError(f"no experiment {args.name!r} in {storage}; `archsearch list` shows them")
    spec = normalize_spec(dict(record.spec))
    if spec["benchmark"]["name"] == "objective":  # a user's objective: import it now
        from archsearch.api._evaluator import resolve

        path = spec["benchmark"].get("objective")
        if not path:
            raise ConfigError(
                f"experiment {args.name!r}: its objective was a lambda or a local function; "
                "continue it from Python with archsearch.search(..., name=...)"
            )
        resolve(path, "benchmark.objective")
    return _execute(spec, store, args.name, storage, args)


def _cmd_list(args: Any) -> int:
    storage = _storage_url(args)
    store = open_store(storage)
    records = store.list_experiments()
    if not records:
        print(f"no experiments in {storage}")
        return 0
    rows = [("name", "status", "strategy", "benchmark", "trials", "best", "created")]
    for r in records:
        summary = r.summary or {}
        best = (summary.get("best") or {}).get("reward")
        bench = r.spec.get("benchmark", {})
        rows.append(
            (
                r.name,
                r.status,
                str(r.spec.get("strategy", {}).get("name", "?")),
                "/".join(str(bench.get(k)) for k in ("name", "dataset") if bench.get(k)),
                str(summary.get("trials", "?")),
                "-" if best is None else f"{best:.4g}",
                dt.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M"),
            )
        )
    _print_table(rows)
    return 0


def _cmd_show(args: Any) -> int:
    storage = _storage_url(args)
    store = open_store(storage)
    record = store.find_experiment(args.name)
    if record is None:
        raise StoreError(f"no experiment {args.name!r} in {storage}; `archsearch list` shows them")
    spec = normalize_spec(dict(record.spec))
    experiment = build_experiment(spec, store=store, name=record.name)
    experiment.restore()
    summary = experiment.summary(
        wall_s=float(record.summary.get("wall_seconds", 0.0)), status=record.status
    )
    bench = spec["benchmark"]
    print(
        f"space {spec['space']['name']} · strategy {spec['strategy']['name']} · benchmark "
        f"{bench['name']} {bench.get('dataset', '')} · seed {spec.get('seed')}"
    )
    counts = store.count_trials(record.id)
    print("trials: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n))
    _print_summary(summary, storage, _reward_label(experiment.objective), experiment.evaluator)
    top = store.top_trials(record.id, max(args.top, 0))
    if top:
        print(f"\nbest {len(top)} trials")
        describe = experiment.describe or (lambda c: json.dumps(c))
        rows = [("trial", "reward", "config")]
        rows += [(str(t.number), f"{t.score:.4g}", describe(t.config)) for t in top]
        _print_table(rows)
    _show_rules(experiment, store, record.id, counts[TrialStatus.COMPLETE])
    failed = store.trials(record.id, state=TrialStatus.FAILED, limit=20)
    if failed:
        print(f"\nfailed trials ({counts[TrialStatus.FAILED]})")
        _print_table(
            [("trial", "kind", "error")]
            + [(str(t.number), t.failure or "?", (t.error or "?").splitlines()[0]) for t in failed]
        )
    return 0


def _cmd_compare(args: Any) -> int:
    from archsearch.experiment import compare

    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    datasets = [d.strip() for d in (args.dataset or "").split(",") if d.strip()] or [None]
    bench_options = None
    if args.table:  # a built table: its own data, no dataset to choose
        args.benchmark, datasets, bench_options = "table", [None], {"path": args.table}
    results = {}
    for dataset in datasets:
        result = compare(
            benchmark=args.benchmark,
            dataset=dataset,
            strategies=names,
            runs=args.runs,
            budget_s=args.budget,
            workers=args.workers,
            jobs=args.jobs,
            seed=args.seed,
            benchmark_options=bench_options,
        )
        results[dataset] = result
        _print_comparison(args, dataset, result, several=len(datasets) > 1)
    total = sum(r["wall_seconds"] for r in results.values())
    if len(datasets) > 1:
        print(f"total wall time {total:.2f} s")
    if args.json:
        data: Any = results[datasets[0]]
        if len(datasets) > 1:
            data = {"datasets": results, "wall_seconds": total}
        try:
            Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
        except OSError as exc:
            raise ConfigError(f"--json: cannot write {args.json}: {exc.strerror}") from None
    return 0


def _print_comparison(args: Any, dataset: str | None, result: Any, *, several: bool) -> None:
    from archsearch.analysis import plot_anytime
    from archsearch.experiment import published

    label = f"{args.benchmark}{'/' + dataset if dataset else ''}"
    print(
        f"{label}, {result['budget_seconds']:,.0f} simulated s, {args.workers} worker(s), "
        f"{args.runs} runs each"
    )
    rows = [("strategy", "final accuracy", "reward", "queries", "published", "within 1 sd")]
    for name, stats in result["results"].items():
        ref = published(args.benchmark, dataset, name)
        within = "-" if ref is None else ("yes" if abs(stats["mean"] - ref[0]) <= ref[1] else "no")
        rows.append(
            (
                name,
                f"{stats['mean']:.2f} ± {stats['std']:.2f}",
                f"{stats['mean_reward']:.2f}",
                f"{stats['mean_queries']:.1f}",
                "-" if ref is None else f"{ref[0]:.2f} ± {ref[1]:.2f}",
                within,
            )
        )
    _print_table(rows)
    print(f"wall time {result['wall_seconds']:.2f} s")
    plot = args.plot or f"compare-{args.benchmark}-{dataset or 'all'}.png"
    if several and args.plot:
        stem = Path(args.plot)
        plot = str(stem.with_name(f"{stem.stem}-{dataset}{stem.suffix or '.png'}"))
    try:
        plot_anytime(result, plot)
    except OSError as exc:
        raise ConfigError(f"--plot: cannot write {plot}: {exc.strerror}") from None
    print(f"anytime plot: {plot}\n")


def _chosen_trials(
    experiment: Any, trials: list[Any], top_percent: float
) -> tuple[str, list[Any]]:
    """The Pareto-optimal trials (several objectives) or the top ``top_percent`` %."""
    from archsearch.analysis import pareto_front
    from archsearch.objectives import MultiObjective

    objective = experiment.objective
    if isinstance(objective, MultiObjective):
        import numpy as np

        rows = [t for t in trials if all(m in t.metrics for m in objective.metrics)]
        points = [
            [
                t.metrics[m] if mode == "max" else -t.metrics[m]
                for m, mode in zip(objective.metrics, objective.modes, strict=True)
            ]
            for t in rows
        ]
        return "Pareto front", [rows[i] for i in pareto_front(np.asarray(points))] if rows else []
    ranked = sorted((t for t in trials if t.score is not None), key=lambda t: -t.score)
    k = max(1, round(len(ranked) * top_percent / 100)) if ranked else 0
    return f"top {top_percent:g}%", ranked[:k]


def _show_rules(experiment: Any, store: Store, experiment_id: int, n_complete: int) -> None:
    """The Pareto front / top trials and their choice rules, for ``show``."""
    from archsearch.analysis import choice_rules

    if not 0 < n_complete <= 20000:  # large stores: `archsearch rules NAME` on demand
        return
    trials = store.trials(experiment_id, state=TrialStatus.COMPLETE)
    label, chosen = _chosen_trials(experiment, trials, 5.0)
    print(f"\nchoice rules ({label}: {len(chosen)} trials, against the whole space)")
    for rule in choice_rules([t.config for t in chosen], experiment.space, top=5):
        print(f"  {rule}")


def _cmd_rules(args: Any) -> int:
    from archsearch.analysis import choice_rules

    storage = _storage_url(args)
    store = open_store(storage)
    record = store.find_experiment(args.name)
    if record is None:
        raise StoreError(f"no experiment {args.name!r} in {storage}; `archsearch list` shows them")
    experiment = build_experiment(normalize_spec(dict(record.spec)), store=store, name=record.name)
    trials = store.trials(record.id, state=TrialStatus.COMPLETE)
    label, chosen = _chosen_trials(experiment, trials, args.top_percent)
    if not chosen:
        print("no complete trials yet")
        return 0
    print(f"{label}: {len(chosen)} of {len(trials)} complete trials, against the whole space")
    for rule in choice_rules([t.config for t in chosen], experiment.space):
        print(f"  {rule}")
    return 0


def _cmd_bench(args: Any) -> int:
    from archsearch.cli_bench import cmd_bench

    return cmd_bench(args)


def _cmd_latency(args: Any) -> int:
    from archsearch.cli_latency import cmd_latency

    return cmd_latency(args)


def _cmd_diagnose(args: Any) -> int:
    from archsearch.cli_diagnose import cmd_diagnose

    return cmd_diagnose(args)


def _cmd_dashboard(args: Any) -> int:
    from archsearch.cli_dashboard import cmd_dashboard

    return cmd_dashboard(args)


def _cmd_report(args: Any) -> int:
    from archsearch.cli_dashboard import cmd_report

    return cmd_report(args)


def _cmd_oneshot(args: Any) -> int:
    from archsearch.cli_oneshot import cmd_oneshot

    return cmd_oneshot(args)


def _cmd_query(args: Any) -> int:
    from archsearch.evaluation import NB201Benchmark
    from archsearch.spaces.nb201 import from_arch_str, functional_key

    config = from_arch_str(args.arch)
    bench = NB201Benchmark(dataset=args.dataset)
    r12, truth = bench.evaluate(config, 12), bench.truth(config)
    rows = [
        ("nb201 index", str(bench.official_index(config))),
        (
            "12-epoch valid / test",
            f"{r12.metrics['valid_accuracy']:.2f} / {r12.metrics['test_accuracy']:.2f}",
        ),
        ("200-epoch accuracy", f"{truth['final_accuracy']:.2f} (rank {int(truth['rank']):,})"),
        ("simulated 12-epoch time", f"{r12.cost_s:.1f} s"),
        ("functional hash", functional_key(config)),
    ]
    _print_table([("dataset", args.dataset), *rows])
    return 0


def _cmd_export(args: Any) -> int:
    from archsearch.cli_export import export

    storage = _storage_url(args)
    written = export(open_store(storage), args.name, Path(args.out), args.builder)
    for path in written:
        print(f"wrote {path}")
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


COMMANDS = {
    "run": _cmd_run,
    "resume": _cmd_resume,
    "list": _cmd_list,
    "show": _cmd_show,
    "query": _cmd_query,
    "compare": _cmd_compare,
    "rules": _cmd_rules,
    "latency": _cmd_latency,
    "oneshot": _cmd_oneshot,
    "diagnose": _cmd_diagnose,
    "bench": _cmd_bench,
    "dashboard": _cmd_dashboard,
    "report": _cmd_report,
    "export": _cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archsearch`` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    if hasattr(signal, "SIGPIPE") and args.command in ("list", "show", "rules", "query"):
        # `archsearch list | head` ends quietly; never for `run`/`resume`, whose driver
        # writes to worker pipes: a worker killed under it would take the driver along
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return COMMANDS[args.command](args)
    except ArchsearchError as exc:
        print(f"archsearch: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
