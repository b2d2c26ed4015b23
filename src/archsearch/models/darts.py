"""The DARTS evaluation network (Liu et al., ICLR 2019) built from a cell config.

DARTS' ``NetworkCIFAR``: a 3x3 conv + BN stem with ``3C`` channels; ``n_layers`` cells,
the ones at 1/3 and 2/3 of the depth reduction cells (stride 2, channels doubled);
each cell preprocesses its two inputs (the two previous cells' outputs) with a 1x1
ReLU-Conv-BN, or a factorized reduce when the previous cell reduced, and outputs the
concatenation of its four nodes (``4C`` channels); global average pooling; a linear
classifier. Ops follow DARTS' ``operations.py``; in a reduction cell the ops on the
two cell inputs have stride 2. Drop-path (``drop_path_prob``, set by the trainer,
e.g. growing linearly to 0.2 as in DARTS) drops non-identity op outputs per sample
in training. DARTS' auxiliary head and ImageNet stem are not built; ``forward``
returns the logits.

Defaults are the search-size network (``C=16``, 8 layers); DARTS' evaluation network
is ``channels=36, n_layers=20``, 3.3 M parameters for DARTS-V2 (Table 1).

Example:
    >>> import torch
    >>> from archsearch.models.darts import darts_model
    >>> from archsearch.spaces.darts import DARTS_V2
    >>> _ = torch.manual_seed(0)
    >>> model = darts_model(DARTS_V2, channels=8, n_layers=3)
    >>> model(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models._ops import ReLUConvBN, Zero, check_positive
from archsearch.models._registry import MODELS
from archsearch.spaces.darts import darts_space

__all__ = [
    "DartsCell",
    "DartsNetwork",
    "DilConv",
    "FactorizedReduce",
    "SepConv",
    "darts_model",
    "darts_skeleton",
    "drop_path",
    "nb301_model",
    "nb301_to_darts",
]


class SepConv(nn.Sequential):
    """DARTS' separable conv: (ReLU, depthwise kxk, pointwise 1x1, BN) twice."""

    def __init__(self, c: int, kernel_size: int, stride: int) -> None:
        pad = kernel_size // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel_size, stride, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel_size, 1, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class DilConv(nn.Sequential):
    """DARTS' dilated conv: ReLU, depthwise kxk with dilation 2, pointwise 1x1, BN."""

    def __init__(self, c: int, kernel_size: int, stride: int) -> None:
        pad = kernel_size - 1  # keeps the size at dilation 2: 2 for 3x3, 4 for 5x5
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel_size, stride, pad, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class FactorizedReduce(nn.Module):
    """Halve the size with two 1x1 convs of stride 2 on offset grids, concatenated.

    DARTS' ``FactorizedReduce``; the second conv reads ``x[1:, 1:]`` after a zero pad
    at the bottom/right (as XAutoDL) so that odd sizes work; for even sizes this is
    exactly DARTS.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        out: torch.Tensor = self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))
        return out


def _make_op(op: str, c: int, stride: int) -> nn.Module:
    """One DARTS operation on ``c`` channels (DARTS ``operations.OPS``)."""
    if op == "none":
        return Zero(stride)
    if op == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if op in ("sep_conv_3x3", "sep_conv_5x5"):
        return SepConv(c, int(op[-1]), stride)
    if op in ("dil_conv_3x3", "dil_conv_5x5"):
        return DilConv(c, int(op[-1]), stride)
    raise ConfigError(f"unknown op {op!r}")


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob``, scaling the rest by 1/keep."""
    keep = 1.0 - drop_prob
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * (mask / keep)


class DartsCell(nn.Module):
    """One DARTS cell (normal or reduction) of a config's node list.

    Args:
        nodes: four ``{"inputs": [i, j], "ops": [op_i, op_j]}`` dicts.
        c_prev_prev: channels of the cell input 0 (two cells back).
        c_prev: channels of the cell input 1 (the previous cell).
        c: channels of each node; the cell outputs ``len(nodes) * c``.
        is_reduction: ops on the cell inputs have stride 2.
        is_reduction_prev: input 0 is twice the size of input 1 (factorized reduce).
    """

    def __init__(
        self,
        nodes: Sequence[Mapping[str, Any]],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        *,
        is_reduction: bool,
        is_reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_prev_prev, c)
            if is_reduction_prev
            else ReLUConvBN(c_prev_prev, c, 1)
        )
        self.preprocess1 = ReLUConvBN(c_prev, c, 1)
        self.inputs = [int(i) for node in nodes for i in node["inputs"]]
        ops = [op for node in nodes for op in node["ops"]]
        self.ops = nn.ModuleList(
            _make_op(op, c, 2 if is_reduction and i < 2 else 1)
            for op, i in zip(ops, self.inputs, strict=True)
        )
        self.out_channels = len(nodes) * c

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(len(self.ops) // 2):
            pair = []
            for op, i in zip(
                self.ops[2 * k : 2 * k + 2], self.inputs[2 * k : 2 * k + 2], strict=True
            ):
                h = op(states[i])
                if self.training and drop_prob > 0.0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                pair.append(h)
            states.append(pair[0] + pair[1])
        return torch.cat(states[2:], dim=1)


def darts_skeleton(
    make_cell: Callable[[int, int, int, bool, bool], nn.Module],
    *,
    channels: int,
    n_layers: int,
    in_channels: int = 3,
    stem_multiplier: int = 3,
) -> tuple[nn.Sequential, nn.ModuleList, int]:
    """The DARTS network's stem and ``n_layers`` cells, reductions at 1/3 and 2/3 depth.

    ``make_cell(c_pp, c_p, c, is_reduction, is_reduction_prev)`` builds one cell (with an
    ``out_channels`` attribute) from the channels of the two previous outputs and its
    own; the channels double at each reduction. Returns ``(stem, cells, c_out)``. The
    network here and the one-shot supernet share it, so both have the same skeleton.
    """
    c_stem = stem_multiplier * channels
    stem = nn.Sequential(
        nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
    )
    c_pp, c_p, c = c_stem, c_stem, channels
    cells = nn.ModuleList()
    is_reduction_prev = False
    for index in range(n_layers):
        is_reduction = index in (n_layers // 3, 2 * n_layers // 3)
        c = 2 * c if is_reduction else c
        cell = make_cell(c_pp, c_p, c, is_reduction, is_reduction_prev)
        cells.append(cell)
        out: Any = cell.out_channels
        c_pp, c_p, is_reduction_prev = c_p, int(out), is_reduction
    return stem, cells, c_p


class DartsNetwork(nn.Module):
    """DARTS' CIFAR network (``NetworkCIFAR`` without the auxiliary head).

    Args:
        config: a checked :func:`~archsearch.spaces.darts.darts_space` config.
        channels: ``C``, node channels of the first cells (16 search, 36 evaluation).
        n_layers: number of cells (8 search, 20 evaluation).
        in_channels: image channels.
        n_classes: classifier outputs.
        stem_multiplier: the stem has ``stem_multiplier * C`` channels (3 in DARTS).
        drop_path_prob: drop-path probability in training; the attribute may be changed
            between epochs, as DARTS' schedule does.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        channels: int,
        n_layers: int,
        in_channels: int = 3,
        n_classes: int = 10,
        stem_multiplier: int = 3,
        drop_path_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.drop_path_prob = drop_path_prob

        def make_cell(c_pp: int, c_p: int, c: int, reduction: bool, after: bool) -> DartsCell:
            genotype = config["reduce" if reduction else "normal"]
            return DartsCell(
                genotype, c_pp, c_p, c, is_reduction=reduction, is_reduction_prev=after
            )

        self.stem, self.cells, c_p = darts_skeleton(
            make_cell,
            channels=channels,
            n_layers=n_layers,
            in_channels=in_channels,
            stem_multiplier=stem_multiplier,
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
        logits: torch.Tensor = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return logits


def _check_drop_path(drop_path_prob: float) -> None:
    if isinstance(drop_path_prob, bool) or not 0.0 <= drop_path_prob < 1.0:
        raise ConfigError(f"drop_path_prob: must be in [0, 1), got {drop_path_prob!r}")


@MODELS.register("darts")
def darts_model(
    config: Mapping[str, Any],
    *,
    channels: int = 16,
    n_layers: int = 8,
    in_channels: int = 3,
    n_classes: int = 10,
    stem_multiplier: int = 3,
    drop_path_prob: float = 0.0,
) -> DartsNetwork:
    """The DARTS network of a :func:`~archsearch.spaces.darts.darts_space` config.

    See :class:`DartsNetwork` for the arguments. DARTS' evaluation network on CIFAR-10
    is ``channels=36, n_layers=20`` (with drop-path 0.2).

    Raises:
        ConfigError: for an invalid config or option.
    """
    check_positive(
        channels=channels,
        n_layers=n_layers,
        in_channels=in_channels,
        n_classes=n_classes,
        stem_multiplier=stem_multiplier,
    )
    _check_drop_path(drop_path_prob)
    return DartsNetwork(
        darts_space().validate(config),
        channels=channels,
        n_layers=n_layers,
        in_channels=in_channels,
        n_classes=n_classes,
        stem_multiplier=stem_multiplier,
        drop_path_prob=drop_path_prob,
    )


#: first edge number of each intermediate node in NB301's numbering (2 + 3 + 4 + 5 edges)
_NB301_FIRST_EDGE = {"node_2": 0, "node_3": 2, "node_4": 5, "node_5": 9}


def nb301_to_darts(config: Mapping[str, Any]) -> dict[str, Any]:
    """The :mod:`~archsearch.spaces.darts` config of an NB301 config (checked).

    Raises:
        ConfigError: naming the bad field of the NB301 config.
    """
    from archsearch.spaces.nb301 import to_yahpo

    to_yahpo(config)  # validates
    out: dict[str, Any] = {}
    for cell in ("normal", "reduce"):
        part = config[cell]
        nodes = [{"inputs": [0, 1], "ops": [part["edge_0"], part["edge_1"]]}]
        for key in ("node_3", "node_4", "node_5"):
            node = part[key]
            a, b = (int(i) for i in node["inputs"].split("_"))
            first = _NB301_FIRST_EDGE[key]
            nodes.append({"inputs": [a, b], "ops": [node[f"edge_{first + i}"] for i in (a, b)]})
        out[cell] = nodes
    return out


@MODELS.register("nb301")
def nb301_model(
    config: Mapping[str, Any],
    *,
    channels: int = 32,
    n_layers: int = 8,
    in_channels: int = 3,
    n_classes: int = 10,
    drop_path_prob: float = 0.0,
) -> DartsNetwork:
    """The DARTS network of an :func:`~archsearch.spaces.nb301.nb301_space` config.

    Defaults follow NAS-Bench-301's training networks (Siems et al., 2020: 32 initial
    channels, 8 cells). See :class:`DartsNetwork` for the arguments.

    Raises:
        ConfigError: for an invalid config or option.
    """
    return darts_model(
        nb301_to_darts(config),
        channels=channels,
        n_layers=n_layers,
        in_channels=in_channels,
        n_classes=n_classes,
        drop_path_prob=drop_path_prob,
    )
