"""The ``quantisation`` benchmark: train an architecture in float, fake-quantise, measure.

Each config is a bit policy, with or without its architecture:

- ``{"bits": [...]}``: one entry per ``Conv2d``/``Linear`` of the evaluator's fixed
  ``arch`` (the :func:`~archsearch.spaces.quantisation.quantisation_space` form);
- ``{"arch": ..., "stage_bits": [...]}``: one entry per stage of a ``cnn`` config,
  then the classifier (the :func:`~archsearch.spaces.quantisation.quantised_cnn_space`
  form); ``{"arch": ..., "bits": [...]}`` works too.

The architecture is trained in float with the project's :class:`Trainer` once per run
(kept in memory, and on disk under ``checkpoint_dir`` when given, so that another
experiment over the same architecture loads it), then the policy is applied with
:func:`~archsearch.quantisation.quantise_model` (activation ranges calibrated on the
first training images), optionally fine-tuned (QAT), and evaluated. A bit-policy-only
search therefore trains once and costs a calibration and an evaluation per trial.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archsearch.data import get_dataset
from archsearch.errors import ConfigError
from archsearch.evaluation._base import Evaluator
from archsearch.evaluation._training import ModelBuilder, _recipe, fidelity_epochs
from archsearch.quantisation._fake import model_size_bits, quantisable_layers, quantise_model
from archsearch.quantisation._policy import FLOAT_BITS, check_bits, expand_stage_bits, parse_policy
from archsearch.quantisation._qat import fine_tune
from archsearch.registry import BENCHMARKS
from archsearch.space import config_key
from archsearch.training import DeviceData, Recipe, Trainer, seeded_build
from archsearch.trial import Result, TrialStatus

__all__ = ["QuantisationEvaluator", "accuracy"]

CONFIG_KEYS = ("arch", "bits", "stage_bits")


@torch.no_grad()
def accuracy(model: nn.Module, data: DeviceData, split: str, *, batch_size: int = 1024) -> float:
    """Top-1 accuracy (percent) of ``model`` in eval mode on ``split`` (valid or test)."""
    x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        out = model(data.normalise(x[start : start + batch_size]))
        correct += int((out.argmax(1) == y[start : start + batch_size]).sum())
    return 100.0 * correct / max(len(y), 1)


def _named_recipe(recipe: Recipe | str | Mapping[str, Any]) -> Recipe | str:
    """A recipe, or a name, from ``{"name": ..., **fields}`` too (JSON-able specs)."""
    if not isinstance(recipe, Mapping):
        return recipe
    fields = {k: v for k, v in recipe.items() if k != "name"}
    return _recipe(recipe.get("name", "nb201"), None).from_config(fields)


@BENCHMARKS.register("quantisation")
class QuantisationEvaluator(Evaluator):
    """Accuracy of a fake-quantised network under a bit policy, and its size in bits.

    Metrics: ``valid_accuracy`` (quantised), ``float_valid_accuracy``, with
    ``report_test`` also ``test_accuracy`` and ``float_test_accuracy``; ``size_bits``
    and ``size_kib`` (see :func:`~archsearch.quantisation.model_size_bits`),
    ``float_size_kib``, ``mean_weight_bits`` (over all quantisable weights) and
    ``n_params``. ``cost_s`` is this call's wall time (training included when the
    architecture was not trained yet). The fidelity is the float training's epochs.

    Args:
        space: the builder of architectures (``archsearch.models``; ``stage_bits``
            needs ``cnn``).
        arch: the fixed architecture of ``{"bits": ...}`` configs (None: configs
            carry their ``arch``).
        dataset, path, subset, split_seed, n_valid: the data (see ``get_dataset``).
        recipe: a :class:`Recipe`, a recipe name, or ``{"name": ..., **fields}`` (a
            named recipe, default ``nb201``, with fields changed) for the float training.
        epochs, seed, device, n_threads: the float training (see ``Trainer``).
        checkpoint_dir: where trained float models are kept across runs (None: memory only).
        activation_bits: input bits of layers given as an integer (None: their weight
            bits; 32: float inputs).
        calibration_batches, calibration_batch_size: the first training images that set
            the activation ranges.
        qat_steps, qat_learning_rate: quantisation-aware fine-tuning after calibration
            (0 steps: none).
        report_test: also report the test accuracies.
        model: further options of the builder (``in_channels``/``n_classes`` default
            to the dataset's).
        cache_size: trained float models kept in memory (least recently used dropped).

    Raises:
        ConfigError: for a bad option, naming it.
    """

    default_metric = "valid_accuracy"

    def __init__(
        self,
        *,
        space: str = "cnn",
        arch: Any = None,
        dataset: str = "fashion_mnist",
        path: str | Path | None = None,
        subset: int | None = None,
        split_seed: int = 0,
        n_valid: int | None = None,
        recipe: Recipe | str | Mapping[str, Any] = "nb201",
        epochs: int | None = None,
        seed: int = 0,
        device: str = "auto",
        n_threads: int | None = None,
        checkpoint_dir: str | Path | None = None,
        activation_bits: int | None = None,
        calibration_batches: int = 4,
        calibration_batch_size: int = 256,
        qat_steps: int = 0,
        qat_learning_rate: float = 0.002,
        report_test: bool = False,
        model: Mapping[str, Any] | None = None,
        cache_size: int = 32,
    ) -> None:
        if activation_bits is not None:
            check_bits(activation_bits, "activation_bits")
        for name, value in (
            ("calibration_batches", calibration_batches),
            ("calibration_batch_size", calibration_batch_size),
            ("cache_size", cache_size),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: must be an integer >= 1, got {value!r}")
        if not isinstance(qat_steps, int) or isinstance(qat_steps, bool) or qat_steps < 0:
            raise ConfigError(f"qat_steps: must be an integer >= 0, got {qat_steps!r}")
        self.space, self.arch = space, arch
        self.builder = ModelBuilder(space, model)
        self.dataset, self.path, self.subset = dataset, path, subset
        self.split_seed, self.n_valid = split_seed, n_valid
        self.recipe = _recipe(_named_recipe(recipe), epochs)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.activation_bits = activation_bits
        self.calibration_batches = calibration_batches
        self.calibration_batch_size = calibration_batch_size
        self.qat_steps, self.qat_learning_rate = qat_steps, qat_learning_rate
        self.report_test = bool(report_test)
        self.cache_size = cache_size
        self._trainer = Trainer(self.recipe, device=device, seed=seed, n_threads=n_threads)
        self.default_fidelity = float(self.recipe.epochs)
        self.fidelities = tuple(float(e) for e in range(1, self.recipe.epochs + 1))
        self._data: DeviceData | None = None
        self._models: OrderedDict[str, tuple[nn.Module, dict[str, float]]] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        # workers load the data and train (or load) their own float models
        return {**self.__dict__, "_data": None, "_models": OrderedDict()}

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        """Train (or reuse) ``config``'s architecture, quantise it by its policy, measure.

        Raises:
            ConfigError: for a config that is not a policy of its architecture, naming
                the field (``bits``, ``stage_bits[2]``, ``arch``).
        """
        start = time.perf_counter()
        arch, policy, field = self._split(config)
        epochs = self._epochs(fidelity)
        data = self._device_data()
        trained = self._trained(arch, epochs, data)
        if isinstance(trained, Result):
            return trained
        model, float_metrics = trained
        n_layers = len(quantisable_layers(model))
        layers = parse_policy(policy, n_layers, activation_bits=self.activation_bits, field=field)
        with self._threads():
            quantised = quantise_model(
                model,
                [{"weight": b.weight, "activation": b.activation} for b in layers],
                calibration=self._calibration(data),
            )
            fine_tune(
                quantised,
                data,
                steps=self.qat_steps,
                learning_rate=self.qat_learning_rate,
                seed=self._trainer.seed,
            )
            metrics = {"valid_accuracy": accuracy(quantised, data, "valid"), **float_metrics}
            if self.report_test:
                metrics["test_accuracy"] = accuracy(quantised, data, "test")
        metrics.update(self._size(model, [b.weight for b in layers]))
        return Result(metrics, time.perf_counter() - start)

    def run_key(self, arch: Any, epochs: int) -> str:
        """The name of an architecture's float checkpoint: a hash of it and every setting."""
        identity = {
            "space": self.space,
            "arch": arch,
            "model": self.builder.options,
            "recipe": self.recipe.to_json(),
            "epochs": epochs,
            "data": [self.dataset, self.subset, self.split_seed, self.n_valid],
            "seed": self._trainer.seed,
        }
        return hashlib.sha256(config_key(identity).encode()).hexdigest()[:24]

    # -- helpers ----------------------------------------------------------------------
    def _split(self, config: Any) -> tuple[Any, Any, str]:
        """``(arch, per-layer policy, field name)`` of a config."""
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"config: expected {{'bits': [...]}} or {{'arch': ..., 'stage_bits': [...]}}, "
                f"got {config!r}"
            )
        for key in config:
            if key not in CONFIG_KEYS:
                raise ConfigError(f"{key}: unknown config key; allowed: {', '.join(CONFIG_KEYS)}")
        arch = config.get("arch", self.arch)
        if arch is None:
            raise ConfigError("arch: none given; set the evaluator's arch or the config's arch")
        if ("bits" in config) == ("stage_bits" in config):
            raise ConfigError(
                "bits: give exactly one of bits (per layer) or stage_bits (per stage)"
            )
        if "bits" in config:
            return arch, config["bits"], "bits"
        stage_bits = config["stage_bits"]
        per_layer = expand_stage_bits(arch, stage_bits)  # checks the length
        parse_policy(stage_bits, len(stage_bits), field="stage_bits")  # and each entry
        return arch, per_layer, "stage_bits"

    def _epochs(self, fidelity: float | None) -> int:
        if fidelity is None:
            return self.recipe.epochs
        return fidelity_epochs(fidelity, self.recipe.epochs)

    def _device_data(self) -> DeviceData:
        if self._data is None:
            dataset = get_dataset(
                self.dataset,
                path=self.path,
                split_seed=self.split_seed,
                subset=self.subset,
                n_valid=self.n_valid,
            )
            self._data = DeviceData(dataset, self._trainer.device)
        return self._data

    def _trained(
        self, arch: Any, epochs: int, data: DeviceData
    ) -> tuple[nn.Module, dict[str, float]] | Result:
        """The float model of ``arch`` and its metrics: from memory, disk, or training."""
        key = self.run_key(arch, epochs)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        build = self.builder.for_data(data.source)
        model = seeded_build(build, arch, self._trainer.seed)
        folder = None if self.checkpoint_dir is None else self.checkpoint_dir / key
        result = self._trainer.fit(model, data, epochs=epochs, checkpoint_dir=folder)
        if result.status is not TrialStatus.COMPLETE:
            return result
        with self._threads():
            metrics = {"float_valid_accuracy": accuracy(model, data, "valid")}
            if self.report_test:
                metrics["float_test_accuracy"] = accuracy(model, data, "test")
        metrics["n_params"] = float(sum(p.numel() for p in model.parameters()))
        self._models[key] = (model, metrics)
        while len(self._models) > self.cache_size:
            self._models.popitem(last=False)
        return model, metrics

    def _calibration(self, data: DeviceData) -> list[torch.Tensor]:
        size = self.calibration_batch_size
        n = min(self.calibration_batches * size, data.n_train)
        return [data.normalise(data.train_x[s : s + size]) for s in range(0, n, size)]

    def _size(self, model: nn.Module, weight_bits: list[int]) -> dict[str, float]:
        size = model_size_bits(model, weight_bits)
        float_size = model_size_bits(model, [FLOAT_BITS] * len(weight_bits))
        weights = [m.weight.numel() for _, m in quantisable_layers(model)]
        mean_bits = sum(b * n for b, n in zip(weight_bits, weights, strict=True)) / sum(weights)
        return {
            "size_bits": float(size),
            "size_kib": size / 8 / 1024,
            "float_size_kib": float_size / 8 / 1024,
            "mean_weight_bits": mean_bits,
        }

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        saved = torch.get_num_threads()
        if self._trainer.n_threads is not None:
            torch.set_num_threads(self._trainer.n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(saved)
