"""An elastic MobileNet supernet (Once-for-All, BigNAS): one network, many sub-networks.

The supernet is the largest network of the :func:`elastic_space` (a restriction of the
``mobilenet`` stage space): every stage holds its largest number of MBConv blocks, each
with the largest expansion and kernel. A sub-network takes, per stage, the first
``n_layers`` blocks (elastic depth), the first ``expansion * c_in`` hidden channels of
each block (elastic width; the channels are kept sorted by importance, so the first are
the most important) and a ``kernel`` x ``kernel`` depthwise kernel made from the
centre of the 7x7 one by a learnt linear transformation per size (OFA's elastic
kernel: 7 -> 5 -> 3, one 25x25 and one 9x9 matrix per block, initialised to the
identity). Batch norm slices its statistics with the channels.

:meth:`ElasticMobileNet.extract` returns the sub-network as the project's own
:class:`~archsearch.models.mobilenet.MobileNet` with the inherited weights, which
computes exactly what the supernet computes for that config (a test checks it);
:func:`recalibrate_bn` re-estimates batch-norm statistics for one sub-network.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models.mobilenet import (
    FIRST_BLOCK_WIDTH,
    MBConv,
    MobileNet,
    make_divisible,
)
from archsearch.space import Choice, Int, Space

__all__ = [
    "ELASTIC_EXPANSIONS",
    "ELASTIC_KERNELS",
    "SMALL_STAGES",
    "ElasticMBConv",
    "ElasticMobileNet",
    "elastic_space",
    "largest",
    "recalibrate_bn",
    "smallest",
]

#: OFA's elastic kernel sizes and expansion ratios (Cai et al., ICLR 2020)
ELASTIC_KERNELS: tuple[int, ...] = (3, 5, 7)
ELASTIC_EXPANSIONS: tuple[int, ...] = (3, 4, 6)
#: (base width, stride) of a small three-stage skeleton for 28x28 / 32x32 images on a CPU
SMALL_STAGES: tuple[tuple[int, int], ...] = ((16, 2), (24, 2), (32, 2))


def elastic_space(
    *,
    n_stages: int = len(SMALL_STAGES),
    min_layers: int = 2,
    max_layers: int = 4,
    kernels: Sequence[int] = ELASTIC_KERNELS,
    expansions: Sequence[int] = ELASTIC_EXPANSIONS,
) -> Space:
    """The sub-networks of an elastic supernet: per stage kernel, expansion, depth.

    A config has the ``mobilenet`` space's layout (``{"stages": [{"expansion",
    "kernel", "n_layers", "width", "se"}, ...]}``) with width 1.0 and no SE, so the
    project's MobileNet builder makes any sub-network.

    Example:
        >>> elastic_space().size  # (3 kernels * 3 expansions * 3 depths) ** 3
        19683
    """
    if not 1 <= min_layers <= max_layers:
        raise ConfigError(
            f"min_layers, max_layers: need 1 <= min <= max, got {min_layers}, {max_layers}"
        )
    for field_name, values in (("kernels", kernels), ("expansions", expansions)):
        if not values or any(not isinstance(v, int) or v < 1 for v in values):
            raise ConfigError(f"{field_name}: expected positive integers, got {values!r}")
    stage = {
        "expansion": Choice(sorted(expansions)),
        "kernel": Choice(sorted(kernels)),
        "n_layers": Int(min_layers, max_layers),
        "width": 1.0,
        "se": False,
    }
    return Space({"stages": [dict(stage) for _ in range(n_stages)]}, name="elastic")


def largest(space: Space) -> dict[str, Any]:
    """The largest config of an elastic space (every decision at its last option)."""
    config: dict[str, Any] = space.decide(lambda path, n, domain: (n - 1) if n else 0)
    return config


def smallest(space: Space) -> dict[str, Any]:
    """The smallest config of an elastic space (every decision at its first option)."""
    config: dict[str, Any] = space.decide(lambda path, n, domain: 0)
    return config


def _sliced_bn(x: torch.Tensor, bn: nn.BatchNorm2d, n: int) -> torch.Tensor:
    """Batch norm over the first ``n`` channels; training updates their statistics
    (as ``nn.BatchNorm2d`` does: a moving average, or cumulative when momentum is None)."""
    mean, var, tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
    assert mean is not None and var is not None and tracked is not None
    factor = 0.0
    if bn.training:
        tracked.add_(1)
        factor = 1.0 / float(tracked) if bn.momentum is None else bn.momentum
    return F.batch_norm(
        x, mean[:n], var[:n], bn.weight[:n], bn.bias[:n], bn.training, factor, bn.eps
    )


class ElasticMBConv(nn.Module):
    """An MBConv block with elastic expansion and kernel (see the module docstring).

    Args:
        c_in: input channels.
        c_out: output channels.
        stride: depthwise stride.
        expansions: the expansion ratios a sub-network may take.
        kernels: the kernel sizes a sub-network may take (odd, the largest is stored).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        *,
        stride: int,
        expansions: Sequence[int] = ELASTIC_EXPANSIONS,
        kernels: Sequence[int] = ELASTIC_KERNELS,
    ) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.kernels = tuple(sorted(kernels))
        self.expansions = tuple(sorted(expansions))
        self.max_kernel = self.kernels[-1]
        hidden = c_in * max(expansions)
        self.expand = nn.Conv2d(c_in, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.depthwise = nn.Conv2d(
            hidden,
            hidden,
            self.max_kernel,
            stride,
            self.max_kernel // 2,
            groups=hidden,
            bias=False,
        )
        self.bn2 = nn.BatchNorm2d(hidden)
        self.project = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        # OFA's kernel transformation: each smaller kernel is a linear map of the centre
        # of the next larger one, shared by the channels (identity at the start)
        self.transforms = nn.ParameterDict(
            {str(k): nn.Parameter(torch.eye(k * k)) for k in self.kernels[:-1]}
        )
        self.has_residual = stride == 1 and c_in == c_out

    def kernel_weight(self, kernel: int) -> torch.Tensor:
        """The depthwise weight of size ``kernel``: (hidden, 1, kernel, kernel)."""
        if kernel not in self.kernels:
            raise ConfigError(f"kernel: {kernel} is not elastic here; allowed: {self.kernels}")
        weight: torch.Tensor = self.depthwise.weight
        size = self.max_kernel
        for k in reversed(self.kernels[:-1]):
            if k < kernel:
                break
            start = (size - k) // 2
            centre = weight[:, :, start : start + k, start : start + k]
            hidden = centre.shape[0]
            weight = (centre.reshape(hidden, k * k) @ self.transforms[str(k)]).reshape(
                hidden, 1, k, k
            )
            size = k
        return weight

    def forward(self, x: torch.Tensor, expansion: int, kernel: int) -> torch.Tensor:
        hidden = self.c_in * expansion
        y = F.conv2d(x, self.expand.weight[:hidden])
        y = F.relu6(_sliced_bn(y, self.bn1, hidden))
        y = F.conv2d(
            y, self.kernel_weight(kernel)[:hidden], None, self.stride, kernel // 2, 1, hidden
        )
        y = F.relu6(_sliced_bn(y, self.bn2, hidden))
        y = F.conv2d(y, self.project.weight[:, :hidden])
        out: torch.Tensor = self.bn3(y)
        return x + out if self.has_residual else out

    @torch.no_grad()
    def sort_channels(self) -> None:
        """Reorder the hidden channels by importance (L1 norm of the projection's input
        weights), most important first, so that a narrower sub-network keeps them.
        The full block computes the same function before and after."""
        importance = self.project.weight.abs().sum(dim=(0, 2, 3))
        order = torch.argsort(importance, descending=True)
        self.expand.weight.copy_(self.expand.weight[order])
        self.depthwise.weight.copy_(self.depthwise.weight[order])
        self.project.weight.copy_(self.project.weight[:, order])
        for bn in (self.bn1, self.bn2):
            for tensor in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                assert tensor is not None
                tensor.copy_(tensor[order])

    @torch.no_grad()
    def export_to(self, block: MBConv, expansion: int, kernel: int) -> None:
        """Copy this block's sub-network weights into a standalone MBConv."""
        hidden = self.c_in * expansion
        layers: list[Any] = list(block.block)
        expand, bn1, _, depthwise, bn2, _, project, bn3 = layers
        expand.weight.copy_(self.expand.weight[:hidden])
        depthwise.weight.copy_(self.kernel_weight(kernel)[:hidden])
        project.weight.copy_(self.project.weight[:, :hidden])
        _copy_bn(bn1, self.bn1, hidden)
        _copy_bn(bn2, self.bn2, hidden)
        _copy_bn(bn3, self.bn3, self.c_out)


def _copy_bn(target: nn.Module, source: nn.BatchNorm2d, n: int) -> None:
    assert isinstance(target, nn.BatchNorm2d)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(target, name).copy_(getattr(source, name)[:n])
    assert target.num_batches_tracked is not None and source.num_batches_tracked is not None
    target.num_batches_tracked.copy_(source.num_batches_tracked)


class ElasticMobileNet(nn.Module):
    """The supernet: stem, elastic stages, head; ``net(x, config)`` runs a sub-network.

    The stem, first block and head are those of
    :class:`~archsearch.models.mobilenet.MobileNet` (the project's builder), so a
    sub-network extracts into that class with the same options.

    Args:
        space: an :func:`elastic_space` (its number of stages, depths, kernels, expansions).
        base_stages: ``(base width, stride)`` per stage.
        in_channels, n_classes, stem_stride, head_width, dropout: as for ``MobileNet``.
    """

    def __init__(
        self,
        space: Space | None = None,
        *,
        base_stages: Sequence[tuple[int, int]] = SMALL_STAGES,
        in_channels: int = 1,
        n_classes: int = 10,
        stem_stride: int = 1,
        head_width: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.space = space if space is not None else elastic_space(n_stages=len(base_stages))
        self.top = largest(self.space)
        stages = self.top["stages"]
        if len(stages) > len(base_stages):
            raise ConfigError(
                f"base_stages: {len(base_stages)} given for a space of {len(stages)} stages"
            )
        self.options = {
            "base_stages": [tuple(b) for b in base_stages[: len(stages)]],
            "in_channels": in_channels,
            "n_classes": n_classes,
            "stem_stride": stem_stride,
            "head_width": head_width,
            "dropout": dropout,
        }
        # the fixed parts: built by the project's MobileNet so that export is a copy
        fixed = {k: v for k, v in self.options.items() if k != "base_stages"}
        reference = MobileNet([], base_stages=(), **fixed)  # type: ignore[arg-type]
        self.stem = nn.Sequential(*list(reference.features)[:4])  # conv, BN, ReLU6, MBConv(e=1)
        kernels = _stage_values(self.space, "kernel")
        expansions = _stage_values(self.space, "expansion")
        self.stages = nn.ModuleList()
        c = FIRST_BLOCK_WIDTH
        for i, ((base, stride), top) in enumerate(zip(base_stages, stages, strict=False)):
            c_out = make_divisible(base * top["width"])
            blocks = [
                ElasticMBConv(
                    c if j == 0 else c_out,
                    c_out,
                    stride=stride if j == 0 else 1,
                    expansions=expansions[i],
                    kernels=kernels[i],
                )
                for j in range(top["n_layers"])
            ]
            self.stages.append(nn.ModuleList(blocks))
            c = c_out
        self.head = nn.Sequential(
            nn.Conv2d(c, head_width, 1, bias=False),
            nn.BatchNorm2d(head_width),
            nn.ReLU6(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head_width, n_classes))
        for module in (self.head, self.classifier, *self.stages):
            module.apply(_init)

    def forward(self, x: torch.Tensor, config: Mapping[str, Any] | None = None) -> torch.Tensor:
        stages = (config or self.top)["stages"]
        y = self.stem(x)
        for blocks, stage in zip(self.blocks(), stages, strict=True):
            for block in blocks[: stage["n_layers"]]:
                y = block(y, stage["expansion"], stage["kernel"])
        y = self.head(y)
        logits: torch.Tensor = self.classifier(torch.flatten(self.pool(y), 1))
        return logits

    def blocks(self) -> list[list[ElasticMBConv]]:
        """The elastic blocks of every stage."""
        return [[b for b in stage if isinstance(b, ElasticMBConv)] for stage in self.stages]  # type: ignore[attr-defined]

    def check(self, config: Any) -> dict[str, Any]:
        """``config`` validated against the supernet's space (ConfigError naming the field)."""
        checked: dict[str, Any] = self.space.validate(config)
        return checked

    def sort_channels(self) -> None:
        """Sort every block's hidden channels by importance (before the width phase)."""
        for blocks in self.blocks():
            for block in blocks:
                block.sort_channels()

    @torch.no_grad()
    def extract(self, config: Any) -> MobileNet:
        """The sub-network of ``config`` as a standalone MobileNet with inherited weights.

        It computes what ``self(x, config)`` computes (in eval mode: the same batch
        statistics; recalibrate them first with :func:`recalibrate_bn`).
        """
        config = self.check(config)
        options = dict(self.options)
        model = MobileNet(config["stages"], **options)  # type: ignore[arg-type]
        features = list(model.features)
        for target, source in zip(features[:4], self.stem, strict=True):
            target.load_state_dict(source.state_dict())
        position = 4
        for blocks, stage in zip(self.blocks(), config["stages"], strict=True):
            for block in blocks[: stage["n_layers"]]:
                target = features[position]
                assert isinstance(target, MBConv)
                block.export_to(target, stage["expansion"], stage["kernel"])
                position += 1
        for target, source in zip(features[position:], self.head, strict=True):
            target.load_state_dict(source.state_dict())
        model.classifier.load_state_dict(self.classifier.state_dict())
        return model.eval() if not self.training else model

    def sample(self, rng: random.Random) -> dict[str, Any]:
        """A random sub-network config."""
        config: dict[str, Any] = self.space.sample(rng)
        return config


def _stage_values(space: Space, key: str) -> list[tuple[int, ...]]:
    """The options of ``key`` in each stage of an elastic space."""
    out: list[tuple[int, ...]] = []
    for stage in space.to_json()["root"]["stages"]:
        value = stage[key]
        out.append(tuple(value["$choice"]) if isinstance(value, dict) else (value,))
    return out


def _init(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0, 0.01)
        nn.init.zeros_(module.bias)


@torch.no_grad()
def recalibrate_bn(
    net: nn.Module, batches: Iterable[torch.Tensor], config: Mapping[str, Any] | None = None
) -> None:
    """Re-estimate batch-norm statistics on ``batches`` (a few hundred images suffice).

    Every statistic is reset, then those the network (for a supernet: the sub-network
    of ``config``) uses are re-estimated as cumulative averages, as OFA does before it
    evaluates a sub-network. The net is left in eval mode.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    net.train()
    try:
        for x in batches:
            if config is None:
                net(x)
            else:
                net(x, config)
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
        net.eval()


def clone(net: ElasticMobileNet) -> ElasticMobileNet:
    """A deep copy (a frozen teacher for knowledge distillation)."""
    return copy.deepcopy(net)
