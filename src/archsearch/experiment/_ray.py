"""Ray: the same experiment on a Ray cluster (or a local Ray instance).

Each evaluation is a Ray task with no automatic retries (archsearch's retry policy
decides); a task whose worker dies fails its trial as ``worker_died``, and a task
past its time limit is cancelled by force and fails as ``timeout``.
"""

from __future__ import annotations

import time
from typing import Any

from archsearch.errors import ArchsearchError, ConfigError
from archsearch.evaluation import Evaluator
from archsearch.experiment._executors import Done, Executor, evaluate_safely
from archsearch.trial import Candidate, FailureKind, Result

__all__ = ["RayExecutor"]


def _evaluate_task(evaluator: Evaluator, candidate: Candidate) -> Any:
    try:
        return evaluate_safely(evaluator, candidate)
    except ArchsearchError as exc:
        return ("fatal", str(exc))


class RayExecutor(Executor):
    """Evaluate as Ray tasks, at most ``n_workers`` at once.

    Args:
        n_workers: tasks in flight at once (a local instance gets this many CPUs).
        address: a cluster to join (``auto``, ``ray://host:10001``, ``host:6379``);
            None starts a local instance when Ray is not running yet.
        timeout_s: per-trial time limit.
        ordered: deliver results in ask order (reproducible), as ProcessExecutor does.
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        address: str | None = None,
        timeout_s: float | None = None,
        ordered: bool = True,
    ) -> None:
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ConfigError(f"executor.workers: must be an integer >= 1, got {n_workers!r}")
        if timeout_s is not None and not (isinstance(timeout_s, int | float) and timeout_s > 0):
            raise ConfigError(f"executor.timeout_s: must be a number > 0, got {timeout_s!r}")
        self.n_workers = n_workers
        self.address = address
        self.timeout_s = timeout_s
        self.ordered = ordered
        self._refs: dict[Any, tuple[Candidate, float]] = {}  # task -> (candidate, start)
        self._outstanding: dict[int, Candidate] = {}
        self._done: dict[int, Done] = {}
        self._restored: list[Candidate] = []
        self._offset = 0.0
        self._t0 = time.perf_counter()

    def open(self, evaluator: Evaluator) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("executor: ray is not installed; pip install 'ray>=2.9'") from None
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            else:
                kwargs["num_cpus"] = self.n_workers
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"executor.address: cannot reach Ray ({exc})") from None
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_evaluate_task)
        self._evaluator_ref = ray.put(evaluator)
        self._t0 = time.perf_counter()
        for candidate in self._restored:
            self.submit(candidate)
        self._restored = []

    def close(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref, force=True)
        self._refs.clear()

    def now(self) -> float:
        return self._offset + time.perf_counter() - self._t0

    @property
    def n_running(self) -> int:
        return len(self._outstanding)

    def submit(self, candidate: Candidate) -> float:
        start = self.now()
        ref = self._remote.remote(self._evaluator_ref, candidate)
        self._refs[ref] = (candidate, start)
        self._outstanding[candidate.id] = candidate
        self._done.pop(candidate.id, None)
        return start

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

    def _poll(self) -> None:
        ray = self._ray
        refs = list(self._refs)
        starts = [s for _, s in self._refs.values()]
        timeout = None
        if self.timeout_s is not None:
            timeout = max(0.0, min(starts) + self.timeout_s - self.now())
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        for ref in ready:
            candidate, start = self._refs.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.WorkerCrashedError as exc:
                result = Result.failed(f"worker died: {exc}", kind=FailureKind.WORKER_DIED)
            except ray.exceptions.RayError as exc:
                kind = FailureKind.WORKER_DIED
                if "OutOfMemory" in type(exc).__name__:
                    kind = FailureKind.OUT_OF_MEMORY
                result = Result.failed(f"worker died: {type(exc).__name__}", kind=kind)
            if isinstance(result, tuple) and result[0] == "fatal":
                raise ArchsearchError(result[1])
            self._done[candidate.id] = (candidate, result, start, self.now())
        if self.timeout_s is not None:
            for ref, (candidate, start) in list(self._refs.items()):
                if self.now() - start >= self.timeout_s:
                    ray.cancel(ref, force=True)
                    del self._refs[ref]
                    reason = f"timeout: trial ran past its {self.timeout_s:g} s limit; cancelled"
                    result = Result.failed(reason, kind=FailureKind.TIMEOUT)
                    self._done[candidate.id] = (candidate, result, start, self.now())

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
