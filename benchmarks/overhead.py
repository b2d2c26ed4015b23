"""archsearch's own cost per trial: a no-op evaluator, so only the framework is timed.

Usage:
    python benchmarks/overhead.py [--trials 2000]

Random search on a small space with an evaluator that returns at once, through the
full loop: ask, store the trial row, evaluate, tell, store the result together with
the checkpoint. Printed per trial for each store, beside a store-less run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from archsearch.evaluation import SyntheticEvaluator
from archsearch.experiment import Budget, Experiment, InlineExecutor
from archsearch.objectives import Objective
from archsearch.space import Choice, Int, Real, Space
from archsearch.store import MemoryStore, SqlStore, Store
from archsearch.strategies import RegularizedEvolution

SPACE = Space(
    {"op": Choice(["a", "b", "c", "d"]), "width": Int(8, 64), "lr": Real(1e-4, 1e-1, log=True)}
)


def per_trial_ms(store: Store | None, trials: int) -> float:
    experiment = Experiment(
        space=SPACE,
        strategy=RegularizedEvolution(SPACE, seed=0),
        evaluator=SyntheticEvaluator(),
        objective=Objective("score"),
        budget=Budget(n_trials=trials),
        store=store,
        executor=InlineExecutor(),
        name="overhead",
    )
    t = time.perf_counter()
    experiment.run()
    return (time.perf_counter() - t) / trials * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--postgres", metavar="URL", help="also time a PostgreSQL store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            ("no store", per_trial_ms(None, args.trials)),
            ("memory store", per_trial_ms(MemoryStore(), args.trials)),
            (
                "sqlite (WAL, file)",
                per_trial_ms(SqlStore(f"sqlite:///{Path(tmp) / 'o.db'}"), args.trials),
            ),
        ]
        if args.postgres:
            rows.append(("postgresql", per_trial_ms(SqlStore(args.postgres), args.trials)))
    print(f"framework overhead per trial, REA, no-op evaluator, {args.trials} trials")
    for label, ms in rows:
        print(f"{label:<22} {ms:>8.3f} ms")


if __name__ == "__main__":
    main()
