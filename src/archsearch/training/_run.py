"""One model's training run: optimizer, schedule, random streams, steps and validation.

A :class:`TrainingRun` trains an epoch as a generator that yields after every step,
so that a driver can interleave several runs (on CUDA, one stream each); everything
random comes from the run's own state: a ``torch.Generator`` for shuffling and
augmentation, and its own copy of the device's global generator state (what dropout
draws from), swapped in around each step by :meth:`TrainingRun.owning_rng`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError, DataError
from archsearch.training._device import DeviceData
from archsearch.training._recipe import Recipe

__all__ = ["TrainingRun", "add_dropout", "batch_bounds", "cosine_lr", "make_optimizer"]

Forward = Callable[[torch.Tensor], torch.Tensor]


def cosine_lr(base: float, step: int, total_steps: int) -> float:
    """The cosine schedule from ``base`` at step 0 to 0 at ``total_steps``."""
    return base * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each batch of an epoch over ``n`` images.

    The last, smaller batch is kept (as in NB201), unless it holds a single image,
    which batch norm cannot train on.
    """
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds.pop()
    return bounds


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over all of ``model``'s parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(
            params,
            lr=recipe.learning_rate,
            betas=(recipe.momentum, 0.999),
            weight_decay=recipe.weight_decay,
        )
    return torch.optim.SGD(
        params,
        lr=recipe.learning_rate,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov and recipe.momentum > 0,
        weight_decay=recipe.weight_decay,
    )


class _DropoutBefore:
    """A forward pre-hook: dropout on the input of the module it is attached to."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (F.dropout(args[0], self.p, module.training), *args[1:])


def add_dropout(model: nn.Module, p: float) -> nn.Module:
    """Put dropout ``p`` before the model's classifier (its last ``nn.Linear``).

    Models with dropout of their own are left as they are, as are all models when
    ``p`` is 0. A forward pre-hook is used, so the state dict keeps its keys.

    Raises:
        ConfigError: when ``p > 0`` and the model has no ``nn.Linear``.
    """
    if p <= 0 or any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules()):
        return model
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(
            f"recipe.dropout: {p} asked for, but the model has no nn.Linear classifier to "
            "put it before; set dropout to 0"
        )
    classifier = linears[-1]
    hook = getattr(classifier, "_archsearch_dropout", None)
    if isinstance(hook, _DropoutBefore):
        hook.p = p  # fitted before: change the rate, do not stack a second hook
        return model
    hook = _DropoutBefore(p)
    classifier.register_forward_pre_hook(hook)
    classifier._archsearch_dropout = hook  # type: ignore[assignment]
    return model


def _global_rng(device: torch.device) -> torch.Tensor:
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    return torch.get_rng_state()


def _set_global_rng(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


class TrainingRun:
    """The training of one model on one :class:`DeviceData` with one recipe.

    Args:
        model: the model, already on the data's device.
        data: the data on the device.
        recipe: how to train; the cosine schedule spans ``recipe.epochs``.
        seed: seeds shuffling and augmentation (``seed``) and dropout (``seed + 1``).
        forward: the callable to train with (the model, or ``torch.compile`` of it).
        check_every: steps between checks for a non-finite loss (each check syncs).
        eval_batch_size: images per batch when evaluating.
        cuda_graphs: ``forward`` replays CUDA graphs (``torch.compile`` in
            "reduce-overhead" mode): mark where each step begins.
    """

    def __init__(
        self,
        model: nn.Module,
        data: DeviceData,
        recipe: Recipe,
        *,
        seed: int,
        forward: Forward | None = None,
        check_every: int = 1,
        eval_batch_size: int = 1024,
        cuda_graphs: bool = False,
    ) -> None:
        self.model, self.data, self.recipe = model, data, recipe
        self.forward: Forward = forward if forward is not None else model
        self.device = data.device
        self.is_cuda = self.device.type == "cuda"
        self.check_every, self.eval_batch_size = check_every, eval_batch_size
        self.cuda_graphs = cuda_graphs
        self.optimizer = make_optimizer(model, recipe)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        dropout_rng = torch.Generator(device=self.device)
        dropout_rng.manual_seed(seed + 1)
        self.rng_state = dropout_rng.get_state()
        self.bounds = batch_bounds(data.n_train, recipe.batch_size)
        self.total_steps = recipe.epochs * len(self.bounds)
        self.step = self.epoch = 0
        self.resumed_epoch = 0  # the epoch a checkpoint brought the run to
        self.curve: list[float] = []
        self.metrics: dict[str, float] = {}
        self.train_time_s = 0.0  # before this call, from a checkpoint
        self.failure: str | None = None
        self.stream: torch.cuda.Stream | None = None

    # -- contexts ---------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on CUDA; nothing on the CPU (fp32)."""
        if self.is_cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def on_stream(self) -> contextlib.AbstractContextManager[Any]:
        """Run on this run's CUDA stream, when it has one."""
        return (
            torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def owning_rng(self) -> Iterator[None]:
        """Install this run's global-generator state (dropout) and take it back after."""
        saved = _global_rng(self.device)
        _set_global_rng(self.device, self.rng_state)
        try:
            yield
        finally:
            self.rng_state = _global_rng(self.device)
            _set_global_rng(self.device, saved)

    # -- training ---------------------------------------------------------------------
    def train_epoch(self) -> Iterator[None]:
        """Train one epoch, yielding after each step; sets ``failure`` on divergence."""
        recipe, n_batches = self.recipe, len(self.bounds)
        plan = self.data.plan_epoch(
            self.generator, augment=recipe.augment, padding=recipe.crop_padding
        )
        losses = torch.zeros(n_batches, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        checked = 0
        for i, (start, stop) in enumerate(self.bounds):
            x, y = self.data.batch(plan, start, stop, recipe.crop_padding)
            losses[i], hits = self._step(x, y)
            correct += hits
            if i + 1 - checked >= self.check_every or i + 1 == n_batches:
                if not self._is_finite(losses, checked, i + 1):
                    return
                checked = i + 1
            yield
        sizes = torch.tensor([b - a for a, b in self.bounds], device=self.device)
        n_seen = int(sizes.sum())
        self.metrics["train_loss"] = float((losses * sizes).sum()) / n_seen
        self.metrics["train_accuracy"] = 100.0 * int(correct) / n_seen
        self.epoch += 1

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on a batch; returns the loss and the number of hits."""
        lr = cosine_lr(self.recipe.learning_rate, self.step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.is_cuda and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self._forward(x)
        if self.step == 0 and out.shape[-1] != self.data.num_classes:
            raise ConfigError(
                f"model: outputs {out.shape[-1]} classes, the dataset has {self.data.num_classes}"
            )
        loss = F.cross_entropy(out.float(), y, label_smoothing=self.recipe.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        self.optimizer.step()
        self.step += 1
        return loss.detach(), (out.detach().argmax(1) == y).sum()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cuda_graphs:
            # a new step: outputs of the previous replay may be overwritten from here on
            torch.compiler.cudagraph_mark_step_begin()  # type: ignore[no-untyped-call]
        with self.autocast():
            out: torch.Tensor = self.forward(x)
        return out

    def _is_finite(self, losses: torch.Tensor, lo: int, hi: int) -> bool:
        """Check steps ``lo..hi-1`` of this epoch; on a bad loss record where and say False."""
        window = losses[lo:hi]
        bad = ~torch.isfinite(window)
        if not bool(bad.any()):
            return True
        first = int(bad.nonzero()[0, 0])
        kind = "nan" if math.isnan(float(window[first])) else "inf"
        self.failure = f"{kind} loss at epoch {self.epoch + 1} step {lo + first + 1}"
        return False

    # -- evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean cross-entropy and accuracy (percent) on images ``x`` (eval mode)."""
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for start in range(0, len(y), self.eval_batch_size):
            xb = self.data.normalise(x[start : start + self.eval_batch_size])
            yb = y[start : start + self.eval_batch_size]
            if self.is_cuda and xb.ndim == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            out = self._forward(xb).float()
            loss_sum += F.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
        self.model.train()
        n = max(len(y), 1)
        return float(loss_sum) / n, 100.0 * int(correct) / n

    def validate(self) -> None:
        """Evaluate on the validation split; extend the curve."""
        loss, accuracy = self.evaluate(self.data.valid_x, self.data.valid_y)
        self.metrics["valid_loss"], self.metrics["valid_accuracy"] = loss, accuracy
        self.curve.append(accuracy)

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch_done": self.epoch,
            "generator": self.generator.get_state(),
            "rng": self.rng_state,
            "curve": list(self.curve),
            "metrics": dict(self.metrics),
            "train_time_s": self.train_time_s,
            "recipe": self.recipe.to_json(),
            "n_train": self.data.n_train,
            "device": self.device.type,  # random states differ between CPU and CUDA
        }

    def load_state_dict(self, state: dict[str, Any], *, source: str = "checkpoint") -> None:
        """Continue from :meth:`state_dict` output.

        Raises:
            DataError: when the state was saved by a run with another recipe, training
                split or device type.
        """
        saved = (state.get("recipe"), state.get("n_train"), state.get("device"))
        if saved != (self.recipe.to_json(), self.data.n_train, self.device.type):
            raise DataError(
                f"{source}: saved by a run with another recipe, training split or device "
                f"type ({state.get('device')}); delete it to train from scratch"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch = int(state["step"]), int(state["epoch_done"])
        self.resumed_epoch = self.epoch
        self.generator.set_state(state["generator"])
        self.rng_state = state["rng"]
        self.curve = [float(v) for v in state["curve"]]
        self.metrics = {k: float(v) for k, v in state["metrics"].items()}
        self.train_time_s = float(state["train_time_s"])
