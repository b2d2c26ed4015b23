"""Local worker processes: N evaluations at once, each trial isolated from the driver.

Each worker is a process of its own with a pipe to the driver. The driver waits on
the pipes and on the processes' sentinels together, so that a worker killed under a
trial (SIGKILL, the out-of-memory killer, a segfault in a native library) fails that
trial with the reason, and a fresh worker takes its place; a trial that overruns its
time limit has its worker killed the same way. Nothing a trial does can take the
driver down with it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from archsearch.errors import ArchsearchError, ConfigError
from archsearch.evaluation import Evaluator
from archsearch.experiment._executors import RealExecutor, evaluate_safely
from archsearch.trial import Candidate, FailureKind, Result

__all__ = ["ProcessExecutor"]


def _worker_main(conn: Connection, evaluator_blob: bytes) -> None:
    """A worker: evaluate candidates sent over ``conn`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    evaluator = pickle.loads(evaluator_blob)
    driver = os.getppid()
    while True:
        try:
            # A forked worker holds copies of the driver's pipe ends, so a killed driver
            # does not close the pipe: look for a changed parent while waiting.
            while not conn.poll(1.0):
                if os.getppid() != driver:
                    return
            candidate = conn.recv()
        except (EOFError, OSError):  # the driver is gone: nothing left to do
            return
        if candidate is None:
            return
        try:
            result: Any = evaluate_safely(evaluator, candidate)
        except ArchsearchError as exc:
            result = ("fatal", str(exc))
        try:
            conn.send((candidate.id, result))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    """One worker process and the trial it is running."""

    def __init__(self, context: Any, blob: bytes) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child, blob), daemon=True
        )
        self.process.start()
        child.close()
        self.candidate: Candidate | None = None
        self.start = 0.0
        self.deadline = float("inf")

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed: out of memory, or by hand)" if name == "SIGKILL" else ""
        return f"worker died: {name}{hint}"
    return f"worker died: exit code {exitcode}"


class ProcessExecutor(RealExecutor):
    """Evaluate on ``n_workers`` local processes.

    Args:
        n_workers: processes evaluating at once.
        timeout_s: per-trial time limit; the worker is killed and the trial fails.
        ordered: deliver results in the order the candidates were asked (the default).
            The strategy then sees the same sequence of asks and tells whatever the
            timing of the workers, so a seeded search is reproducible; a finished
            worker may wait for an older trial. ``False`` delivers results as they
            come (faster with uneven trial times; not reproducible).
        start_method: ``spawn`` (default: safe with threads and CUDA) or ``fork``.
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        timeout_s: float | None = None,
        ordered: bool = True,
        start_method: str = "spawn",
    ) -> None:
        super().__init__(n_workers, timeout_s=timeout_s, ordered=ordered)
        if start_method not in mp.get_all_start_methods():
            allowed = ", ".join(mp.get_all_start_methods())
            raise ConfigError(f"executor.start_method: {start_method!r}; allowed: {allowed}")
        self._context = mp.get_context(start_method)
        self._workers: list[_Worker] = []
        self._queue: list[Candidate] = []  # submitted, waiting for a free worker
        self._blob = b""

    # -- lifecycle --------------------------------------------------------------------
    def open(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator
        try:
            self._blob = pickle.dumps(evaluator)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"executor: the evaluator cannot be sent to worker processes ({exc}); "
                "define it at module level or use the inline executor"
            ) from None
        self._workers = [_Worker(self._context, self._blob) for _ in range(self.n_workers)]
        self._resubmit()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop(kill=worker.candidate is not None)
        self._workers = []

    # -- work -------------------------------------------------------------------------
    def submit(self, candidate: Candidate) -> float:
        self._track(candidate)
        self._queue.append(candidate)
        self._feed()
        return self.now()

    def _feed(self) -> None:
        for worker in self._workers:
            if not self._queue:
                return
            if worker.candidate is None:
                candidate = self._queue.pop(0)
                worker.candidate, worker.start = candidate, self.now()
                worker.deadline = worker.start + (self.timeout_s or float("inf"))
                # a worker that died while idle is found by _poll (its sentinel) and its
                # trial failed as worker_died, so a broken pipe here is not an error
                with contextlib.suppress(OSError):
                    worker.conn.send(candidate)

    def _poll(self) -> None:
        """Wait for a result, a dead worker or a deadline, and book what happened."""
        busy = [w for w in self._workers if w.candidate is not None]
        deadline = min((w.deadline for w in busy), default=float("inf"))
        timeout = None if deadline == float("inf") else max(0.0, deadline - self.now())
        waitables: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        if not waitables:
            raise RuntimeError("ProcessExecutor: trials outstanding but no worker busy")
        ready = set(wait(waitables, timeout=timeout))
        for worker in busy:
            if worker.conn in ready:
                try:
                    number, result = worker.conn.recv()
                except (EOFError, OSError):  # the process died under the trial
                    self._bury(worker)
                    continue
                if isinstance(result, tuple) and result[0] == "fatal":
                    raise ArchsearchError(result[1])
                self._finish(worker, result)
            elif worker.process.sentinel in ready or not worker.process.is_alive():
                self._bury(worker)
            elif self.now() >= worker.deadline:
                reason = f"timeout: trial ran past its {self.timeout_s:g} s limit; worker killed"
                worker.process.kill()
                worker.process.join()
                self._replace(worker, Result.failed(reason, kind=FailureKind.TIMEOUT))
        self._feed()

    def _finish(self, worker: _Worker, result: Result) -> None:
        candidate = worker.candidate
        assert candidate is not None
        self._done[candidate.id] = (candidate, result, worker.start, self.now())
        worker.candidate = None

    def _bury(self, worker: _Worker) -> None:
        """A worker died under its trial: fail the trial with the cause, start another."""
        worker.process.join()
        reason = _death_reason(worker.process.exitcode)
        self._replace(worker, Result.failed(reason, kind=FailureKind.WORKER_DIED))

    def _replace(self, worker: _Worker, result: Result) -> None:
        """Book the trial of a dead worker as failed and start a fresh worker."""
        self._finish(worker, result)
        worker.conn.close()
        index = self._workers.index(worker)
        self._workers[index] = _Worker(self._context, self._blob)

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (for tools that inject faults)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]
