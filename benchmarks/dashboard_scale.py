"""The dashboard at scale: time to first data of each endpoint over 100,000 trials.

Usage:
    python benchmarks/dashboard_scale.py [--trials 100000] [--repeats 5] [--keep FILE]

1. Rows: regularized evolution on NAS-Bench-201 (the CIFAR-10 table, simulated clock,
   4 workers) with 3% of evaluations failing (an exception or a NaN), run for real
   through the loop into a memory store, then bulk-inserted through the store's tables
   into a fresh SQLite file (as ``benchmarks/store_scale.py`` does).
2. ``archsearch dashboard`` serves the file from a process of its own, and each endpoint
   the experiment page calls is fetched over HTTP: the first call after the server
   started (cold: the benchmark table and the space are loaded once; aggregates are
   computed in the database) and the median of ``--repeats`` later calls (aggregates
   then come from the server's cache until a trial starts or ends), with the payload
   size. Also the experiments list and a trial page.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from store_scale import NAME, fill, trial_row  # noqa: E402

from archsearch.evaluation import NB201Benchmark  # noqa: E402
from archsearch.experiment import Budget, Experiment, SimulatedExecutor  # noqa: E402
from archsearch.objectives import Objective  # noqa: E402
from archsearch.registry import STRATEGIES  # noqa: E402
from archsearch.spaces.nb201 import nb201_space  # noqa: E402
from archsearch.store import MemoryStore  # noqa: E402
from archsearch.trial import FailureKind, Result, TrialStatus  # noqa: E402


class _FlakyNB201(NB201Benchmark):
    """NB201's table, with 2% of evaluations raising and 1% giving NaN (seeded)."""

    def __init__(self) -> None:
        super().__init__(dataset="cifar10")
        self._rng = random.Random(0)

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        draw = self._rng.random()
        if draw < 0.02:
            error = "RuntimeError: injected fault"
            return Result({}, 1.0, TrialStatus.FAILED, error=error, failure=FailureKind.EXCEPTION)
        result = super().evaluate(config, fidelity)
        if draw < 0.03:
            return Result({**result.metrics, "valid_accuracy": float("nan")}, result.cost_s)
        return result


def make_store(path: Path, n_trials: int) -> tuple[float, float]:
    """Run the search and write it to SQLite; returns (run seconds, insert seconds)."""
    spec: dict[str, Any] = {
        "space": {"name": "nb201"},
        "benchmark": {"name": "nb201", "dataset": "cifar10"},
        "strategy": {"name": "rea", "population_size": 10, "sample_size": 3},
        "objective": {"mode": "max"},
        "budget": {"trials": n_trials},
        "executor": {"name": "simulated", "workers": 4},
        "seed": 0,
    }
    space = nb201_space()
    memory = MemoryStore()  # keeps every trial; no checkpoints, which a reader never loads
    t0 = time.perf_counter()
    summary = Experiment(
        space=space,
        strategy=STRATEGIES.create(
            "rea", {"population_size": 10, "sample_size": 3}, field="strategy", space=space, seed=0
        ),
        evaluator=_FlakyNB201(),
        objective=Objective("valid_accuracy"),
        budget=Budget(n_trials=n_trials),
        executor=SimulatedExecutor(4),
        store=memory,
        name=NAME,
        spec=spec,
    ).run()
    ran = time.perf_counter() - t0
    record = memory.find_experiment(NAME)
    assert record is not None
    rows = [trial_row(t) for t in memory.trials(record.id)]
    inserted = fill(
        f"sqlite:///{path}", spec, rows, memory.load_checkpoint(record.id), summary.to_json()
    )
    return ran, inserted


def serve(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``archsearch dashboard`` over the store in a process of its own; (process, URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "archsearch.cli", "dashboard", "--storage",
               f"sqlite:///{path}", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the dashboard did not start") from None
            time.sleep(0.05)


def fetch(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
        assert response.status == 200
    return time.perf_counter() - t0, len(body)


def endpoints(n_trials: int) -> Mapping[str, str]:
    base = f"/api/experiments/{NAME}"
    return {
        "experiments list": "/api/experiments",
        "experiment header": base,
        "trials page (by number)": f"{base}/trials?sort=number&limit=25",
        "trials page (by score)": f"{base}/trials?sort=score&order=desc&limit=25",
        "trials page (by metric)": f"{base}/trials?sort=test_accuracy&order=desc&limit=25",
        "trials (metric filter)": f"{base}/trials?metric=valid_accuracy&min=80&limit=25",
        "trials page (last page)": f"{base}/trials?offset={n_trials - 25}&limit=25",
        "best vs trials": f"{base}/best?x=trials",
        "best vs time": f"{base}/best?x=time",
        "score histogram": f"{base}/histogram?bins=30",
        "scatter + Pareto": f"{base}/scatter?x=cost_s&y=valid_accuracy",
        "decisions": f"{base}/decisions",
        "choice rules": f"{base}/rules",
        "failed trials": f"{base}/failed?limit=20",
        "trial page": f"{base}/trials/{n_trials // 2}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", metavar="FILE", help="write the store here and keep it")
    parser.add_argument("--reuse", action="store_true", help="read --keep FILE as it is")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = Path(args.keep) if args.keep else Path(folder.name) / "scale.db"
    if not (args.reuse and path.is_file()):
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        ran, inserted = make_store(path, args.trials)
        print(f"{args.trials:,} trials: search {ran:.1f} s, bulk insert into SQLite "
              f"{inserted:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")  # fmt: skip
    process, base = serve(path)
    print(f"archsearch dashboard (its own process) over {path}\n")
    rows = [("endpoint", "first call (ms)", f"median of {args.repeats} (ms)", "payload (KiB)")]
    for label, url in endpoints(args.trials).items():
        first, size = fetch(base + url)
        later = [fetch(base + url)[0] for _ in range(args.repeats)]
        rows.append((label, f"{first * 1e3:.0f}", f"{statistics.median(later) * 1e3:.0f}",
                     f"{size / 1024:.1f}"))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    process.terminate()
    process.wait(timeout=30)


if __name__ == "__main__":
    main()
