"""Evaluators of joint ``{"arch": ..., "hardware": ...}`` configs.

:class:`AcceleratorBenchmark` (``nahas``) answers an NB-201 cell's accuracy from the
shipped table (real accuracies, simulated training time) and the accelerator's latency,
energy and area from the analytical model on the cell's network: a cheap, real
benchmark for architecture-accelerator co-search. :class:`AcceleratorCostEvaluator`
(``accelerator_cost``) costs any space with a model builder (no accuracy).

Example:
    >>> from archsearch.spaces.nb201 import from_arch_str
    >>> arch = from_arch_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    ...                      "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> hardware = {"rows": 16, "cols": 16, "pe_buffer": 4, "glb_kib": 128, "dataflow": "ws"}
    >>> metrics = AcceleratorBenchmark().evaluate({"arch": arch, "hardware": hardware}).metrics
    >>> sorted(metrics)  # doctest: +NORMALIZE_WHITESPACE
    ['area_mm2', 'dram_mb', 'energy_uj', 'latency_ms', 'test_accuracy', 'utilisation',
     'valid_accuracy']
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from archsearch.errors import ConfigError
from archsearch.evaluation._base import Benchmark, Evaluator
from archsearch.evaluation._nb201 import NB201Benchmark
from archsearch.hardware._accelerator import NetworkCost, network_cost
from archsearch.hardware._layers import model_layers, nb201_layers
from archsearch.hardware._space import accelerator_from_config
from archsearch.registry import BENCHMARKS
from archsearch.space import config_key
from archsearch.spaces.nb201 import to_arch_str
from archsearch.trial import Result

__all__ = ["AcceleratorBenchmark", "AcceleratorCostEvaluator", "split_joint"]

# input size and classes of NB201's datasets
_DATASET_SHAPE = {"cifar10": (32, 10), "cifar100": (32, 100), "imagenet16-120": (16, 120)}


def split_joint(config: Any) -> tuple[Any, Mapping[str, Any]]:
    """``(arch, hardware)`` of a joint config.

    Raises:
        ConfigError: when the config is not ``{"arch": ..., "hardware": {...}}``.
    """
    if not isinstance(config, Mapping) or "arch" not in config or "hardware" not in config:
        raise ConfigError(f"config: expected {{'arch': ..., 'hardware': ...}}, got {config!r}")
    return config["arch"], config["hardware"]


@BENCHMARKS.register("nahas")
class AcceleratorBenchmark(Benchmark):
    """NB201 accuracy by look-up plus the accelerator's cost of the cell's network.

    Metrics: NB201's ``valid_accuracy`` and ``test_accuracy`` (at the fidelity asked),
    and from the cost model ``latency_ms``, ``energy_uj``, ``area_mm2``,
    ``utilisation`` and ``dram_mb``. The cost is the NB201 simulated training time (the
    cost model itself takes microseconds). :meth:`estimate` gives ``area_mm2`` without
    evaluating, so an area budget rejects accelerators before they cost a query.

    Args:
        dataset: NB201's ``cifar10``, ``cifar100`` or ``imagenet16-120`` (the input size
            and classes of the costed network follow it).
        fidelity: default epochs, 12 or 200.
        channels, n_cells: the costed network's skeleton (NB201: 16 and 5).
        prune: cost only the edges that reach a cell's output.
        path: an alternative NB201 table file.
    """

    fidelities = (12.0, 200.0)

    def __init__(
        self,
        *,
        dataset: str = "cifar10",
        fidelity: int = 200,
        channels: int = 16,
        n_cells: int = 5,
        prune: bool = False,
        path: str | None = None,
    ) -> None:
        self._nb201 = NB201Benchmark(dataset=dataset, fidelity=fidelity, path=path)
        self.default_fidelity = float(fidelity)
        for name, value in (("channels", channels), ("n_cells", n_cells)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        self.image_size, self.n_classes = _DATASET_SHAPE[dataset]
        self.channels, self.n_cells, self.prune = channels, n_cells, prune

    def cost(self, config: Any) -> NetworkCost:
        """The accelerator's cost of the cell's network."""
        arch, hardware = split_joint(config)
        layers = nb201_layers(
            arch,
            channels=self.channels,
            n_cells=self.n_cells,
            image_size=self.image_size,
            n_classes=self.n_classes,
            prune=self.prune,
        )
        return network_cost(layers, accelerator_from_config(hardware))

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        arch, _ = split_joint(config)
        result = self._nb201.evaluate(arch, fidelity)
        return Result({**result.metrics, **self.cost(config).metrics()}, result.cost_s)

    def estimate(self, config: Any) -> dict[str, float]:
        """The accelerator's area, known without evaluating."""
        _, hardware = split_joint(config)
        return {"area_mm2": accelerator_from_config(hardware).area_mm2}

    def truth(self, config: Any) -> dict[str, float]:
        arch, _ = split_joint(config)
        return self._nb201.truth(arch)

    def describe(self, config: Any) -> str:
        arch, hw = split_joint(config)
        return (
            f"{to_arch_str(arch)} on {hw['rows']}x{hw['cols']} {hw['dataflow']}, "
            f"{hw['pe_buffer']} w/PE, {hw['glb_kib']} KiB"
        )


@BENCHMARKS.register("accelerator_cost")
class AcceleratorCostEvaluator(Evaluator):
    """The accelerator's cost of any builder's network (layers found by forward hooks).

    Metrics: ``latency_ms``, ``energy_uj``, ``area_mm2``, ``utilisation``, ``dram_mb`` and
    ``macs_m``. The layers of each architecture are extracted once and cached.

    Args:
        space: a space with a builder (``nb201``, ``nats_size``, ``mobilenet``, ``cnn``,
            ``darts``, ...).
        input_shape: ``(channels, height, width)`` of one image.
        n_classes: classifier outputs.
        model_options: further skeleton options of the builder.
    """

    def __init__(
        self,
        *,
        space: str,
        input_shape: tuple[int, int, int] | list[int] = (3, 32, 32),
        n_classes: int = 10,
        model_options: dict[str, Any] | None = None,
    ) -> None:
        if len(input_shape) != 3:
            raise ConfigError(
                f"input_shape: expected (channels, height, width), got {input_shape}"
            )
        self.space = space
        self.input_shape = tuple(int(v) for v in input_shape)
        self.options = {"n_classes": n_classes, **(model_options or {})}
        self._layers: dict[str, Any] = {}

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        t = time.perf_counter()
        arch, hardware = split_joint(config)
        key = config_key(arch)
        if key not in self._layers:
            self._layers[key] = model_layers(self.space, arch, self.input_shape, **self.options)
        cost = network_cost(self._layers[key], accelerator_from_config(hardware))
        metrics = {**cost.metrics(), "macs_m": cost.macs / 1e6}
        return Result(metrics, time.perf_counter() - t)
