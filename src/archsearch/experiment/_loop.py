"""The experiment loop: ask, dispatch, collect, tell, persist."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from archsearch.errors import ConfigError, StoreError
from archsearch.evaluation import Benchmark, Evaluator
from archsearch.experiment._budget import Budget, RetryPolicy
from archsearch.experiment._executors import Executor, SimulatedExecutor
from archsearch.objectives import AnyObjective, precheck
from archsearch.space import Space
from archsearch.store import Store
from archsearch.strategies import Strategy
from archsearch.trial import Candidate, FailureKind, Result, TrialStatus

__all__ = ["MAX_EARLY_EXITS", "Experiment", "Summary"]

#: candidates in a row that may fail their constraints before the run is stopped
MAX_EARLY_EXITS = 10_000


@dataclass(frozen=True, slots=True)
class Summary:
    """What an experiment found, and what it cost."""

    name: str
    status: str
    best_number: int | None
    best_config: Any
    best_arch: str | None
    best_score: float | None
    best_metrics: Mapping[str, float]
    truth: Mapping[str, float]
    n_trials: int
    n_failed: int
    simulated_s: float | None
    wall_s: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        best = {
            "number": self.best_number,
            "config": self.best_config,
            "arch": self.best_arch,
            "reward": self.best_score,
            "metrics": dict(self.best_metrics),
            **dict(self.truth),
        }
        return {
            "experiment": self.name,
            "status": self.status,
            "best": best,
            "trials": self.n_trials,
            "failed": self.n_failed,
            "simulated_seconds": self.simulated_s,
            "wall_seconds": self.wall_s,
            **dict(self.extra),
        }


class Experiment:
    """A search: space + strategy + evaluator + objective + budget + executor + store.

    ``run()`` continues whatever the store already holds under ``name``: a search
    stopped at any point (Ctrl-C, SIGKILL) and run again ends with exactly the
    trials and result of an uninterrupted run with the same seed. With
    ``store=None`` nothing is persisted (the fast path for benchmark studies).

    Args:
        space: the search space (configs are validated against it when resumed).
        strategy: proposes candidates.
        evaluator: judges them.
        objective: metric to maximise or minimise.
        budget: when to stop.
        executor: where evaluations run; a simulated clock for benchmarks by default.
        store: where trials are kept; None keeps only the running best in memory.
        name: the experiment's name in the store.
        spec: the JSON-able description stored with the experiment (for ``resume``).
        on_trial_end: called as ``(candidate, result, clock)`` after every finished trial.
        describe: turns a config into a short string for summaries.
        retry: which failed trials run again, and how often (default: none).
    """

    def __init__(
        self,
        *,
        space: Space,
        strategy: Strategy,
        evaluator: Evaluator,
        objective: AnyObjective,
        budget: Budget,
        executor: Executor | None = None,
        store: Store | None = None,
        name: str = "experiment",
        spec: Mapping[str, Any] | None = None,
        on_trial_end: Callable[[Candidate, Result, float], None] | None = None,
        describe: Callable[[Any], str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.space = space
        self.strategy = strategy
        self.evaluator = evaluator
        self.objective = objective
        self.budget = budget
        self.executor = executor if executor is not None else SimulatedExecutor()
        self.store = store
        self.name = name
        self.spec = dict(spec or {})
        self.on_trial_end = on_trial_end
        self.describe = describe or (
            evaluator.describe if isinstance(evaluator, Benchmark) else None
        )
        self.retry = retry if retry is not None else RetryPolicy()
        self._attempts: dict[int, int] = {}  # retries used by running trials
        self._early_exits = 0  # candidates in a row rejected by their estimates
        self._experiment_id: int | None = None
        self._n_complete = 0
        self._n_failed = 0
        self._n_infeasible = 0
        self._n_early = 0  # early exits: stored as infeasible, not counted as evaluations
        self._n_pruned = 0
        # evaluators that follow the search (a pruner's reference values) and tell each
        # new trial something (its thresholds): a user objective's evaluator does both
        self._trial_context = getattr(evaluator, "trial_context", None)
        self._observe = getattr(evaluator, "observe_trial", None)
        # the incumbent: (score, number, config, metrics); multi-fidelity searches return
        # the best trial at the highest fidelity reached (as Hyperband/BOHB do)
        self._best: tuple[float, int, Any, Mapping[str, float]] | None = None
        self._best_fidelity = -math.inf
        self._wall_before = 0.0
        self._out_of_budget = False
        self._clock = 0.0  # executor clock at the end of the last counted trial

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> Summary:
        """Run (or continue) the search until the budget is spent; return its summary."""
        t0 = time.perf_counter()
        if self.store is not None and self._open() == "complete":
            return self.summary(wall_s=self._wall_before)
        executor, strategy = self.executor, self.strategy
        executor.open(self.evaluator)
        try:
            while True:
                self._dispatch()
                done = executor.next_done()
                if done is None:
                    break
                candidate, result, start, end = done
                if candidate.context is not None:  # for the evaluation only
                    candidate = replace(candidate, context=None)
                if executor.is_simulated and self._over_budget(end):
                    self._cancel(
                        candidate,
                        result,
                        end,
                        f"budget: would end at {end:.0f} s, after the "
                        f"{self.budget.seconds:g} s budget",
                    )
                    self._out_of_budget = True
                    self._cancel_running()
                    break
                result, eligible = self._score(result)
                if self._retry(candidate, result):
                    continue
                strategy.tell(candidate, result)
                self._record(candidate, result, end, time.perf_counter() - t0, eligible)
                if self._trials_spent():
                    self._cancel_running()
                    break
        except KeyboardInterrupt:
            self._close("interrupted", time.perf_counter() - t0)
            raise
        finally:
            executor.close()
        return self._close("complete", time.perf_counter() - t0)

    def _retry(self, candidate: Candidate, result: Result) -> bool:
        """Run a failed trial again when the retry policy allows; True if it did."""
        policy = self.retry
        if result.status is not TrialStatus.FAILED or policy.count == 0:
            return False
        attempts = self._attempts.get(candidate.id, 0)
        if attempts >= policy.count or result.failure not in policy.on:
            self._attempts.pop(candidate.id, None)
            return False
        self._attempts[candidate.id] = attempts + 1
        self.executor.submit(candidate)
        return True

    def _dispatch(self) -> None:
        executor, strategy, budget = self.executor, self.strategy, self.budget
        while executor.n_running < executor.n_workers and not self._out_of_budget:
            if budget.n_trials is not None and (
                self._n_done + executor.n_running >= budget.n_trials
            ):
                return
            if not executor.is_simulated and self._over_budget(executor.now()):
                return
            candidate = strategy.ask()
            if candidate is None:
                return
            if self.store is not None:
                self.store.start_trial(
                    self._eid,
                    candidate.id,
                    candidate.config,
                    candidate.fidelity,
                    executor.now() if executor.is_simulated else None,
                    time.time(),
                )
            if not self._early_exit(candidate):
                if self._trial_context is not None:  # beside what the strategy said
                    extra = self._trial_context(candidate)
                    if extra:
                        context = {**(candidate.context or {}), **extra}
                        candidate = replace(candidate, context=context)
                executor.submit(candidate)

    def _early_exit(self, candidate: Candidate) -> bool:
        """Reject a candidate whose cheap estimates already break a constraint.

        Evaluators that can estimate some metrics without evaluating (a latency table,
        a parameter count) offer ``estimate(config)``; such a candidate is stored as
        infeasible at no cost and its strategy told at once (EEEA's early exit), so a
        constrained search spends its budget on feasible candidates only.
        """
        estimate = getattr(self.evaluator, "estimate", None)
        if estimate is None or not getattr(self.objective, "constraints", ()):
            return False
        metrics = estimate(candidate.config)
        reason = precheck(self.objective, metrics)
        if reason is None:
            self._early_exits = 0
            return False
        self._early_exits += 1
        if self._early_exits > MAX_EARLY_EXITS:
            raise ConfigError(
                f"objective.constraints: {MAX_EARLY_EXITS:,} candidates in a row violate "
                f"them (last: {reason}); can the budget be met in this space?"
            )
        result = Result(
            metrics, 0.0, TrialStatus.INFEASIBLE, None, None, f"infeasible: {reason} (early exit)"
        )
        self.strategy.tell(candidate, result)
        self._record(candidate, result, self._clock, 0.0, False, counted=False)
        return True

    def _score(self, result: Result) -> tuple[Result, bool]:
        """The result with its score(s), and whether it may become the incumbent."""
        if result.status is not TrialStatus.COMPLETE:
            return result, False
        verdict = self.objective.judge(result.metrics)
        if verdict.missing is not None:
            value = result.metrics.get(verdict.missing)
            reason = "missing" if value is None else f"{value}"
            return replace(
                result,
                status=TrialStatus.FAILED,
                error=f"objective metric {verdict.missing!r} is {reason}",
                failure=FailureKind.NAN,
            ), False
        if verdict.infeasible is not None:
            return replace(
                result,
                status=TrialStatus.INFEASIBLE,
                error=f"infeasible: {verdict.infeasible}",
            ), False
        return result.with_score(verdict.score, verdict.scores), verdict.eligible

    def _over_budget(self, clock: float) -> bool:
        return self.budget.seconds is not None and clock > self.budget.seconds

    def _trials_spent(self) -> bool:
        n = self.budget.n_trials
        return n is not None and self._n_done >= n

    @property
    def _n_done(self) -> int:
        """Trials that count against the budget: complete, failed, infeasible, pruned."""
        return self._n_complete + self._n_failed + self._n_infeasible + self._n_pruned

    # -- bookkeeping --------------------------------------------------------------------
    @property
    def _eid(self) -> int:
        if self._experiment_id is None:
            raise RuntimeError("the experiment is not open in a store")
        return self._experiment_id

    def _record(
        self,
        candidate: Candidate,
        result: Result,
        end: float,
        wall_s: float,
        eligible: bool,
        *,
        counted: bool = True,
    ) -> None:
        """Book a finished trial; ``counted=False`` for early exits (not evaluated, free)."""
        if result.status is TrialStatus.COMPLETE:
            self._n_complete += 1
            fidelity = -math.inf if candidate.fidelity is None else candidate.fidelity
            best = self._best
            if eligible and (
                best is None
                or fidelity > self._best_fidelity
                or (fidelity == self._best_fidelity and result.score > best[0])  # type: ignore[operator]
            ):
                self._best = (result.score, candidate.id, candidate.config, result.metrics)  # type: ignore[assignment]
                self._best_fidelity = fidelity
        elif not counted:
            self._n_early += 1
        elif result.status is TrialStatus.INFEASIBLE:
            self._n_infeasible += 1
        elif result.status is TrialStatus.PRUNED:
            self._n_pruned += 1
        else:
            self._n_failed += 1
        self._clock = end
        if self.store is not None:
            checkpoint = self._checkpoint(wall_s) if self.store.is_persistent else None
            simulated = self.executor.is_simulated
            # a real executor may hand a result back later than it came (ordered
            # delivery): store when the trial ended, from the executor's clock
            ended = time.time() if simulated else time.time() - (self.executor.now() - end)
            self.store.finish_trial(
                self._eid,
                candidate.id,
                result,
                end if simulated else None,
                ended,
                checkpoint,
            )
        if self._observe is not None:
            self._observe(candidate.id, result.status, result.curve_points())
        if self.on_trial_end is not None:
            self.on_trial_end(candidate, result, end)

    def _cancel(self, candidate: Candidate, result: Result, end: float, reason: str) -> None:
        if self.store is None:
            return
        cancelled = Result(
            result.metrics, result.cost_s, TrialStatus.CANCELLED, None, None, reason
        )
        self.store.finish_trial(self._eid, candidate.id, cancelled, end, time.time(), None)

    def _cancel_running(self) -> None:
        while (done := self.executor.next_done()) is not None:
            candidate, result, _, end = done
            self._cancel(candidate, result, end, "stopped: budget spent")

    def _checkpoint(self, wall_s: float) -> dict[str, Any]:
        best = self._best
        return {
            "strategy": self.strategy.state_dict(),
            "executor": self.executor.state_dict(),
            "loop": {
                "n_complete": self._n_complete,
                "n_failed": self._n_failed,
                "n_infeasible": self._n_infeasible,
                "n_early": self._n_early,
                "n_pruned": self._n_pruned,
                "out_of_budget": self._out_of_budget,
                "best": None
                if best is None
                else {
                    "score": best[0],
                    "number": best[1],
                    "config": best[2],
                    "metrics": dict(best[3]),
                    "fidelity": None if math.isinf(self._best_fidelity) else self._best_fidelity,
                },
                "wall_s": self._wall_before + wall_s,
                "clock": self._clock,
                "attempts": {str(k): v for k, v in self._attempts.items()},
            },
        }

    def restore(self) -> str | None:
        """Load what the store holds under ``name`` (no run); its status, or None if new."""
        store = self.store
        if store is None:
            return None
        record = store.find_experiment(self.name)
        if record is None:
            return None
        self._experiment_id = record.id
        checkpoint = store.load_checkpoint(record.id)
        if checkpoint is not None:
            self.strategy.load_state_dict(checkpoint["strategy"])
            self.executor.load_state_dict(checkpoint["executor"])
            loop = checkpoint["loop"]
            self._n_complete, self._n_failed = loop["n_complete"], loop["n_failed"]
            self._n_infeasible = loop.get("n_infeasible", 0)
            self._n_early = loop.get("n_early", 0)
            self._n_pruned = loop.get("n_pruned", 0)
            self._out_of_budget = loop.get("out_of_budget", False)
            self._wall_before = float(loop["wall_s"])
            self._clock = float(loop.get("clock", 0.0))
            self._attempts = {int(k): v for k, v in loop.get("attempts", {}).items()}
            best = loop["best"]
            if best is not None:
                self._best = (best["score"], best["number"], best["config"], best["metrics"])
                fidelity = best.get("fidelity")
                self._best_fidelity = -math.inf if fidelity is None else float(fidelity)
        if self._observe is not None:  # what the evaluator follows, from the stored trials
            for trial in store.trials(record.id):
                if trial.state in (TrialStatus.COMPLETE, TrialStatus.PRUNED):
                    self._observe(trial.number, trial.state, trial.curve)
        return record.status

    def _open(self) -> str:
        """Create the experiment, or restore it from the store; returns its status."""
        store = self.store
        assert store is not None
        record = store.find_experiment(self.name)
        if record is None:
            record = store.create_experiment(self.name, self.spec)
            self._experiment_id = record.id
            return record.status
        if self.spec and record.spec and _comparable(record.spec) != _comparable(self.spec):
            raise StoreError(
                f"experiment {self.name!r} exists with another configuration; "
                "use `archsearch resume` or another --name"
            )
        status = self.restore()
        if status != "complete":
            store.update_experiment(record.id, status="running")
        return str(status)

    def _close(self, status: str, wall_s: float) -> Summary:
        summary = self.summary(wall_s=self._wall_before + wall_s, status=status)
        if self.store is not None:
            self.store.update_experiment(self._eid, status=status, summary=summary.to_json())
        return summary

    def summary(self, *, wall_s: float = 0.0, status: str = "complete") -> Summary:
        """The current best and counts (read from the store for a finished experiment)."""
        if self.store is not None and self._experiment_id is not None and self._best is None:
            trial = self.store.best_trial(self._experiment_id)
            if trial is not None:
                self._best = (trial.score, trial.number, trial.config, trial.metrics)  # type: ignore[assignment]
                counts = self.store.count_trials(self._experiment_id)
                self._n_complete = counts[TrialStatus.COMPLETE]
                self._n_failed = counts[TrialStatus.FAILED]
                self._n_infeasible = counts[TrialStatus.INFEASIBLE]
                self._n_pruned = counts[TrialStatus.PRUNED]
        best = self._best
        config = best[2] if best else None
        truth: Mapping[str, float] = {}
        if best is not None and isinstance(self.evaluator, Benchmark):
            truth = self.evaluator.truth(config)
        score = best[0] if best else None
        if score is not None:
            score = self.objective.report(score)
        clock = self._clock if self.executor.is_simulated else None
        return Summary(
            name=self.name,
            status=status,
            best_number=best[1] if best else None,
            best_config=config,
            best_arch=self.describe(config) if (best and self.describe) else None,
            best_score=score,
            best_metrics=dict(best[3]) if best else {},
            truth=truth,
            n_trials=self._n_done,
            n_failed=self._n_failed,
            simulated_s=clock if clock is None or math.isfinite(clock) else None,
            wall_s=wall_s,
            extra={
                k: v
                for k, v in (
                    ("infeasible", self._n_infeasible),
                    ("early_exits", self._n_early),
                    ("pruned", self._n_pruned),
                )
                if v
            },
        )


def _comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a spec that must agree for a run to continue a stored experiment."""
    return {k: v for k, v in spec.items() if k not in ("name", "storage")}
