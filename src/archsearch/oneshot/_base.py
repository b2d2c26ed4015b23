"""The one-shot search contract and the machinery every method shares.

A :class:`OneShotSearch` trains a supernet of a cell space (see :mod:`._supernet`) on
a dataset and returns a config of the space. :meth:`OneShotSearch.search` owns the
loop: it puts the data on the device, builds the supernet under the seed, runs the
method's epochs (:meth:`OneShotSearch.train_epoch`), reads the derived architecture
after each, records the epoch as a trial of an experiment in a store (when given
one), stops early when the method says so, then asks the method for its final pick
(:meth:`OneShotSearch.select`: the derived cell, or a search over the trained
supernet).

Weights train with a :class:`~archsearch.training.Recipe` (DARTS' by default: SGD,
momentum 0.9, lr 0.025 on a cosine to 0, weight decay 3e-4, batch 64, gradient norm
clipped at 5) through the trainer's pieces: :class:`~archsearch.training.DeviceData`
(batches built on the device, crop and flip), :func:`~archsearch.training.cosine_lr`,
bf16 autocast on CUDA. Architecture steps read the validation split.
"""

from __future__ import annotations

import abc
import contextlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.oneshot._supernet import CELL_SPACES, CellSpace, MixedOp, Route, Supernet
from archsearch.registry import Registry
from archsearch.store import Store
from archsearch.training import DeviceData, Recipe, cosine_lr, resolve_device
from archsearch.training._run import batch_bounds, make_optimizer
from archsearch.trial import Result

__all__ = [
    "ONESHOT",
    "EpochStats",
    "OneShotResult",
    "OneShotSearch",
    "SearchContext",
    "Tally",
    "darts_recipe",
]

#: one-shot methods by name: ``f(space="nb201", **options) -> OneShotSearch``
ONESHOT = Registry("one-shot method")

GRAD_CLIP = 5.0  # DARTS clips the weights' gradient norm at 5


def darts_recipe(epochs: int = 50) -> Recipe:
    """DARTS' weight recipe: SGD 0.025 (momentum 0.9, no Nesterov), wd 3e-4, batch 64."""
    return Recipe("sgd", 0.025, 3e-4, 64, epochs, nesterov=False)


@dataclass(frozen=True)
class EpochStats:
    """What one epoch of supernet training measured (accuracies in percent)."""

    train_loss: float
    train_accuracy: float
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class OneShotResult:
    """What a one-shot search returns.

    Attributes:
        config: the chosen config of the space.
        arch: its one-line form (NB201 string, DARTS genotype).
        history: one dict per epoch (``epoch``, losses, accuracies, ``skip_count``,
            ``arch``, method-specific numbers).
        wall_s: search time in seconds (data on the device, training, selection).
        stopped_early: the method stopped before the last epoch (DARTS-ES).
        estimator: inherited validation accuracy (percent) of a config under the
            trained supernet's weights, for ranking diagnosis.
    """

    config: Any
    arch: str
    history: list[dict[str, Any]]
    wall_s: float
    stopped_early: bool = False
    estimator: Callable[[Any], float] | None = field(default=None, repr=False)


class Tally:
    """Sums of an epoch's training loss and hits, kept on the device (no sync per step)."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.hits = torch.zeros((), dtype=torch.int64, device=device)
        self.n = 0

    def add(self, loss: torch.Tensor, hits: torch.Tensor, n: int) -> None:
        self.loss += loss.detach() * n
        self.hits += hits
        self.n += n

    def stats(self, extra: Mapping[str, float] | None = None) -> EpochStats:
        n = max(self.n, 1)
        return EpochStats(float(self.loss) / n, 100.0 * int(self.hits) / n, dict(extra or {}))


class SearchContext:
    """The supernet, its data, optimizer and random streams during one search."""

    def __init__(
        self,
        cells: CellSpace,
        net: Supernet,
        data: DeviceData,
        recipe: Recipe,
        *,
        seed: int,
        eval_images: int,
        eval_batch_size: int,
    ) -> None:
        self.cells, self.net, self.data, self.recipe = cells, net, data, recipe
        self.device = data.device
        self.is_cuda = self.device.type == "cuda"
        self.rng = random.Random(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.optimizer = make_optimizer(net, recipe)
        self.bounds = batch_bounds(data.n_train, recipe.batch_size)
        self.total_steps = recipe.epochs * len(self.bounds)
        self.step = 0
        self.eval_images = min(eval_images, int(data.valid_y.shape[0]))
        self.eval_batch_size = eval_batch_size
        self._valid_order = torch.empty(0, dtype=torch.int64)
        self._valid_at = 0

    # -- batches ------------------------------------------------------------------------
    def train_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of augmented, normalised training batches."""
        recipe = self.recipe
        plan = self.data.plan_epoch(
            self.generator, augment=recipe.augment, padding=recipe.crop_padding
        )
        for start, stop in self.bounds:
            x, y = self.data.batch(plan, start, stop, recipe.crop_padding)
            yield self._layout(x), y

    def valid_batch(self, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The next validation batch (a reshuffled pass over the split, cycled)."""
        size = size or self.recipe.batch_size
        n = int(self.data.valid_y.shape[0])
        if self._valid_at + size > len(self._valid_order):
            self._valid_order = torch.randperm(n, generator=self.generator, device=self.device)
            self._valid_at = 0
        index = self._valid_order[self._valid_at : self._valid_at + size]
        self._valid_at += size
        x = self.data.normalise(self.data.valid_x[index])
        return self._layout(x), self.data.valid_y[index]

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.is_cuda else x

    # -- steps --------------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on CUDA; nothing on the CPU."""
        if self.is_cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def loss(
        self, x: torch.Tensor, y: torch.Tensor, route: Route
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy of the supernet under ``route`` and the number of hits."""
        with self.autocast():
            out = self.net(x, route)
        loss = F.cross_entropy(out.float(), y)
        return loss, (out.detach().argmax(1) == y).sum()

    def weight_step(self, loss: torch.Tensor) -> None:
        """One SGD step of the shared weights on the cosine schedule, gradient clipped."""
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
        self.optimizer.step()
        self.step += 1

    def learning_rate(self) -> float:
        return cosine_lr(self.recipe.learning_rate, self.step, self.total_steps)

    # -- evaluation ---------------------------------------------------------------------
    def single_route(self, config: Any) -> Route:
        """The route that runs the op of ``config`` on each edge (``none`` elsewhere)."""
        chosen = self.cells.indices(config)

        def route(edge: int, op: MixedOp, x: torch.Tensor) -> torch.Tensor:
            return op.single(x, chosen[edge])

        return route

    @torch.no_grad()
    def accuracy(self, route: Route, n_images: int | None = None) -> float:
        """Validation accuracy (percent) of the supernet under ``route``.

        The first ``n_images`` of the validation split (``eval_images`` by default),
        fixed for the whole search so that candidates are compared on the same images.
        """
        n = min(n_images or self.eval_images, int(self.data.valid_y.shape[0]))
        self.net.eval()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for start in range(0, n, self.eval_batch_size):
            stop = min(start + self.eval_batch_size, n)
            x = self._layout(self.data.normalise(self.data.valid_x[start:stop]))
            with self.autocast():
                out = self.net(x, route)
            correct += (out.argmax(1) == self.data.valid_y[start:stop]).sum()
        self.net.train()
        return 100.0 * int(correct) / max(n, 1)

    def inherited_accuracy(self, config: Any, n_images: int | None = None) -> float:
        """Validation accuracy of ``config`` with the supernet's weights."""
        return self.accuracy(self.single_route(config), n_images)


class OneShotSearch(abc.ABC):
    """A weight-sharing search over a cell space.

    Subclasses set ``name`` and implement :meth:`train_epoch` and :meth:`derive`;
    they may override :meth:`setup`, :meth:`should_stop` and :meth:`select`.

    Args:
        space: the cell space, ``nb201`` or ``darts``.
        recipe: how the shared weights train (default :func:`darts_recipe`); its
            ``epochs`` are the search's unless ``search(epochs=...)`` says otherwise.
        model: skeleton options of the supernet (``channels``, ``n_cells`` for NB201;
            ``channels``, ``n_layers`` for DARTS).
        eval_images: validation images an inherited accuracy is measured on.
        eval_batch_size: images per batch when evaluating.

    Raises:
        ConfigError: naming the bad option.
    """

    name: str = ""

    def __init__(
        self,
        space: str = "nb201",
        *,
        recipe: Recipe | None = None,
        model: Mapping[str, Any] | None = None,
        eval_images: int = 2000,
        eval_batch_size: int = 1000,
    ) -> None:
        factory = CELL_SPACES.get(space)
        if factory is None:
            raise ConfigError(
                f"space: unknown cell space {space!r}; allowed: {', '.join(CELL_SPACES)}"
            )
        if recipe is not None and not isinstance(recipe, Recipe):
            raise ConfigError(f"recipe: expected a Recipe, got {recipe!r}")
        for option, value in (("eval_images", eval_images), ("eval_batch_size", eval_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{option}: must be an integer >= 1, got {value!r}")
        self.cells: CellSpace = factory()
        self.recipe = recipe or darts_recipe()
        self.model = dict(model or {})
        self.eval_images, self.eval_batch_size = eval_images, eval_batch_size

    # -- the method's parts --------------------------------------------------------------
    def partial(self) -> int:
        """PC-DARTS' channel share ``K`` of the supernet (1: every channel)."""
        return 1

    def setup(self, ctx: SearchContext) -> None:  # noqa: B027 - optional hook
        """Create the method's own state (architecture parameters, controller)."""

    @abc.abstractmethod
    def train_epoch(self, ctx: SearchContext, epoch: int, n_epochs: int) -> EpochStats:
        """Train the supernet (and the architecture) for one epoch."""

    @abc.abstractmethod
    def derive(self, ctx: SearchContext) -> Any:
        """The config the method currently points at."""

    def should_stop(self, history: list[dict[str, Any]]) -> bool:
        """Stop the search after the last recorded epoch (default: never)."""
        return False

    def select(self, ctx: SearchContext, history: list[dict[str, Any]]) -> Any:
        """The final config (default: the derived one of the last recorded epoch)."""
        return history[-1]["config"]

    def options(self) -> dict[str, Any]:
        """The method's options, stored with the experiment."""
        return {}

    # -- the loop -------------------------------------------------------------------------
    def search(
        self,
        data: Dataset,
        *,
        epochs: int | None = None,
        seed: int = 0,
        device: str | torch.device = "auto",
        store: Store | None = None,
        name: str | None = None,
    ) -> OneShotResult:
        """Search ``data`` for a config of the space.

        Args:
            data: the dataset; its training split trains weights, its validation split
                architectures and inherited accuracies.
            epochs: search epochs (default: the recipe's); the cosine spans them.
            seed: fixes the supernet's initial weights, batches and samples.
            device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
            store: records the search as an experiment, one trial per epoch (the derived
                config, with the epoch's metrics), the final pick in its summary.
            name: the experiment's name (default ``oneshot-METHOD-SPACE-sSEED``).

        Returns:
            The :class:`OneShotResult`.

        Raises:
            ConfigError: for a bad option; StoreError when the name is taken.
        """
        start = time.perf_counter()
        ctx = self.prepare(data, epochs=epochs, seed=seed, device=device)
        recorder = _Recorder(store, name or f"oneshot-{self.name}-{self.cells.name}-s{seed}")
        recorder.open(self._spec(data, ctx.recipe, seed))
        history: list[dict[str, Any]] = []
        n_epochs = ctx.recipe.epochs
        for epoch in range(n_epochs):
            began = time.perf_counter()
            stats = self.train_epoch(ctx, epoch, n_epochs)
            config = self.derive(ctx)
            row = self._row(ctx, epoch, stats, config, time.perf_counter() - began)
            history.append(row)
            recorder.epoch(row)
            if epoch + 1 < n_epochs and self.should_stop(history):
                break
        stopped_early = len(history) < n_epochs
        config = self.select(ctx, history)
        wall_s = time.perf_counter() - start
        arch = self.cells.describe(config)
        recorder.close(config, arch, wall_s, ctx.inherited_accuracy(config), stopped_early)
        return OneShotResult(
            config, arch, history, wall_s, stopped_early, estimator=ctx.inherited_accuracy
        )

    def prepare(
        self,
        data: Dataset,
        *,
        epochs: int | None = None,
        seed: int = 0,
        device: str | torch.device = "auto",
    ) -> SearchContext:
        """The supernet built under ``seed`` with its data on the device, set up to train.

        :meth:`search` starts from it; arguments as there. Useful to step a method by hand
        (``train_epoch``, ``derive``).
        """
        recipe = self.recipe
        if epochs is not None:
            recipe = Recipe(**{**recipe.to_json(), "epochs": epochs})
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed: must be an integer >= 0, got {seed!r}")
        ctx = self._context(data, recipe, seed, resolve_device(device))
        self.setup(ctx)
        return ctx

    def _context(
        self, data: Dataset, recipe: Recipe, seed: int, device: torch.device
    ) -> SearchContext:
        options = data.builder_options()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = self.cells.build(partial=self.partial(), **{**options, **self.model})
        net.to(device)
        if device.type == "cuda":
            net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return SearchContext(
            self.cells,
            net,
            DeviceData(data, device),
            recipe,
            seed=seed,
            eval_images=self.eval_images,
            eval_batch_size=self.eval_batch_size,
        )

    def _row(
        self, ctx: SearchContext, epoch: int, stats: EpochStats, config: Any, epoch_s: float
    ) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "train_loss": stats.train_loss,
            "train_accuracy": stats.train_accuracy,
            "valid_accuracy": ctx.inherited_accuracy(config),
            "skip_count": float(self.cells.skip_count(config)),
            "epoch_s": epoch_s,
            **{k: float(v) for k, v in stats.extra.items()},
            "config": config,
            "arch": self.cells.describe(config),
        }

    def _spec(self, data: Dataset, recipe: Recipe, seed: int) -> dict[str, Any]:
        # strategy/benchmark keys as in experiment specs, so that `archsearch list` shows it
        return {
            "oneshot": self.name,
            "space": {"name": self.cells.name},
            "strategy": {"name": f"oneshot:{self.name}", **self.options()},
            "benchmark": {"name": "supernet", "dataset": data.name},
            "n_train": int(data.train_y.shape[0]),
            "recipe": recipe.to_json(),
            "model": self.model,
            "seed": seed,
        }


class _Recorder:
    """Writes a search into a store: one trial per epoch, the pick in the summary."""

    def __init__(self, store: Store | None, name: str) -> None:
        self.store, self.name = store, name
        self.experiment_id = -1
        self.n_epochs = 0

    def open(self, spec: Mapping[str, Any]) -> None:
        if self.store is not None:
            self.experiment_id = self.store.create_experiment(self.name, spec).id

    def epoch(self, row: Mapping[str, Any]) -> None:
        self.n_epochs += 1
        if self.store is None:
            return
        number = int(row["epoch"]) - 1
        now = time.time()
        self.store.start_trial(self.experiment_id, number, row["config"], row["epoch"], None, now)
        metrics = {k: float(v) for k, v in row.items() if isinstance(v, int | float)}
        result = Result(metrics, cost_s=float(row["epoch_s"]), score=row["valid_accuracy"])
        self.store.finish_trial(self.experiment_id, number, result, None, time.time(), None)

    def close(
        self, config: Any, arch: str, wall_s: float, accuracy: float, stopped_early: bool
    ) -> None:
        if self.store is None:
            return
        summary = {
            "experiment": self.name,
            "status": "complete",
            "best": {
                "config": config,
                "arch": arch,
                "reward": accuracy,
                "metrics": {"valid_accuracy": accuracy},
            },
            "trials": self.n_epochs,
            "wall_seconds": wall_s,
            "stopped_early": stopped_early,
        }
        self.store.update_experiment(self.experiment_id, status="complete", summary=summary)
