"""Evaluation by real training: build the candidate's model and train it for its fidelity.

The fidelity is the number of epochs. The learning-rate schedule spans the recipe's
epochs whatever the fidelity, and with a ``checkpoint_dir`` each reported fidelity
leaves a checkpoint, so a config promoted from 12 to 36 epochs continues its run
rather than starting again (``cost_s`` is the wall time of this call only).

A config is either an architecture, passed to ``build``, or a joint config
``{"arch": ..., "recipe": ...}`` (see :func:`archsearch.spaces.hpo.joint_space`)
whose recipe part overrides the evaluator's recipe.
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from archsearch.data import Dataset, get_dataset
from archsearch.errors import ConfigError
from archsearch.evaluation._base import Evaluator
from archsearch.registry import BENCHMARKS
from archsearch.space import config_key
from archsearch.training import DeviceData, Recipe, Trainer, seeded_build
from archsearch.training._recipe import RECIPES
from archsearch.trial import Result

__all__ = ["ModelBuilder", "TrainingEvaluator", "training_evaluator"]

Build = Callable[[Any], nn.Module]


class ModelBuilder:
    """``build_model(space, config, **options)`` as a picklable one-argument builder.

    ``in_channels`` and ``n_classes`` default to the dataset's (see :meth:`for_data`).
    """

    def __init__(self, space: str, options: Mapping[str, Any] | None = None) -> None:
        self.space = space
        self.options = dict(options or {})

    def for_data(self, data: Dataset) -> ModelBuilder:
        """A copy whose options default to what ``data`` implies (see ``builder_options``)."""
        defaults = data.builder_options()
        return ModelBuilder(self.space, {**defaults, **self.options})

    def __call__(self, config: Any) -> nn.Module:
        from archsearch.models import build_model  # torch models: imported when first used

        model: nn.Module = build_model(self.space, config, **self.options)
        return model

    def __repr__(self) -> str:
        return f"ModelBuilder({self.space!r}, {self.options!r})"


def _resolve_build(build: Build | str) -> Build:
    """The builder itself, or the function named ``"package.module:function"``."""
    if not isinstance(build, str):
        return build
    module, sep, name = build.partition(":")
    if not sep or not module or not name:
        raise ConfigError(f"build: expected 'package.module:function', got {build!r}")
    try:
        found: Build = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"build: cannot import {build!r} ({exc})") from None
    return found


def _check_picklable(build: Any) -> None:
    try:
        pickle.dumps(build)
    except Exception:  # noqa: BLE001 - pickling raises several kinds
        raise ConfigError(
            f"build: must be picklable for process workers (a module-level function, a "
            f"picklable object, or 'package.module:function'), got {build!r}"
        ) from None


def _recipe(recipe: Recipe | str, epochs: int | None) -> Recipe:
    if isinstance(recipe, str):
        recipe = RECIPES.get_factory(recipe, field="recipe")()
    if not isinstance(recipe, Recipe):
        raise ConfigError(f"recipe: expected a Recipe or a recipe name, got {recipe!r}")
    return recipe if epochs is None else recipe.from_config({"epochs": epochs})


def fidelity_epochs(fidelity: Any, most: int) -> int:
    """A fidelity as a number of epochs: a whole number in ``[1, most]``.

    Raises:
        ConfigError: naming ``fidelity`` and the allowed range.
    """
    ok = isinstance(fidelity, int | float) and not isinstance(fidelity, bool)
    if not ok or not float(fidelity).is_integer() or not 1 <= fidelity <= most:
        raise ConfigError(
            f"fidelity: epochs must be a whole number in [1, {most}], got {fidelity!r}"
        )
    return int(fidelity)


class TrainingEvaluator(Evaluator):
    """Trains each candidate on a dataset and reports its validation accuracy.

    Args:
        build: ``build(arch) -> nn.Module``: a picklable callable (a module-level
            function) or its name ``"package.module:function"``.
        dataset: a registered dataset name (see :data:`archsearch.data.DATASETS`).
        path: where the dataset's files are (None: the usual places).
        subset: keep this many images per split (for quick runs).
        split_seed: seeds the train/validation split.
        n_valid: size of the validation split (None: the dataset's default).
        recipe: a :class:`Recipe` or a recipe name; a config's ``recipe`` part overrides it.
        epochs: the recipe's epochs (its schedule and the highest fidelity).
        seed: seeds the initial weights, shuffling, augmentation and dropout.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        checkpoint_dir: where runs keep checkpoints (one folder per config); None: none.
        report_test: also report ``test_accuracy``.
        compile: train through ``torch.compile``.
        cuda_graphs: CUDA graphs through ``torch.compile(mode="reduce-overhead")``.
        n_threads: CPU threads while training (None: torch's setting).

    Raises:
        ConfigError: for a bad option or a builder that cannot be pickled.
    """

    default_metric = "valid_accuracy"

    def __init__(
        self,
        build: Build | str,
        *,
        dataset: str = "fashion_mnist",
        path: str | Path | None = None,
        subset: int | None = None,
        split_seed: int = 0,
        n_valid: int | None = None,
        recipe: Recipe | str = "nb201",
        epochs: int | None = None,
        seed: int = 0,
        device: str = "auto",
        checkpoint_dir: str | Path | None = None,
        report_test: bool = False,
        compile: bool = False,
        cuda_graphs: bool = False,
        n_threads: int | None = None,
    ) -> None:
        _check_picklable(build)
        self.build = build
        self.dataset, self.path, self.subset, self.split_seed = dataset, path, subset, split_seed
        self.n_valid = n_valid
        self.recipe = _recipe(recipe, epochs)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.report_test = bool(report_test)
        # built now so that bad options fail here, not at the first trial
        self._trainer_options = {
            "device": device,
            "seed": seed,
            "compile": compile,
            "cuda_graphs": cuda_graphs,
            "n_threads": n_threads,
        }
        self.seed = Trainer(self.recipe, **self._trainer_options).seed  # type: ignore[arg-type]
        self.default_fidelity = float(self.recipe.epochs)
        self.fidelities = tuple(float(e) for e in range(1, self.recipe.epochs + 1))
        self._data: DeviceData | None = None
        self._build: Build | None = None

    def __getstate__(self) -> dict[str, Any]:
        # workers load the data and resolve the builder themselves
        return {**self.__dict__, "_data": None, "_build": None}

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        """Train ``config`` to ``fidelity`` epochs (default: its recipe's epochs).

        A fidelity beyond the epochs of a config's own recipe is cut to them.

        Raises:
            ConfigError: for a bad fidelity or recipe part of the config.
        """
        arch, recipe = self._split(config)
        epochs = recipe.epochs if fidelity is None else min(self._epochs(fidelity), recipe.epochs)
        trainer = Trainer(recipe, **self._trainer_options)  # type: ignore[arg-type]
        data = self._device_data(trainer)
        model = seeded_build(self._builder(), arch, self.seed)
        folder = (
            None if self.checkpoint_dir is None else self.checkpoint_dir / self.run_key(config)
        )
        return trainer.fit(
            model, data, epochs=epochs, checkpoint_dir=folder, test=self.report_test
        )

    def run_key(self, config: Any) -> str:
        """The checkpoint folder name of ``config``: a hash of it and every setting."""
        arch, recipe = self._split(config)
        identity = {
            "arch": arch,
            "recipe": recipe.to_json(),
            "data": [self.dataset, self.subset, self.split_seed, self.n_valid],
            "seed": self.seed,
        }
        return hashlib.sha256(config_key(identity).encode()).hexdigest()[:24]

    # -- helpers ----------------------------------------------------------------------
    def _split(self, config: Any) -> tuple[Any, Recipe]:
        """``(arch, recipe)`` of a plain or a joint config."""
        if (
            isinstance(config, Mapping)
            and "recipe" in config
            and set(config) <= {"arch", "recipe"}
        ):
            return config.get("arch"), self.recipe.from_config(config["recipe"])
        return config, self.recipe

    def _epochs(self, fidelity: float) -> int:
        return fidelity_epochs(fidelity, self.recipe.epochs)

    def _device_data(self, trainer: Trainer) -> DeviceData:
        if self._data is None or self._data.device != trainer.device:
            dataset = get_dataset(
                self.dataset,
                path=self.path,
                split_seed=self.split_seed,
                subset=self.subset,
                n_valid=self.n_valid,
            )
            self._data = DeviceData(dataset, trainer.device)
        return self._data

    def _builder(self) -> Build:
        if self._build is None:
            build = _resolve_build(self.build)
            if isinstance(build, ModelBuilder) and self._data is not None:
                build = build.for_data(self._data.source)
            self._build = build
        return self._build


def training_evaluator(
    *,
    space: str,
    dataset: str,
    path: str | None = None,
    subset: int | None = None,
    split_seed: int = 0,
    n_valid: int | None = None,
    recipe: str = "nb201",
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    checkpoint_dir: str | None = None,
    report_test: bool = False,
    compile: bool = False,
    cuda_graphs: bool = False,
    n_threads: int | None = None,
    model: Mapping[str, Any] | None = None,
) -> TrainingEvaluator:
    """A :class:`TrainingEvaluator` whose models come from ``archsearch.models``.

    Args:
        space: the architecture space whose model builder to use (``nb201``, ...).
        dataset: a registered dataset name.
        model: skeleton options of the builder (e.g. ``{"channels": 16, "n_cells": 5}``);
            ``in_channels`` and ``n_classes`` default to the dataset's.
        path, subset, split_seed, n_valid, recipe, epochs, seed, device, checkpoint_dir,
        report_test, compile, cuda_graphs, n_threads: as in :class:`TrainingEvaluator`.
    """
    return TrainingEvaluator(
        ModelBuilder(space, model),
        dataset=dataset,
        path=path,
        subset=subset,
        split_seed=split_seed,
        n_valid=n_valid,
        recipe=recipe,
        epochs=epochs,
        seed=seed,
        device=device,
        checkpoint_dir=checkpoint_dir,
        report_test=report_test,
        compile=compile,
        cuda_graphs=cuda_graphs,
        n_threads=n_threads,
    )


BENCHMARKS.register("training")(training_evaluator)
