"""The evaluator that runs a user's objective, and the ``custom`` space of stored specs.

Registered as the ``objective`` benchmark so that a stored experiment of a user's
objective is rebuilt from its spec like any other (``show``, ``resume``, the
dashboard): the spec names the objective by import path (``module:function``).
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from archsearch.api._pruners import AnyPruner, CurvePruner, pruner_from_spec
from archsearch.api._trial import Trial, TrialPruned
from archsearch.errors import ArchsearchError, ConfigError
from archsearch.evaluation import Evaluator
from archsearch.experiment._executors import failure_of
from archsearch.registry import BENCHMARKS, SPACES
from archsearch.space import Space
from archsearch.trial import Candidate, FailureKind, Result, TrialStatus

__all__ = ["ObjectiveEvaluator", "import_path", "resolve"]

Objective = Callable[[Trial], Any]


def import_path(obj: Any) -> str | None:
    """``module:qualname`` of a module-level function or class, else None."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def resolve(path: str, field: str) -> Any:
    """Import ``module:qualname``; a ConfigError naming ``field`` when that fails."""
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise ConfigError(f"{field}: expected module:function, got {path!r}")
    if module_name == "__main__":
        import __main__

        if not hasattr(__main__, qualname.split(".")[0]):
            raise ConfigError(
                f"{field}: {path} was defined in a script; run that script again "
                "(with the same name=) to continue this experiment"
            )
        obj: Any = __main__
    else:
        try:
            obj = _import(module_name)
        except ImportError as exc:
            raise ConfigError(f"{field}: cannot import {module_name!r} ({exc})") from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{field}: {module_name!r} has no {qualname!r}") from None
    return obj


def _import(module_name: str) -> Any:
    """Import a module, also from the current folder (the console script leaves it out
    of ``sys.path``, where ``python script.py`` had the script's folder)."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        here = os.getcwd()
        if here in sys.path:
            raise
        sys.path.insert(0, here)
        return importlib.import_module(module_name)


@BENCHMARKS.register("objective")
class ObjectiveEvaluator(Evaluator):
    """Evaluate a config by calling the user's ``objective(trial)``.

    The objective returns a number (stored as metric ``metric``) or a mapping of
    metrics. It may report intermediate values (``trial.report``), which a pruner
    judges, and keep a checkpoint per config (``trial.save_checkpoint``) under
    ``artifacts``. An exception fails the trial only, with its traceback stored;
    an :class:`~archsearch.errors.ArchsearchError` (a bad draw, a missing data file)
    stops the search with its message.

    Args:
        objective: the callable, or its import path ``module:function``.
        metric: the metric name a returned number is stored under.
        mode: ``max`` or ``min``: which intermediate values are better (pruning).
        fidelities: the fidelities (e.g. epochs) a multi-fidelity strategy may ask for.
        pruner: ``median``, ``{name: percentile, percentile: 25}``, or None.
        artifacts: the experiment's folder for checkpoints.
        builder: import path of ``builder(config) -> torch.nn.Module`` (for export).
    """

    def __init__(
        self,
        objective: str | Objective | None = None,
        *,
        metric: str = "value",
        mode: str = "max",
        fidelities: Sequence[float] = (),
        pruner: Any = None,
        artifacts: str | None = None,
        builder: str | None = None,
    ) -> None:
        if objective is not None and not (isinstance(objective, str) or callable(objective)):
            raise ConfigError(
                f"objective: expected a callable or module:function, got {objective!r}"
            )
        self.objective_path = objective if isinstance(objective, str) else import_path(objective)
        self._objective = objective if callable(objective) else None
        self.metric = metric
        self.default_metric = metric
        self.mode = mode
        self.fidelities = tuple(float(f) for f in fidelities)
        self.max_fidelity = max(self.fidelities) if self.fidelities else None
        self.pruner: AnyPruner | None = pruner_from_spec(pruner)
        self.artifacts = Path(artifacts) if artifacts else None
        self.builder = builder
        # driver side: the finished trials' curves and the thresholds they give
        self._curves: dict[int, dict[float, float]] = {}
        self._complete: set[int] = set()
        self._thresholds: dict[str, float] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_curves"], state["_thresholds"] = {}, None  # the driver's, not the workers'
        state["_complete"] = set()
        return state

    def bind(self, objective: Objective) -> None:
        """Use ``objective`` itself (a script's function) rather than its import path."""
        self._objective = objective

    @property
    def objective(self) -> Objective:
        if self._objective is None:
            if self.objective_path is None:
                raise ConfigError("benchmark.objective: no objective given")
            self._objective = resolve(self.objective_path, "benchmark.objective")
        return self._objective

    def user_modules(self) -> list[Any]:
        """The objective's module when it is the user's own (not an installed package):
        Ray sends it by value, so a cluster's workers need not have it."""
        module = sys.modules.get(getattr(self._objective, "__module__", "") or "")
        file = getattr(module, "__file__", None)
        if module is None or file is None or module.__name__ == "__main__":
            return []
        installed = ("site-packages", "dist-packages")
        return [] if any(part in installed for part in Path(file).parts) else [module]

    # -- driver side -----------------------------------------------------------------
    def trial_context(self, candidate: Candidate) -> Mapping[str, Any] | None:
        """What a new trial needs from the driver: the pruner's thresholds."""
        if self.pruner is None:
            return None
        if isinstance(self.pruner, CurvePruner):
            curve = self.pruner.context(
                self._curves, self._complete, self.mode == "max", self.max_fidelity
            )
            return None if curve is None else {"curve": curve, "mode": self.mode}
        if self._thresholds is None:
            self._thresholds = self.pruner.thresholds(self._curves, self.mode == "max")
        return {"thresholds": self._thresholds, "mode": self.mode}

    def observe_trial(
        self, number: int, state: TrialStatus, curve: list[list[float]] | None
    ) -> None:
        """Follow a finished trial's curve (complete or pruned) for the pruner."""
        if self.pruner is None or not curve:
            return
        if state in (TrialStatus.COMPLETE, TrialStatus.PRUNED):
            self._curves[number] = {float(s): float(v) for s, v in curve}
            self._thresholds = None
            if state is TrialStatus.COMPLETE:
                self._complete.add(number)

    # -- worker side -----------------------------------------------------------------
    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        return self.evaluate_candidate(Candidate(-1, config, fidelity))

    def evaluate_candidate(self, candidate: Candidate) -> Result:
        objective = self.objective
        fidelity = candidate.fidelity if candidate.fidelity is not None else self.max_fidelity
        trial = Trial(
            candidate.id,
            candidate.config,
            fidelity,
            context=candidate.context,
            checkpoints=self.artifacts,
        )
        start = time.perf_counter()
        try:
            returned = objective(trial)
        except TrialPruned as exc:
            return Result(
                {},
                time.perf_counter() - start,
                TrialStatus.PRUNED,
                error=trial.pruned_reason or str(exc) or "pruned",
                curve=trial.values or None,
                steps=trial.steps or None,
            )
        except ArchsearchError:
            raise
        except Exception as exc:  # noqa: BLE001 - the trial fails, the search goes on
            failed = failure_of(exc)
            return replace(
                failed,
                cost_s=time.perf_counter() - start,
                error=f"{failed.error}\n{traceback.format_exc()}",
                curve=trial.values or None,
                steps=trial.steps or None,
            )
        elapsed = time.perf_counter() - start
        metrics, problem = _metrics(returned, self.metric)
        if problem is not None:
            return Result(
                {},
                elapsed,
                TrialStatus.FAILED,
                error=problem,
                failure=FailureKind.EXCEPTION,
                curve=trial.values or None,
                steps=trial.steps or None,
            )
        return Result(metrics, elapsed, curve=trial.values or None, steps=trial.steps or None)


def _metrics(returned: Any, metric: str) -> tuple[dict[str, float], str | None]:
    """The metrics of what an objective returned, or the reason it is unusable."""
    if isinstance(returned, Mapping):
        out = {}
        for key, value in returned.items():
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError):
                return {}, f"objective returned {key}={value!r}: metric values must be numbers"
        return out, None
    if isinstance(returned, bool) or returned is None:
        return {}, f"objective returned {returned!r}: return a number or a dict of numbers"
    try:
        value = float(returned)
    except (TypeError, ValueError):
        return {}, (
            f"objective returned a {type(returned).__name__}: return a number or a dict of numbers"
        )
    return {metric: value if math.isfinite(value) else value}, None


@SPACES.register("custom")
def custom_space(definition: Mapping[str, Any]) -> Space:
    """A space stored with its experiment (``Space.to_json``), for a user's objective."""
    if not isinstance(definition, Mapping):
        raise ConfigError("space.definition: expected a space's JSON (Space.to_json())")
    return Space.from_json(dict(definition))
