"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020) built from a cell config.

The skeleton follows XAutoDL's ``TinyNetwork`` ("infer.tiny"), which produced the
NB201 / NATS-Bench topology records: a 3x3 conv + BN stem with ``C`` channels; three
stages of ``N`` cells at ``C``, ``2C`` and ``4C`` channels with a ResNet basic block of
stride 2 between stages; BN + ReLU; global average pooling; a linear classifier. At
the defaults (``C=16``, ``N=5``) parameter counts equal NATS-Bench's records.

A cell has 4 nodes; node ``j`` sums ``op(node_i)`` over ``i < j``. Modules are created
in NB201's order (stem, then each cell's edges in the order of the NB201 string, ...)
so that a torch seed fixes the initial weights. ``forward`` returns logits only
(XAutoDL's returns ``(features, logits)``).

Example:
    >>> import torch
    >>> from archsearch.models.nb201 import nb201_model
    >>> _ = torch.manual_seed(0)
    >>> model = nb201_model("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
    ...                     "+|skip_connect~0|none~1|skip_connect~2|", channels=8, n_cells=1)
    >>> model(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models._ops import ReLUConvBN, check_positive, zeros_for
from archsearch.models._registry import MODELS
from archsearch.spaces.nb201 import (
    EDGE_NODES,
    EDGES,
    OPS,
    from_arch_str,
    live_edges,
    to_arch_str,
)

__all__ = [
    "NB201Cell",
    "ResNetBasicBlock",
    "TinyNetwork",
    "cell_config",
    "live_edges",
    "nb201_model",
]


class _ConvBNShortcut(nn.Sequential):
    """A 1x1 conv and BN: XAutoDL's ``FactorizedReduce`` at stride 1.

    ``skip_connect`` between different channel counts (only in the NATS size space).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


def _make_op(op: str, c_in: int, c_out: int) -> nn.Module | None:
    """One NB201 operation at stride 1 (XAutoDL ``cell_operations.OPS``); None for none."""
    if op == "none":
        return None
    if op == "skip_connect":
        return nn.Identity() if c_in == c_out else _ConvBNShortcut(c_in, c_out)
    if op == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, padding=1)
    if op == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        return pool if c_in == c_out else nn.Sequential(ReLUConvBN(c_in, c_out, 1), pool)
    raise ConfigError(f"unknown op {op!r}; allowed: {', '.join(OPS)}")


class NB201Cell(nn.Module):
    """One NB201 cell: node ``j = sum_{i<j} op_ij(node_i)``, output node 3.

    Args:
        cell: edge name -> op name (see :mod:`archsearch.spaces.nb201`).
        c_in: channels of the cell input (node 0).
        c_out: channels of nodes 1..3.
        prune: drop edges that cannot reach the output. Modules are built first and
            dropped afterwards, so the same seed gives the same outputs either way;
            only the parameter count (and compute) shrinks.
    """

    def __init__(self, cell: Mapping[str, str], c_in: int, c_out: int, *, prune: bool = False):
        super().__init__()
        self.c_out = c_out
        ops: dict[str, nn.Module] = {}
        for edge, (i, _) in zip(EDGES, EDGE_NODES, strict=True):
            op = _make_op(cell[edge], c_in if i == 0 else c_out, c_out)
            if op is not None:
                ops[edge] = op
        keep = live_edges(cell) if prune else set(ops)
        self.edges = nn.ModuleDict({e: m for e, m in ops.items() if e in keep})
        # per node 1..3, its (source node, edge) pairs that are built
        self._incoming = [
            [(i, f"edge_{i}_{j}") for i in range(j) if f"edge_{i}_{j}" in self.edges]
            for j in (1, 2, 3)
        ]
        self.arch_str = to_arch_str(cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for incoming in self._incoming:
            terms = [self.edges[edge](nodes[i]) for i, edge in incoming]
            # a node with no input is zero, and ops on it still count (BN adds its bias)
            nodes.append(_sum(terms) if terms else zeros_for(x, self.c_out))
        return nodes[3]

    def extra_repr(self) -> str:
        return f"arch={self.arch_str!r}"


def _sum(terms: list[torch.Tensor]) -> torch.Tensor:
    out = terms[0]
    for term in terms[1:]:
        out = out + term
    return out


class ResNetBasicBlock(nn.Module):
    """NB201's stride-2 reduction block (XAutoDL ``ResNetBasicblock``).

    Two ReLU-Conv-BN 3x3 (the first of stride 2) plus a 2x2 average pool + 1x1 conv
    shortcut. The pool uses ``ceil_mode`` so that odd sizes match the strided conv; for even
    sizes (32, 16, 28, 14) it is exactly NB201's pool.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2, padding=1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, padding=1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.downsample(x) + self.conv_b(self.conv_a(x))
        return out


class TinyNetwork(nn.Module):
    """The NB201 / NATS skeleton with given per-layer channels.

    Args:
        cell: the cell config (edge -> op), repeated in every cell.
        layer_channels: channels of each of the ``3 * n_cells + 2`` layers: ``n_cells``
            cells, a reduction block, ``n_cells`` cells, a reduction block, ``n_cells``
            cells. The stem has ``layer_channels[0]`` channels.
        in_channels: image channels.
        n_classes: classifier outputs.
        prune: drop cell edges that cannot reach the cell output (see :class:`NB201Cell`).
    """

    def __init__(
        self,
        cell: Mapping[str, str],
        layer_channels: Sequence[int],
        *,
        in_channels: int = 3,
        n_classes: int = 10,
        prune: bool = False,
    ) -> None:
        super().__init__()
        n_cells, rest = divmod(len(layer_channels) - 2, 3)
        if rest or n_cells < 1:
            raise ConfigError(
                f"layer_channels: needs 3 * n_cells + 2 entries, got {len(layer_channels)}"
            )
        c_prev = layer_channels[0]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_prev, 3, padding=1, bias=False), nn.BatchNorm2d(c_prev)
        )
        self.cells = nn.ModuleList()
        for index, c in enumerate(layer_channels):
            is_reduction = index in (n_cells, 2 * n_cells + 1)
            block = (
                ResNetBasicBlock(c_prev, c)
                if is_reduction
                else NB201Cell(cell, c_prev, c, prune=prune)
            )
            self.cells.append(block)
            c_prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        x = self.global_pooling(self.lastact(x))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits


def cell_config(config: Mapping[str, Any] | str) -> dict[str, str]:
    """The checked cell config of ``config`` (a config dict or an NB201 string).

    Raises:
        ConfigError: naming the bad edge and the allowed ops.
    """
    from archsearch.spaces.nb201 import nb201_space

    if isinstance(config, str):
        return from_arch_str(config)
    return dict(nb201_space().validate(config))


@MODELS.register("nb201")
def nb201_model(
    config: Mapping[str, Any] | str,
    *,
    channels: int = 16,
    n_cells: int = 5,
    in_channels: int = 3,
    n_classes: int = 10,
    prune: bool = False,
) -> TinyNetwork:
    """The NB201 network of a cell config (or NB201 string).

    Args:
        config: edge -> op dict from :func:`~archsearch.spaces.nb201.nb201_space`, or
            an NB201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
        channels: ``C``, channels of the first stage (16 in NB201).
        n_cells: ``N``, cells per stage (5 in NB201).
        in_channels: image channels (3; 1 for (Fashion-)MNIST).
        n_classes: classifier outputs (10 for CIFAR-10).
        prune: drop edges that cannot reach a cell's output; outputs are unchanged for
            a given seed but parameter counts then differ from NB201's records.

    Raises:
        ConfigError: for an invalid cell or a non-positive size.
    """
    check_positive(
        channels=channels, n_cells=n_cells, in_channels=in_channels, n_classes=n_classes
    )
    c = channels
    layer_channels = [c] * n_cells + [2 * c] * (n_cells + 1) + [4 * c] * (n_cells + 1)
    return TinyNetwork(
        cell_config(config),
        layer_channels,
        in_channels=in_channels,
        n_classes=n_classes,
        prune=prune,
    )
