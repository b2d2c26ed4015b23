"""The :class:`Trainer`: classification training to a fidelity (epochs), resumable.

One code path for the CPU and CUDA. On CUDA it trains in bf16 autocast with
channels-last tensors, the data held on the GPU (see :mod:`._device`), optionally
through ``torch.compile`` and CUDA graphs. On the CPU it trains in fp32 with
deterministic algorithms, so that a seed fixes every number.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from archsearch.data import Dataset
    >>> x, y = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8), torch.arange(64) % 2
    >>> data = Dataset("toy", x, y, x[:16], y[:16], x[:16], y[:16], num_classes=2)
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    >>> trainer = Trainer(Recipe(batch_size=16, epochs=2), device="cpu")
    >>> result = trainer.fit(model, data)
    >>> len(result.curve), sorted(result.metrics)[:3]
    (2, ['epochs', 'n_params', 'train_accuracy'])
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.training._checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from archsearch.training._device import DeviceData, resolve_device
from archsearch.training._recipe import RECIPES, Recipe
from archsearch.training._run import TrainingRun, add_dropout
from archsearch.trial import FailureKind, Result

__all__ = ["Trainer", "seeded_build"]

#: steps between non-finite-loss checks on CUDA (each check waits for the GPU)
CUDA_CHECK_EVERY = 16


def _positive_int(name: str, value: Any, *, optional: bool = False) -> Any:
    if optional and value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f"{name}: must be an integer >= 1{' or None' if optional else ''}, got {value!r}"
        )
    return value


class Trainer:
    """Trains classifiers with a :class:`Recipe`, to a number of epochs, resumably.

    Args:
        recipe: a :class:`Recipe` or a registered recipe name (``nb201``, ``adamw``).
        device: ``auto`` (CUDA when there is one), ``cpu``, ``cuda`` or ``cuda:N``.
        seed: seeds shuffling, augmentation and dropout (not the model's initial
            weights: build the model under a seed, see :func:`seeded_build`).
        compile: train through ``torch.compile`` (compilation time counts as cost).
        cuda_graphs: replay the forward and backward passes as CUDA graphs, through
            ``torch.compile(mode="reduce-overhead")`` (implies ``compile``); the
            optimizer step stays eager. Ignored on the CPU.
        n_threads: CPU threads while fitting (restored after); None leaves torch's.
        deterministic: use deterministic algorithms while fitting (default: on the CPU).
        eval_batch_size: images per batch when evaluating.
        check_every: steps between checks for a NaN/inf loss (default 1 on the CPU,
            16 on CUDA, where each check waits for the GPU).

    Raises:
        ConfigError: for a bad option.
    """

    def __init__(
        self,
        recipe: Recipe | str = "nb201",
        *,
        device: str | torch.device = "auto",
        seed: int = 0,
        compile: bool = False,
        cuda_graphs: bool = False,
        n_threads: int | None = None,
        deterministic: bool | None = None,
        eval_batch_size: int = 1024,
        check_every: int | None = None,
    ) -> None:
        if isinstance(recipe, str):
            recipe = RECIPES.get_factory(recipe, field="recipe")()
        if not isinstance(recipe, Recipe):
            raise ConfigError(f"recipe: expected a Recipe or a recipe name, got {recipe!r}")
        self.recipe = recipe
        self.device = resolve_device(device)
        self.seed = _check_seed(seed)
        self.cuda_graphs = bool(cuda_graphs) and self.device.type == "cuda"
        self.compile = bool(compile) or self.cuda_graphs
        self.n_threads = _positive_int("n_threads", n_threads, optional=True)
        self.deterministic = self.device.type == "cpu" if deterministic is None else deterministic
        self.eval_batch_size = _positive_int("eval_batch_size", eval_batch_size)
        default_check = CUDA_CHECK_EVERY if self.device.type == "cuda" else 1
        self.check_every = _positive_int("check_every", check_every or default_check)
        self._prepared: DeviceData | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_prepared": None}  # never pickle data held on a device

    # -- public -----------------------------------------------------------------------
    def fit(
        self,
        model: nn.Module,
        data: Dataset | DeviceData,
        *,
        epochs: int | float | None = None,
        checkpoint_dir: str | Path | None = None,
        test: bool = False,
    ) -> Result:
        """Train ``model`` (in place) on ``data`` up to ``epochs`` and report.

        With ``checkpoint_dir``, training starts from the highest checkpoint there at or
        below ``epochs`` and saves one at ``epochs``; since the schedule spans the
        recipe's epochs, this continues exactly what training straight would do.

        Args:
            model: the classifier; its last ``nn.Linear`` gets the recipe's dropout.
            data: the dataset (moved to the device once and kept for the next fit), or
                a :class:`DeviceData` already there (to share it between trainers).
            epochs: where to stop, at most ``recipe.epochs`` (default: that).
            checkpoint_dir: this run's checkpoint folder (one per model and recipe).
            test: also report ``test_accuracy``.

        Returns:
            ``Result(metrics, cost_s, curve)``: metrics ``valid_accuracy``,
            ``valid_loss``, ``train_loss``, ``train_accuracy`` (last epoch, percent for
            accuracies), ``test_accuracy`` when asked, ``n_params``, ``epochs`` and
            ``train_time_s`` (over the whole run, resumed parts included); ``cost_s`` is
            this call's wall time; ``curve`` the validation accuracy per epoch. A
            diverging run returns ``Result.failed("nan loss at epoch E step S")``.
        """
        dirs = [None if checkpoint_dir is None else Path(checkpoint_dir)]
        return self.fit_many([model], data, epochs=epochs, checkpoint_dirs=dirs, test=test)[0]

    def fit_many(
        self,
        models: Sequence[nn.Module],
        data: Dataset | DeviceData,
        *,
        epochs: int | float | None = None,
        checkpoint_dirs: Sequence[str | Path | None] | None = None,
        test: bool = False,
    ) -> list[Result]:
        """Train several models at once on the same data: on CUDA, one stream each.

        Steps of the runs are interleaved; model ``i`` is trained with seed
        ``seed + i`` and its result equals that of :meth:`fit` under that seed (up to
        floating-point nondeterminism on the GPU). ``cost_s`` of each is the wall time
        until it finished. Other arguments as in :meth:`fit`, one entry per model.
        """
        target = self._target_epochs(epochs)
        given = list(checkpoint_dirs) if checkpoint_dirs is not None else [None] * len(models)
        folders = [None if f is None else Path(f) for f in given]
        if len(folders) != len(models):
            raise ConfigError(
                f"checkpoint_dirs: {len(folders)} given for {len(models)} models; give one each"
            )
        start = time.perf_counter()
        with self._settings():
            device_data = self._prepare(data)
            runs = [
                self._make_run(model, device_data, self.seed + i, folder, target)
                for i, (model, folder) in enumerate(zip(models, folders, strict=True))
            ]
            self._train(runs, target)
            return [
                self._finish(run, folder, target, test, start)
                for run, folder in zip(runs, folders, strict=True)
            ]

    # -- steps ------------------------------------------------------------------------
    def _target_epochs(self, epochs: int | float | None) -> int:
        total = self.recipe.epochs
        if epochs is None:
            return total
        ok = isinstance(epochs, int | float) and not isinstance(epochs, bool)
        if not ok or not float(epochs).is_integer() or not 1 <= epochs <= total:
            raise ConfigError(
                f"epochs: must be an integer in [1, {total}] (the recipe's schedule), "
                f"got {epochs!r}"
            )
        return int(epochs)

    @contextlib.contextmanager
    def _settings(self) -> Iterator[None]:
        """Process-wide torch settings for the fit, restored afterwards."""
        saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.get_num_threads(),
            torch.backends.cudnn.benchmark,
        )
        try:
            if self.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            if self.n_threads is not None:
                torch.set_num_threads(self.n_threads)
            if self.device.type == "cuda":
                torch.backends.cudnn.benchmark = not self.deterministic
            yield
        finally:
            torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
            torch.set_num_threads(saved[2])
            torch.backends.cudnn.benchmark = saved[3]

    def _prepare(self, data: Dataset | DeviceData) -> DeviceData:
        if isinstance(data, DeviceData):
            if data.device != self.device:
                raise ConfigError(f"data: held on {data.device}, the trainer uses {self.device}")
            return data
        if self._prepared is None or self._prepared.source is not data:
            self._prepared = None  # free the previous copy first
            self._prepared = DeviceData(data, self.device)
        return self._prepared

    def _make_run(
        self, model: nn.Module, data: DeviceData, seed: int, folder: Path | None, target: int
    ) -> TrainingRun:
        add_dropout(model, self.recipe.dropout)
        model.to(self.device)
        if self.device.type == "cuda":
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        forward: Any = model
        if self.compile:
            forward = torch.compile(model, mode="reduce-overhead" if self.cuda_graphs else None)
        run = TrainingRun(
            model,
            data,
            self.recipe,
            seed=seed,
            forward=forward,
            check_every=self.check_every,
            eval_batch_size=self.eval_batch_size,
            cuda_graphs=self.cuda_graphs,
        )
        found = latest_checkpoint(folder, target)
        if found is not None:
            run.load_state_dict(load_checkpoint(found[1]), source=str(found[1]))
        return run

    def _train(self, runs: list[TrainingRun], target: int) -> None:
        """Train every run to ``target`` epochs (or its failure), interleaving steps."""
        if self.device.type == "cuda" and len(runs) > 1:
            for run in runs:
                run.stream = torch.cuda.Stream(self.device)  # type: ignore[no-untyped-call]
                run.stream.wait_stream(torch.cuda.current_stream(self.device))
        while True:
            active = [r for r in runs if r.epoch < target and r.failure is None]
            if not active:
                break
            epochs = [(run, run.train_epoch()) for run in active]
            while epochs:
                for item in list(epochs):
                    run, steps = item
                    with run.on_stream(), run.owning_rng():
                        if next(steps, StopIteration) is StopIteration:
                            epochs.remove(item)
            for run in active:
                if run.failure is None:
                    with run.on_stream():
                        run.validate()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _finish(
        self, run: TrainingRun, folder: Path | None, target: int, test: bool, start: float
    ) -> Result:
        """The run's Result; saves its checkpoint at ``target`` when it trained or tested."""
        if run.failure is not None:
            elapsed = time.perf_counter() - start
            return Result.failed(run.failure, kind=FailureKind.NAN, cost_s=elapsed)
        trained = run.epoch > run.resumed_epoch
        metrics = dict(run.metrics)
        if trained:
            metrics.pop("test_accuracy", None)  # measured at an earlier epoch
        tested = test and "test_accuracy" not in metrics
        if tested:
            with run.on_stream():
                metrics["test_accuracy"] = run.evaluate(run.data.test_x, run.data.test_y)[1]
        metrics["n_params"] = float(sum(p.numel() for p in run.model.parameters()))
        metrics["epochs"] = float(target)
        elapsed = time.perf_counter() - start
        if trained:
            metrics["train_time_s"] = run.train_time_s + elapsed
        run.metrics, run.train_time_s = metrics, metrics.get("train_time_s", run.train_time_s)
        if folder is not None and (trained or tested):
            save_checkpoint(folder, target, run.state_dict())
        if not test:
            metrics.pop("test_accuracy", None)
        return Result(metrics, cost_s=elapsed, curve=list(run.curve))


def _check_seed(seed: Any) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed: must be an integer >= 0, got {seed!r}")
    return seed


def seeded_build(build: Any, config: Any, seed: int) -> nn.Module:
    """``build(config)`` under ``torch.manual_seed(seed)``, leaving the global RNG as it was.

    The initial weights are then a function of the config and the seed alone.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: nn.Module = build(config)
    return model
