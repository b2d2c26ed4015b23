"""The loop Single-Path NAS and TuNAS share over an elastic supernet.

Both methods train the shared weights of an :class:`ElasticMobileNet` while they learn
which sub-network to keep (per stage: kernel, expansion, depth), price sub-networks with
the per-block latency table measured on this machine (:class:`ElasticLatencyTable`, or
anything with its ``entries`` and ``predict``) and return a config of ``net.space`` that
``net.extract`` turns into a standalone MobileNet.

Every epoch is stored as a trial of an experiment (the config decided at its end, the
mean losses or rewards, the decision's predicted latency and validation accuracy after
batch-norm recalibration), and a checkpoint follows it (weights, thresholds or policy,
optimizers, random states, baseline, history): a search stopped at any point continues
from its last epoch and ends as one that was never stopped.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.oneshot._elastic import ElasticMobileNet, smallest
from archsearch.oneshot._elastic_train import (
    evaluate_subnet,
    open_epochs,
    record_epoch,
    save_state,
)
from archsearch.store import Store
from archsearch.training import DeviceData
from archsearch.training._run import batch_bounds

__all__ = ["ElasticMethodResult", "LatencyLookup"]


class LatencyLookup(Protocol):
    """What the searches need of a latency table (:class:`ElasticLatencyTable` has it):
    ms entries ``stem``, ``head``, ``{stage}/{0 first, 1 later}/{expansion}/{kernel}``."""

    entries: dict[str, float]

    def predict(self, config: dict[str, Any]) -> float: ...


@dataclass
class ElasticMethodResult:
    """What a search returned: the chosen config, the per-epoch history and wall time."""

    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass(frozen=True)
class _Run:
    """What every step of one ``search`` call sees."""

    net: ElasticMobileNet
    data: DeviceData
    optimizer: torch.optim.Optimizer
    n_steps: int


def _check(
    name: str, value: Any, rule: str, ok: Callable[[Any], bool], *, integer: bool = False
) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not ok(value):
        raise ConfigError(f"{name}: must be {rule}, got {value!r}")


class _ElasticSearch(abc.ABC):
    """The loop both methods share: epochs of steps, evaluation, checkpoint, store.

    Args:
        epochs: training epochs.
        target_ms: the latency target.
        learning_rate, weight_decay, momentum, batch_size: SGD (Nesterov) of the shared
            weights, a cosine schedule over the whole search.
        seed: the order of the data (and the method's samples).
        checkpoint: the file of the search state (written after every epoch; a search
            finding it continues from there).
        store, name: record each epoch as a trial of experiment ``name``.
    """

    method: ClassVar[str]

    def __init__(
        self,
        *,
        epochs: int = 8,
        target_ms: float | None = None,
        learning_rate: float = 0.05,
        weight_decay: float = 3e-5,
        momentum: float = 0.9,
        batch_size: int = 128,
        seed: int = 0,
        checkpoint: str | Path | None = None,
        store: Store | None = None,
        name: str | None = None,
    ) -> None:
        _check("epochs", epochs, "an integer >= 1", lambda v: v >= 1, integer=True)
        _check("batch_size", batch_size, "an integer >= 2", lambda v: v >= 2, integer=True)
        _check("learning_rate", learning_rate, "a number > 0", lambda v: v > 0)
        _check("weight_decay", weight_decay, "a number >= 0", lambda v: v >= 0)
        _check("momentum", momentum, "a number in [0, 1)", lambda v: 0 <= v < 1)
        _check("seed", seed, "an integer", lambda v: True, integer=True)
        if target_ms is not None:
            _check("target_ms", target_ms, "a number > 0", lambda v: v > 0)
        self.epochs, self.target_ms = epochs, None if target_ms is None else float(target_ms)
        self.learning_rate, self.weight_decay = float(learning_rate), float(weight_decay)
        self.momentum, self.batch_size, self.seed = float(momentum), batch_size, seed
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.store, self.name = store, name or f"elastic-{self.method}-s{seed}"
        self.generator = torch.Generator()
        #: the architecture's parameters (thresholds or logits) and their optimizer
        self.arch = nn.ParameterDict()
        self.arch_optimizer: torch.optim.Optimizer | None = None

    @abc.abstractmethod
    def prepare(self, net: ElasticMobileNet, latency: LatencyLookup) -> None:
        """Build ``arch`` and its optimizer for ``net`` afresh (a search starts here)."""

    @abc.abstractmethod
    def decide(self, net: ElasticMobileNet) -> dict[str, Any]:
        """The config the architecture chooses now."""

    @abc.abstractmethod
    def _step(self, run: _Run, x: Tensor, y: Tensor, step: int) -> dict[str, float]:
        """One step of weights and architecture; numbers averaged over the epoch."""

    def _start_epoch(self, data: DeviceData) -> None:  # noqa: B027 - optional hook
        """Draw what an epoch needs beside the order of its training images."""

    def _summary(self) -> dict[str, float]:
        """Numbers describing the architecture at the end of an epoch."""
        return {}

    def _spec(self) -> dict[str, Any]:
        return {}

    def search(
        self,
        net: ElasticMobileNet,
        dataset: Dataset,
        latency: LatencyLookup,
        *,
        device: str | torch.device = "cpu",
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        stop_after: int | None = None,
    ) -> ElasticMethodResult:
        """Search ``net`` (its weights trained in place) and return the chosen config.

        Continues from the checkpoint when there is one. ``stop_after`` ends the call
        after that many epochs of this call (for tests of resuming); the checkpoint then
        holds the state to continue from.
        """
        device = torch.device(device)
        net.to(device)
        data = DeviceData(dataset, device)
        self.prepare(net, latency)
        optimizer = torch.optim.SGD(
            net.parameters(),
            lr=self.learning_rate,
            momentum=self.momentum,
            nesterov=self.momentum > 0,
            weight_decay=self.weight_decay,
        )
        n_steps = self.epochs * len(batch_bounds(data.n_train, self.batch_size))
        run = _Run(net, data, optimizer, n_steps)
        self.generator = torch.Generator(device=device).manual_seed(self.seed)
        history: list[dict[str, Any]] = []
        start = self._resume(run, history, device)
        eid = self._open_store()
        t0 = time.perf_counter()
        for done, epoch in enumerate(range(start, self.epochs)):
            if stop_after is not None and done >= stop_after:
                break
            row: dict[str, Any] = {"epoch": epoch + 1, **self._epoch(run, epoch)}
            config = self.decide(net)
            row |= self._summary()
            row["predicted_latency_ms"] = latency.predict(config)
            row["valid_accuracy"] = evaluate_subnet(net, data, config)
            row["seconds"] = time.perf_counter() - t0
            row["config"] = config
            history.append(row)
            self._save(run, history, epoch + 1)
            self._record(eid, row)
            if on_epoch is not None:
                on_epoch(row)
        wall_s = time.perf_counter() - t0
        if self.store is not None and eid is not None and len(history) == self.epochs:
            self.store.update_experiment(eid, status="complete", summary={"epochs": self.epochs})
        return ElasticMethodResult(net.check(self.decide(net)), history, wall_s)

    def _epoch(self, run: _Run, epoch: int) -> dict[str, float]:
        run.net.train()
        plan = run.data.plan_epoch(self.generator, augment=False, padding=0)
        self._start_epoch(run.data)
        bounds = batch_bounds(run.data.n_train, self.batch_size)
        sums: dict[str, list[float]] = {}
        for i, (a, b) in enumerate(bounds):
            step = epoch * len(bounds) + i
            for group in run.optimizer.param_groups:
                progress = math.pi * step / run.n_steps
                group["lr"] = self.learning_rate * 0.5 * (1 + math.cos(progress))
            x, y = run.data.batch(plan, a, b, 0)
            for key, value in self._step(run, x, y, step).items():
                sums.setdefault(key, []).append(value)
        return {key: sum(values) / len(values) for key, values in sums.items()}

    # -- checkpoint and store -----------------------------------------------------------
    def _arch_state(self) -> dict[str, Any]:
        assert self.arch_optimizer is not None
        return {"arch": self.arch.state_dict(), "optimizer": self.arch_optimizer.state_dict()}

    def _load_arch_state(self, state: Mapping[str, Any]) -> None:
        assert self.arch_optimizer is not None
        device = next(iter(self.arch.values())).device
        self.arch.load_state_dict({k: v.to(device) for k, v in state["arch"].items()})
        self.arch_optimizer.load_state_dict(state["optimizer"])

    def _save(self, run: _Run, history: list[dict[str, Any]], epochs_done: int) -> None:
        if self.checkpoint is None:
            return
        state = {
            "method": self.method,
            "epochs_done": epochs_done,
            "model": run.net.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "arch": self._arch_state(),
            "history": history,
        }
        save_state(state, self.checkpoint)

    def _resume(self, run: _Run, history: list[dict[str, Any]], device: torch.device) -> int:
        if self.checkpoint is None or not self.checkpoint.is_file():
            return 0
        state = torch.load(self.checkpoint, weights_only=True, map_location=device)
        if state.get("method") != self.method:
            raise ConfigError(
                f"{self.checkpoint}: a checkpoint of {state.get('method')!r}, not {self.method!r}"
            )
        run.net.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        self._load_arch_state(state["arch"])
        history[:] = state["history"]
        return int(state["epochs_done"])

    def _open_store(self) -> int | None:
        spec = {
            "oneshot": self.method,
            "space": "elastic",
            "epochs": self.epochs,
            "seed": self.seed,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "target_ms": self.target_ms,
            **self._spec(),
        }
        return open_epochs(self.store, self.name, spec)

    def _record(self, eid: int | None, row: Mapping[str, Any]) -> None:
        record_epoch(self.store, eid, row, row["config"], "valid_accuracy")


def _min_layers(net: ElasticMobileNet) -> list[int]:
    return [int(stage["n_layers"]) for stage in smallest(net.space)["stages"]]
