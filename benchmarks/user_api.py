"""archsearch.search beside Optuna on the same user objective: cost per trial, lines of code.

Usage:
    python benchmarks/user_api.py [--trials 300] [--repeats 3] [--dir DIR]

One process, one run. The objective is the conditional space of the user-API docs
(``depth`` 1-3, one kernel per layer, ``momentum`` only for SGD, a log-scaled ``lr``)
returning a cheap number at once, so only the frameworks are timed. It is written three
ways, each a real function that is run here: archsearch define-by-run
(``trial.int/choice/real``), archsearch space-defined (``Space({... when(...)})``), and
Optuna define-by-run (``suggest_int/categorical/float``).

1. Cost per trial. Each form runs ``--trials`` trials with TPE (archsearch's ``tpe`` is
   Optuna's ``TPESampler`` behind ask/tell; Optuna's ``TPESampler(seed=0)`` in
   ``study.optimize``) and with random search (``random`` vs ``RandomSampler``). Both
   store every trial in SQLite, a fresh file each run: archsearch's ``SqlStore``,
   Optuna's RDB storage (``create_study(storage="sqlite:///...")``). A run is timed
   from the call to the result (archsearch: tracing, opening the store, the loop,
   loading the result; Optuna: creating the study, ``optimize``), after an untimed
   warm-up run of 15 trials of each. The frameworks take turns (archsearch first in
   the 1st, 3rd, ... repeat, Optuna first in the others); the table gives the median
   over ``--repeats`` of wall and CPU milliseconds per trial, and archsearch's over
   Optuna's (the goal: <= 1). archsearch's one-time tracing of a define-by-run
   objective (``archsearch.trace_space``) is timed on its own: ``ms/trial`` includes
   it, ``excl. trace`` subtracts it. Optuna's per-trial log lines are off (WARNING),
   as is archsearch's progress line.

   The databases go to ``--dir``: by default ``/dev/shm`` (memory) where there is one,
   so the figures are the frameworks' own work, not the disk's. Optuna's SQLite
   storage sets no pragma, so it waits for the disk at every commit (SQLite's rollback
   journal, synchronous=FULL), where archsearch's uses WAL with synchronous=NORMAL:
   ``--dir /tmp`` on a real disk adds that wait, much more to Optuna's figure than to
   archsearch's (and takes longer).
2. Where archsearch's time goes: one more run per sampler with the loop's parts timed
   (the strategy's ask and tell, its ``state_dict`` for the checkpoint written with
   every finished trial, the store's writes, the objective), mean per trial and per
   call over the first and last tenth of the trials (what grows with the history).
3. Lines of user code: non-blank, non-comment lines (and statements) of each form's
   objective body and of its call site (``run_*`` below, which the timings run).

Sanity, in the same run: every run must end with ``--trials`` complete trials, and the
archsearch forms the same best value (same seed: the same configs are stored).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

import archsearch
from archsearch import Choice, Int, Real, Space, when
from archsearch.experiment import Experiment
from archsearch.store import open_store

SAMPLERS = ("tpe", "random")
FORMS = ("archsearch", "archsearch Space", "optuna")


# -- the user's code, three ways (counted and run as written) ---------------------------
def objective(trial: Any) -> float:
    depth = trial.int("depth", 1, 3)
    kernels = [trial.choice(f"kernel_{i}", [3, 5, 7]) for i in range(depth)]
    optimizer = trial.choice("optimizer", ["sgd", "adam"])
    momentum = trial.real("momentum", 0.5, 0.99) if optimizer == "sgd" else 0.0
    lr = trial.real("lr", 1e-4, 1e-1, log=True)
    return sum(kernels) * lr + momentum


def run_archsearch(storage: str, n_trials: int, strategy: str, seed: int) -> Any:
    return archsearch.search(
        objective, strategy=strategy, budget=n_trials, storage=storage, seed=seed, progress=False
    )


def objective_space(trial: Any) -> float:
    c = trial.config
    kernels = [c[f"kernel_{i}"] for i in range(c["depth"])]
    return sum(kernels) * c["lr"] + c.get("momentum", 0.0)


def run_archsearch_space(storage: str, n_trials: int, strategy: str, seed: int) -> Any:
    space = Space(
        {
            "depth": Int(1, 3),
            "kernel_0": Choice([3, 5, 7]),
            "kernel_1": when(Choice([3, 5, 7]), depth=[2, 3]),
            "kernel_2": when(Choice([3, 5, 7]), depth=3),
            "optimizer": Choice(["sgd", "adam"]),
            "momentum": when(Real(0.5, 0.99), optimizer="sgd"),
            "lr": Real(1e-4, 1e-1, log=True),
        }
    )
    return archsearch.search(
        objective_space,
        space,
        strategy=strategy,
        budget=n_trials,
        storage=storage,
        seed=seed,
        progress=False,
    )


def objective_optuna(trial: Any) -> float:
    depth = trial.suggest_int("depth", 1, 3)
    kernels = [trial.suggest_categorical(f"kernel_{i}", [3, 5, 7]) for i in range(depth)]
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    momentum = trial.suggest_float("momentum", 0.5, 0.99) if optimizer == "sgd" else 0.0
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    return sum(kernels) * lr + momentum


def run_optuna(storage: str, n_trials: int, sampler: Any) -> Any:
    study = optuna.create_study(storage=storage, sampler=sampler, direction="maximize")
    study.optimize(objective_optuna, n_trials=n_trials)
    return study


CODE: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "archsearch": (objective, run_archsearch),
    "archsearch Space": (objective_space, run_archsearch_space),
    "optuna": (objective_optuna, run_optuna),
}


# -- one run -----------------------------------------------------------------------------
def run(form: str, sampler: str, storage: str, n_trials: int, seed: int = 0) -> Any:
    """Run the user's call site of ``form``; its result (SearchResult or Study)."""
    if form == "optuna":
        samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
        return run_optuna(storage, n_trials, samplers[sampler](seed=seed))
    return CODE[form][1](storage, n_trials, sampler, seed)


def complete_and_best(form: str, outcome: Any) -> tuple[int, float]:
    """(complete trials, best value) of a run, read after its timing."""
    if form == "optuna":
        states = [t.state for t in outcome.trials]
        return states.count(optuna.trial.TrialState.COMPLETE), float(outcome.best_value)
    states = outcome.trials["state"]
    assert outcome.status == "complete", outcome.status
    return sum(s == "complete" for s in states), float(outcome.best_value)


def timed_run(form: str, sampler: str, folder: Path, label: str, n: int) -> dict[str, Any]:
    storage = f"sqlite:///{folder / f'{label}.db'}"
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = run(form, sampler, storage, n)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    complete, best = complete_and_best(form, outcome)
    assert complete == n, f"{form} {sampler}: {complete} complete trials of {n}"
    return {"wall": wall, "cpu": cpu, "best": best}


def trace_ms(repeats: int = 50) -> float:
    """Median milliseconds of ``archsearch.trace_space(objective)``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        archsearch.trace_space(objective)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


# -- where archsearch's time goes --------------------------------------------------------
PARTS = {
    "strategy.ask": ("strategy", "ask"),
    "strategy.tell": ("strategy", "tell"),
    "strategy.state_dict": ("strategy", "state_dict"),
    "store.start_trial": ("store", "start_trial"),
    "store.finish_trial": ("store", "finish_trial"),
    "objective": ("evaluator", "evaluate_candidate"),
}


@contextmanager
def instrumented(calls: dict[str, list[float]]) -> Iterator[list[float]]:
    """Time the parts of every Experiment run inside; yields [loop seconds]."""
    original = Experiment.run
    loop = [0.0]

    def timing(method: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - t0)

        return wrapper

    def run_timed(self: Experiment) -> Any:
        for part, (owner, name) in PARTS.items():
            target = getattr(self, owner)
            setattr(target, name, timing(getattr(target, name), calls.setdefault(part, [])))
        t0 = time.perf_counter()
        try:
            return original(self)
        finally:
            loop[0] += time.perf_counter() - t0

    Experiment.run = run_timed  # type: ignore[method-assign]
    try:
        yield loop
    finally:
        Experiment.run = original  # type: ignore[method-assign]


def breakdown(sampler: str, folder: Path, n: int) -> None:
    calls: dict[str, list[float]] = {}
    storage = f"sqlite:///{folder / f'breakdown-{sampler}.db'}"
    t0 = time.perf_counter()
    with instrumented(calls) as loop:
        result = run_archsearch(storage, n, sampler, 0)
    total = time.perf_counter() - t0
    assert result.n_trials == n
    store = open_store(storage)
    record = store.find_experiment(result.name)
    assert record is not None
    checkpoint = store.load_checkpoint(record.id)
    kib = len(json.dumps(checkpoint)) / 1024
    tenth = max(1, n // 10)
    print(
        f"\narchsearch {sampler}: where a trial's time goes ({n} trials, one instrumented run; "
        f"checkpoint after the last trial: {kib:,.0f} KiB of JSON)"
    )
    head = ("part", "ms/trial", "share", "ms/call first 10%", "last 10%")
    print(f"{head[0]:<22} {head[1]:>9} {head[2]:>6} {head[3]:>19} {head[4]:>9}")
    rows = [(part, calls.get(part, [])) for part in PARTS]
    rest = loop[0] - sum(sum(t) for _, t in rows)
    for part, times in rows:
        ms, share = 1e3 * sum(times) / n, sum(times) / total
        first = 1e3 * statistics.fmean(times[:tenth]) if times else 0.0
        last = 1e3 * statistics.fmean(times[-tenth:]) if times else 0.0
        print(f"{part:<22} {ms:>9.3f} {share:>6.0%} {first:>19.3f} {last:>9.3f}")
    print(f"{'rest of the loop':<22} {1e3 * rest / n:>9.3f} {rest / total:>6.0%}")
    outside = total - loop[0]
    print(f"{'outside (trace, open)':<22} {1e3 * outside / n:>9.3f} {outside / total:>6.0%}")
    print(f"{'total':<22} {1e3 * total / n:>9.3f} {1:>6.0%}")


# -- lines of code -----------------------------------------------------------------------
def body_size(function: Callable[..., Any]) -> tuple[int, int]:
    """(non-blank non-comment lines, statements) of a function's body, docstring aside."""
    source = textwrap.dedent(inspect.getsource(function))
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    body = definition.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body = body[1:]
    lines = source.splitlines()[body[0].lineno - 1 : body[-1].end_lineno]
    code = [line for line in lines if line.strip() and not line.strip().startswith("#")]
    statements = sum(isinstance(node, ast.stmt) for s in body for node in ast.walk(s))
    return len(code), statements


# -- the table ---------------------------------------------------------------------------
def default_dir() -> str:
    return "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dir", default=default_dir(), help="where the SQLite files go (default: %(default)s)"
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip part 2")
    args = parser.parse_args()
    n = args.trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_before = os.getloadavg()[0]
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="user-api-") as tmp:
        folder = Path(tmp)
        for sampler in SAMPLERS:  # warm-up: imports, first-call caches, the TPE model path
            for form in FORMS:
                timed_run(form, sampler, folder, f"warm-{form}-{sampler}".replace(" ", "-"), 15)
        trace = trace_ms()
        for repeat in range(args.repeats):
            order = FORMS if repeat % 2 == 0 else FORMS[::-1]
            for sampler in SAMPLERS:
                for form in order:
                    label = f"{form}-{sampler}-{repeat}".replace(" ", "-")
                    runs.setdefault((sampler, form), []).append(
                        timed_run(form, sampler, folder, label, n)
                    )
        for sampler in SAMPLERS:
            bests = {form: runs[(sampler, form)][0]["best"] for form in FORMS}
            assert bests["archsearch"] == bests["archsearch Space"], bests
        measured = time.perf_counter() - t_start
        load_after = os.getloadavg()[0]

        print(
            f"user objective (conditional space, returns at once), {n} trials per run, "
            f"SQLite in {args.dir}, median of {args.repeats} runs, optuna {optuna.__version__}"
        )
        print(
            "time from the call to the result; archsearch define-by-run includes tracing "
            f"its space ({trace:.2f} ms per trace_space, one per search)"
        )
        head = (
            "sampler",
            "framework",
            "total s",
            "ms/trial",
            "excl. trace",
            "cpu ms/trial",
            "x optuna",
            "cpu x",
            "trials",
            "best",
        )
        print(
            f"{head[0]:<7} {head[1]:<17} {head[2]:>8} {head[3]:>9} {head[4]:>11} {head[5]:>12} "
            f"{head[6]:>8} {head[7]:>6} {head[8]:>6} {head[9]:>7}"
        )
        for sampler in SAMPLERS:
            medians = {}
            for form in FORMS:
                done = runs[(sampler, form)]
                wall = statistics.median(r["wall"] for r in done)
                cpu = statistics.median(r["cpu"] for r in done)
                medians[form] = (wall, cpu)
            base_wall, base_cpu = medians["optuna"]
            for form in FORMS:
                wall, cpu = medians[form]
                excl = wall - trace / 1e3 if form == "archsearch" else wall
                best = runs[(sampler, form)][0]["best"]
                print(
                    f"{sampler:<7} {form:<17} {wall:>8.2f} {1e3 * wall / n:>9.2f} "
                    f"{1e3 * excl / n:>11.2f} {1e3 * cpu / n:>12.2f} {wall / base_wall:>8.2f} "
                    f"{cpu / base_cpu:>6.2f} {n:>6} {best:>7.4f}"
                )
        print(
            f"{sum(map(len, runs.values()))} timed runs in {measured:.0f} s; "
            f"load average {load_before:.2f} before, {load_after:.2f} after "
            f"(on {os.cpu_count()} CPUs)"
        )

        if not args.no_breakdown:
            for sampler in SAMPLERS:
                breakdown(sampler, folder, n)

    print("\nlines of user code for the same conditional space (non-blank, non-comment)")
    head = ("form", "objective", "call site", "total", "statements")
    print(f"{head[0]:<25} {head[1]:>9} {head[2]:>9} {head[3]:>6} {head[4]:>10}")
    labels = {
        "archsearch": "archsearch define-by-run",
        "archsearch Space": "archsearch Space + when",
        "optuna": "optuna define-by-run",
    }
    for form, (body, call) in CODE.items():
        (lines_o, stmts_o), (lines_c, stmts_c) = body_size(body), body_size(call)
        print(
            f"{labels[form]:<25} {lines_o:>9} {lines_c:>9} {lines_o + lines_c:>6} "
            f"{stmts_o + stmts_c:>10}"
        )


if __name__ == "__main__":
    main()
