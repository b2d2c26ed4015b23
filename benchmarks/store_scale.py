"""Stores at scale: one experiment of 100,000 trials, then how fast its summaries come back.

Usage:
    python benchmarks/store_scale.py [--trials 100000] [--postgres URL]
                                     [--memory-trials 2000,20000]

1. Rows: regularized evolution on NAS-Bench-201 cells with the synthetic evaluator
   (2% of evaluations raise, 1% give NaN: failed trials with their errors), run through
   the real loop with an in-memory store that keeps checkpoints, so the trial rows and
   the checkpoint are exactly those a stored run writes. They are then bulk-inserted
   through the store's tables into SQLite (a fresh file) and, with ``--postgres``, into
   PostgreSQL (a fresh schema, dropped at the end).
2. Reads, each in a fresh process: ``archsearch list`` and ``archsearch show NAME`` (wall
   time of the whole command, Python start-up included; ``archsearch --version`` gives
   the start-up alone), and the store's summary queries (first call after opening).
3. Driver memory: a stored run (SQLite, inline executor, synthetic evaluator, random
   search) of 2,000 and of 20,000 trials, each in a fresh process: the peak RSS over
   the run minus the RSS before it, and tracemalloc's peak, should not grow with trials.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.store import MemoryStore, SqlStore, open_store
from archsearch.store._sql import experiments, trials
from archsearch.trial import TrialStatus

NAME = "scale"
CHUNK = 5000  # rows per bulk insert


class _CheckpointingMemoryStore(MemoryStore):
    """A memory store the loop treats as persistent, so that it writes checkpoints."""

    is_persistent = True


def _spec(n_trials: int) -> dict[str, Any]:
    return normalize_spec(
        {
            "space": "nb201",
            "benchmark": {"name": "synthetic", "error_rate": 0.02, "nan_rate": 0.01},
            "strategy": {"name": "rea", "population_size": 10, "sample_size": 3},
            "budget": {"trials": n_trials},
            "executor": "inline",
            "seed": 0,
        }
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value or abs(value) == float("inf") else value


def trial_row(t: Any) -> dict[str, Any]:
    """A stored trial as a row of the store's trials table (for a bulk insert)."""
    dumps = json.dumps
    return {
        "number": t.number,
        "config": dumps(t.config, separators=(",", ":")),
        "fidelity": t.fidelity,
        "state": str(t.state),
        "metrics": dumps(dict(t.metrics), separators=(",", ":")),
        "score": _finite(t.score),
        "cost_s": _finite(t.cost_s),
        "sim_start": t.sim_start,
        "sim_end": t.sim_end,
        "started_at": t.started_at,
        "ended_at": t.ended_at,
        "error": t.error,
        "failure": t.failure,
    }


def make_rows(n_trials: int) -> tuple[dict[str, Any], list[dict[str, Any]], Any, Any]:
    """The spec, trial rows, last checkpoint and summary of a real run of ``n_trials``."""
    spec = _spec(n_trials)
    memory = _CheckpointingMemoryStore()
    summary = build_experiment(spec, store=memory, name=NAME).run()
    record = memory.find_experiment(NAME)
    assert record is not None
    rows = [trial_row(t) for t in memory.trials(record.id)]
    return spec, rows, memory.load_checkpoint(record.id), summary.to_json()


def fill(
    url: str, spec: dict[str, Any], rows: list[dict[str, Any]], checkpoint: Any, summary: Any
) -> float:
    """Write the experiment through the store's tables; returns the seconds it took."""
    t0 = time.perf_counter()
    store = SqlStore(url)
    exp = store.create_experiment(NAME, spec).id
    with store.engine.begin() as conn:
        for i in range(0, len(rows), CHUNK):
            conn.execute(
                trials.insert(), [{**r, "experiment_id": exp} for r in rows[i : i + CHUNK]]
            )
        conn.execute(
            experiments.update()
            .where(experiments.c.id == exp)
            .values(checkpoint=json.dumps(checkpoint, separators=(",", ":")))
        )
    store.update_experiment(exp, status="complete", summary=summary)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:  # statistics, as autovacuum would gather
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    store.close()
    return time.perf_counter() - t0


def probe_queries(url: str) -> dict[str, float]:
    """In this (fresh) process: seconds of each summary query, first call after opening."""
    times: dict[str, float] = {}

    def timed(label: str, call: Any) -> Any:
        t0 = time.perf_counter()
        value = call()
        times[label] = time.perf_counter() - t0
        return value

    store = timed("open_store(url)", lambda: open_store(url))
    timed("list_experiments()", store.list_experiments)
    record = timed("find_experiment(name)", lambda: store.find_experiment(NAME))
    counts = timed("count_trials(id)", lambda: store.count_trials(record.id))
    assert sum(counts.values()) > 0
    timed("top_trials(id, 5)", lambda: store.top_trials(record.id, 5))
    failed = timed(
        "trials(id, state=FAILED, limit=20)",
        lambda: store.trials(record.id, state=TrialStatus.FAILED, limit=20),
    )
    assert len(failed) == min(20, counts[TrialStatus.FAILED])
    timed("load_checkpoint(id)", lambda: store.load_checkpoint(record.id))
    store.close()
    return times


def _cli_seconds(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "archsearch.cli", *args],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def read_times(url: str) -> list[tuple[str, float]]:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", url], check=True, capture_output=True, text=True
    ).stdout
    return [
        ("archsearch --version (start-up only)", _cli_seconds("--version")),
        ("archsearch list", _cli_seconds("list", "--storage", url)),
        ("archsearch show NAME", _cli_seconds("show", NAME, "--storage", url)),
        *json.loads(out).items(),
    ]


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> int:
    """Reset the peak RSS where Linux allows it; returns the RSS now (KiB)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    now = _status_kib("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss() -> int:
    peak = _status_kib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def probe_memory(n_trials: int) -> dict[str, float]:
    """In this (fresh) process: a stored random search of ``n_trials``, its memory."""
    spec = normalize_spec(
        {
            "benchmark": {"name": "synthetic"},
            "strategy": "random",
            "budget": {"trials": n_trials},
            "executor": "inline",
            "seed": 0,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'memory.db'}")
        finished = [0]
        curve: list[tuple[int, float]] = []  # (finished trials, RSS growth in MiB)

        def sample(*_: Any) -> None:
            finished[0] += 1
            if finished[0] % max(n_trials // 4, 1) == 0:
                curve.append((finished[0], ((_status_kib("VmRSS") or 0) - before_kb) / 1024))

        experiment = build_experiment(spec, store=store, name="memory", on_trial_end=sample)
        before_kb = _reset_peak_rss()
        tracemalloc.start()
        t0 = time.perf_counter()
        summary = experiment.run()
        seconds = time.perf_counter() - t0
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_kb = _peak_rss()
        store.close()
    assert summary.n_trials == n_trials
    return {
        "rss_delta_mib": (peak_kb - before_kb) / 1024,
        "traced_peak_mib": traced_peak / 2**20,
        "seconds": seconds,
        "rss_growth_mib": curve,
    }


def _postgres_schema(url: str) -> tuple[str, str]:
    """A fresh schema in the server at ``url``; returns (its name, a URL that uses it)."""
    schema = f"store_scale_{os.getpid()}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, scoped.render_as_string(hide_password=False)


def _drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms" if seconds < 1 else f"{seconds:8.2f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL", help="also a PostgreSQL server")
    parser.add_argument("--memory-trials", default="2000,20000", help="'' to skip")
    parser.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--probe-memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_queries(args.probe)))
        return
    if args.probe_memory:
        print(json.dumps(probe_memory(args.probe_memory)))
        return

    t0 = time.perf_counter()
    spec, rows, checkpoint, summary = make_rows(args.trials)
    n_failed = sum(r["state"] == "failed" for r in rows)
    print(
        f"{len(rows):,} trials ({n_failed:,} failed), REA on nb201 cells, synthetic scores; "
        f"rows made by the loop in {time.perf_counter() - t0:.1f} s; "
        f"checkpoint {len(json.dumps(checkpoint)):,} bytes\n"
    )
    table: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{Path(tmp) / 'scale.db'}", None)]
        if args.postgres:
            schema, scoped = _postgres_schema(args.postgres)
            targets.append(("postgresql", scoped, schema))
        try:
            for label, url, _ in targets:
                table.append(
                    (
                        label,
                        f"write {len(rows):,} trials (bulk)",
                        fill(url, spec, rows, checkpoint, summary),
                    )
                )
                table += [(label, op, s) for op, s in read_times(url)]
        finally:
            for _, _, schema_name in targets:
                if schema_name is not None and args.postgres:
                    _drop_schema(args.postgres, schema_name)
    width = max(len(op) for _, op, _ in table)
    print(f"{'store':<11} {'operation':<{width}}  time (fresh process)")
    for label, op, seconds in table:
        print(f"{label:<11} {op:<{width}}  {_fmt(seconds)}")

    sizes = [int(n) for n in args.memory_trials.split(",") if n.strip()]
    if sizes:
        print(
            "\ndriver memory, stored random search (SQLite, inline, synthetic), fresh process each"
        )
        print(
            f"{'trials':>8}  {'peak RSS delta':>14}  {'tracemalloc peak':>16}  {'run':>8}"
            "  RSS growth after 1/4, 2/4, 3/4, 4/4 of the trials"
        )
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--probe-memory", str(n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            m = json.loads(out)
            print(
                f"{n:>8,}  {m['rss_delta_mib']:>10.1f} MiB  {m['traced_peak_mib']:>12.2f} MiB"
                f"  {m['seconds']:>6.1f} s  "
                + ", ".join(f"{mib:.1f}" for _, mib in m["rss_growth_mib"])
                + " MiB"
            )
        print("(SQLite's page cache takes up to 2 MiB per connection as the file grows)")


if __name__ == "__main__":
    main()
