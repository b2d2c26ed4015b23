"""Cost of a built network: parameters, multiply-adds, measured latency.

FLOPs are counted from the model itself with PyTorch's own ``FlopCounterMode``;
like NAS-Bench-201 and NATS-Bench, archsearch reports multiply-accumulates (MACs)
as ``flops_m``. What is counted: matrix products (linear layers, and attention's
score and value products when written as matmuls, as archsearch's transformers do),
convolutions, and FFTs (``5 n log2 n`` FLOPs per ``n``-point transform); not
normalisation, activations, softmax, pooling or embedding look-ups. Latency is
measured: warm-up runs, then repeated timed runs, with the median and the spread.

Inputs are float zeros of an image shape, or, for a model that declares its input
(token ids: ``model.example_input(batch_size)``), that example.

Example:
    >>> from archsearch.spaces.nb201 import from_arch_str
    >>> cell = from_arch_str("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
    ...                      "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    >>> cost = CostEvaluator(space="nb201").evaluate(cell).metrics
    >>> round(cost["params_m"], 3), round(cost["flops_m"], 1)
    (0.129, 15.6)
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from archsearch.errors import ConfigError
from archsearch.evaluation._base import Evaluator
from archsearch.registry import BENCHMARKS
from archsearch.trial import Result

__all__ = ["CostEvaluator", "count_macs", "example_input", "measure_latency"]


def _fft_flops(x_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """FLOPs of FFTs over ``dim`` of ``x``: ``5 n log2 n`` per ``n``-point transform."""
    n = math.prod(int(x_shape[d]) for d in dim)
    batch = math.prod(int(v) for v in x_shape) // max(n, 1)
    return int(5 * n * math.log2(n) * batch) if n > 1 else 0


def example_input(model: Any, shape: tuple[int, ...] | Any, device: str = "cpu") -> Any:
    """The tensor cost is measured on: ``shape``'s float zeros, or a given tensor as is."""
    import torch

    if isinstance(shape, torch.Tensor):
        return shape.to(device)
    return torch.zeros(shape, device=device)


def count_macs(model: Any, input_shape: tuple[int, ...] | Any) -> int:
    """Multiply-accumulates of one forward pass (see the module docstring for what counts).

    Args:
        model: the network (evaluated in eval mode, then put back).
        input_shape: the input's shape (float zeros are fed), or an input tensor
            (token ids of a text model).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    ffts = {op: _fft_flops for op in (aten._fft_c2c, aten._fft_r2c, aten._fft_c2r)}
    x = example_input(model, input_shape)
    was_training = model.training
    model.eval()
    try:
        with (
            torch.no_grad(),
            FlopCounterMode(display=False, custom_mapping=ffts) as counter,
        ):
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def measure_latency(
    model: Any,
    input_shape: tuple[int, ...] | Any,
    *,
    device: str = "cpu",
    warmup: int = 5,
    repeats: int = 30,
    threads: int | None = None,
) -> dict[str, float]:
    """Inference latency in milliseconds: median, 10th and 90th percentile, spread.

    Args:
        model: the network (put in eval mode for the measurement).
        input_shape: ``(batch, channels, height, width)`` (float zeros are fed), or an
            input batch (token ids of a text model).
        device: ``cpu`` or ``cuda`` (synchronised around each run).
        warmup: untimed runs first.
        repeats: timed runs.
        threads: CPU threads for the measurement (restored afterwards); None: as is.
    """
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device: cuda asked for but no CUDA device is available")
    model = model.to(device).eval()
    x = example_input(model, input_shape, device)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    on_cuda = device.startswith("cuda")

    def sync() -> None:
        if on_cuda:
            torch.cuda.synchronize()

    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                sync()
                t = time.perf_counter()
                model(x)
                sync()
                times.append((time.perf_counter() - t) * 1e3)
    finally:
        torch.set_num_threads(previous)
    quantiles = statistics.quantiles(times, n=10)
    return {
        "latency_ms": statistics.median(times),
        "latency_p10_ms": quantiles[0],
        "latency_p90_ms": quantiles[-1],
        "latency_std_ms": statistics.stdev(times) if len(times) > 1 else 0.0,
    }


@BENCHMARKS.register("cost")
class CostEvaluator(Evaluator):
    """Builds each config's network and reports its cost (no training).

    Metrics: ``params_m`` (millions), ``flops_m`` (millions of MACs, the NAS-Bench
    convention) and, with ``measure=True``, the measured latency (``latency_ms`` and
    its spread) on ``device``.

    Args:
        space: a space with a builder (``nb201``, ``nats_size``, ``darts``, ...).
        input_shape: ``(channels, height, width)`` of one image (CIFAR-10: 3, 32, 32),
            which also gives the builder ``in_channels``; None for a model that declares
            its own input, ``model.example_input(batch_size)`` (``transformer``: full-length
            token ids; give ``vocab_size`` and ``max_len`` in ``model_options``).
        n_classes: classifier outputs.
        measure: also time the network.
        batch_size, device, threads, repeats: the latency measurement.
        model_options: further skeleton options of the builder.
    """

    def __init__(
        self,
        *,
        space: str,
        input_shape: tuple[int, int, int] | list[int] | None = (3, 32, 32),
        n_classes: int = 10,
        measure: bool = False,
        batch_size: int = 1,
        device: str = "cpu",
        threads: int | None = None,
        repeats: int = 30,
        model_options: dict[str, Any] | None = None,
    ) -> None:
        if input_shape is not None and len(input_shape) != 3:
            raise ConfigError(
                f"input_shape: expected (channels, height, width) or None, got {input_shape}"
            )
        self.space = space
        self.input_shape = None if input_shape is None else tuple(int(v) for v in input_shape)
        self.n_classes = n_classes
        self.measure = measure
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self.repeats = repeats
        self.model_options = dict(model_options or {})

    def build(self, config: Any) -> Any:
        from archsearch.models import build_model

        options: dict[str, Any] = {"n_classes": self.n_classes}
        if self.input_shape is not None:
            options["in_channels"] = self.input_shape[0]
        return build_model(self.space, config, **{**options, **self.model_options})

    def _input(self, model: Any, batch_size: int) -> Any:
        """The input shape of a batch, or the model's own example batch."""
        if self.input_shape is not None:
            return (batch_size, *self.input_shape)
        declared = getattr(model, "example_input", None)
        if declared is None:
            raise ConfigError(
                f"input_shape: None needs a model with example_input(batch_size); "
                f"{type(model).__name__} of space {self.space!r} has none, give the shape"
            )
        return declared(batch_size)

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        t = time.perf_counter()
        model = self.build(config)
        params = sum(p.numel() for p in model.parameters())
        metrics = {
            "params_m": params / 1e6,
            "flops_m": count_macs(model, self._input(model, 1)) / 1e6,
        }
        if self.measure:
            metrics.update(
                measure_latency(
                    model,
                    self._input(model, self.batch_size),
                    device=self.device,
                    threads=self.threads,
                    repeats=self.repeats,
                )
            )
        return Result(metrics, time.perf_counter() - t)
