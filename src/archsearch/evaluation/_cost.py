"""Cost of a built network: parameters, multiply-adds, measured latency.

FLOPs are counted from the model itself with PyTorch's own ``FlopCounterMode``;
like NAS-Bench-201 and NATS-Bench, archsearch reports multiply-accumulates (MACs)
as ``flops_m``. Latency is measured: warm-up runs, then repeated timed runs, with
the median and the spread.

Example:
    >>> from archsearch.spaces.nb201 import from_arch_str
    >>> cell = from_arch_str("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
    ...                      "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    >>> cost = CostEvaluator(space="nb201").evaluate(cell).metrics
    >>> round(cost["params_m"], 3), round(cost["flops_m"], 1)
    (0.129, 15.6)
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from archsearch.errors import ConfigError
from archsearch.evaluation._base import Evaluator
from archsearch.registry import BENCHMARKS
from archsearch.trial import Result

__all__ = ["CostEvaluator", "count_macs", "measure_latency"]


def count_macs(model: Any, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on a zero tensor of ``input_shape``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(input_shape))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def measure_latency(
    model: Any,
    input_shape: tuple[int, ...],
    *,
    device: str = "cpu",
    warmup: int = 5,
    repeats: int = 30,
    threads: int | None = None,
) -> dict[str, float]:
    """Inference latency in milliseconds: median, 10th and 90th percentile, spread.

    Args:
        model: the network (put in eval mode for the measurement).
        input_shape: ``(batch, channels, height, width)``.
        device: ``cpu`` or ``cuda`` (synchronised around each run).
        warmup: untimed runs first.
        repeats: timed runs.
        threads: CPU threads for the measurement (restored afterwards); None: as is.
    """
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device: cuda asked for but no CUDA device is available")
    model = model.to(device).eval()
    x = torch.zeros(input_shape, device=device)
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
        input_shape: ``(channels, height, width)`` of one image (CIFAR-10: 3, 32, 32).
        n_classes: classifier outputs.
        measure: also time the network.
        batch_size, device, threads, repeats: the latency measurement.
        model_options: further skeleton options of the builder.
    """

    def __init__(
        self,
        *,
        space: str,
        input_shape: tuple[int, int, int] | list[int] = (3, 32, 32),
        n_classes: int = 10,
        measure: bool = False,
        batch_size: int = 1,
        device: str = "cpu",
        threads: int | None = None,
        repeats: int = 30,
        model_options: dict[str, Any] | None = None,
    ) -> None:
        if len(input_shape) != 3:
            raise ConfigError(
                f"input_shape: expected (channels, height, width), got {input_shape}"
            )
        self.space = space
        self.input_shape = tuple(int(v) for v in input_shape)
        self.n_classes = n_classes
        self.measure = measure
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self.repeats = repeats
        self.model_options = dict(model_options or {})

    def build(self, config: Any) -> Any:
        from archsearch.models import build_model

        options = {
            "in_channels": self.input_shape[0],
            "n_classes": self.n_classes,
            **self.model_options,
        }
        return build_model(self.space, config, **options)

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        t = time.perf_counter()
        model = self.build(config)
        params = sum(p.numel() for p in model.parameters())
        metrics = {
            "params_m": params / 1e6,
            "flops_m": count_macs(model, (1, *self.input_shape)) / 1e6,
        }
        if self.measure:
            metrics.update(
                measure_latency(
                    model,
                    (self.batch_size, *self.input_shape),
                    device=self.device,
                    threads=self.threads,
                    repeats=self.repeats,
                )
            )
        return Result(metrics, time.perf_counter() - t)
