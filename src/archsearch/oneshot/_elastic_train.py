"""Training an elastic supernet: OFA's progressive shrinking and BigNAS' sandwich rule.

**OFA** (Cai et al., ICLR 2020) trains the largest network first, then lets one
dimension after another shrink, each step training sampled sub-networks (one in the
first two phases, two in ``depth``, four in ``expand``: OFA's ``dynamic_batch_size``,
their gradients accumulated) and distilling from the largest network trained in the
first phase (a frozen teacher, its batch-norm statistics estimated when it is made):

- ``full``: the largest network only;
- ``kernel``: elastic kernel (7, 5, 3 per stage; largest depth and expansion);
- ``depth``: elastic depth and kernel;
- ``expand``: everything elastic, after sorting each block's channels by importance.

Each phase has its own cosine schedule, from ``learning_rate`` times the phase's share
(:data:`OFA_RATES`: 1, 1/5, 1/8, 1/8; OFA's own rates fall by a factor of four from
the kernel phase to the later ones; on Fashion-MNIST the kernel phase at half the rate
cost the largest network 5.9 points, at a fifth 3.6, at a twentieth 1.3, while the
network of 3x3 kernels reached 79.7 % at a fifth and 75.5 % at a twentieth).

**BigNAS** (Yu et al., ECCV 2020) trains all dimensions at once with the sandwich rule:
each step the largest network learns from the labels and the smallest plus
``n_random`` random sub-networks learn from the largest network's predictions
(in-place distillation), their gradients summed into one update; one cosine schedule.

Every epoch is stored as a trial of an experiment (metrics: the training loss and the
validation accuracy of the largest and the smallest sub-network after batch-norm
recalibration), and a checkpoint (weights, optimizer, teacher, random states) is
written after it: a run stopped at any point continues from its last epoch and ends
with the same weights as one that was never stopped.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.oneshot._elastic import (
    ElasticMobileNet,
    clone,
    largest,
    recalibrate_bn,
    smallest,
)
from archsearch.store import Store
from archsearch.training import DeviceData
from archsearch.training._run import batch_bounds
from archsearch.trial import Result

__all__ = [
    "ELASTIC_METHODS",
    "ElasticRun",
    "ElasticTrainer",
    "evaluate_subnet",
    "ofa_phases",
]

ELASTIC_METHODS = ("ofa", "bignas")
OFA_PHASES = ("full", "kernel", "depth", "expand")
#: OFA's sub-networks per step in each phase (gradients accumulated; its
#: ``dynamic_batch_size``) and each phase's learning rate as a share of the first's
OFA_SUBNETS: dict[str, int] = {"full": 1, "kernel": 1, "depth": 2, "expand": 4}
OFA_RATES: dict[str, float] = {"full": 1.0, "kernel": 0.2, "depth": 0.125, "expand": 0.125}


def ofa_phases(epochs: int) -> list[str]:
    """The phase of each epoch: four near-equal parts, each at least one epoch.

    Example:
        >>> ofa_phases(6)
        ['full', 'full', 'kernel', 'depth', 'expand', 'expand']
    """
    if epochs < len(OFA_PHASES):
        raise ConfigError(f"epochs: progressive shrinking needs at least 4, got {epochs}")
    sizes = [epochs // 4] * 4
    for i in range(epochs % 4):
        sizes[(0, 3, 1, 2)[i]] += 1  # the full network and the last phase first
    return [phase for phase, n in zip(OFA_PHASES, sizes, strict=True) for _ in range(n)]


@dataclass
class ElasticRun:
    """What training returned: per-epoch history and wall time."""

    history: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


def _batches(data: DeviceData, n_images: int, batch_size: int) -> Iterator[torch.Tensor]:
    """Normalised training images, the first ``n_images`` (batch-norm recalibration)."""
    for start in range(0, min(n_images, data.n_train), batch_size):
        stop = min(start + batch_size, n_images, data.n_train)
        yield data.normalise(data.train_x[start:stop])


@torch.no_grad()
def evaluate_subnet(
    net: ElasticMobileNet,
    data: DeviceData,
    config: Mapping[str, Any],
    *,
    split: str = "valid",
    calibration_images: int = 256,
    batch_size: int = 500,
) -> float:
    """Accuracy (%) of sub-network ``config`` with inherited weights, after batch-norm
    recalibration on the first ``calibration_images`` training images."""
    recalibrate_bn(net, _batches(data, calibration_images, batch_size), config)
    x_all, y_all = (data.valid_x, data.valid_y) if split == "valid" else (data.test_x, data.test_y)
    hits = 0
    for start in range(0, len(y_all), batch_size):
        x = data.normalise(x_all[start : start + batch_size])
        hits += int((net(x, config).argmax(1) == y_all[start : start + batch_size]).sum())
    return 100.0 * hits / max(1, len(y_all))


def _distill(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) over the classes, the usual distillation loss."""
    return F.kl_div(
        F.log_softmax(student, dim=1), F.softmax(teacher, dim=1), reduction="batchmean"
    )


class ElasticTrainer:
    """Train an :class:`ElasticMobileNet` with OFA or BigNAS (see the module docstring).

    Args:
        method: ``ofa`` or ``bignas``.
        epochs: training epochs in all.
        learning_rate, weight_decay, batch_size, momentum: SGD (Nesterov) settings.
        kd_weight: weight of the distillation loss (OFA: beside the labels' loss).
        n_random: BigNAS' random sub-networks per step (beside largest and smallest).
        ofa_subnets: OFA: sub-networks per step by phase (default :data:`OFA_SUBNETS`;
            a mapping of some phases overrides theirs).
        ofa_rates: OFA: each phase's learning rate as a share of ``learning_rate``
            (default :data:`OFA_RATES`).
        teacher_images: OFA: training images that estimate the teacher's batch-norm
            statistics (the largest network's, when the teacher is made).
        seed: seeds the sampling of sub-networks and the order of the data.
        checkpoint: the file of the training state (written after every epoch; a
            trainer finding it continues from there).
        store, name: record each epoch as a trial of experiment ``name``.
    """

    def __init__(
        self,
        method: str = "ofa",
        *,
        epochs: int = 8,
        learning_rate: float = 0.05,
        weight_decay: float = 3e-5,
        batch_size: int = 128,
        momentum: float = 0.9,
        kd_weight: float = 1.0,
        n_random: int = 2,
        ofa_subnets: Mapping[str, int] | None = None,
        ofa_rates: Mapping[str, float] | None = None,
        teacher_images: int = 2000,
        seed: int = 0,
        checkpoint: str | Path | None = None,
        store: Store | None = None,
        name: str | None = None,
    ) -> None:
        if method not in ELASTIC_METHODS:
            raise ConfigError(f"method: unknown {method!r}; allowed: {', '.join(ELASTIC_METHODS)}")
        if not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs: must be an integer >= 1, got {epochs!r}")
        self.method, self.epochs = method, epochs
        self.phases = ofa_phases(epochs) if method == "ofa" else ["sandwich"] * epochs
        self.learning_rate, self.weight_decay = learning_rate, weight_decay
        self.batch_size, self.momentum = batch_size, momentum
        self.kd_weight, self.n_random, self.seed = kd_weight, n_random, seed
        if not isinstance(teacher_images, int) or teacher_images < 1:
            raise ConfigError(f"teacher_images: must be an integer >= 1, got {teacher_images!r}")
        self.teacher_images = teacher_images
        self.ofa_subnets = _per_phase("ofa_subnets", OFA_SUBNETS, ofa_subnets, int)
        self.ofa_rates = _per_phase("ofa_rates", OFA_RATES, ofa_rates, float)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.store, self.name = store, name or f"elastic-{method}-s{seed}"
        self.teacher: ElasticMobileNet | None = None

    # -- the schedule -------------------------------------------------------------------
    def _lr(self, epoch: int, step: int, steps: int) -> float:
        """Cosine within the epoch's phase (OFA) or over the whole run (BigNAS)."""
        phase = self.phases[epoch]
        first = self.phases.index(phase)
        length = self.phases.count(phase)
        base = self.learning_rate * (1.0 if phase == "sandwich" else self.ofa_rates[phase])
        done = (epoch - first) * steps + step
        return base * 0.5 * (1.0 + math.cos(math.pi * done / (length * steps)))

    def _config(self, net: ElasticMobileNet, phase: str, rng: random.Random) -> dict[str, Any]:
        """The sub-network an OFA step trains in ``phase``."""
        top = largest(net.space)
        if phase == "full":
            return top
        config = net.sample(rng)
        for stage, big in zip(config["stages"], top["stages"], strict=True):
            if phase == "kernel":
                stage["n_layers"], stage["expansion"] = big["n_layers"], big["expansion"]
            elif phase == "depth":
                stage["expansion"] = big["expansion"]
        return config

    def _make_teacher(self, net: ElasticMobileNet, data: DeviceData) -> ElasticMobileNet:
        """A frozen copy of the largest network, its batch-norm statistics estimated for
        the largest network: the supernet's own are those of the last sub-network
        evaluated (recalibration resets the rest), and the teacher runs in eval mode."""
        teacher = clone(net)
        recalibrate_bn(teacher, _batches(data, self.teacher_images, 500))
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher

    # -- training -----------------------------------------------------------------------
    def train(
        self,
        net: ElasticMobileNet,
        dataset: Dataset,
        *,
        device: str | torch.device = "cpu",
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        stop_after: int | None = None,
    ) -> ElasticRun:
        """Train ``net`` in place (continuing from the checkpoint when there is one).

        ``stop_after`` ends the call after that many epochs of this call (for tests of
        resuming); the checkpoint then holds the state to continue from.
        """
        device = torch.device(device)
        net.to(device)
        data = DeviceData(dataset, device)
        optimizer = torch.optim.SGD(
            net.parameters(),
            lr=self.learning_rate,
            momentum=self.momentum,
            nesterov=True,
            weight_decay=self.weight_decay,
        )
        rng = random.Random(self.seed)
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        run = ElasticRun()
        start = self._resume(net, optimizer, rng, generator, run, device)
        eid = self._open_store()
        t0 = time.perf_counter()
        for done, epoch in enumerate(range(start, self.epochs)):
            if stop_after is not None and done >= stop_after:
                break
            phase = self.phases[epoch]
            if phase == "expand" and (epoch == 0 or self.phases[epoch - 1] != "expand"):
                net.sort_channels()
            if phase != "full" and self.method == "ofa" and self.teacher is None:
                self.teacher = self._make_teacher(net, data)
            loss = self._epoch(net, data, optimizer, rng, generator, epoch)
            row = {
                "epoch": epoch + 1,
                "phase": phase,
                "train_loss": loss,
                "valid_accuracy_largest": evaluate_subnet(net, data, largest(net.space)),
                "valid_accuracy_smallest": evaluate_subnet(net, data, smallest(net.space)),
                "seconds": time.perf_counter() - t0,
            }
            run.history.append(row)
            self._save(net, optimizer, rng, generator, run, epoch + 1)
            self._record(eid, row, net)
            if on_epoch is not None:
                on_epoch(row)
        run.wall_s += time.perf_counter() - t0
        if self.store is not None and eid is not None and len(run.history) == self.epochs:
            self.store.update_experiment(eid, status="complete", summary={"epochs": self.epochs})
        return run

    def _epoch(
        self,
        net: ElasticMobileNet,
        data: DeviceData,
        optimizer: torch.optim.Optimizer,
        rng: random.Random,
        generator: torch.Generator,
        epoch: int,
    ) -> float:
        net.train()
        plan = data.plan_epoch(generator, augment=False, padding=0)
        bounds = batch_bounds(data.n_train, self.batch_size)
        total, seen = 0.0, 0
        for step, (a, b) in enumerate(bounds):
            for group in optimizer.param_groups:
                group["lr"] = self._lr(epoch, step, len(bounds))
            x, y = data.batch(plan, a, b, 0)
            optimizer.zero_grad(set_to_none=True)
            if self.method == "bignas":
                loss = self._sandwich(net, x, y, rng)
            else:
                loss = self._ofa_step(net, x, y, rng, self.phases[epoch])
            optimizer.step()
            total += loss * (b - a)
            seen += b - a
        return total / max(1, seen)

    def _ofa_step(
        self,
        net: ElasticMobileNet,
        x: torch.Tensor,
        y: torch.Tensor,
        rng: random.Random,
        phase: str,
    ) -> float:
        soft = None
        if self.teacher is not None and phase != "full":
            with torch.no_grad():
                soft = self.teacher(x)
        total = 0.0
        n = int(self.ofa_subnets[phase])
        for _ in range(n):
            logits = net(x, self._config(net, phase, rng))
            loss = F.cross_entropy(logits, y)
            if soft is not None:
                loss = loss + self.kd_weight * _distill(logits, soft)
            torch.autograd.backward(loss)
            total += float(loss.detach())
        return total / n

    def _sandwich(
        self, net: ElasticMobileNet, x: torch.Tensor, y: torch.Tensor, rng: random.Random
    ) -> float:
        top = net(x, largest(net.space))
        loss = F.cross_entropy(top, y)
        torch.autograd.backward(loss)
        soft = top.detach()
        configs = [smallest(net.space), *(net.sample(rng) for _ in range(self.n_random))]
        for config in configs:
            torch.autograd.backward(_distill(net(x, config), soft))
        return float(loss.detach())

    # -- checkpoint and store -----------------------------------------------------------
    def _save(
        self,
        net: ElasticMobileNet,
        optimizer: torch.optim.Optimizer,
        rng: random.Random,
        generator: torch.Generator,
        run: ElasticRun,
        epochs_done: int,
    ) -> None:
        if self.checkpoint is None:
            return
        state = {
            "method": self.method,
            "epochs_done": epochs_done,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "teacher": None if self.teacher is None else self.teacher.state_dict(),
            "python_random": _encode_random(rng.getstate()),
            "generator": generator.get_state(),
            "history": run.history,
        }
        save_state(state, self.checkpoint)

    def _resume(
        self,
        net: ElasticMobileNet,
        optimizer: torch.optim.Optimizer,
        rng: random.Random,
        generator: torch.Generator,
        run: ElasticRun,
        device: torch.device,
    ) -> int:
        if self.checkpoint is None or not self.checkpoint.is_file():
            return 0
        state = torch.load(self.checkpoint, weights_only=True, map_location=device)
        if state.get("method") != self.method:
            raise ConfigError(
                f"{self.checkpoint}: a checkpoint of {state.get('method')!r}, not {self.method!r}"
            )
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state["teacher"] is not None:
            self.teacher = clone(net)
            self.teacher.load_state_dict(state["teacher"])
            self.teacher.eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
        rng.setstate(_decode_random(state["python_random"]))
        generator.set_state(state["generator"])
        run.history = list(state["history"])
        return int(state["epochs_done"])

    def _open_store(self) -> int | None:
        spec = {
            "oneshot": self.method,
            "space": "elastic",
            "epochs": self.epochs,
            "seed": self.seed,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
        }
        return open_epochs(self.store, self.name, spec)

    def _record(self, eid: int | None, row: Mapping[str, Any], net: ElasticMobileNet) -> None:
        record_epoch(self.store, eid, row, largest(net.space), "valid_accuracy_largest")


def _per_phase(
    name: str, default: Mapping[str, Any], given: Mapping[str, Any] | None, kind: type
) -> dict[str, Any]:
    """``default`` updated by ``given``, every value checked (positive, of ``kind``)."""
    out = dict(default)
    for phase, value in (given or {}).items():
        if phase not in default:
            raise ConfigError(f"{name}: unknown phase {phase!r}; allowed: {', '.join(default)}")
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name}.{phase}: must be a positive number, got {value!r}")
        if kind is int and int(value) != value:
            raise ConfigError(f"{name}.{phase}: must be an integer, got {value!r}")
        out[phase] = kind(value)
    return out


def save_state(state: Mapping[str, Any], path: Path) -> None:
    """``torch.save`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    torch.save(dict(state), tmp)
    os.replace(tmp, path)


def open_epochs(store: Store | None, name: str, spec: Mapping[str, Any]) -> int | None:
    """The id of experiment ``name`` (created with ``spec`` when new), None without a store."""
    if store is None:
        return None
    record = store.find_experiment(name)
    return record.id if record is not None else store.create_experiment(name, spec).id


def record_epoch(
    store: Store | None, eid: int | None, row: Mapping[str, Any], config: Any, score: str
) -> None:
    """Store one epoch as trial ``epoch - 1``: its numbers as metrics, ``score`` scored."""
    if store is None or eid is None:
        return
    number = int(row["epoch"]) - 1
    metrics = {k: float(v) for k, v in row.items() if isinstance(v, int | float)}
    store.start_trial(eid, number, config, float(row["epoch"]), None, time.time())
    result = Result(metrics, float(row["seconds"]), score=metrics[score])
    store.finish_trial(eid, number, result, None, time.time(), None)


def _encode_random(state: tuple[Any, ...]) -> list[Any]:
    """``random.getstate()`` as nested lists (what ``weights_only`` loading accepts)."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _decode_random(state: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
