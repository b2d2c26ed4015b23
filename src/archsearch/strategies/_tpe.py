"""TPE through Optuna's ask-and-tell interface (Bergstra et al. 2011; Watanabe 2023)."""

from __future__ import annotations

import base64
import pickle
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Domain, Int, Real, Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["TPE"]


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError("strategy: 'tpe' needs optuna; pip install optuna") from None
    return optuna


def _signature(domain: Domain, n_options: int | None) -> list[Any]:
    """What Optuna's distribution for a decision depends on (names must not change it)."""
    if isinstance(domain, Real | Int):
        return [type(domain).__name__, domain.low, domain.high, domain.log]
    return ["Choice", n_options]


@STRATEGIES.register("tpe")
class TPE(Strategy):
    """Optuna's TPESampler behind ``ask``/``tell``.

    Each decision becomes one Optuna parameter named by its path: a :class:`Choice`
    is ``suggest_categorical`` over option indices, an :class:`Int`
    ``suggest_int(low, high, log=...)``, a :class:`Real` ``suggest_float(low, high,
    log=...)``. Conditional spaces are built with :meth:`Space.decide`, so only the
    active decisions are suggested (Optuna's dynamic search spaces). A path that two
    branches use with different domains gets a ``#k`` suffix for the second one.
    Failed results are told as ``TrialState.FAIL``. Optuna's own defaults apply (in
    Optuna 5: multivariate TPE, and the constant liar for trials still out). Optuna's
    INFO logging is lowered to WARNING (it prints a line per trial).

    The state holds the Optuna study (in-memory storage, sampler and its random
    state) pickled and base64-encoded, with the trial numbers of the candidates out;
    a restored TPE therefore asks exactly what the original would. Only load states
    from a store you trust: unpickling runs code.

    Args:
        space: the search space.
        n_startup_trials: random trials before the model is used (Optuna's default 10).
        seed: fixes the search (seeds the sampler).

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> tpe = TPE(nb201_space(), seed=0)
        >>> nb201_space().validate(tpe.ask().config) is not None
        True
    """

    def __init__(
        self, space: Space, *, n_startup_trials: int = 10, seed: int | None = None
    ) -> None:
        if (
            not isinstance(n_startup_trials, int)
            or isinstance(n_startup_trials, bool)
            or n_startup_trials < 0
        ):
            raise ConfigError(
                f"n_startup_trials: must be an integer >= 0, got {n_startup_trials!r}"
            )
        optuna = _optuna()
        super().__init__(space, seed=seed)
        self.n_startup_trials = n_startup_trials
        if optuna.logging.get_verbosity() < optuna.logging.WARNING:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(
            seed=self.rng.getrandbits(32), n_startup_trials=n_startup_trials
        )
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._pending: dict[int, int] = {}  # candidate id -> Optuna trial number
        self._names: dict[str, list[list[Any]]] = {}  # path -> signatures seen, in order
        # the pickled study while unchanged: pickling an unpickled study memoises strings
        # differently, so a restored state would otherwise not read back byte for byte
        self._blob: str | None = None

    def _name(self, path: str, domain: Domain, n_options: int | None) -> str:
        signature = _signature(domain, n_options)
        seen = self._names.setdefault(path, [])
        if signature not in seen:
            seen.append(signature)
        k = seen.index(signature)
        return path if k == 0 else f"{path}#{k}"

    def ask(self) -> Candidate:
        self._blob = None
        trial = self.study.ask()

        def choose(path: str, n_options: int | None, domain: Domain) -> int | float:
            name = self._name(path, domain, n_options)
            if isinstance(domain, Real):
                return float(trial.suggest_float(name, domain.low, domain.high, log=domain.log))
            if isinstance(domain, Int):
                value = trial.suggest_int(name, domain.low, domain.high, log=domain.log)
                return int(value) - domain.low
            assert isinstance(domain, Choice) and n_options is not None
            return int(trial.suggest_categorical(name, list(range(n_options))))

        config = self.space.decide(choose)
        candidate = self._propose(config)
        self._pending[candidate.id] = trial.number
        return candidate

    def tell(self, candidate: Candidate, result: Result) -> None:
        number = self._pending.pop(candidate.id, None)
        if number is None:
            return  # not ours, or told already
        self._blob = None
        if result.score is None:
            state = _optuna().trial.TrialState.FAIL
            self.study.tell(number, state=state, skip_if_finished=True)
        else:
            self.study.tell(number, float(result.score), skip_if_finished=True)

    def state_dict(self) -> dict[str, Any]:
        if self._blob is None:
            self._blob = base64.b64encode(pickle.dumps(self.study)).decode("ascii")
        return {
            **super().state_dict(),
            "study": self._blob,
            "pending": [[i, n] for i, n in sorted(self._pending.items())],
            "names": self._names,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.study = pickle.loads(base64.b64decode(state["study"]))  # noqa: S301 - own state
        self._blob = str(state["study"])
        self._pending = {int(i): int(n) for i, n in state["pending"]}
        self._names = {path: [list(s) for s in sigs] for path, sigs in state["names"].items()}
