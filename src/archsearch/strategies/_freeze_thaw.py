"""Strategies on extrapolated learning curves: curve-based early stopping and freeze-thaw.

Both train configs up a ladder of steps (:func:`rung_ladder`, ``eta`` 2 by default:
e.g. 3, 6, 12, 24, 48, 52 epochs), asking the same config again at the next step; on a
``resumable`` benchmark the simulated executor then charges only the epochs added.
What a config has shown so far is its curve: the ``Result.curve`` an evaluation
returns (every epoch, on the YAHPO surrogates) or, without one, its score at each step
asked. A curve model (``model``: ``parametric``, ``lcbench``, ... see
:mod:`archsearch.curves`) predicts from it a Gaussian of the value at a later step.

- ``curve_stop`` (Domhan et al., IJCAI 2015): random configs, each continued step by
  step until ``P(final > incumbent) < threshold``, the incumbent being the best value
  at the last step so far.
- ``freeze_thaw`` (in the manner of DyHPO, Wistuba et al. 2022, and ifBO, Rakotoarison
  et al. 2024): a pool of partially trained configs; each ask continues, by one step,
  the config with the highest expected improvement at its next step, or starts a new
  one.

A curve is read only when it ends at the fidelity asked with the score (or with the
negated score, of a minimised metric: then it is negated); otherwise (a curve of
another metric, or in other units of steps) the score at each fidelity is the curve.
This module imports torch through :mod:`archsearch.curves`; it is registered lazily.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.curves import (
    CurvePredictor,
    curve_model_from_spec,
    expected_improvement,
    probability_above,
)
from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._hyperband import MultiFidelityStrategy
from archsearch.trial import Candidate, Result

__all__ = ["CurveStopping", "FreezeThaw"]

_IDLE, _PENDING, _STOPPED, _DONE = "idle", "pending", "stopped", "done"


class _Trace:
    """One config's progress: its curve, the highest rung told, and its state."""

    __slots__ = ("config", "points", "rung", "state")

    def __init__(self, config: Any) -> None:
        self.config = config
        self.points: dict[float, float] = {}  # step -> value (as scored: maximised)
        self.rung = -1  # index of the highest rung told; -1: none yet
        self.state = _IDLE

    def curve(self) -> tuple[list[float], list[float]]:
        steps = sorted(self.points)
        return steps, [self.points[s] for s in steps]

    def to_json(self) -> list[Any]:
        steps, values = self.curve()
        return [self.config, steps, values, self.rung, self.state]

    @classmethod
    def from_json(cls, data: list[Any]) -> _Trace:
        trace = cls(data[0])
        trace.points = {float(s): float(v) for s, v in zip(data[1], data[2], strict=True)}
        trace.rung, trace.state = int(data[3]), str(data[4])
        return trace


def _curve_points(candidate: Candidate, result: Result, score: float) -> list[tuple[float, float]]:
    """The told result as ``(step, value)`` points in the score's units.

    The result's curve is read when it ends at the fidelity asked with the score (or
    the negated score: a minimised metric); otherwise only the score at the fidelity.
    """
    fidelity = candidate.fidelity
    if fidelity is None:
        return []
    curve = result.curve
    if curve:
        steps = result.steps if result.steps is not None else range(1, len(curve) + 1)
        last = float(curve[-1])
        tolerance = 1e-6 * (1 + abs(score))
        sign = 1.0 if abs(last - score) <= tolerance else -1.0
        ends_here = abs(float(list(steps)[-1]) - fidelity) <= 1e-9 * (1 + fidelity)
        if ends_here and abs(sign * last - score) <= tolerance:
            points = [(float(s), sign * float(v)) for s, v in zip(steps, curve, strict=True)]
            return [(s, v) for s, v in points if s > 0 and math.isfinite(v)]
    return [(float(fidelity), score)]


def _chunk_ladder(
    low: float, high: float, step: float, fidelities: Sequence[float] | None
) -> tuple[float, ...]:
    """``low, low + step, ...`` below ``high``, then ``high``; snapped to allowed fidelities."""
    if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0:
        raise ConfigError(f"step: must be a number > 0, got {step!r}")
    allowed = sorted(float(f) for f in fidelities or ())
    rungs: list[float] = []
    value = low
    while value < high:
        snapped = min(allowed, key=lambda f: (abs(f - value), f)) if allowed else value
        if snapped < high and (not rungs or snapped > rungs[-1]):
            rungs.append(snapped)
        value += step
    return (*rungs, high)


class _CurveStrategy(MultiFidelityStrategy):
    """Configs trained up a ladder of steps, each with its curve so far."""

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 2,
        step: float | None = None,
        model: Any = "parametric",
        min_points: int = 3,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            space,
            fidelities=fidelities,
            min_fidelity=min_fidelity,
            max_fidelity=max_fidelity,
            eta=eta,
            seed=seed,
        )
        if step is not None:
            self.rungs = _chunk_ladder(self.rungs[0], self.rungs[-1], step, fidelities)
            self._rung_of = {fidelity: k for k, fidelity in enumerate(self.rungs)}
        if not isinstance(min_points, int) or isinstance(min_points, bool) or min_points < 1:
            raise ConfigError(f"min_points: must be an integer >= 1, got {min_points!r}")
        self.model: CurvePredictor = curve_model_from_spec(model, field="model")
        self.min_points = min_points
        self.final_step = self.rungs[-1]
        self._traces: list[_Trace] = []
        self._pending: dict[int, int] = {}  # candidate id -> trace

    def _ask_trace(self, index: int) -> Candidate:
        """Propose trace ``index`` at its next rung."""
        trace = self._traces[index]
        trace.state = _PENDING
        candidate = self._propose(trace.config, self.rungs[trace.rung + 1])
        self._pending[candidate.id] = index
        return candidate

    def _ask_new(self) -> Candidate:
        self._traces.append(_Trace(self._new_config(self.rungs[0])))
        return self._ask_trace(len(self._traces) - 1)

    def _record(self, candidate: Candidate, result: Result) -> int | None:
        """Book a told result on its trace; its index, or None if it ended the trace."""
        index = self._pending.pop(candidate.id, None)
        if index is None:
            return None
        trace = self._traces[index]
        rung = self._rung_of.get(candidate.fidelity)  # type: ignore[arg-type]
        if result.score is None or rung is None:  # failed or infeasible: never continued
            trace.state = _STOPPED
            return None
        trace.points.update(_curve_points(candidate, result, result.score))
        trace.points.setdefault(self.rungs[rung], result.score)
        trace.rung = max(trace.rung, rung)
        trace.state = _DONE if trace.rung == len(self.rungs) - 1 else _IDLE
        return index

    def _predict(self, trace: _Trace, target: float) -> tuple[float, float] | None:
        """The model's ``(mean, std)`` at ``target``; None for a curve too short."""
        if len(trace.points) < self.min_points:
            return None
        mean, std = self.model.predict_curves(
            [trace.curve()], [target], final_step=self.final_step
        )
        return float(mean[0]), float(std[0])

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "traces": [trace.to_json() for trace in self._traces],
            "pending": [[cid, index] for cid, index in self._pending.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._traces = [_Trace.from_json(data) for data in state["traces"]]
        self._pending = {int(cid): int(index) for cid, index in state["pending"]}


@STRATEGIES.register("curve_stop")
class CurveStopping(_CurveStrategy):
    """Random configs, each trained step by step until its curve looks hopeless.

    A new config starts at the first rung. After each step the curve model predicts
    its value at the last rung; the config is stopped when ``P(final > incumbent) <
    threshold`` (the incumbent: the best value told at the last rung), else it is
    continued at the next rung before any new config starts. Curves with fewer than
    ``min_points`` values, and every curve before a first config has finished, go on.

    Args:
        space: the search space.
        fidelities, min_fidelity, max_fidelity: see :class:`MultiFidelityStrategy`.
        eta: the ratio between steps of the ladder (2: 3, 6, 12, 24, 48, 52 epochs
            from 3 on LCBench).
        model: the curve model: a name or ``{name: ..., options}`` of
            :data:`archsearch.curves.CURVE_MODELS`, or a model object.
        threshold: stop below this probability (Domhan et al.: 0.05).
        min_points: curves shorter than this are never stopped.
        seed: fixes the search.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> stop = CurveStopping(nb201_space(), fidelities=(12.0, 200.0), seed=0)
        >>> [stop.ask().fidelity for _ in range(3)]
        [12.0, 12.0, 12.0]
    """

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 2,
        step: float | None = None,
        model: Any = "parametric",
        threshold: float = 0.05,
        min_points: int = 3,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            space,
            fidelities=fidelities,
            min_fidelity=min_fidelity,
            max_fidelity=max_fidelity,
            eta=eta,
            step=step,
            model=model,
            min_points=min_points,
            seed=seed,
        )
        if not 0 < threshold < 1:
            raise ConfigError(f"threshold: must be in (0, 1), got {threshold!r}")
        self.threshold = float(threshold)
        self._queue: list[int] = []  # traces to continue, in the order they were told
        self._best: float | None = None  # best value at the last rung

    def ask(self) -> Candidate:
        if self._queue:
            return self._ask_trace(self._queue.pop(0))
        return self._ask_new()

    def tell(self, candidate: Candidate, result: Result) -> None:
        index = self._record(candidate, result)
        if index is None:
            return
        trace = self._traces[index]
        if trace.state == _DONE:
            score = trace.points[self.final_step]
            self._best = score if self._best is None else max(self._best, score)
        elif self._is_hopeless(trace):
            trace.state = _STOPPED
        else:
            self._queue.append(index)

    def _is_hopeless(self, trace: _Trace) -> bool:
        if self._best is None:
            return False
        prediction = self._predict(trace, self.final_step)
        if prediction is None:
            return False
        mean, std = prediction
        return float(probability_above(mean, std, self._best)) < self.threshold

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "queue": list(self._queue), "best": self._best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._queue = [int(i) for i in state["queue"]]
        self._best = None if state["best"] is None else float(state["best"])


@STRATEGIES.register("freeze_thaw")
class FreezeThaw(_CurveStrategy):
    """Continue, one step at a time, the config most likely to improve at its next step.

    The pool holds every config started and not finished, frozen at some rung of the
    ladder. Each :meth:`ask` scores every idle config of the pool, and a new config,
    by expected improvement (EI), and asks the winner at its next rung (a new config
    at the first; ties go to the older config). With ``horizon="next"`` (the default;
    DyHPO's acquisition):

    - a config's EI is that of its value at its next rung (the curve model's
      Gaussian) over the best value any config has shown at that step, or, where none
      has reached it yet, at the highest step below it;
    - a new config is one more draw from the values seen at the first rung: it beats
      their best with probability ``1 / (n + 1)``, by about the gap between the best
      two when it does (a record's excess), so its EI is that gap over ``n + 1``; until
      two configs are seen, a new one is always started. Without a model of the space,
      new configs are exchangeable: this is what a config model (DyHPO's GP, ifBO's
      PFN) would refine.

    With ``horizon="final"`` (in the manner of ifBO's horizon at the end of training):
    EI of the final value over the best final value told, or, before any config has
    finished, over the highest predicted final mean of the pool; a new config's EI is
    the mean over the configs seen of the EI of their final value as predicted from
    their first rung alone.

    A config with fewer than ``min_points`` values is predicted to stay where it is,
    give or take the spread of the pool's latest values. With ``per_step``, EI is
    divided by the steps the move adds (its cost on a resumable benchmark where epochs
    cost alike).

    Args:
        space: the search space.
        fidelities, min_fidelity, max_fidelity: see :class:`MultiFidelityStrategy`.
        eta: the ratio between steps of the ladder (doubling by default).
        step: a ladder of fixed chunks instead (``min_fidelity``, ``+ step``, ...).
        model: the curve model (see :class:`CurveStopping`).
        min_points: see above.
        horizon: ``next`` or ``final``: the step whose value is predicted.
        per_step: EI per step added rather than EI.
        seed: fixes the search.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> ft = FreezeThaw(nb201_space(), fidelities=(12.0, 200.0), seed=0)
        >>> [ft.ask().fidelity for _ in range(3)]
        [12.0, 12.0, 12.0]
    """

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 2,
        step: float | None = None,
        model: Any = "parametric",
        min_points: int = 3,
        horizon: str = "next",
        per_step: bool = False,
        seed: int | None = None,
    ) -> None:
        if horizon not in ("next", "final"):
            raise ConfigError(f"horizon: must be 'next' or 'final', got {horizon!r}")
        super().__init__(
            space,
            fidelities=fidelities,
            min_fidelity=min_fidelity,
            max_fidelity=max_fidelity,
            eta=eta,
            step=step,
            model=model,
            min_points=min_points,
            seed=seed,
        )
        self.horizon, self.per_step = horizon, bool(per_step)
        # derived from the traces, so not in state_dict: rebuilt on load
        self._cache: dict[int, tuple[float, float] | None] = {}  # trace -> at its target
        self._first: dict[int, tuple[float, float] | None] = {}  # trace -> final, from rung 0
        self._best_at: dict[float, float] = {}  # step -> best value seen there
        self._best_steps: list[float] = []  # its keys, sorted

    def ask(self) -> Candidate:
        idle = [i for i, t in enumerate(self._traces) if t.state == _IDLE]
        if not idle:
            return self._ask_new()
        mean, std = self._gaussians(idle)
        rungs = np.array([self._traces[i].rung for i in idle])
        if self.horizon == "final":
            incumbent = self._best_at.get(self.final_step, float(mean.max()))
            best = np.full(len(idle), incumbent)
            fresh = self._fresh_final(incumbent)
        else:
            targets = [self.rungs[k + 1] for k in range(len(self.rungs) - 1)]
            best = np.array([self._best_near(t) for t in targets])[rungs]
            fresh = self._fresh_next()
        gains = expected_improvement(mean, std, best)
        if self.per_step:
            ladder = np.array(self.rungs)
            gains = gains / (ladder[rungs + 1] - ladder[rungs])
            fresh = fresh / self.rungs[0]
        k = int(np.argmax(gains))
        if fresh > gains[k]:
            return self._ask_new()
        return self._ask_trace(idle[k])

    def _gaussians(self, idle: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of each idle trace at its target step."""
        predictions = [self._gaussian(i) for i in idle]
        if any(p is None for p in predictions):  # too short to extrapolate: stays put,
            spread = self._spread()  # give or take the spread of the pool
            predictions = [
                p if p is not None else (self._latest(self._traces[i]), spread)
                for i, p in zip(idle, predictions, strict=True)
            ]
        mean, std = np.array(predictions, dtype=float).T
        return mean, std

    def _gaussian(self, index: int) -> tuple[float, float] | None:
        """The model's Gaussian of a trace at its target (cached until it is told again)."""
        if index not in self._cache:
            trace = self._traces[index]
            target = self.final_step if self.horizon == "final" else self.rungs[trace.rung + 1]
            self._cache[index] = self._predict(trace, target)
        return self._cache[index]

    def _fresh_next(self) -> float:
        """A new config's EI at the first rung: the record gap over ``n + 1``."""
        first = self.rungs[0]
        seen = sorted(t.points[first] for t in self._traces if first in t.points)
        if len(seen) < 2:
            return math.inf
        return (seen[-1] - seen[-2]) / (len(seen) + 1)

    def _fresh_final(self, incumbent: float) -> float:
        """A new config's EI at the last rung: the mean over configs seen from rung 0."""
        known = [self._first_prediction(i) for i, t in enumerate(self._traces) if t.rung >= 0]
        usable = [p for p in known if p is not None]
        if len(usable) < 2:
            return math.inf
        mean, std = np.array(usable, dtype=float).T
        return float(expected_improvement(mean, std, incumbent).sum()) / len(known)

    def _first_prediction(self, index: int) -> tuple[float, float] | None:
        """The final value of trace ``index`` as predicted from its first rung alone."""
        if index not in self._first:
            trace = self._traces[index]
            short = _Trace(trace.config)
            short.points = {s: v for s, v in trace.points.items() if s <= self.rungs[0]}
            self._first[index] = self._predict(short, self.final_step)
        return self._first[index]

    @staticmethod
    def _latest(trace: _Trace) -> float:
        return trace.points[max(trace.points)]

    def _spread(self) -> float:
        latest = [self._latest(t) for t in self._traces if t.points]
        spread = statistics.pstdev(latest) if len(latest) >= 2 else 0.0
        return spread if spread > 0 else 1.0

    def _best_near(self, step: float) -> float:
        """The best value at ``step``, else at the highest step below it; -inf if none."""
        if step in self._best_at:
            return self._best_at[step]
        k = bisect.bisect_left(self._best_steps, step)
        return self._best_at[self._best_steps[k - 1]] if k > 0 else -math.inf

    def tell(self, candidate: Candidate, result: Result) -> None:
        index = self._record(candidate, result)
        if index is None:
            return
        self._cache.pop(index, None)
        self._note_best(self._traces[index])

    def _note_best(self, trace: _Trace) -> None:
        for step, value in trace.points.items():
            if step not in self._best_at:
                bisect.insort(self._best_steps, step)
                self._best_at[step] = value
            elif value > self._best_at[step]:
                self._best_at[step] = value

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._cache, self._first, self._best_at, self._best_steps = {}, {}, {}, []
        for trace in self._traces:
            self._note_best(trace)
