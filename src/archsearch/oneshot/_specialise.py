"""Specialising a trained elastic supernet to latency targets (OFA's deployment step).

Three parts, each cheap once the supernet is trained:

- :class:`ElasticLatencyTable`: a lookup table profiled on this machine: the measured
  latency of the fixed parts (stem, head) and of every block kind (per stage, first or
  later block, expansion, kernel), built as standalone MBConv blocks at the input size
  they see. A sub-network's predicted latency is the sum of its parts.
- :class:`AccuracyPredictor`: a small MLP from a sub-network's encoding (one-hot kernel,
  expansion and depth per stage) to its inherited accuracy, fitted on sampled
  sub-networks measured with the supernet's weights (batch norm recalibrated).
- :func:`evolve`: evolutionary search (mutation and crossover over the encoding) for the
  sub-network of highest predicted accuracy whose predicted latency meets a target; it
  queries only the two predictors, so a target takes seconds.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.evaluation import measure_latency
from archsearch.models.mobilenet import MBConv
from archsearch.oneshot._elastic import ElasticMobileNet, smallest

__all__ = ["AccuracyPredictor", "ElasticLatencyTable", "Specialised", "encode", "evolve"]


def _stage_options(net: ElasticMobileNet) -> list[dict[str, list[int]]]:
    out = []
    for blocks in net.blocks():
        first = blocks[0]
        expansions = list(first.expansions)
        out.append(
            {
                "kernel": list(first.kernels),
                "expansion": expansions,
                "n_layers": list(range(_min_layers(net), len(blocks) + 1)),
            }
        )
    return out


def _min_layers(net: ElasticMobileNet) -> int:
    return int(smallest(net.space)["stages"][0]["n_layers"])


def encode(net: ElasticMobileNet, config: dict[str, Any]) -> np.ndarray:
    """One-hot kernel, expansion and depth of every stage."""
    parts: list[float] = []
    for options, stage in zip(_stage_options(net), config["stages"], strict=True):
        for key in ("kernel", "expansion", "n_layers"):
            parts += [float(stage[key] == v) for v in options[key]]
    return np.asarray(parts, dtype=np.float32)


class ElasticLatencyTable:
    """Latency (ms) of sub-networks of ``net`` from parts measured on this machine.

    Args:
        net: the supernet (its skeleton and options).
        image_shape: ``(channels, height, width)`` of one input.
        batch: the batch size the latency is for.
        repeats: timed runs per part, over ten rounds (the fastest round's median is
            kept: a slow spell of a shared machine only ever slows a round).
        threads: CPU threads while measuring.
    """

    def __init__(
        self,
        net: ElasticMobileNet,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        *,
        batch: int = 1,
        repeats: int = 30,
        threads: int | None = 1,
    ) -> None:
        self.options = _stage_options(net)
        start = time.perf_counter()
        parts = self._parts(net, (batch, *image_shape))
        # every part measured in turn, several rounds, the fastest round kept: a part is
        # not penalised by when it ran (a busy neighbour, a slow spell of the machine)
        rounds = 10
        times: dict[str, list[float]] = {key: [] for key, _, _ in parts}
        with torch.no_grad():
            for _ in range(rounds):
                for key, module, size in parts:
                    timing = measure_latency(
                        module, size, warmup=2, repeats=max(2, repeats // rounds), threads=threads
                    )
                    times[key].append(float(timing["latency_ms"]))
        self.entries = {key: float(np.min(values)) for key, values in times.items()}
        self.profile_s = time.perf_counter() - start

    def _parts(
        self, net: ElasticMobileNet, shape: tuple[int, ...]
    ) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
        """``(key, standalone module, input shape)`` of every table entry."""
        stem = copy.deepcopy(net.stem).eval()
        parts: list[tuple[str, nn.Module, tuple[int, ...]]] = [("stem", stem, shape)]
        with torch.no_grad():
            y = tuple(stem(torch.zeros(shape)).shape)
        for i, blocks in enumerate(net.blocks()):
            first = blocks[0]
            after = _after(y, first)
            for position, c_in, stride, size in (
                (0, first.c_in, first.stride, y),
                (1, first.c_out, 1, after),
            ):
                for e in self.options[i]["expansion"]:
                    for k in self.options[i]["kernel"]:
                        block = MBConv(
                            c_in, first.c_out, expansion=e, kernel=k, stride=stride, use_se=False
                        )
                        parts.append((f"{i}/{position}/{e}/{k}", block, size))
            y = after
        head = copy.deepcopy(nn.Sequential(net.head, net.pool, nn.Flatten(), net.classifier))
        parts.append(("head", head, y))
        return parts

    def predict(self, config: dict[str, Any]) -> float:
        """Predicted latency (ms) of the sub-network of ``config``."""
        total = self.entries["stem"] + self.entries["head"]
        for i, stage in enumerate(config["stages"]):
            e, k, n = stage["expansion"], stage["kernel"], stage["n_layers"]
            try:
                total += self.entries[f"{i}/0/{e}/{k}"] + (n - 1) * self.entries[f"{i}/1/{e}/{k}"]
            except KeyError:
                raise ConfigError(
                    f"stages[{i}]: no table entry for expansion {e}, kernel {k}"
                ) from None
        return total


def _after(shape: Sequence[int], block: Any) -> tuple[int, ...]:
    b, _, h, w = shape
    s = block.stride
    return (b, block.c_out, (h + s - 1) // s, (w + s - 1) // s)


class AccuracyPredictor:
    """An MLP from :func:`encode` to accuracy (%), trained with mean squared error.

    Args:
        net: the supernet (for the encoding).
        hidden: hidden units of its two layers.
        epochs: full-batch Adam steps.
        seed: initial weights.
    """

    def __init__(
        self, net: ElasticMobileNet, *, hidden: int = 64, epochs: int = 500, seed: int = 0
    ) -> None:
        self.net_ref = net
        self.epochs = epochs
        torch.manual_seed(seed)
        width = len(encode(net, smallest(net.space)))
        self.model = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )
        self.mean, self.std = 0.0, 1.0

    def fit(
        self, configs: Sequence[dict[str, Any]], accuracies: Sequence[float]
    ) -> AccuracyPredictor:
        if len(configs) != len(accuracies) or len(configs) < 2:
            raise ConfigError("predictor: needs at least two (config, accuracy) pairs")
        x = torch.from_numpy(np.stack([encode(self.net_ref, c) for c in configs]))
        y = torch.tensor(accuracies, dtype=torch.float32)[:, None]
        self.mean, self.std = float(y.mean()), float(y.std().clamp_min(1e-6))
        target = (y - self.mean) / self.std
        optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-2, weight_decay=1e-4)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            torch.autograd.backward(nn.functional.mse_loss(self.model(x), target))
            optimizer.step()
        return self

    @torch.no_grad()
    def predict(self, configs: Sequence[dict[str, Any]]) -> np.ndarray:
        x = torch.from_numpy(np.stack([encode(self.net_ref, c) for c in configs]))
        out: np.ndarray = (self.model(x)[:, 0] * self.std + self.mean).numpy()
        return out


@dataclass(frozen=True)
class Specialised:
    """The sub-network chosen for one latency target."""

    target_ms: float
    config: dict[str, Any]
    predicted_accuracy: float
    predicted_ms: float
    search_s: float


def evolve(
    net: ElasticMobileNet,
    accuracy: Callable[[Sequence[dict[str, Any]]], np.ndarray],
    latency: Callable[[dict[str, Any]], float],
    target_ms: float,
    *,
    population: int = 100,
    generations: int = 30,
    parents: float = 0.25,
    mutation: float = 0.1,
    seed: int = 0,
) -> Specialised:
    """OFA's evolutionary search: the best predicted accuracy within ``target_ms``.

    Raises:
        ConfigError: when no sampled sub-network meets the target (naming the smallest
            predicted latency).
    """
    start = time.perf_counter()
    rng = random.Random(seed)
    options = _stage_options(net)
    fastest = latency(smallest(net.space))
    if fastest > target_ms:
        raise ConfigError(
            f"targets: {target_ms:g} ms is below the smallest sub-network's {fastest:.2f} ms"
        )

    def feasible(make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for _ in range(500):
            config = make()
            if latency(config) <= target_ms:
                return config
        return smallest(net.space)

    def mutate(config: dict[str, Any]) -> dict[str, Any]:
        out = {"stages": [dict(s) for s in config["stages"]]}
        for stage, opts in zip(out["stages"], options, strict=True):
            for key in ("kernel", "expansion", "n_layers"):
                if rng.random() < mutation:
                    stage[key] = rng.choice(opts[key])
        return out

    def crossover(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        stages = []
        for x, y in zip(a["stages"], b["stages"], strict=True):
            stages.append({k: (x if rng.random() < 0.5 else y)[k] for k in x})
        return {"stages": stages}

    def generation(elite: list[dict[str, Any]]) -> list[dict[str, Any]]:
        children = [feasible(lambda: mutate(rng.choice(elite))) for _ in range(population // 2)]
        children += [
            feasible(lambda: crossover(rng.choice(elite), rng.choice(elite)))
            for _ in range(population - len(elite) - len(children))
        ]
        return elite + children

    pool = [feasible(lambda: net.sample(rng)) for _ in range(population)]
    for _ in range(generations):
        order = np.argsort(-accuracy(pool))
        pool = generation([pool[i] for i in order[: max(2, int(parents * population))]])
    scores = accuracy(pool)
    best = int(np.argmax(scores))
    return Specialised(
        target_ms,
        pool[best],
        float(scores[best]),
        latency(pool[best]),
        time.perf_counter() - start,
    )
