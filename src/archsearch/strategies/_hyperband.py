"""Successive halving over fidelities: SH (Jamieson & Talwalkar 2016), Hyperband (Li et al.
2018), ASHA (Li et al. 2020).

A multi-fidelity strategy evaluates many configs cheaply (few epochs) and promotes the
best to dearer fidelities. A promotion is the same config proposed again at the next
rung, under a new candidate id. The rungs come from :func:`rung_ladder`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["ASHA", "Hyperband", "MultiFidelityStrategy", "SuccessiveHalving", "rung_ladder"]

_TOLERANCE = 1e-9


def _number(value: Any, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"{field}: must be a number > 0, got {value!r}")
    return float(value)


def _allowed(fidelities: Sequence[float] | None) -> list[float]:
    if fidelities is None:
        return []
    if isinstance(fidelities, str | bytes) or not isinstance(fidelities, Sequence):
        raise ConfigError(f"fidelities: expected a list of numbers, got {fidelities!r}")
    return sorted({_number(f, "fidelities") for f in fidelities})


def _snap(value: float, allowed: list[float], field: str) -> float:
    """The allowed fidelity nearest to ``value`` (the lower one on a tie)."""
    if not allowed:
        return value
    if not allowed[0] * (1 - _TOLERANCE) <= value <= allowed[-1] * (1 + _TOLERANCE):
        raise ConfigError(
            f"{field}: must lie within the evaluator's fidelities "
            f"[{allowed[0]:g}, {allowed[-1]:g}], got {value:g}"
        )
    return min(allowed, key=lambda f: (abs(f - value), f))


def rung_ladder(
    fidelities: Sequence[float] | None = None,
    *,
    min_fidelity: float | None = None,
    max_fidelity: float | None = None,
    eta: float = 3,
) -> tuple[float, ...]:
    """The rungs ``min * eta**k`` below ``max``, snapped to allowed fidelities, then ``max``.

    Args:
        fidelities: the evaluator's allowed fidelities; None or empty for any value.
        min_fidelity: the bottom rung (default: the smallest allowed fidelity).
        max_fidelity: the top rung (default: the largest allowed fidelity).
        eta: the ratio between rungs (> 1).

    Returns:
        Increasing fidelities without repeats, ending at ``max_fidelity``.

    Raises:
        ConfigError: without fidelities and without both bounds, or with bad values.

    Example:
        >>> rung_ladder(range(1, 53), min_fidelity=1)
        (1.0, 3.0, 9.0, 27.0, 52.0)
        >>> rung_ladder((12.0, 200.0))
        (12.0, 200.0)
    """
    if isinstance(eta, bool) or not isinstance(eta, int | float) or not eta > 1:
        raise ConfigError(f"eta: must be a number > 1, got {eta!r}")
    allowed = _allowed(fidelities)
    if not allowed and (min_fidelity is None or max_fidelity is None):
        raise ConfigError(
            "fidelities: a multi-fidelity strategy needs the evaluator's allowed fidelities "
            "(a benchmark with several, e.g. NB201's 12 and 200 epochs) or both "
            f"min_fidelity and max_fidelity; got fidelities={fidelities!r}, "
            f"min_fidelity={min_fidelity!r}, max_fidelity={max_fidelity!r}"
        )
    low = allowed[0] if min_fidelity is None else _number(min_fidelity, "min_fidelity")
    high = allowed[-1] if max_fidelity is None else _number(max_fidelity, "max_fidelity")
    low, high = _snap(low, allowed, "min_fidelity"), _snap(high, allowed, "max_fidelity")
    if low > high:
        raise ConfigError(f"min_fidelity: must be <= max_fidelity ({high:g}), got {low:g}")
    rungs: list[float] = []
    value = low
    while value < high * (1 - _TOLERANCE):
        snapped = _snap(value, allowed, "min_fidelity")
        if snapped < high and (not rungs or snapped > rungs[-1]):
            rungs.append(snapped)
        value *= eta
    return (*rungs, high)


class MultiFidelityStrategy(Strategy):
    """A strategy that proposes configs at the rungs of a fidelity ladder.

    Args:
        space: the search space.
        fidelities: the evaluator's allowed fidelities (NB201: ``(12.0, 200.0)``).
        min_fidelity: the bottom rung; default the smallest allowed fidelity.
        max_fidelity: the top rung; default the largest allowed fidelity.
        eta: the ratio between rungs and the promotion rate (1 in ``eta``).
        seed: fixes the search.

    Raises:
        ConfigError: see :func:`rung_ladder`.
    """

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 3,  # eta 3: the papers' and hpbandster's default
        seed: int | None = None,
    ) -> None:
        self.rungs = rung_ladder(
            fidelities, min_fidelity=min_fidelity, max_fidelity=max_fidelity, eta=eta
        )
        super().__init__(space, seed=seed)
        self.eta = float(eta)
        self._rung_of = {fidelity: k for k, fidelity in enumerate(self.rungs)}

    def _new_config(self, fidelity: float) -> Any:
        """A config entering at the bottom of a bracket: uniform at random here."""
        return self.space.sample(self.rng)


class _Bracket:
    """One run of successive halving: ``sizes[i]`` configs at rung ``first + i``.

    Stage 0 configs are drawn when asked (so a model sees every result told before);
    later stages run the best of the stage before, held in ``queue``.
    """

    def __init__(self, first: int, sizes: list[int]) -> None:
        self.first, self.sizes = first, sizes
        self.stage = 0
        self.queue: list[Any] = []
        self.limit = sizes[0]  # configs to ask at this stage
        self.n_asked = 0
        self.pending: list[int] = []
        self.told: list[tuple[int, Any, float | None]] = []

    @property
    def rung(self) -> int:
        return self.first + self.stage

    def can_ask(self) -> bool:
        return self.n_asked < self.limit

    def stage_done(self) -> bool:
        return self.n_asked >= self.limit and not self.pending

    def advance(self) -> bool:
        """Promote the best of a finished stage; False when the bracket is over."""
        if self.stage + 1 >= len(self.sizes):
            return False
        # failed results are never promoted; ties go to the earlier candidate
        ranked = sorted((t for t in self.told if t[2] is not None), key=lambda t: (-t[2], t[0]))  # type: ignore[operator]
        self.queue = [config for _, config, _ in ranked[: self.sizes[self.stage + 1]]]
        self.stage += 1
        self.limit, self.n_asked, self.told = len(self.queue), 0, []
        return self.limit > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "sizes": self.sizes,
            "stage": self.stage,
            "queue": self.queue,
            "limit": self.limit,
            "n_asked": self.n_asked,
            "pending": self.pending,
            "told": [list(t) for t in self.told],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Bracket:
        bracket = cls(int(data["first"]), [int(n) for n in data["sizes"]])
        bracket.stage, bracket.queue = int(data["stage"]), list(data["queue"])
        bracket.limit, bracket.n_asked = int(data["limit"]), int(data["n_asked"])
        bracket.pending = [int(i) for i in data["pending"]]
        bracket.told = [(int(i), config, score) for i, config, score in data["told"]]
        return bracket


@STRATEGIES.register("hyperband")
class Hyperband(MultiFidelityStrategy):
    """Hyperband: brackets of synchronous successive halving, cycling from wide to narrow.

    With rungs ``r_0 < ... < r_K``, bracket ``s`` (``s = K, K-1, ..., 0``, then again)
    starts ``n = ceil((K+1)/(s+1) * eta**s)`` random configs at rung ``K-s`` and keeps
    the best ``floor(n * eta**-i)`` at rung ``K-s+i`` (Li et al. 2018, Algorithm 1).
    A stage is synchronous: :meth:`ask` returns None while its results are out.
    Failed results are never promoted.

    Args:
        space: the search space.
        fidelities, min_fidelity, max_fidelity, eta: see :class:`MultiFidelityStrategy`.
        max_brackets: brackets run at once. 1 (default) is Hyperband as published;
            more (None: no limit) opens the next bracket whenever the open ones have
            nothing to run, as hpbandster does, so that parallel workers never idle.
        seed: fixes the search.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> hb = Hyperband(nb201_space(), fidelities=(12.0, 200.0), seed=0)
        >>> [hb.ask().fidelity for _ in range(3)], hb.ask()
        ([12.0, 12.0, 12.0], None)
    """

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 3,
        max_brackets: int | None = 1,
        seed: int | None = None,
    ) -> None:
        if max_brackets is not None and (
            not isinstance(max_brackets, int) or isinstance(max_brackets, bool) or max_brackets < 1
        ):
            raise ConfigError(
                f"max_brackets: must be an integer >= 1 or None, got {max_brackets!r}"
            )
        super().__init__(
            space,
            fidelities=fidelities,
            min_fidelity=min_fidelity,
            max_fidelity=max_fidelity,
            eta=eta,
            seed=seed,
        )
        self.max_brackets = max_brackets
        self._n_brackets = 0  # brackets started so far
        self._active: list[_Bracket] = []

    def bracket_sizes(self, s: int) -> list[int]:
        """Configs per stage of bracket ``s`` (``s + 1`` stages)."""
        n_top = len(self.rungs)  # K + 1
        n = math.ceil(n_top / (s + 1) * self.eta**s - _TOLERANCE)
        return [max(1, math.floor(n * self.eta**-i + _TOLERANCE)) for i in range(s + 1)]

    def ask(self) -> Candidate | None:
        while True:
            for bracket in list(self._active):
                if bracket.stage_done() and not bracket.advance():
                    self._active.remove(bracket)
            for bracket in self._active:
                if bracket.can_ask():
                    return self._ask_from(bracket)
            if self.max_brackets is not None and len(self._active) >= self.max_brackets:
                return None  # waiting for results
            self._active.append(self._start_bracket())

    def _start_bracket(self) -> _Bracket:
        top = len(self.rungs) - 1
        s = top - self._n_brackets % (top + 1)
        self._n_brackets += 1
        return _Bracket(top - s, self.bracket_sizes(s))

    def _ask_from(self, bracket: _Bracket) -> Candidate:
        fidelity = self.rungs[bracket.rung]
        if bracket.stage == 0:
            config = self._new_config(fidelity)
        else:
            config = bracket.queue[bracket.n_asked]
        bracket.n_asked += 1
        candidate = self._propose(config, fidelity)
        bracket.pending.append(candidate.id)
        return candidate

    def tell(self, candidate: Candidate, result: Result) -> None:
        for bracket in self._active:
            if candidate.id in bracket.pending:
                bracket.pending.remove(candidate.id)
                bracket.told.append((candidate.id, candidate.config, result.score))
                return

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "n_brackets": self._n_brackets,
            "active": [bracket.to_json() for bracket in self._active],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._n_brackets = int(state["n_brackets"])
        self._active = [_Bracket.from_json(data) for data in state["active"]]


@STRATEGIES.register("successive_halving")
class SuccessiveHalving(Hyperband):
    """Synchronous successive halving: Hyperband's most aggressive bracket, run again and again.

    Every bracket starts ``eta**K`` random configs at the bottom rung (``K + 1`` rungs)
    and keeps the best ``1/eta`` at each rung up to the top. Hyperband hedges against
    low fidelities that rank badly by also running the brackets that start higher;
    successive halving does not, so it is the faster of the two where the bottom rung
    already ranks well, and the slower where it does not.

    Args:
        space, fidelities, min_fidelity, max_fidelity, eta, max_brackets, seed: see
            :class:`Hyperband`.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> sh = SuccessiveHalving(nb201_space(), fidelities=range(1, 53), min_fidelity=3)
        >>> sh.rungs, sh.bracket_sizes(len(sh.rungs) - 1)
        ((3.0, 9.0, 27.0, 52.0), [27, 9, 3, 1])
    """

    def _start_bracket(self) -> _Bracket:
        top = len(self.rungs) - 1
        self._n_brackets += 1
        return _Bracket(0, self.bracket_sizes(top))


@STRATEGIES.register("asha")
class ASHA(MultiFidelityStrategy):
    """Asynchronous successive halving: never waits, promotes as soon as it may.

    Each :meth:`ask` looks from the second-highest rung down for a config in the top
    ``1/eta`` of the results told at its rung and not yet promoted, and proposes it at
    the next rung; when there is none it samples a new config at the bottom rung
    (Li et al. 2020, Algorithm 2). Failed results are never promoted nor counted.

    Args:
        space: the search space.
        fidelities, min_fidelity, max_fidelity, eta: see :class:`MultiFidelityStrategy`.
        seed: fixes the search.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> asha = ASHA(nb201_space(), fidelities=(12.0, 200.0), seed=0)
        >>> [asha.ask().fidelity for _ in range(4)]
        [12.0, 12.0, 12.0, 12.0]
    """

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 3,
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
        self._results: list[list[tuple[Any, float]]] = [[] for _ in self.rungs]
        self._promoted: list[set[int]] = [set() for _ in self.rungs]

    def ask(self) -> Candidate:
        for k in range(len(self.rungs) - 2, -1, -1):
            pick = self._promotable(k)
            if pick is not None:
                self._promoted[k].add(pick)
                return self._propose(self._results[k][pick][0], self.rungs[k + 1])
        bottom = self.rungs[0]
        return self._propose(self._new_config(bottom), bottom)

    def _promotable(self, k: int) -> int | None:
        """Position (in told order) of the best unpromoted top-1/eta result at rung k."""
        results = self._results[k]
        n_top = math.floor(len(results) / self.eta + _TOLERANCE)
        if n_top == 0:
            return None
        ranked = sorted(range(len(results)), key=lambda i: (-results[i][1], i))
        promoted = self._promoted[k]
        return next((i for i in ranked[:n_top] if i not in promoted), None)

    def tell(self, candidate: Candidate, result: Result) -> None:
        k = self._rung_of.get(candidate.fidelity)  # type: ignore[arg-type]
        if k is not None and result.score is not None:
            self._results[k].append((candidate.config, result.score))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "results": [[[c, s] for c, s in rung] for rung in self._results],
            "promoted": [sorted(p) for p in self._promoted],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._results = [[(c, float(s)) for c, s in rung] for rung in state["results"]]
        self._promoted = [{int(i) for i in p} for p in state["promoted"]]
