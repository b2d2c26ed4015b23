"""LCBench learning curves from the shipped YAHPO surrogate, and models learned from them.

Curves are the surrogate's validation accuracy (percent) at epochs 1..52 of configs
drawn with ``lcbench_space().sample``. A curve model or a config prior for a task is
learned from the other tasks only (``exclude``), so that judging it on a task never
sees that task's curves. Curves, trained models and priors are cached in memory for
the process (and inherited by the workers that :func:`archsearch.experiment.compare` forks).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from archsearch.curves._learned import LearnedCurveModel
from archsearch.curves._models import CONFIG_PRIORS, CURVE_MODELS
from archsearch.errors import ConfigError

__all__ = [
    "LCBENCH_EPOCHS",
    "KernelConfigPrior",
    "lcbench_config_prior",
    "lcbench_curve_model",
    "lcbench_curves",
    "lcbench_tasks",
]

LCBENCH_EPOCHS = 52
_CURVES: dict[tuple[str, int, int], np.ndarray] = {}
_MODELS: dict[tuple[tuple[str, ...], int, int, int], LearnedCurveModel] = {}
_PRIORS: dict[tuple[tuple[str, ...], int, int, float], KernelConfigPrior] = {}


def lcbench_tasks() -> list[str]:
    """The 34 OpenML task ids of the surrogate's config space."""
    from archsearch.spaces._configspace import load_json, yahpo_dir

    space = load_json(yahpo_dir("lcbench") / "config_space.json")
    for hp in space["hyperparameters"]:
        if hp["name"] == "OpenML_task_id":
            return [str(t) for t in hp["choices"]]
    raise ConfigError("lcbench: no OpenML_task_id in the shipped config space")


def _configs(n_configs: int, seed: int) -> list[Any]:
    """The configs behind :func:`lcbench_curves` with the same ``n_configs`` and ``seed``."""
    from archsearch.spaces import lcbench_space

    rng = random.Random(seed)
    space = lcbench_space()
    return [space.sample(rng) for _ in range(n_configs)]


def lcbench_curves(task: str, *, n_configs: int = 200, seed: int = 0) -> np.ndarray:
    """Validation-accuracy curves ``(n_configs, 52)`` of random configs on ``task``.

    Configs come from ``random.Random(seed)``; the same seed gives the same configs on
    every task.

    Raises:
        ConfigError: for an unknown task.
    """
    key = (str(task), int(n_configs), int(seed))
    if key not in _CURVES:
        from archsearch.evaluation._yahpo import lcbench_benchmark

        bench = lcbench_benchmark(task=str(task), with_curve=True)
        configs = _configs(n_configs, seed)
        results = bench.evaluate_many(configs, [LCBENCH_EPOCHS] * n_configs)
        _CURVES[key] = np.array([r.curve for r in results], dtype=float)
    return _CURVES[key]


def _check_tasks(exclude: Sequence[str] | str) -> tuple[str, ...]:
    """``exclude`` as a sorted tuple of known task ids."""
    left_out = (exclude,) if isinstance(exclude, str) else tuple(str(t) for t in exclude)
    tasks = lcbench_tasks()
    unknown = [t for t in left_out if t not in tasks]
    if unknown:
        raise ConfigError(f"exclude: unknown LCBench tasks {unknown}; allowed: {', '.join(tasks)}")
    return tuple(sorted(left_out))


@CURVE_MODELS.register("lcbench")
def lcbench_curve_model(
    *,
    exclude: Sequence[str] | str = (),
    n_configs: int = 200,
    seed: int = 0,
    epochs: int = 12,
) -> LearnedCurveModel:
    """A :class:`LearnedCurveModel` trained on LCBench tasks other than ``exclude``.

    Args:
        exclude: task ids left out of training (the task being searched or judged).
        n_configs: curves per task (random configs, ``random.Random(10_000 + seed)``,
            so not those of a search seeded 0, 1, ...).
        seed: fixes the configs and the training.
        epochs: passes over the examples.

    Raises:
        ConfigError: for an unknown task in ``exclude``.

    Example:
        >>> model = lcbench_curve_model(exclude="3945", n_configs=20, epochs=1)
        >>> model.scale
        100.0
    """
    left_out = _check_tasks(exclude)
    tasks = lcbench_tasks()
    key = (left_out, int(n_configs), int(seed), int(epochs))
    if key not in _MODELS:
        curves = np.concatenate(
            [
                lcbench_curves(t, n_configs=n_configs, seed=10_000 + seed)
                for t in tasks
                if t not in left_out
            ]
        )
        _MODELS[key] = LearnedCurveModel.train(curves, scale=100.0, epochs=epochs, seed=seed)
    return _MODELS[key]


class KernelConfigPrior:
    """Nadaraya-Watson regression of a score over configs seen on other tasks.

    A config's score is the kernel-weighted mean of the reference configs' scores, the
    kernel ``exp(-|u - v|^2 / bandwidth)`` over the configs encoded in the unit cube.

    Args:
        encode: a config to its row in the unit cube.
        rows: the reference configs, encoded, ``(n, d)``.
        scores: their scores, ``(n,)``.
        bandwidth: the kernel's width, in squared unit-cube distance.
    """

    def __init__(
        self,
        encode: Callable[[Any], Sequence[float]],
        rows: np.ndarray,
        scores: np.ndarray,
        *,
        bandwidth: float = 0.05,
    ) -> None:
        if not bandwidth > 0:
            raise ConfigError(f"bandwidth: must be > 0, got {bandwidth!r}")
        self.encode, self.bandwidth = encode, float(bandwidth)
        self.rows = np.asarray(rows, dtype=float)
        self.scores = np.asarray(scores, dtype=float)

    def score(self, configs: Sequence[Any]) -> np.ndarray:
        if not configs:
            return np.zeros(0)
        query = np.array([self.encode(c) for c in configs], dtype=float)
        distance = ((query[:, None, :] - self.rows[None, :, :]) ** 2).sum(-1)
        # shifted by each row's nearest reference, so that far configs do not underflow
        weights = np.exp(-(distance - distance.min(1, keepdims=True)) / self.bandwidth)
        return np.asarray((weights * self.scores).sum(1) / weights.sum(1))


@CONFIG_PRIORS.register("lcbench")
def lcbench_config_prior(
    *,
    exclude: Sequence[str] | str = (),
    n_configs: int = 200,
    seed: int = 0,
    bandwidth: float = 0.05,
) -> KernelConfigPrior:
    """How good a config is on the LCBench tasks other than ``exclude`` (transfer).

    ``n_configs`` random configs (``random.Random(10_000 + seed)``, as the curve model's)
    are ranked by their 52-epoch accuracy on each task kept; a config's score is the
    kernel-weighted mean over them of their rank, averaged over those tasks (ranks,
    so that tasks of every accuracy level weigh the same).

    Raises:
        ConfigError: for an unknown task in ``exclude`` or a bandwidth <= 0.

    Example:
        >>> prior = lcbench_config_prior(exclude="3945", n_configs=20)
        >>> prior.score([{"batch_size": 64, "learning_rate": 0.01, "max_dropout": 0.1,
        ...     "max_units": 256, "momentum": 0.9, "num_layers": 3,
        ...     "weight_decay": 1e-4}]).shape
        (1,)
    """
    from archsearch.spaces import lcbench_space
    from archsearch.strategies._bohb import _Encoder

    left_out = _check_tasks(exclude)
    key = (left_out, int(n_configs), int(seed), float(bandwidth))
    if key not in _PRIORS:
        kept = [t for t in lcbench_tasks() if t not in left_out]
        finals = np.array(
            [lcbench_curves(t, n_configs=n_configs, seed=10_000 + seed)[:, -1] for t in kept]
        )
        ranks = (finals.argsort(1).argsort(1) + 0.5) / finals.shape[1]
        encoder = _Encoder(lcbench_space())
        rows = np.array([encoder.encode(c) for c in _configs(n_configs, 10_000 + seed)])
        _PRIORS[key] = KernelConfigPrior(encoder.encode, rows, ranks.mean(0), bandwidth=bandwidth)
    return _PRIORS[key]
