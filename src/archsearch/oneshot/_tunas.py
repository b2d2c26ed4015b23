"""TuNAS over an elastic supernet: REINFORCE with the absolute-value latency reward.

**TuNAS** (Bender et al., CVPR 2020) learns a policy of independent categoricals (per
stage: kernel, expansion, depth; zero logits, Adam with beta1 = 0 as in TuNAS' code) by
REINFORCE. Each step samples a sub-network from the policy and trains the shared weights
on a training batch with it (one path); then, every ``policy_every`` steps once the first
``warmup`` fraction is over (TuNAS: 25 %; the policy is uniform until then), the same
sub-network's accuracy on a validation batch (batch statistics; four times the training
batch, as TuNAS) gives the reward ``quality + beta * |latency / target_ms - 1|`` with the
table's ``predict``, and the policy steps on ``-(reward - baseline) * log p``. The
baseline is a moving average of the rewards (momentum 0.95, TuNAS'; it starts at the
first reward). ``beta`` is -0.07 by default on a quality in [0, 1] (TuNAS' released code
defaults to -0.10): 10 % off the target costs 0.7 points of accuracy. The result is the
policy's most likely choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.errors import ConfigError
from archsearch.oneshot._elastic import ElasticMobileNet, largest
from archsearch.oneshot._elastic_loop import (
    LatencyLookup,
    _check,
    _ElasticSearch,
    _min_layers,
    _Run,
)
from archsearch.training import DeviceData

__all__ = ["TuNAS"]


@contextmanager
def _batch_statistics(net: nn.Module) -> Iterator[None]:
    """Batch norm on the batch's statistics, leaving the running ones untouched."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    saved, was_training = [m.momentum for m in norms], net.training
    for m in norms:
        m.momentum = 0.0
    net.train()
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
        net.train(was_training)


class TuNAS(_ElasticSearch):
    """TuNAS over an elastic supernet: REINFORCE with the absolute latency reward.

    ``arch`` holds the policy's logits: ``kernel{i}``, ``expansion{i}``, ``n_layers{i}``.

    Args:
        target_ms: the latency target ``T0`` of the reward.
        beta: the reward's ``beta`` (<= 0) on a quality in [0, 1].
        policy_lr: Adam step size of the logits (TuNAS: 3e-4 per 256 images of its 4096
            batch; it raises it tenfold over the search, here it stays).
        warmup: fraction of the steps before the policy learns (it is uniform until then).
        baseline_momentum: of the rewards' moving average.
        policy_every: a policy step every this many training steps.
        valid_batch_size: images of the reward's validation batch (None: 4 x batch_size).
        quality: a sub-network's quality in [0, 1] in place of its validation-batch
            accuracy (an accuracy predictor, or a known signal in tests).
        **options: as the shared loop (``epochs``, ``learning_rate``, ``batch_size``,
            ``seed``: also the policy's samples, ``checkpoint``, ``store``, ``name``, ...).

    Example:
        >>> TuNAS(target_ms=2.0).beta
        -0.07
    """

    method = "tunas"

    def __init__(
        self,
        *,
        target_ms: float,
        beta: float = -0.07,
        policy_lr: float = 0.0048,
        warmup: float = 0.25,
        baseline_momentum: float = 0.95,
        policy_every: int = 1,
        valid_batch_size: int | None = None,
        quality: Callable[[dict[str, Any]], float] | None = None,
        **options: Any,
    ) -> None:
        _check("target_ms", target_ms, "a number > 0", lambda v: v > 0)
        super().__init__(target_ms=target_ms, **options)
        _check("beta", beta, "a number <= 0", lambda v: v <= 0)
        _check("policy_lr", policy_lr, "a number > 0", lambda v: v > 0)
        _check("warmup", warmup, "a number in [0, 1)", lambda v: 0 <= v < 1)
        _check("baseline_momentum", baseline_momentum, "a number in [0, 1)", lambda v: 0 <= v < 1)
        _check("policy_every", policy_every, "an integer >= 1", lambda v: v >= 1, integer=True)
        if valid_batch_size is not None:
            rule = "an integer >= 1"
            _check("valid_batch_size", valid_batch_size, rule, lambda v: v >= 1, integer=True)
        self.target = float(target_ms)
        self.beta, self.policy_lr, self.warmup = float(beta), float(policy_lr), float(warmup)
        self.baseline_momentum, self.policy_every = float(baseline_momentum), policy_every
        self.valid_batch_size = valid_batch_size or 4 * self.batch_size
        self.quality = quality
        self.options: list[tuple[str, int, str, list[int]]] = []
        self.baseline: float | None = None
        self.latency: LatencyLookup | None = None
        self.sampler = torch.Generator()
        self._valid_order = torch.zeros(0, dtype=torch.long)
        self._cursor = 0

    def prepare(self, net: ElasticMobileNet, latency: LatencyLookup) -> None:
        """A uniform policy (zero logits, on the CPU), no baseline yet."""
        self.latency, self.baseline, self.options = latency, None, []
        for i, (blocks, n_min) in enumerate(zip(net.blocks(), _min_layers(net), strict=True)):
            first = blocks[0]
            self.options += [
                (f"kernel{i}", i, "kernel", list(first.kernels)),
                (f"expansion{i}", i, "expansion", list(first.expansions)),
                (f"n_layers{i}", i, "n_layers", list(range(n_min, len(blocks) + 1))),
            ]
        self.arch = nn.ParameterDict(
            {key: nn.Parameter(torch.zeros(len(values))) for key, _, _, values in self.options}
        )
        # TuNAS' controller optimizer: Adam without momentum
        self.arch_optimizer = torch.optim.Adam(
            self.arch.parameters(), lr=self.policy_lr, betas=(0.0, 0.999)
        )
        # the policy's samples: a stream apart from the data order's
        self.sampler = torch.Generator().manual_seed(self.seed * 1_000_003 + 1)

    def probabilities(self) -> dict[str, list[float]]:
        """The policy's probability of every option, per decision (``kernel0`` ...)."""
        return {k: torch.softmax(v.detach(), 0).tolist() for k, v in self.arch.items()}

    def entropy(self) -> float:
        """The policy's entropy (nats), summed over its decisions."""
        total = 0.0
        for logits in self.arch.values():
            p = torch.softmax(logits.detach(), 0)
            total -= float((p * torch.log(p.clamp_min(1e-12))).sum())
        return total

    @torch.no_grad()
    def sample(self) -> list[int]:
        """One option index per decision, drawn from the policy."""
        probs = [torch.softmax(self.arch[key], 0) for key, *_ in self.options]
        return [int(torch.multinomial(p, 1, generator=self.sampler)) for p in probs]

    def log_prob(self, indices: list[int]) -> Tensor:
        """``log p`` of a sample under the policy (differentiable in the logits)."""
        terms = [
            torch.log_softmax(self.arch[key], 0)[index]
            for (key, *_), index in zip(self.options, indices, strict=True)
        ]
        return torch.stack(terms).sum()

    def config_of(self, net: ElasticMobileNet, indices: list[int]) -> dict[str, Any]:
        """The config of one option index per decision."""
        config = largest(net.space)
        for (_, stage, key, values), index in zip(self.options, indices, strict=True):
            config["stages"][stage][key] = values[index]
        return config

    def decide(self, net: ElasticMobileNet) -> dict[str, Any]:
        """The most likely config (ties: the smaller option)."""
        return self.config_of(net, [int(torch.argmax(self.arch[k])) for k, *_ in self.options])

    def _start_epoch(self, data: DeviceData) -> None:
        n = int(data.valid_y.shape[0])
        if n == 0:
            raise ConfigError("dataset: TuNAS needs a validation split, got an empty one")
        self._valid_order = torch.randperm(n, generator=self.generator, device=data.device)
        self._cursor = 0

    def _valid_batch(self, data: DeviceData) -> tuple[Tensor, Tensor]:
        """The next validation batch in the epoch's order (wrapping around)."""
        n = len(self._valid_order)
        positions = (self._cursor + torch.arange(min(self.valid_batch_size, n))) % n
        self._cursor += len(positions)
        index = self._valid_order[positions.to(data.device)]
        return data.normalise(data.valid_x[index]), data.valid_y[index]

    def _step(self, run: _Run, x: Tensor, y: Tensor, step: int) -> dict[str, float]:
        indices = self.sample()
        config = self.config_of(run.net, indices)
        loss = F.cross_entropy(run.net(x, config), y)
        run.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        run.optimizer.step()
        numbers = {"train_loss": float(loss.detach())}
        if step >= int(self.warmup * run.n_steps) and step % self.policy_every == 0:
            numbers |= self._reinforce(run, config, indices)
        return numbers

    def _reinforce(
        self, run: _Run, config: dict[str, Any], indices: list[int]
    ) -> dict[str, float]:
        """One REINFORCE step of the policy on the sampled sub-network's reward."""
        assert self.arch_optimizer is not None and self.latency is not None
        latency_ms = self.latency.predict(config)
        if self.quality is not None:
            quality = float(self.quality(config))
        else:
            x, y = self._valid_batch(run.data)
            with torch.no_grad(), _batch_statistics(run.net):
                quality = float((run.net(x, config).argmax(1) == y).float().mean())
        reward = quality + self.beta * abs(latency_ms / self.target - 1)
        m = self.baseline_momentum
        self.baseline = reward if self.baseline is None else m * self.baseline + (1 - m) * reward
        self.arch_optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(-(reward - self.baseline) * self.log_prob(indices))
        self.arch_optimizer.step()
        return {
            "reward": reward,
            "quality": quality,
            "sampled_latency_ms": latency_ms,
            "baseline": self.baseline,
        }

    def _summary(self) -> dict[str, float]:
        return {"policy_entropy": self.entropy()}

    def _arch_state(self) -> dict[str, Any]:
        extra = {"baseline": self.baseline, "sampler": self.sampler.get_state()}
        return {**super()._arch_state(), **extra}

    def _load_arch_state(self, state: Mapping[str, Any]) -> None:
        super()._load_arch_state(state)
        self.baseline = state["baseline"]
        self.sampler.set_state(state["sampler"].cpu())

    def _spec(self) -> dict[str, Any]:
        return {"beta": self.beta, "policy_lr": self.policy_lr, "warmup": self.warmup}
