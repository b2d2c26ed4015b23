"""Single-Path NAS over an elastic supernet: choices as thresholds on weight norms.

**Single-Path NAS** (Stamoulis et al., 2019) keeps one superkernel per block and makes
every choice a threshold on a weight norm, learnt with the weights by gradient descent.
With ``K3, K5, K7`` a block's depthwise kernels zero-padded to 7x7, the superkernel is
``K3 + g5 * ((K5 - K3) + g7 * (K7 - K5))``: with the supernet's identity kernel
transforms (an untrained net) the differences are the paper's 5x5 and 7x7 rings; after
OFA training they are what each larger kernel adds, so hard gates compute exactly what
``net.extract`` exports. A gate ``g = 1[s > t]`` opens when the norm ``s`` exceeds the
trainable threshold ``t``: hard forward, the sigmoid's gradient backward
(straight-through). Expansion gates mask the hidden channels ``[3c:4c]`` (``g4``) and
``[4c:6c]`` (``g4 * g6``), on the norm of those channels' 3x3 core; depth gates weight
the residual branch of each block beyond the stage's minimum (closed: the identity),
nested so that a block counts only when the ones before it do, on the norm of the
block's ``[0:3c]`` core. A norm is a per-element mean square relative to the block's
whole 7x7 kernel (not differentiated): batch norm makes a kernel's scale meaningless,
and so every threshold lives on one scale (about 1 at the start; thresholds start at 0,
every gate open). Kernel and expansion are per stage in the space, so a stage has one
threshold per ring and channel group, against the norm averaged over its blocks. Each
batch's loss is ``cross-entropy + latency_weight * log(E[latency])``, ``E[latency]``
the table's block entries weighted by the gates (its forward value: the table's latency
of the hard decisions); with ``target_ms`` the term is ``max(0, log(E[latency] /
target_ms))``, no pressure once the target is met. Weights (SGD) and thresholds (Adam)
step on that one loss; the result reads the hard gates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.errors import ConfigError
from archsearch.oneshot._elastic import ElasticMBConv, ElasticMobileNet, largest
from archsearch.oneshot._elastic_loop import (
    LatencyLookup,
    _check,
    _ElasticSearch,
    _min_layers,
    _Run,
)

__all__ = ["SinglePathNAS", "single_path_block"]


def _gate(z: Tensor) -> Tensor:
    """``1[z > 0]`` forward, the sigmoid's gradient backward (straight-through)."""
    soft = torch.sigmoid(z)
    return (z > 0).to(z.dtype) + soft - soft.detach()


def _nested(gates: Tensor) -> Tensor:
    """How much each option's part counts: ``[1, g1, g1 g2, ...]``."""
    return torch.cumprod(torch.cat([gates.new_ones(1), gates]), 0)


def _option_weights(nested: Tensor) -> Tensor:
    """Each option's weight, ``[1 - g1, g1 (1 - g2), g1 g2]`` (one-hot for hard gates)."""
    return nested - torch.cat([nested[1:], nested.new_zeros(1)])


def _padded_kernels(block: ElasticMBConv) -> list[Tensor]:
    """The block's depthwise kernels, smallest first, zero-padded to the largest size."""
    size = block.max_kernel
    return [F.pad(block.kernel_weight(k), [(size - k) // 2] * 4) for k in block.kernels]


def _group_bounds(block: ElasticMBConv) -> list[tuple[int, int]]:
    """The hidden channels each expansion adds: ``[(0, 3c), (3c, 4c), (4c, 6c)]``."""
    ends = [block.c_in * e for e in block.expansions]
    return list(zip([0, *ends[:-1]], ends, strict=True))


def _signals(block: ElasticMBConv, padded: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Relative mean squares of each ring (what kernel ``i`` adds to kernel ``i - 1``)
    and of each hidden-channel group's core (the smallest kernel over its channels)."""
    scale = padded[-1].detach().pow(2).mean().clamp_min(1e-12)
    hidden, ks = padded[-1].shape[0], block.kernels
    rings = [
        (padded[i] - padded[i - 1]).pow(2).sum() / (hidden * (ks[i] ** 2 - ks[i - 1] ** 2))
        for i in range(1, len(ks))
    ]
    lo, hi = (block.max_kernel - ks[0]) // 2, (block.max_kernel + ks[0]) // 2
    core = padded[0][:, :, lo:hi, lo:hi]
    groups = torch.stack([core[a:b].pow(2).mean() for a, b in _group_bounds(block)])
    ring = torch.stack(rings) if rings else core.new_zeros(0)
    return ring / scale, groups / scale


def _branch(
    block: ElasticMBConv, x: Tensor, padded: list[Tensor], kernel: Tensor, expansion: Tensor
) -> Tensor:
    """The block without its residual: the superkernel of nested gates ``kernel``, the
    hidden channels masked by nested gates ``expansion``."""
    weight = padded[0] * kernel[0]
    for i in range(1, len(padded)):
        weight = weight + kernel[i] * (padded[i] - padded[i - 1])
    sizes = torch.tensor([b - a for a, b in _group_bounds(block)], device=expansion.device)
    mask = torch.repeat_interleave(expansion, sizes)
    y = F.relu6(block.bn1(F.conv2d(x, block.expand.weight)))
    y = F.conv2d(y, weight, None, block.stride, block.max_kernel // 2, 1, len(mask))
    y = F.relu6(block.bn2(y)) * mask[None, :, None, None]
    out: Tensor = block.bn3(F.conv2d(y, block.project.weight))
    return out


def single_path_block(
    block: ElasticMBConv,
    x: Tensor,
    kernel_gates: Tensor,
    expansion_gates: Tensor,
    skip_gate: Tensor | None = None,
) -> Tensor:
    """One block of the single-path supernet under the given gates.

    With 0/1 gates it computes ``block(x, expansion, kernel)`` of the options they open.

    Args:
        block: an elastic block.
        x: its input.
        kernel_gates: one gate per ring (``g5, g7`` for kernels 3, 5, 7).
        expansion_gates: one per hidden-channel group beyond the first (``g4, g6``).
        skip_gate: for a block with a residual, the weight of its branch (0: identity).
    """
    padded = _padded_kernels(block)
    out = _branch(block, x, padded, _nested(kernel_gates), _nested(expansion_gates))
    if skip_gate is not None:
        if not block.has_residual:
            raise ConfigError("skip_gate: only a block with a residual can be skipped")
        return x + skip_gate * out
    return x + out if block.has_residual else out


@dataclass(frozen=True)
class _StageGates:
    kernel: Tensor  # nested, one per kernel size
    expansion: Tensor  # nested, one per expansion
    depth: Tensor  # nested, one per block beyond the minimum


class SinglePathNAS(_ElasticSearch):
    """Single-Path NAS over an elastic supernet (see the module docstring).

    ``arch`` holds the thresholds: ``kernel{i}``, ``expansion{i}``, ``depth{i}`` per stage.

    Args:
        latency_weight: ``lambda`` of the ``log(E[latency])`` term (0: accuracy alone).
        target_ms: None: the paper's loss; a number: the latency term only above it.
        threshold_lr: Adam step size of the thresholds.
        **options: as the shared loop (``epochs``, ``learning_rate``, ``batch_size``,
            ``seed``, ``checkpoint``, ``store``, ``name``, ...).

    Example:
        >>> SinglePathNAS(latency_weight=0.5, seed=3).name
        'elastic-spnas-s3'
    """

    method = "spnas"

    def __init__(
        self,
        *,
        latency_weight: float = 0.1,
        target_ms: float | None = None,
        threshold_lr: float = 0.01,
        **options: Any,
    ) -> None:
        super().__init__(target_ms=target_ms, **options)
        _check("latency_weight", latency_weight, "a number >= 0", lambda v: v >= 0)
        _check("threshold_lr", threshold_lr, "a number > 0", lambda v: v > 0)
        self.latency_weight, self.threshold_lr = float(latency_weight), float(threshold_lr)
        self.min_layers: list[int] = []
        self.fixed_ms = 0.0
        self.tables: list[tuple[Tensor, Tensor]] = []

    def prepare(self, net: ElasticMobileNet, latency: LatencyLookup) -> None:
        """Thresholds at 0 (every gate open); the latency table as tensors."""
        device = next(net.parameters()).device
        self.min_layers = _min_layers(net)
        self.arch, self.tables = nn.ParameterDict(), []
        for i, (blocks, n_min) in enumerate(zip(net.blocks(), self.min_layers, strict=True)):
            if not all(b.has_residual for b in blocks[n_min:]):
                raise ConfigError(f"stages[{i}]: a block past the minimum depth has no residual")
            first = blocks[0]
            sizes = (len(first.kernels) - 1, len(first.expansions) - 1, len(blocks) - n_min)
            for key, n in zip(("kernel", "expansion", "depth"), sizes, strict=True):
                self.arch[f"{key}{i}"] = nn.Parameter(torch.zeros(n, device=device))
            first_ms, later_ms = (_table(latency, i, p, first).to(device) for p in (0, 1))
            self.tables.append((first_ms, later_ms))
        self.fixed_ms = _entry(latency, "stem") + _entry(latency, "head")
        self.arch_optimizer = torch.optim.Adam(self.arch.parameters(), lr=self.threshold_lr)

    def _gates(self, net: ElasticMobileNet) -> tuple[list[_StageGates], list[list[Any]]]:
        """Every stage's gates, and every block's padded kernels (for the forward)."""
        gates, kernels = [], []
        for i, blocks in enumerate(net.blocks()):
            padded = [_padded_kernels(b) for b in blocks]
            signals = [_signals(b, p) for b, p in zip(blocks, padded, strict=True)]
            ring = torch.stack([s[0] for s in signals]).mean(0)
            group = torch.stack([s[1] for s in signals]).mean(0)
            skip = torch.stack([s[1][0] for s in signals[self.min_layers[i] :]] or [group[:0]])
            t = self.arch
            stage = _StageGates(
                _nested(_gate(ring - t[f"kernel{i}"])),
                _nested(_gate(group[1:] - t[f"expansion{i}"])),
                torch.cumprod(_gate(skip.reshape(-1) - t[f"depth{i}"]), 0),
            )
            gates.append(stage)
            kernels.append(padded)
        return gates, kernels

    def forward(self, net: ElasticMobileNet, x: Tensor) -> tuple[Tensor, Tensor]:
        """Logits of the single-path supernet and the expected latency (ms) of its gates."""
        gates, kernels = self._gates(net)
        y = net.stem(x)
        for blocks, g, padded, n_min in zip(
            net.blocks(), gates, kernels, self.min_layers, strict=True
        ):
            for j, block in enumerate(blocks):
                out = _branch(block, y, padded[j], g.kernel, g.expansion)
                if j >= n_min:  # a closed block runs too: its gate's gradient needs it
                    y = y + g.depth[j - n_min] * out
                else:
                    y = y + out if block.has_residual else out
        logits: Tensor = net.classifier(torch.flatten(net.pool(net.head(y)), 1))
        return logits, self.expected_latency_ms(gates)

    def expected_latency_ms(self, gates: list[_StageGates]) -> Tensor:
        """The table's block entries weighted by the gates (hard gates: the decision's)."""
        total = torch.tensor(self.fixed_ms, device=gates[0].kernel.device)
        for g, (first, later), n_min in zip(gates, self.tables, self.min_layers, strict=True):
            pk, pe = _option_weights(g.kernel), _option_weights(g.expansion)
            total = total + pe @ first @ pk + (n_min - 1 + g.depth.sum()) * (pe @ later @ pk)
        return total

    def loss(self, net: ElasticMobileNet, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(loss, cross-entropy, expected latency ms)`` of a training batch."""
        logits, expected = self.forward(net, x)
        ce = F.cross_entropy(logits, y)
        if not self.latency_weight:
            return ce, ce, expected
        term = torch.log(expected)
        if self.target_ms is not None:
            term = F.relu(term - math.log(self.target_ms))
        return ce + self.latency_weight * term, ce, expected

    @torch.no_grad()
    def decide(self, net: ElasticMobileNet) -> dict[str, Any]:
        """The config of the hard gates."""
        config = largest(net.space)
        gates = self._gates(net)[0]
        for stage, g, blocks, n_min in zip(
            config["stages"], gates, net.blocks(), self.min_layers, strict=True
        ):
            stage["kernel"] = blocks[0].kernels[round(float(g.kernel.sum())) - 1]
            stage["expansion"] = blocks[0].expansions[round(float(g.expansion.sum())) - 1]
            stage["n_layers"] = n_min + round(float(g.depth.sum()))
        return config

    def _step(self, run: _Run, x: Tensor, y: Tensor, step: int) -> dict[str, float]:
        assert self.arch_optimizer is not None
        loss, ce, expected = self.loss(run.net, x, y)
        run.optimizer.zero_grad(set_to_none=True)
        self.arch_optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        run.optimizer.step()
        self.arch_optimizer.step()
        return {
            "train_loss": float(loss.detach()),
            "cross_entropy": float(ce.detach()),
            "expected_latency_ms": float(expected.detach()),
        }

    def _spec(self) -> dict[str, Any]:
        return {"latency_weight": self.latency_weight, "threshold_lr": self.threshold_lr}


def _entry(latency: LatencyLookup, key: str) -> float:
    try:
        return float(latency.entries[key])
    except KeyError:
        raise ConfigError(f"latency: the table has no entry {key!r}") from None


def _table(latency: LatencyLookup, stage: int, position: int, block: ElasticMBConv) -> Tensor:
    """Latencies of a stage's first (0) or later (1) blocks, (expansions, kernels)."""
    return torch.tensor(
        [
            [_entry(latency, f"{stage}/{position}/{e}/{k}") for k in block.kernels]
            for e in block.expansions
        ]
    )
