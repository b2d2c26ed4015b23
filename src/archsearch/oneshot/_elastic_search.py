"""Train once, specialise to many targets: the whole elastic-supernet pipeline.

:func:`elastic_search` trains an :class:`ElasticMobileNet` (OFA or BigNAS), profiles
its latency table on this machine, measures the inherited accuracy of sampled
sub-networks (batch norm recalibrated) to fit the accuracy predictor, then runs one
evolutionary search per latency target and extracts each winner as a standalone
MobileNet, with its inherited accuracy and measured latency beside the predictions.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from archsearch.data import Dataset
from archsearch.evaluation import measure_latency
from archsearch.oneshot._elastic import ElasticMobileNet, elastic_space, largest, smallest
from archsearch.oneshot._elastic_train import ElasticTrainer, evaluate_subnet
from archsearch.oneshot._specialise import (
    AccuracyPredictor,
    ElasticLatencyTable,
    Specialised,
    evolve,
)
from archsearch.store import Store
from archsearch.training import DeviceData
from archsearch.training._run import batch_bounds

__all__ = [
    "ElasticSearchResult",
    "Target",
    "accuracy",
    "elastic_search",
    "inherited_accuracies",
    "train_network",
]


@dataclass(frozen=True)
class Target:
    """One specialised network: the search's choice and what it measures."""

    chosen: Specialised
    model: torch.nn.Module = field(repr=False)
    valid_accuracy: float  # inherited weights, batch norm recalibrated
    measured_ms: float


@dataclass
class ElasticSearchResult:
    """What :func:`elastic_search` returns."""

    net: ElasticMobileNet = field(repr=False)
    history: list[dict[str, Any]]
    table: ElasticLatencyTable = field(repr=False)
    predictor: AccuracyPredictor = field(repr=False)
    samples: list[tuple[dict[str, Any], float]]
    targets: list[Target]
    train_s: float
    predictor_s: float


def inherited_accuracies(
    net: ElasticMobileNet, data: DeviceData, configs: Sequence[dict[str, Any]]
) -> list[float]:
    """Validation accuracy of each sub-network with the supernet's weights."""
    return [evaluate_subnet(net, data, c) for c in configs]


def train_network(
    model: torch.nn.Module,
    data: DeviceData,
    *,
    epochs: int,
    learning_rate: float = 0.05,
    batch_size: int = 128,
    weight_decay: float = 3e-5,
    seed: int = 0,
) -> torch.nn.Module:
    """Train a standalone network (SGD, Nesterov, cosine to 0): the from-scratch baseline,
    and with few epochs and a lower rate, the fine-tune of an extracted sub-network."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=learning_rate,
        momentum=0.9,
        nesterov=True,
        weight_decay=weight_decay,
    )
    bounds = batch_bounds(data.n_train, batch_size)
    total = max(1, epochs * len(bounds))
    step = 0
    for _ in range(epochs):
        model.train()
        plan = data.plan_epoch(generator, augment=False, padding=0)
        for a, b in bounds:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / total))
            x, y = data.batch(plan, a, b, 0)
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(F.cross_entropy(model(x), y))
            optimizer.step()
            step += 1
    return model.eval()


@torch.no_grad()
def accuracy(model: torch.nn.Module, data: DeviceData, split: str = "test") -> float:
    """Accuracy (%) of a standalone network on ``split`` (``valid`` or ``test``)."""
    model.eval()
    x_all, y_all = (data.valid_x, data.valid_y) if split == "valid" else (data.test_x, data.test_y)
    hits = 0
    for start in range(0, len(y_all), 500):
        x = data.normalise(x_all[start : start + 500])
        hits += int((model(x).argmax(1) == y_all[start : start + 500]).sum())
    return 100.0 * hits / max(1, len(y_all))


def elastic_search(
    dataset: Dataset,
    *,
    method: str = "ofa",
    epochs: int = 8,
    targets_ms: Sequence[float] = (),
    samples: int = 100,
    batch_size: int = 128,
    learning_rate: float = 0.05,
    seed: int = 0,
    head_width: int = 128,
    stem_stride: int = 1,
    store: Store | None = None,
    name: str | None = None,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> ElasticSearchResult:
    """Train the elastic supernet with ``method`` and specialise it to each target.

    Targets are latencies in milliseconds for one image on this machine's CPU (one
    thread), as the latency table measures them. ``stem_stride=2`` halves the
    resolution after the stem (a quarter of the work: the CPU setting).
    """
    torch.manual_seed(seed)
    channels, height, width = (int(v) for v in dataset.train_x.shape[1:])
    net = ElasticMobileNet(
        elastic_space(),
        in_channels=channels,
        n_classes=dataset.num_classes,
        stem_stride=stem_stride,
        head_width=head_width,
    )
    trainer = ElasticTrainer(
        method,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        checkpoint=checkpoint,
        store=store,
        name=name,
    )
    start = time.perf_counter()
    run = trainer.train(net, dataset, device=device, on_epoch=on_epoch)
    train_s = time.perf_counter() - start
    net.to("cpu")
    data = DeviceData(dataset, torch.device("cpu"))
    table = ElasticLatencyTable(net, (channels, height, width))
    start = time.perf_counter()
    rng = random.Random(seed)
    configs = [largest(net.space), smallest(net.space)]
    configs += [net.sample(rng) for _ in range(max(0, samples - 2))]
    accuracies = inherited_accuracies(net, data, configs)
    predictor = AccuracyPredictor(net, seed=seed).fit(configs, accuracies)
    predictor_s = time.perf_counter() - start
    chosen = []
    for target in targets_ms:
        found = evolve(net, predictor.predict, table.predict, float(target), seed=seed)
        accuracy = evaluate_subnet(net, data, found.config)  # recalibrates for this config
        model = net.extract(found.config)
        timing = measure_latency(model, (1, channels, height, width), repeats=30, threads=1)
        chosen.append(Target(found, model, accuracy, float(timing["latency_ms"])))
    return ElasticSearchResult(
        net,
        run.history,
        table,
        predictor,
        list(zip(configs, accuracies, strict=True)),
        chosen,
        train_s,
        predictor_s,
    )
