"""Kill workers and the driver of a running search; check that nothing is lost.

Usage:
    python benchmarks/chaos.py [--storage URL] [--json PATH] [--trials 120] [--seed 0]

Runs one search (regularized evolution, 4 local process workers, a deterministic
synthetic evaluator that sleeps a little per trial, worker deaths retried) three
ways: uninterrupted as the reference; then as ``archsearch run`` in a child process
that this script attacks, SIGKILLing random worker processes and, several times,
the driver itself, continuing each time with ``archsearch resume``. At the end it
prints and checks: trials expected, stored, lost, duplicated, and whether the
attacked run ended with exactly the reference's trials and result.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from archsearch.store import SqlStore

CONFIG = """\
space: nb201
benchmark: {{name: synthetic, sleep_s: {sleep}}}
strategy: {{name: rea, population_size: 10, sample_size: 3}}
budget: {{trials: {trials}}}
executor: {{name: processes, workers: 4, start_method: fork}}
retries: {{count: 20, failures: [worker_died]}}
seed: 3
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "archsearch.cli", *args, "--quiet"]


def _children(pid: int) -> list[int]:
    """Worker processes of the driver (its children, less multiprocessing's helpers)."""
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            out += [int(c) for c in text.split()]
    except (FileNotFoundError, ProcessLookupError):
        return []
    workers = []
    for child in out:
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
        if "resource_tracker" not in cmd and "forkserver" not in cmd:
            workers.append(child)
    return workers


def _rows(url: str, name: str) -> list[tuple[Any, ...]]:
    store = SqlStore(url)
    record = store.find_experiment(name)
    rows = (
        []
        if record is None
        else [
            (t.number, json.dumps(t.config, sort_keys=True), str(t.state), t.score)
            for t in store.trials(record.id)
        ]
    )
    store.close()
    return rows


def _duplicates(url: str, name: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        query = sa.text(
            "SELECT COUNT(*) - COUNT(DISTINCT t.number) FROM trials t "
            "JOIN experiments e ON e.id = t.experiment_id WHERE e.name = :name"
        )
        n = conn.execute(query, {"name": name}).scalar() or 0
    engine.dispose()
    return int(n)


def attack(
    url: str,
    config: Path,
    name: str,
    rng: random.Random,
    driver_kills: int,
    worker_kills: int,
    log: list[str],
) -> int:
    """Run the search under attack; returns the number of sessions it took."""
    sessions = 0
    kills_left = driver_kills
    while True:
        args = (
            _cli("run", str(config), "--name", name, "--storage", url)
            if sessions == 0
            else _cli("resume", name, "--storage", url)
        )
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sessions += 1
        driver_deadline = time.time() + rng.uniform(1.5, 3.0) if kills_left else float("inf")
        for _ in range(worker_kills):  # a few worker kills in every session
            time.sleep(rng.uniform(0.2, 0.5))
            workers = _children(proc.pid)
            while not workers and proc.poll() is None:  # the driver is still starting
                time.sleep(0.05)
                workers = _children(proc.pid)
            if proc.poll() is not None:
                break
            victim = rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            log.append(f"session {sessions}: killed worker {victim}")
        while proc.poll() is None and time.time() < driver_deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            kills_left -= 1
            log.append(f"session {sessions}: killed the driver")
            continue
        if proc.returncode != 0:
            raise SystemExit(f"chaos: the driver failed: {proc.stderr.read().decode()[-2000:]}")
        return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", metavar="URL", help="default: a fresh SQLite file")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--trials", type=int, default=240)
    parser.add_argument("--sleep", type=float, default=0.1, help="seconds per trial")
    parser.add_argument("--driver-kills", type=int, default=3)
    parser.add_argument("--worker-kills", type=int, default=3, help="per driver session")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.storage or f"sqlite:///{Path(tmp) / 'chaos.db'}"
        config = Path(tmp) / "chaos.yaml"
        config.write_text(CONFIG.format(sleep=args.sleep, trials=args.trials))
        stamp = f"{os.getpid()}-{int(time.time())}"
        reference, attacked = f"chaos-ref-{stamp}", f"chaos-{stamp}"
        t0 = time.time()
        done = subprocess.run(
            _cli("run", str(config), "--name", reference, "--storage", url),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"chaos: the reference run failed: {done.stderr}")
        log: list[str] = []
        sessions = attack(url, config, attacked, rng, args.driver_kills, args.worker_kills, log)
        ref_rows, rows = _rows(url, reference), _rows(url, attacked)
        numbers = {r[0] for r in rows}
        complete = {r[0] for r in rows if r[2] != "running"}
        report = {
            "expected": args.trials,
            "stored": len(rows),
            "lost": len(set(range(args.trials)) - complete),
            "duplicated": _duplicates(url, attacked) + len(numbers - set(range(args.trials))),
            "identical": rows == ref_rows,
            "driver_sessions": sessions,
            "worker_kills": sum("worker" in line for line in log),
            "driver_kills": sum("driver" in line for line in log),
            "storage": url.split("://")[0],
            "wall_seconds": round(time.time() - t0, 1),
        }
    for line in log:
        print(line)
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    ok = report["lost"] == 0 and report["duplicated"] == 0 and report["identical"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
