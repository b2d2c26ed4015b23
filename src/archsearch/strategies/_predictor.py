"""Predictor-based search, BANANAS-style (White et al., AAAI 2021).

An ensemble of neural predictors (:mod:`archsearch.predictors`) is trained on the
results told so far and retrained from scratch every ``refit_every`` new results.
Each ask scores a pool of candidates (every one-decision neighbour of the best
``n_parents`` results, plus ``n_random`` fresh samples) by an acquisition over the
ensemble and proposes the best one not asked before. Until ``n_initial`` results
are in, asks are random samples, or with a ``prior`` (e.g. a zero-cost proxy) the
best-scored configs of a seeded pool.

Everything the strategy knows is in :meth:`state_dict`: the told data, the asked
configs, how many results the current model was fitted on and the seed of its
weights. The model itself is not stored: training is deterministic (seeded torch
generators), so a restored strategy refits it from the data and asks the same.

This module imports torch; register it lazily.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.predictors import NeuralPredictor
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["ACQUISITIONS", "PredictorSearch"]

#: how candidates are ranked from the ensemble's standardised mean and spread
ACQUISITIONS = ("thompson", "ucb", "mean")


def _check_options(counts: dict[str, Any], n_random: Any, acquisition: str) -> None:
    for name, value in counts.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: must be an integer >= 1, got {value!r}")
    if not isinstance(n_random, int) or n_random < 0:
        raise ConfigError(f"n_random: must be an integer >= 0, got {n_random!r}")
    if acquisition not in _ACQUIRE:
        raise ConfigError(
            f"acquisition: unknown {acquisition!r}; allowed: {', '.join(ACQUISITIONS)}"
        )


def _ucb(mean: np.ndarray, std: np.ndarray, strategy: PredictorSearch) -> np.ndarray:
    value: np.ndarray = mean + strategy.kappa * std
    return value


def _thompson(mean: np.ndarray, std: np.ndarray, strategy: PredictorSearch) -> np.ndarray:
    draws = np.array([strategy.rng.gauss(0.0, 1.0) for _ in range(len(mean))])
    value: np.ndarray = mean + std * draws
    return value


def _mean(mean: np.ndarray, std: np.ndarray, strategy: PredictorSearch) -> np.ndarray:
    return mean


_ACQUIRE: dict[str, Callable[[np.ndarray, np.ndarray, PredictorSearch], np.ndarray]] = {
    "ucb": _ucb,
    "thompson": _thompson,
    "mean": _mean,
}


@STRATEGIES.register("predictor")
class PredictorSearch(Strategy):
    """Ask what an ensemble of performance predictors ranks best (BANANAS-style).

    Args:
        space: the search space (GATES and GCN need NB201-style cells; MLP any flat
            categorical space).
        predictor: ``gates``, ``gcn`` or ``mlp``: the members' network.
        loss: the members' loss (``hinge``, ``bce``, ``listmle``, ``mse``).
        n_members: ensemble size; the spread of its members is the uncertainty.
        steps: optimiser steps of each member at each refit: full-batch epochs while
            the data fit in one batch, then minibatches of ``batch_size``, so that a
            refit costs about the same however many results there are.
        batch_size: the largest minibatch.
        n_initial: results needed before the first model.
        refit_every: new results between two refits (BANANAS evaluates 10 per round).
        n_parents: the best results whose neighbours are candidates.
        n_random: fresh random samples added to the candidates at each ask.
        acquisition: ``thompson`` (an independent normal draw per candidate, BANANAS'
            choice), ``ucb`` (mean + ``kappa`` * spread) or ``mean``. Each member's
            predictions are standardised over the pool first (ranking losses give scores
            on no fixed scale).
        kappa: the exploration weight of ``ucb``.
        prior: ``config -> float``, higher is better (e.g. a zero-cost proxy); the
            initial asks are then the best of ``n_prior_pool`` seeded samples.
        n_prior_pool: configs the prior ranks for the initial asks.
        seed: fixes the search.

    Raises:
        ConfigError: for a bad option, or a predictor that cannot encode the space.
    """

    def __init__(
        self,
        space: Space,
        *,
        predictor: str = "gates",
        loss: str = "hinge",
        n_members: int = 3,
        steps: int = 200,
        batch_size: int = 100,
        n_initial: int = 10,
        refit_every: int = 10,
        n_parents: int = 10,
        n_random: int = 200,
        acquisition: str = "thompson",
        kappa: float = 0.5,
        prior: Callable[[Any], float] | None = None,
        n_prior_pool: int = 1000,
        seed: int | None = None,
    ) -> None:
        counts = {"n_members": n_members, "steps": steps, "batch_size": batch_size}
        counts |= {"n_initial": n_initial, "refit_every": refit_every, "n_parents": n_parents}
        _check_options(counts | {"n_prior_pool": n_prior_pool}, n_random, acquisition)
        super().__init__(space, seed=seed)
        self.predictor, self.loss, self.n_members = predictor, loss, n_members
        self.steps, self.batch_size = steps, batch_size
        self.n_initial, self.refit_every = n_initial, refit_every
        self.n_parents, self.n_random = n_parents, n_random
        self.acquisition, self.kappa = acquisition, float(kappa)
        self.prior, self.n_prior_pool = prior, n_prior_pool
        self.data: list[tuple[Any, float]] = []
        self.asked: set[str] = set()
        self._model_seed = int(self.rng.random() * 2**31)
        self._member(0).encode([space.sample(seed=0)])  # fails early on a space it cannot encode
        self._n_fitted = 0
        self._members: list[NeuralPredictor] | None = None
        self._prior_queue: list[Any] | None = None

    # -- asking ---------------------------------------------------------------------------
    def ask(self) -> Candidate:
        if len(self.data) < self.n_initial:
            config = self._initial()
        else:
            self._refit_if_due()
            config = self._best_candidate()
        self.asked.add(self.space.key(config))
        return self._propose(config)

    def tell(self, candidate: Candidate, result: Result) -> None:
        self.asked.add(self.space.key(candidate.config))
        if result.score is not None:
            self.data.append((candidate.config, float(result.score)))

    def _sample_unasked(self, tries: int = 100) -> Any:
        """A random config not asked yet (after ``tries`` draws, any random config)."""
        config = self.space.sample(self.rng)
        for _ in range(tries):
            if self.space.key(config) not in self.asked:
                break
            config = self.space.sample(self.rng)
        return config

    def _initial(self) -> Any:
        if self.prior is None:
            return self._sample_unasked()
        if self._prior_queue is None:
            # a pool drawn from the stored model seed, so that a restored search rebuilds it
            pool_rng = random.Random(self._model_seed)
            pool = [self.space.sample(pool_rng) for _ in range(self.n_prior_pool)]
            scores = [float(self.prior(config)) for config in pool]
            order = sorted(range(len(pool)), key=lambda i: -scores[i])  # stable: ties by draw
            self._prior_queue = [pool[i] for i in order]
        for config in self._prior_queue:
            if self.space.key(config) not in self.asked:
                return config
        return self._sample_unasked()

    # -- the model ------------------------------------------------------------------------
    def _member(self, k: int, n_data: int = 0) -> NeuralPredictor:
        seed = (self._model_seed * 1_000_003 + n_data * 101 + k) % 2**31
        batch = max(1, min(n_data, self.batch_size))
        epochs = max(1, round(self.steps * batch / max(n_data, 1)))
        return NeuralPredictor(
            self.space,
            model=self.predictor,
            loss=self.loss,
            epochs=epochs,
            batch_size=batch,
            seed=seed,
        )

    def _fit(self, n_data: int) -> None:
        configs = [config for config, _ in self.data[:n_data]]
        scores = [score for _, score in self.data[:n_data]]
        self._members = [
            self._member(k, n_data).fit(configs, scores) for k in range(self.n_members)
        ]
        self._n_fitted = n_data

    def _refit_if_due(self) -> None:
        if self._members is None and self._n_fitted:
            self._fit(self._n_fitted)  # restored: rebuild the model the original had
        if self._members is None or len(self.data) - self._n_fitted >= self.refit_every:
            self._fit(len(self.data))

    # -- candidates -----------------------------------------------------------------------
    def _pool(self) -> list[Any]:
        """Unasked neighbours of the best results, then unasked random samples."""
        key, asked = self.space.key, self.asked
        seen: set[str] = set()
        pool: list[Any] = []

        def add(config: Any) -> None:
            k = key(config)
            if k not in asked and k not in seen:
                seen.add(k)
                pool.append(config)

        best = sorted(range(len(self.data)), key=lambda i: -self.data[i][1])[: self.n_parents]
        for i in best:
            for neighbour in self._neighbours(self.data[i][0]):
                add(neighbour)
        for _ in range(self.n_random):
            add(self.space.sample(self.rng))
        return pool

    def _neighbours(self, config: Any) -> list[Any]:
        if self.space.is_finite:
            return list(self.space.neighbours(config))
        return [self.space.mutate(config, self.rng) for _ in range(20)]

    def _best_candidate(self) -> Any:
        pool = self._pool()
        if not pool:
            return self._sample_unasked()
        assert self._members is not None
        predictions = np.stack([member.predict(pool) for member in self._members])
        spread = predictions.std(axis=1, keepdims=True)
        z = (predictions - predictions.mean(axis=1, keepdims=True)) / np.where(
            spread > 0, spread, 1
        )
        mean, std = z.mean(axis=0), z.std(axis=0)
        value = _ACQUIRE[self.acquisition](mean, std, self)
        return pool[int(np.argmax(value))]

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "data": [[config, score] for config, score in self.data],
            "asked": sorted(self.asked),
            "n_fitted": self._n_fitted,
            "model_seed": self._model_seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.data = [(config, float(score)) for config, score in state["data"]]
        self.asked = set(state["asked"])
        self._n_fitted = int(state["n_fitted"])
        self._model_seed = int(state["model_seed"])
        self._members = None  # refitted from the data at the next ask
        self._prior_queue = None
