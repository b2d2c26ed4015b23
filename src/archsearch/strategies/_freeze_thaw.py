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
    ConfigPrior,
    CurvePredictor,
    config_prior_from_spec,
    curve_model_from_spec,
    expected_improvement,
    probability_above,
)
from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._bohb import _Encoder, _Layout, fit_model, pick_from_model
from archsearch.strategies._hyperband import MultiFidelityStrategy
from archsearch.trial import Candidate, Result

__all__ = ["CurveStopping", "FreezeThaw"]

_IDLE, _PENDING, _STOPPED, _DONE = "idle", "pending", "stopped", "done"


class _Trace:
    """One config's progress: its curve, the highest rung told, and its state."""

    __slots__ = ("config", "points", "rung", "seconds", "state")

    def __init__(self, config: Any) -> None:
        self.config = config
        self.points: dict[float, float] = {}  # step -> value (as scored: maximised)
        self.rung = -1  # index of the highest rung told; -1: none yet
        self.state = _IDLE
        self.seconds = 0.0  # the cost told of its evaluations so far

    def curve(self) -> tuple[list[float], list[float]]:
        steps = sorted(self.points)
        return steps, [self.points[s] for s in steps]

    def to_json(self) -> list[Any]:
        steps, values = self.curve()
        return [self.config, steps, values, self.rung, self.state, self.seconds]

    @classmethod
    def from_json(cls, data: list[Any]) -> _Trace:
        trace = cls(data[0])
        trace.points = {float(s): float(v) for s, v in zip(data[1], data[2], strict=True)}
        trace.rung, trace.state = int(data[3]), str(data[4])
        trace.seconds = float(data[5]) if len(data) > 5 else 0.0
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
        trace.seconds += max(0.0, float(result.cost_s))
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

    With ``new_configs="density"`` (in the manner of BOHB inside freeze-thaw, what DyHPO's
    config kernel and ifBO's PFN do with a model of the space), a new config is,
    except with probability ``random_fraction``, the best ``l(x)/g(x)`` of
    ``num_samples`` draws from BOHB's density model (:func:`fit_model`), fitted on
    every config seen, each scored by its final value: told, or the curve model's
    mean from its curve so far (so configs stopped early count with what their
    curves promise). The top 15 % (at least one more than the decisions) are the
    good set, as BOHB's; until both sets are that large, new configs are random.

    With ``new_configs="prior"`` (a warm start learned on other tasks, in the manner of
    meta-learned freeze-thaw such as Quick-Tune, Arango et al. 2024), a new config is,
    except with probability ``random_fraction``, the best of ``num_samples`` unseen
    random draws by the ``prior``'s score (:data:`archsearch.curves.CONFIG_PRIORS`:
    ``{name: lcbench, exclude: [task]}`` learns from the other LCBench tasks).

    A config with fewer than ``min_points`` values is predicted to stay where it is,
    give or take the spread of the pool's latest values. With ``per_step``, EI is
    divided by the steps the move costs until its value is had: to the next rung, or
    with ``horizon="final"`` to the last (a new config: the first rung, or all of
    them). With ``per_second`` (EI per second, Snoek et al. 2012), by the seconds those
    steps take at the config's own pace, told in its results' ``cost_s`` (a new
    config, or one with no cost told: the pool's median pace).

    Args:
        space: the search space.
        fidelities, min_fidelity, max_fidelity: see :class:`MultiFidelityStrategy`.
        eta: the ratio between steps of the ladder (doubling by default).
        step: a ladder of fixed chunks instead (``min_fidelity``, ``+ step``, ...).
        model: the curve model (see :class:`CurveStopping`).
        min_points: see above.
        horizon: ``next`` or ``final``: the step whose value is predicted.
        per_step: EI per step the move costs rather than EI.
        per_second: EI per second the move costs (exclusive with ``per_step``).
        new_configs: ``random``, ``density`` or ``prior``: how new configs are drawn.
        random_fraction: with ``density`` or ``prior``, the share of new configs drawn
            at random.
        num_samples: with ``density``, draws from ``l`` per new config; with ``prior``,
            random draws scored per new config.
        prior: with ``prior``, the config prior (a name or ``{name: ..., options}``, or
            an object with ``score``).
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
        per_second: bool = False,
        new_configs: str = "random",
        random_fraction: float = 1 / 3,
        num_samples: int = 64,
        prior: Any = None,
        seed: int | None = None,
    ) -> None:
        if horizon not in ("next", "final"):
            raise ConfigError(f"horizon: must be 'next' or 'final', got {horizon!r}")
        if per_step and per_second:
            raise ConfigError("per_step, per_second: choose one way to weigh a move's cost")
        if new_configs not in ("random", "density", "prior"):
            raise ConfigError(
                f"new_configs: must be 'random', 'density' or 'prior', got {new_configs!r}"
            )
        if (new_configs == "prior") != (prior is not None):
            raise ConfigError("prior: give one exactly when new_configs is 'prior'")
        if isinstance(random_fraction, bool) or not 0 <= random_fraction <= 1:
            raise ConfigError(f"random_fraction: must be in [0, 1], got {random_fraction!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ConfigError(f"num_samples: must be an integer >= 1, got {num_samples!r}")
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
        self.per_second = bool(per_second)
        self.new_configs, self.random_fraction = new_configs, float(random_fraction)
        self.num_samples = num_samples
        self.prior: ConfigPrior | None = (
            None if prior is None else config_prior_from_spec(prior, field="prior")
        )
        if new_configs == "density":  # drawn only then: random configs stay as they were
            self._gen = np.random.Generator(np.random.PCG64(self.rng.getrandbits(128)))
            self._impute_seed = self.rng.getrandbits(63)
        self._encoder = _Encoder(space)
        self._rows: list[list[float]] = []  # encoded config of each trace (derived)
        self._finals: dict[int, tuple[int, float]] = {}  # trace -> (n points, final estimate)
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
        if self.per_step or self.per_second:
            costs, fresh_cost = self._costs(idle, rungs)
            gains, fresh = gains / costs, fresh / fresh_cost
        k = int(np.argmax(gains))
        if fresh > gains[k]:
            return self._ask_new()
        return self._ask_trace(idle[k])

    def _costs(self, idle: list[int], rungs: np.ndarray) -> tuple[np.ndarray, float]:
        """What each move costs, in steps or seconds: up to the horizon's step."""
        ladder = np.array(self.rungs)
        if self.horizon == "final":  # a final value is had only at the end of training
            steps, fresh = self.final_step - ladder[rungs], self.final_step
        else:
            steps, fresh = ladder[rungs + 1] - ladder[rungs], self.rungs[0]
        if not self.per_second:
            return steps, fresh
        rates = np.array([self._traces[i].seconds for i in idle]) / ladder[rungs]
        known = rates[rates > 0]
        typical = float(np.median(known)) if len(known) else 1.0
        rates = np.where(rates > 0, rates, typical)
        return np.maximum(steps * rates, 1e-12), max(fresh * typical, 1e-12)

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
        """A new config's EI at the last rung: the mean over configs seen from rung 0.

        A first rung too short to extrapolate (fewer than ``min_points`` values) stays
        where it is, give or take the pool's spread, as an idle config's would.
        """
        seen = [i for i, t in enumerate(self._traces) if t.rung >= 0]
        if len(seen) < 2:
            return math.inf
        predictions = [self._first_prediction(i) for i in seen]
        spread = self._spread() if any(p is None for p in predictions) else 0.0
        mean, std = np.array(
            [
                p if p is not None else (self._first_value(i), spread)
                for i, p in zip(seen, predictions, strict=True)
            ],
            dtype=float,
        ).T
        return float(expected_improvement(mean, std, incumbent).mean())

    def _first_points(self, index: int) -> dict[float, float]:
        trace = self._traces[index]
        return {s: v for s, v in trace.points.items() if s <= self.rungs[0]}

    def _first_value(self, index: int) -> float:
        points = self._first_points(index)
        return points[max(points)]

    def _first_prediction(self, index: int) -> tuple[float, float] | None:
        """The final value of trace ``index`` as predicted from its first rung alone."""
        if index not in self._first:
            short = _Trace(self._traces[index].config)
            short.points = self._first_points(index)
            self._first[index] = self._predict(short, self.final_step)
        return self._first[index]

    def _new_config(self, fidelity: float) -> Any:
        if self.new_configs != "random" and self.rng.random() >= self.random_fraction:
            config = self._density_config() if self.prior is None else self._prior_config()
            if config is not None:
                return config
        return super()._new_config(fidelity)

    def _prior_config(self) -> Any | None:
        """The unseen random draw the prior scores highest; None if every draw was seen."""
        assert self.prior is not None
        seen = {self.space.key(t.config) for t in self._traces}
        draws = [self.space.sample(self.rng) for _ in range(self.num_samples)]
        draws = [c for c in draws if self.space.key(c) not in seen]
        if not draws:
            return None
        return draws[int(np.argmax(self.prior.score(draws)))]

    def _density_config(self) -> Any | None:
        """The unseen draw from BOHB's ``l`` with the best ``l/g``; None without a model."""
        told = [i for i, t in enumerate(self._traces) if t.points or t.state == _STOPPED]
        if not told:
            return None
        while len(self._rows) < len(self._traces):  # configs are fixed: encoded once
            self._rows.append(self._encoder.encode(self._traces[len(self._rows)].config))
        n_options = self._encoder.n_options
        n_min = len(n_options) + 1
        n_good = max(n_min, math.floor(0.15 * len(told)))
        if len(told) - n_good < n_min:
            return None
        data = np.full((len(told), len(n_options)), np.nan)
        for row, i in enumerate(told):
            data[row, : len(self._rows[i])] = self._rows[i]
        scores = self._final_estimates(told)
        model = fit_model(
            data,
            scores,
            n_good,
            _Layout(n_options),
            n_options,
            min_bandwidth=1e-3,
            impute=np.random.default_rng([self._impute_seed, len(told)]),
        )
        seen = {self.space.key(t.config) for t in self._traces}
        return pick_from_model(
            model,
            self._encoder,
            self._gen,
            self.rng,
            seen=seen,
            num_samples=self.num_samples,
            widen=3.0,
        )

    def _final_estimates(self, told: list[int]) -> np.ndarray:
        """Each trace's final value: told, else the curve model's mean (-inf: failed)."""
        todo = []
        for i in told:
            trace = self._traces[i]
            cached = self._finals.get(i)
            if cached is not None and cached[0] == len(trace.points):
                continue
            if self.final_step in trace.points:
                self._finals[i] = (len(trace.points), trace.points[self.final_step])
            elif len(trace.points) < self.min_points:
                value = self._latest(trace) if trace.points else -math.inf
                self._finals[i] = (len(trace.points), value)
            else:
                todo.append(i)
        if todo:
            mean, _ = self.model.predict_curves(
                [self._traces[i].curve() for i in todo],
                [self.final_step] * len(todo),
                final_step=self.final_step,
            )
            for i, value in zip(todo, mean.tolist(), strict=True):
                self._finals[i] = (len(self._traces[i].points), float(value))
        return np.array([self._finals[i][1] for i in told])

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

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.new_configs == "density":
            state["density"] = {
                "gen": self._gen.bit_generator.state,  # PCG64: plain ints and strings
                "impute_seed": self._impute_seed,
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._cache, self._first, self._best_at, self._best_steps = {}, {}, {}, []
        for trace in self._traces:
            self._note_best(trace)
        self._encoder, self._rows, self._finals = _Encoder(self.space), [], {}
        if self.new_configs == "density":
            self._gen.bit_generator.state = state["density"]["gen"]
            self._impute_seed = int(state["density"]["impute_seed"])
