"""REINFORCE over independent categorical decisions (Williams, 1992).

This is the reinforcement-learning baseline of NAS-Bench-201 / NATS-Bench (Dong et
al., 2020-21): one categorical distribution per decision, a policy-gradient step per
result with an exponential moving-average baseline, Adam on the logits. It is written
in plain Python rather than torch: a whole benchmark run of ~180 trials then takes a
few milliseconds, where per-call torch overhead would cost a hundred times more.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["Reinforce"]

# torch.optim.Adam defaults, which NATS-Bench's REINFORCE uses unchanged
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
# NATS-Bench initialises the policy logits as 1e-3 * randn
INIT_STD = 1e-3
OPTIMIZERS = ("adam", "sgd")


class _Categorical:
    """The logits of one decision, their Adam moments, and cached softmax terms.

    ``exps`` holds ``exp(logit - max)`` and ``cum`` their running sums: sampling is
    one bisection of ``cum``, and ``p_j = exps[j] / cum[-1]``.
    """

    __slots__ = ("cum", "exps", "logits", "m", "n", "path", "t", "v")

    def __init__(self, path: str, logits: list[float]) -> None:
        self.path, self.n, self.logits = path, len(logits), logits
        self.m = [0.0] * self.n
        self.v = [0.0] * self.n
        self.t = 0
        self.refresh()

    def refresh(self) -> None:
        """Recompute the softmax terms after the logits changed."""
        top = max(self.logits)
        exp = math.exp
        self.exps = [exp(z - top) for z in self.logits]
        self.cum = list(accumulate(self.exps))

    @property
    def probs(self) -> list[float]:
        inv = 1.0 / self.cum[-1]
        return [e * inv for e in self.exps]

    def to_json(self) -> list[Any]:
        return [self.path, self.logits, self.m, self.v, self.t]

    @classmethod
    def from_json(cls, data: list[Any]) -> _Categorical:
        path, logits, m, v, t = data
        cat = cls(path, [float(z) for z in logits])
        cat.m, cat.v, cat.t = [float(x) for x in m], [float(x) for x in v], int(t)
        return cat


@STRATEGIES.register("reinforce")
class Reinforce(Strategy):
    """Policy gradient over one independent softmax per decision.

    Each ask samples every active decision from its own categorical (created the
    first time a decision is met, keyed by its path and number of options, so
    conditional spaces work). Each told score updates the logits of the candidate's
    own decisions by ``-(score - baseline) * grad log p(decisions)``, where the
    baseline is a bias-corrected exponential moving average updated with the score
    first, exactly as in NATS-Bench. Failed results (``score is None``) are skipped.

    Args:
        space: a space whose decisions are all finite (Choice, Int).
        learning_rate: step size (NATS-Bench uses 0.01 on the topology space).
        momentum: decay of the moving-average baseline, in [0, 1).
        optimizer: ``adam`` (as NATS-Bench) or ``sgd`` (plain gradient steps).
        seed: fixes the search.

    Raises:
        ConfigError: naming the option for a bad value, or ``space`` when the space
            has a Real decision.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> strategy = Reinforce(nb201_space(), seed=0)
        >>> candidate = strategy.ask()
        >>> strategy.tell(candidate, Result({}, score=85.0))
        >>> strategy.baseline
        85.0
    """

    def __init__(
        self,
        space: Space,
        *,
        learning_rate: float = 0.01,
        momentum: float = 0.9,  # EMA momentum 0.9: NATS-Bench's REINFORCE default
        optimizer: str = "adam",
        seed: int | None = None,
    ) -> None:
        _check_options(space, learning_rate, momentum, optimizer)
        super().__init__(space, seed=seed)
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.optimizer = optimizer
        self._policy: dict[tuple[str, int], _Categorical] = {}
        self._pending: dict[int, list[tuple[_Categorical, int]]] = {}
        self._numerator = 0.0  # the baseline is numerator / denominator (bias-corrected)
        self._denominator = 0.0
        # Flat dicts of constant choices (NB201 cells) skip Space.decide(), which costs
        # ~28 us on NB201 (a Fixed option's decide() seeds a random.Random): the same
        # decisions in the same order, ~5x cheaper.
        flat = getattr(space.root, "flat_options", None)
        self._flat = None if flat is None else list(zip(space.root.keys, flat, strict=True))  # type: ignore[attr-defined]

    # -- ask ----------------------------------------------------------------------------
    def ask(self) -> Candidate:
        chosen: list[tuple[_Categorical, int]] = []
        if self._flat is not None:
            draw = self._draw
            config: Any = {key: opts[draw(key, len(opts), chosen)] for key, opts in self._flat}
        else:
            names: dict[str, int] = {}

            def choose(path: str, n: int | None, domain: Any) -> int:
                return self._draw(_unique(names, path), n, chosen)  # type: ignore[arg-type]

            config = self.space.decide(choose)
        candidate = self._propose(config)
        self._pending[candidate.id] = chosen
        return candidate

    def _draw(self, path: str, n: int, chosen: list[tuple[_Categorical, int]]) -> int:
        cat = self._policy.get((path, n))
        if cat is None:
            gauss = self.rng.gauss
            cat = self._policy[path, n] = _Categorical(
                path, [INIT_STD * gauss() for _ in range(n)]
            )
        cum = cat.cum
        i = bisect_right(cum, self.rng.random() * cum[-1])
        if i >= n:  # guards against rounding at the top end
            i = n - 1
        chosen.append((cat, i))
        return i

    # -- tell ---------------------------------------------------------------------------
    def tell(self, candidate: Candidate, result: Result) -> None:
        chosen = self._pending.pop(candidate.id, None)
        score = result.score
        if score is None:
            return
        if chosen is None:  # not asked by this strategy: read its genome
            chosen = self._decisions_of(candidate.config)
        momentum = self.momentum
        self._numerator = momentum * self._numerator + (1.0 - momentum) * score
        self._denominator = momentum * self._denominator + (1.0 - momentum)
        advantage = score - self._numerator / self._denominator
        step = self._adam_step if self.optimizer == "adam" else self._sgd_step
        for cat, index in chosen:
            step(cat, index, advantage)
            cat.refresh()

    def _adam_step(self, cat: _Categorical, index: int, advantage: float) -> None:
        """One Adam step on ``-advantage * log p(index)``; its gradient is adv * (p - onehot)."""
        t = cat.t = cat.t + 1
        step = self.learning_rate / (1.0 - ADAM_BETA1**t)
        inv_root_bc2 = 1.0 / math.sqrt(1.0 - ADAM_BETA2**t)
        b1, b2, eps, sqrt = ADAM_BETA1, ADAM_BETA2, ADAM_EPS, math.sqrt
        c1, c2 = 1.0 - b1, 1.0 - b2
        scale = advantage / cat.cum[-1]  # p_j = exps[j] / cum[-1]
        logits, m, v = cat.logits, cat.m, cat.v
        for j, e in enumerate(cat.exps):
            g = scale * e - advantage if j == index else scale * e
            mj = m[j] = b1 * m[j] + c1 * g
            vj = v[j] = b2 * v[j] + c2 * g * g
            logits[j] -= step * mj / (sqrt(vj) * inv_root_bc2 + eps)

    def _sgd_step(self, cat: _Categorical, index: int, advantage: float) -> None:
        lr = self.learning_rate
        scale = advantage / cat.cum[-1]
        logits = cat.logits
        for j, e in enumerate(cat.exps):
            logits[j] -= lr * (scale * e - advantage if j == index else scale * e)

    def _decisions_of(self, config: Any) -> list[tuple[_Categorical, int]]:
        chosen: list[tuple[_Categorical, int]] = []
        names: dict[str, int] = {}
        for path, index, n in self.space.genome(config):
            cat = self._policy.get((_unique(names, path), n))  # type: ignore[arg-type]
            if cat is not None:  # a decision never sampled here has no logits to update
                chosen.append((cat, int(index)))
        return chosen

    # -- inspection and state -----------------------------------------------------------
    def probabilities(self, path: str, n_options: int) -> list[float] | None:
        """The current probabilities of decision ``path``, or None if never met."""
        cat = self._policy.get((path, n_options))
        return None if cat is None else cat.probs

    @property
    def baseline(self) -> float | None:
        """The moving-average baseline, or None before the first score."""
        return self._numerator / self._denominator if self._denominator else None

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "policy": [cat.to_json() for cat in self._policy.values()],
            "baseline": [self._numerator, self._denominator],
            "pending": [
                [cid, [[cat.path, cat.n, i] for cat, i in chosen]]
                for cid, chosen in self._pending.items()
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        cats = [_Categorical.from_json(item) for item in state["policy"]]
        self._policy = {(cat.path, cat.n): cat for cat in cats}
        self._numerator, self._denominator = (float(x) for x in state["baseline"])
        self._pending = {
            int(cid): [(self._policy[path, n], int(i)) for path, n, i in chosen]
            for cid, chosen in state["pending"]
        }


def _unique(names: dict[str, int], path: str) -> str:
    """``path``, suffixed ``#k`` for its k-th repeat (a choice nested directly in a choice)."""
    k = names.get(path, 0)
    names[path] = k + 1
    return path if k == 0 else f"{path}#{k}"


def _check_options(space: Space, learning_rate: Any, momentum: Any, optimizer: Any) -> None:
    if not space.is_finite:
        raise ConfigError(
            "space: reinforce needs finite decisions (Choice, Int); this space has a Real"
        )
    if not _is_number(learning_rate) or not learning_rate > 0:
        raise ConfigError(f"learning_rate: must be a finite number > 0, got {learning_rate!r}")
    if not _is_number(momentum) or not 0 <= momentum < 1:
        raise ConfigError(f"momentum: must be a number in [0, 1), got {momentum!r}")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer: unknown {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
