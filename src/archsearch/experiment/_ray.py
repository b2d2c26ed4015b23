"""Ray: the same experiment on a Ray cluster (or a local Ray instance).

Each evaluation is a Ray task with no automatic retries (archsearch's retry policy
decides); a task whose worker dies fails its trial as ``worker_died``, and a task
past its time limit is cancelled by force and fails as ``timeout``.
"""

from __future__ import annotations

from typing import Any

from archsearch.errors import ArchsearchError, ConfigError
from archsearch.evaluation import Evaluator
from archsearch.experiment._executors import RealExecutor, evaluate_safely
from archsearch.trial import Candidate, FailureKind, Result

__all__ = ["RayExecutor"]


def _evaluate_task(evaluator: Evaluator, candidate: Candidate) -> Any:
    try:
        return evaluate_safely(evaluator, candidate)
    except ArchsearchError as exc:
        return ("fatal", str(exc))


class RayExecutor(RealExecutor):
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
        super().__init__(n_workers, timeout_s=timeout_s, ordered=ordered)
        self.address = address
        self._refs: dict[Any, tuple[Candidate, float]] = {}  # task -> (candidate, start)

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
        # the user's own modules travel with the evaluator: a cluster's workers need not
        # have them on their path (installed packages are imported there as usual)
        for module in getattr(evaluator, "user_modules", lambda: [])():
            ray.cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_evaluate_task)
        self._evaluator_ref = ray.put(evaluator)
        self._resubmit()

    def close(self) -> None:
        for ref in list(self._refs):
            self._ray.cancel(ref, force=True)
        self._refs.clear()

    def submit(self, candidate: Candidate) -> float:
        start = self.now()
        ref = self._remote.remote(self._evaluator_ref, candidate)
        self._refs[ref] = (candidate, start)
        self._track(candidate)
        return start

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
                last = [line for line in str(exc).splitlines() if line.strip()][-1:]
                detail = f" ({last[0].strip()[:200]})" if last else ""
                result = Result.failed(f"worker died: {type(exc).__name__}{detail}", kind=kind)
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
