"""LCBench learning curves from the shipped YAHPO surrogate, and curve models trained on them.

Curves are the surrogate's validation accuracy (percent) at epochs 1..52 of configs
drawn with ``lcbench_space().sample``. A model for a task is trained on the curves of
the other tasks only (``exclude``), so that judging it on a task never sees that
task's curves. Curves and trained models are cached in memory for the process (and
inherited by the workers that :func:`archsearch.experiment.compare` forks).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from archsearch.curves._learned import LearnedCurveModel
from archsearch.curves._models import CURVE_MODELS
from archsearch.errors import ConfigError

__all__ = ["LCBENCH_EPOCHS", "lcbench_curve_model", "lcbench_curves", "lcbench_tasks"]

LCBENCH_EPOCHS = 52
_CURVES: dict[tuple[str, int, int], np.ndarray] = {}
_MODELS: dict[tuple[tuple[str, ...], int, int, int], LearnedCurveModel] = {}


def lcbench_tasks() -> list[str]:
    """The 34 OpenML task ids of the surrogate's config space."""
    from archsearch.spaces._configspace import load_json, yahpo_dir

    space = load_json(yahpo_dir("lcbench") / "config_space.json")
    for hp in space["hyperparameters"]:
        if hp["name"] == "OpenML_task_id":
            return [str(t) for t in hp["choices"]]
    raise ConfigError("lcbench: no OpenML_task_id in the shipped config space")


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
        from archsearch.spaces import lcbench_space

        bench = lcbench_benchmark(task=str(task), with_curve=True)
        rng = random.Random(seed)
        space = lcbench_space()
        configs = [space.sample(rng) for _ in range(n_configs)]
        results = bench.evaluate_many(configs, [LCBENCH_EPOCHS] * n_configs)
        _CURVES[key] = np.array([r.curve for r in results], dtype=float)
    return _CURVES[key]


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
    left_out = (exclude,) if isinstance(exclude, str) else tuple(str(t) for t in exclude)
    tasks = lcbench_tasks()
    unknown = [t for t in left_out if t not in tasks]
    if unknown:
        raise ConfigError(f"exclude: unknown LCBench tasks {unknown}; allowed: {', '.join(tasks)}")
    key = (tuple(sorted(left_out)), int(n_configs), int(seed), int(epochs))
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
