"""Executors: where evaluations run and what clock the budget reads."""

from __future__ import annotations

import abc
import heapq
import time
from dataclasses import replace
from typing import Any

from archsearch.errors import ArchsearchError, ConfigError
from archsearch.evaluation import Evaluator
from archsearch.space import config_key
from archsearch.trial import Candidate, FailureKind, Result

__all__ = [
    "Done",
    "Executor",
    "InlineExecutor",
    "RealExecutor",
    "SimulatedExecutor",
    "evaluate_safely",
    "failure_of",
]

#: a finished evaluation: (candidate, result, start, end) on the executor's clock
Done = tuple[Candidate, Result, float, float]


def evaluate_safely(evaluator: Evaluator, candidate: Candidate) -> Result:
    """Evaluate, turning any failure of the trial into a failed Result with its kind.

    An :class:`ArchsearchError` (a bad config, a missing data file) is the user's to
    see and fix, so it propagates instead of failing every trial in turn.
    """
    try:
        # evaluators that need the trial's number or the driver's context take the
        # whole candidate (a user's objective); the others the config and fidelity
        by_candidate = getattr(evaluator, "evaluate_candidate", None)
        if by_candidate is not None:
            result: Result = by_candidate(candidate)
            return result
        return evaluator.evaluate(candidate.config, candidate.fidelity)
    except ArchsearchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure ends the trial only
        return failure_of(exc)


def failure_of(exc: BaseException) -> Result:
    """The failed Result of an exception raised by a trial, with its kind."""
    if isinstance(exc, MemoryError):
        return Result.failed("out of memory (MemoryError)", kind=FailureKind.OUT_OF_MEMORY)
    text = f"{type(exc).__name__}: {exc}"
    if "out of memory" in text.lower():  # torch.OutOfMemoryError and CUDA's message
        return Result.failed(text, kind=FailureKind.OUT_OF_MEMORY)
    return Result.failed(text, kind=FailureKind.EXCEPTION)


class Executor(abc.ABC):
    """Runs evaluations, possibly several at once, and keeps the clock.

    ``open`` receives the evaluator before the first ``submit``; ``submit`` hands
    over a candidate when a worker is free; ``next_done`` returns the evaluation that
    finishes first (None when nothing is running); ``close`` releases workers.
    """

    n_workers: int = 1
    #: True when the clock is simulated from the evaluations' reported cost
    is_simulated: bool = False

    def open(self, evaluator: Evaluator) -> None:
        """Prepare to evaluate with ``evaluator`` (start workers, resubmit restored ones)."""
        self._evaluator = evaluator

    def close(self) -> None:
        """Stop workers; running evaluations are abandoned."""
        return None

    @abc.abstractmethod
    def now(self) -> float:
        """Seconds on this executor's clock."""

    @property
    @abc.abstractmethod
    def n_running(self) -> int:
        """Evaluations submitted and not yet returned by :meth:`next_done`."""

    @abc.abstractmethod
    def submit(self, candidate: Candidate) -> float:
        """Start evaluating ``candidate``; returns its start time."""

    @abc.abstractmethod
    def next_done(self) -> Done | None:
        """The next finished evaluation, or None when nothing is running."""

    def state_dict(self) -> dict[str, Any]:
        """The clock and the running candidates, JSON-able."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a snapshot; its running candidates are run again after ``open``."""
        return None


class RealExecutor(Executor):
    """What the parallel executors (local processes, Ray) share: a wall clock carried
    over resumes, delivery in ask order or as results come, and resubmission of the
    trials that were running when the driver stopped.

    Subclasses start their workers in :meth:`open` (then call :meth:`_resubmit`),
    send work in :meth:`submit` (after :meth:`_track`), and in :meth:`_poll` wait for
    something to happen and book finished evaluations into ``self._done``.
    """

    def __init__(self, n_workers: int, *, timeout_s: float | None, ordered: bool) -> None:
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ConfigError(f"executor.workers: must be an integer >= 1, got {n_workers!r}")
        if timeout_s is not None and not (
            isinstance(timeout_s, int | float)
            and not isinstance(timeout_s, bool)
            and timeout_s > 0
        ):
            raise ConfigError(f"executor.timeout_s: must be a number > 0, got {timeout_s!r}")
        self.n_workers = n_workers
        self.timeout_s = timeout_s
        self.ordered = ordered
        self._outstanding: dict[int, Candidate] = {}  # submitted, not yet returned
        self._done: dict[int, Done] = {}  # finished, not yet returned
        self._restored: list[Candidate] = []
        self._offset = 0.0  # clock carried over from earlier sessions
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return self._offset + time.perf_counter() - self._t0

    @property
    def n_running(self) -> int:
        return len(self._outstanding)

    def _track(self, candidate: Candidate) -> None:
        self._outstanding[candidate.id] = candidate
        self._done.pop(candidate.id, None)

    def _resubmit(self) -> None:
        self._t0 = time.perf_counter()
        for candidate in self._restored:  # trials that were running when the driver stopped
            self.submit(candidate)
        self._restored = []

    def next_done(self) -> Done | None:
        while self._outstanding:
            ready = self._ready()
            if ready is not None:
                del self._outstanding[ready[0].id]
                return ready
            self._poll()
        return None

    def _ready(self) -> Done | None:
        if not self._done:
            return None
        if self.ordered:
            first = min(self._outstanding)
            return self._done.pop(first) if first in self._done else None
        return self._done.pop(min(self._done, key=lambda i: self._done[i][3]))

    @abc.abstractmethod
    def _poll(self) -> None:
        """Wait until at least one evaluation ends (or a deadline passes); book it."""

    def state_dict(self) -> dict[str, Any]:
        running = [
            {"id": c.id, "config": c.config, "fidelity": c.fidelity}
            for c in sorted(self._outstanding.values(), key=lambda c: c.id)
        ]
        return {"clock": self.now(), "running": running}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._offset = float(state.get("clock", 0.0))
        self._restored = [
            Candidate(item["id"], item["config"], item["fidelity"])
            for item in state.get("running", [])
        ]


class InlineExecutor(Executor):
    """Evaluates in the driver process, one at a time; the clock is wall time."""

    def __init__(self) -> None:
        self._pending: Candidate | None = None
        self._offset = 0.0  # clock carried over from earlier sessions of the experiment
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return self._offset + time.perf_counter() - self._t0

    @property
    def n_running(self) -> int:
        return 0 if self._pending is None else 1

    def submit(self, candidate: Candidate) -> float:
        if self._pending is not None:
            raise RuntimeError("InlineExecutor runs one evaluation at a time")
        self._pending = candidate
        return self.now()

    def next_done(self) -> Done | None:
        if self._pending is None:
            return None
        candidate = self._pending
        start = self.now()
        result = evaluate_safely(self._evaluator, candidate)
        self._pending = None
        return candidate, result, start, self.now()

    def state_dict(self) -> dict[str, Any]:
        return {"clock": self.now()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._offset = float(state.get("clock", 0.0))
        self._t0 = time.perf_counter()


class SimulatedExecutor(Executor):
    """N simulated workers on a clock that advances by each evaluation's ``cost_s``.

    An evaluation runs at once (table look-ups are instant) but its result is
    delivered at ``start + cost_s``; completions come in simulated-time order, and a
    freed worker takes the next candidate while the others are still busy. With one
    worker this is exactly the sequential NATS-Bench protocol.

    On a benchmark whose cost is cumulative along one training run
    (``Benchmark.resumable``, e.g. LCBench's epochs), a config promoted to a higher
    fidelity is charged only for the epochs it adds, as if resumed from the
    checkpoint of its last evaluation (the usual accounting of multi-fidelity
    simulators). NB201's 12- and 200-epoch runs are separate schedules: not resumable.
    """

    is_simulated = True

    def __init__(self, n_workers: int = 1) -> None:
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ConfigError(f"executor.workers: must be an integer >= 1, got {n_workers!r}")
        self.n_workers = n_workers
        self._now = 0.0
        self._seq = 0  # breaks ties in completion time by submission order
        self._heap: list[tuple[float, int, Candidate, Result, float]] = []
        self._restored: list[dict[str, Any]] = []
        self._resumable = False
        # config key -> (highest fidelity evaluated, its cumulative cost)
        self._progress: dict[str, tuple[float, float]] = {}

    def now(self) -> float:
        return self._now

    @property
    def n_running(self) -> int:
        return len(self._heap)

    def open(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator
        self._resumable = bool(getattr(evaluator, "resumable", False))
        for item in self._restored:
            # Evaluations are deterministic look-ups: run them again rather than store
            # them, and charge what was charged when they were first submitted.
            candidate = Candidate(item["id"], item["config"], item["fidelity"])
            result = replace(evaluate_safely(evaluator, candidate), cost_s=float(item["cost"]))
            start = float(item["start"])
            heapq.heappush(
                self._heap, (start + result.cost_s, int(item["seq"]), candidate, result, start)
            )
        self._restored = []

    def _charge(self, candidate: Candidate, result: Result) -> Result:
        """Charge a promoted config only the cost it adds to its last evaluation."""
        fidelity = candidate.fidelity
        if not self._resumable or fidelity is None:
            return result
        key = config_key(candidate.config)
        previous = self._progress.get(key)
        if previous is not None and fidelity <= previous[0]:
            return result  # the same or a lower fidelity: a new run from scratch
        self._progress[key] = (fidelity, result.cost_s)
        if previous is None:
            return result
        return replace(result, cost_s=max(0.0, result.cost_s - previous[1]))

    def submit(self, candidate: Candidate) -> float:
        result = self._charge(candidate, evaluate_safely(self._evaluator, candidate))
        start = self._now
        heapq.heappush(self._heap, (start + result.cost_s, self._seq, candidate, result, start))
        self._seq += 1
        return start

    def next_done(self) -> Done | None:
        if not self._heap:
            return None
        end, _, candidate, result, start = heapq.heappop(self._heap)
        self._now = end
        return candidate, result, start, end

    def state_dict(self) -> dict[str, Any]:
        running = [
            {
                "id": c.id,
                "config": c.config,
                "fidelity": c.fidelity,
                "start": start,
                "seq": seq,
                "cost": r.cost_s,
            }
            for _, seq, c, r, start in sorted(self._heap, key=lambda item: item[1])
        ]
        progress = [[k, f, c] for k, (f, c) in self._progress.items()]
        return {"clock": self._now, "seq": self._seq, "running": running, "progress": progress}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._now = float(state["clock"])
        self._seq = int(state["seq"])
        self._heap = []
        self._restored = list(state["running"])
        self._progress = {k: (float(f), float(c)) for k, f, c in state.get("progress", [])}
