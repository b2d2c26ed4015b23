"""MobileNetV2 / MnasNet-style networks from a :mod:`~archsearch.spaces.mobilenet` config.

Stem: 3x3 conv (32 channels, stride 2, or 1 for 32x32 inputs) + BN + ReLU6, then
MobileNetV2's first block (MBConv, expansion 1, 3x3, 16 channels). Then one stage per
config entry: ``n_layers`` MBConv blocks at MobileNetV2's base width times the
stage's multiplier (rounded to a multiple of 8), the first block with the stage's
stride. Head: 1x1 conv to ``head_width`` (1280) + BN + ReLU6, global average
pooling, dropout, linear classifier.

MBConv (Sandler et al., 2018; Tan et al., 2019): 1x1 expansion conv + BN + ReLU6
(left out at expansion 1), depthwise kxk + BN + ReLU6, optional squeeze-and-
excitation (MnasNet: squeeze to 1/4 of the block's input channels, ReLU, sigmoid
gate), 1x1 linear projection + BN; a residual connection when the stride is 1 and
the channels do not change. Weights are initialised as torchvision's MobileNetV2.
The config equal to MobileNetV2 (see :data:`MOBILENET_V2`) at ImageNet size gives
exactly torchvision's ``mobilenet_v2`` parameter count, 3,504,872.

Example:
    >>> import torch
    >>> from archsearch.models.mobilenet import mobilenet_model
    >>> _ = torch.manual_seed(0)
    >>> stage = {"expansion": 3, "kernel": 5, "n_layers": 1, "width": 1.0, "se": True}
    >>> model = mobilenet_model({"stages": [stage] * 2}, head_width=64, stem_stride=1)
    >>> model(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models._ops import check_positive
from archsearch.models._registry import MODELS
from archsearch.spaces.mobilenet import MAX_STAGES, mobilenet_space

__all__ = [
    "BASE_STAGES",
    "MBConv",
    "MOBILENET_V2",
    "MobileNet",
    "SqueezeExcite",
    "make_divisible",
    "mobilenet_model",
]

#: (base width, stride) of MobileNetV2's stages after the first (Sandler et al., Table 2)
BASE_STAGES: tuple[tuple[int, int], ...] = ((24, 2), (32, 2), (64, 2), (96, 1), (160, 2), (320, 1))
#: MobileNetV2's stem and first block widths (Table 2: conv2d 32, bottleneck t=1 c=16)
STEM_WIDTH, FIRST_BLOCK_WIDTH = 32, 16
#: MobileNetV2 1.0 (Table 2: expansion 6, 3x3, layers 2, 3, 4, 3, 3, 1), as a config
MOBILENET_V2: dict[str, Any] = {
    "stages": [
        {"expansion": 6, "kernel": 3, "n_layers": n, "width": 1.0, "se": False}
        for n in (2, 3, 4, 3, 3, 1)
    ]
}


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``).

    MobileNetV2's ``_make_divisible`` also refuses to go down by more than 10%; that
    rule would turn 0.75 x 24 = 18 into 24, the same as 1.0 x 24, so it is left out.

    Example:
        >>> [make_divisible(24 * w) for w in (0.75, 1.0, 1.25)]
        [16, 24, 32]
    """
    return max(divisor, int(value / divisor + 0.5) * divisor)


def _conv_bn(
    c_in: int, c_out: int, kernel: int, *, stride: int = 1, groups: int = 1
) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(c_out)]


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018) as in MnasNet: pool, 1x1, ReLU, 1x1, sigmoid."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.expand(torch.relu(self.reduce(self.pool(x))))
        return x * torch.sigmoid(scale)


class MBConv(nn.Module):
    """Inverted residual block: expand, depthwise, optional SE, project (+ residual).

    Args:
        c_in: input channels.
        c_out: output channels.
        expansion: hidden channels are ``expansion * c_in`` (no expansion conv at 1).
        kernel: depthwise kernel size (odd).
        stride: depthwise stride.
        use_se: add squeeze-and-excitation, squeezing to ``c_in // 4`` channels.
    """

    def __init__(
        self, c_in: int, c_out: int, *, expansion: int, kernel: int, stride: int, use_se: bool
    ) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [*_conv_bn(c_in, hidden, 1), nn.ReLU6(inplace=True)]
        layers += [
            *_conv_bn(hidden, hidden, kernel, stride=stride, groups=hidden),
            nn.ReLU6(inplace=True),
        ]
        if use_se:
            layers.append(SqueezeExcite(hidden, max(1, c_in // 4)))
        layers += _conv_bn(hidden, c_out, 1)
        self.block = nn.Sequential(*layers)
        self.has_residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.block(x)
        return x + out if self.has_residual else out


def _stage_blocks(stage: Mapping[str, Any], c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        MBConv(
            c_in if i == 0 else c_out,
            c_out,
            expansion=stage["expansion"],
            kernel=stage["kernel"],
            stride=stride if i == 0 else 1,
            use_se=stage["se"],
        )
        for i in range(stage["n_layers"])
    ]


class MobileNet(nn.Module):
    """Stem, one MBConv stage per config entry, head (see the module docstring).

    Args:
        stages: checked stage configs (at most ``len(base_stages)``).
        base_stages: ``(base width, stride)`` per stage.
        in_channels: image channels.
        n_classes: classifier outputs.
        stem_stride: 2 (ImageNet) or 1 (32x32 inputs: CIFAR, (Fashion-)MNIST).
        head_width: channels of the final 1x1 conv (1280 in MobileNetV2).
        dropout: dropout before the classifier (0.2 in MobileNetV2).
    """

    def __init__(
        self,
        stages: Sequence[Mapping[str, Any]],
        *,
        base_stages: Sequence[tuple[int, int]] = BASE_STAGES,
        in_channels: int = 3,
        n_classes: int = 10,
        stem_stride: int = 2,
        head_width: int = 1280,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers = [
            *_conv_bn(in_channels, STEM_WIDTH, 3, stride=stem_stride),
            nn.ReLU6(inplace=True),
        ]
        layers.append(
            MBConv(STEM_WIDTH, FIRST_BLOCK_WIDTH, expansion=1, kernel=3, stride=1, use_se=False)
        )
        c = FIRST_BLOCK_WIDTH
        for stage, (base, stride) in zip(stages, base_stages, strict=False):
            c_out = make_divisible(base * stage["width"])
            layers += _stage_blocks(stage, c, c_out, stride)
            c = c_out
        layers += [*_conv_bn(c, head_width, 1), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head_width, n_classes))
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classifier(torch.flatten(self.pool(self.features(x)), 1))
        return logits


def _init_weights(module: nn.Module) -> None:
    """torchvision's MobileNetV2 initialisation (kaiming-normal fan-out convs, N(0, 0.01) fc)."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0, 0.01)
        nn.init.zeros_(module.bias)


@MODELS.register("mobilenet")
def mobilenet_model(
    config: Mapping[str, Any],
    *,
    in_channels: int = 3,
    n_classes: int = 10,
    stem_stride: int = 2,
    head_width: int = 1280,
    dropout: float = 0.2,
) -> MobileNet:
    """The network of a :func:`~archsearch.spaces.mobilenet.mobilenet_space` config.

    Any number of stages up to six is accepted (each checked against the widest
    space: expansion 1/3/6, kernel 3/5/7, 1-4 layers, width 0.75/1.0/1.25, SE on/off).
    See :class:`MobileNet` for the options.

    Raises:
        ConfigError: for an invalid config or option.
    """
    check_positive(in_channels=in_channels, n_classes=n_classes, head_width=head_width)
    if stem_stride not in (1, 2):
        raise ConfigError(f"stem_stride: must be 1 or 2, got {stem_stride!r}")
    if isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout: must be in [0, 1), got {dropout!r}")
    stages = config.get("stages") if isinstance(config, Mapping) else None
    if not isinstance(stages, list) or not 1 <= len(stages) <= MAX_STAGES:
        raise ConfigError(f"stages: expected a list of 1 to {MAX_STAGES} stages, got {stages!r}")
    checked = mobilenet_space(n_stages=len(stages)).validate(config)
    return MobileNet(
        checked["stages"],
        in_channels=in_channels,
        n_classes=n_classes,
        stem_stride=stem_stride,
        head_width=head_width,
        dropout=dropout,
    )
