"""ZeroCostEvaluator: build a config's network once and score it with zero-cost proxies."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.evaluation._base import Evaluator
from archsearch.evaluation.zero_cost._data import ProxyBatch, proxy_batch
from archsearch.evaluation.zero_cost._proxies import DATA_FREE_PROXIES, PROXIES, score_proxies
from archsearch.registry import BENCHMARKS
from archsearch.trial import Result

__all__ = ["ZeroCostEvaluator"]


@BENCHMARKS.register("zero_cost")
class ZeroCostEvaluator(Evaluator):
    """Scores each config's untrained network with zero-cost proxies (no training).

    The network is built once per config, with its initial weights seeded by
    ``seed`` (the global torch RNG is left as it was), and every requested proxy
    scores that one network on one fixed batch: metrics are the proxies' names.
    The batch is built once per evaluator and only when a data-dependent proxy is
    asked for (see :func:`~archsearch.evaluation.zero_cost.proxy_batch`; its source
    is :attr:`data_source`).

    Args:
        space: a space with a builder in :mod:`archsearch.models` (``nb201``, ...).
        build: instead of ``space``, a callable ``config -> nn.Module``.
        proxies: names in :data:`~archsearch.evaluation.zero_cost.PROXIES`.
        data: batch source: ``auto``, ``fashion_mnist`` or ``gaussian``.
        data_path: where the Fashion-MNIST files are (None: the usual places).
        batch_size: images in the batch.
        input_shape: ``(channels, height, width)`` of one image (CIFAR-10: 3, 32, 32).
        n_classes: classifier outputs.
        seed: seeds the initial weights and the batch.
        n_threads: torch CPU threads while scoring (restored after); None: as is.
        model_options: further skeleton options of the builder (``channels``, ...).

    Raises:
        ConfigError: for an unknown proxy, a bad shape, or neither/both of space and build.

    Example:
        >>> evaluator = ZeroCostEvaluator(space="nb201", proxies=["synflow", "params"],
        ...                               model_options={"channels": 4, "n_cells": 1})
        >>> cell = dict.fromkeys(["edge_0_1", "edge_0_2", "edge_1_2", "edge_0_3",
        ...                       "edge_1_3", "edge_2_3"], "nor_conv_3x3")
        >>> metrics = evaluator.evaluate(cell).metrics
        >>> sorted(metrics), metrics["params"]
        (['params', 'synflow'], 23374.0)
    """

    def __init__(
        self,
        *,
        space: str | None = None,
        build: Callable[[Any], nn.Module] | None = None,
        proxies: Sequence[str] = ("synflow",),
        data: str = "auto",
        data_path: str | Path | None = None,
        batch_size: int = 64,
        input_shape: Sequence[int] = (3, 32, 32),
        n_classes: int = 10,
        seed: int = 0,
        n_threads: int | None = None,
        model_options: dict[str, Any] | None = None,
    ) -> None:
        if (space is None) == (build is None):
            raise ConfigError("space/build: give exactly one (a space name or a builder)")
        if isinstance(proxies, str) or not proxies:
            raise ConfigError(f"proxies: expected a non-empty list of names, got {proxies!r}")
        for i, name in enumerate(proxies):
            PROXIES.get_factory(name, field=f"proxies[{i}]")
        if len(input_shape) != 3:
            raise ConfigError(
                f"input_shape: expected (channels, height, width), got {input_shape}"
            )
        self.space, self._build = space, build
        self.proxies = tuple(proxies)
        self.data, self.data_path, self.batch_size = data, data_path, batch_size
        self.input_shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
        self.n_classes, self.seed, self.n_threads = n_classes, seed, n_threads
        self.model_options = dict(model_options or {})
        self._batch: ProxyBatch | None = None

    # -- the network and the batch --------------------------------------------------------
    def build(self, config: Any) -> nn.Module:
        """The untrained network of ``config``; its weights depend only on ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if self._build is not None:
                return self._build(config)
            from archsearch.models import build_model

            options = {
                "in_channels": self.input_shape[0],
                "n_classes": self.n_classes,
                **self.model_options,
            }
            return build_model(str(self.space), config, **options)

    @property
    def needs_data(self) -> bool:
        """True when a requested proxy looks at images or labels."""
        return any(name not in DATA_FREE_PROXIES for name in self.proxies)

    @property
    def batch(self) -> ProxyBatch:
        """The fixed batch (for data-free proxies: one zero image, source ``none``)."""
        if self._batch is None:
            if self.needs_data:
                self._batch = proxy_batch(
                    self.data,
                    batch_size=self.batch_size,
                    input_shape=self.input_shape,
                    n_classes=self.n_classes,
                    seed=self.seed,
                    path=self.data_path,
                )
            else:
                zeros = torch.zeros((1, *self.input_shape))
                self._batch = ProxyBatch(zeros, torch.zeros(1, dtype=torch.int64), "none")
        return self._batch

    @property
    def data_source(self) -> str:
        """Where the batch came from: ``fashion_mnist``, ``gaussian`` or ``none``."""
        return self.batch.source

    # -- scoring ----------------------------------------------------------------------
    def score_model(self, model: nn.Module) -> dict[str, float]:
        """Every requested proxy on one built network."""
        batch = self.batch
        with _threads(self.n_threads):
            return score_proxies(self.proxies, model, batch.x, batch.y)

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        start = time.perf_counter()
        metrics = self.score_model(self.build(config))
        return Result(metrics, time.perf_counter() - start)

    def score(self, config: Any) -> float:
        """The first proxy's score of ``config`` (a prior for predictor-based search)."""
        return self.evaluate(config).metrics[self.proxies[0]]

    def evaluate_many(
        self, configs: Iterable[Any], *, n_workers: int = 1, chunk_size: int = 16
    ) -> list[Result]:
        """:meth:`evaluate` over ``configs``, in order, on ``n_workers`` forked processes.

        Each worker runs torch on ``n_threads`` threads (default 1): for these small
        batch-1 networks, one process per core beats threads within one process.
        """
        configs = list(configs)
        if n_workers <= 1:
            return [self.evaluate(config) for config in configs]
        _ = self.batch  # built once here, inherited by the forked workers
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            n_workers, mp_context=context, initializer=_init_worker, initargs=(self,)
        ) as pool:
            return list(pool.map(_evaluate_in_worker, configs, chunksize=chunk_size))


@contextlib.contextmanager
def _threads(n_threads: int | None) -> Iterator[None]:
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_WORKER: ZeroCostEvaluator | None = None


def _init_worker(evaluator: ZeroCostEvaluator) -> None:
    global _WORKER
    _WORKER = evaluator
    torch.set_num_threads(evaluator.n_threads or 1)


def _evaluate_in_worker(config: Any) -> Result:
    assert _WORKER is not None, "worker used before its initializer ran"
    return _WORKER.evaluate(config)
