"""Plain CNNs from a :mod:`~archsearch.spaces.cnn` config.

One stage per config entry: ``n_layers`` layers of ``conv (no bias) -> BN -> ReLU``
with the stage's width and kernel (padding ``kernel // 2``), the first with stride 2.
Then global average pooling and a linear classifier. Convs are initialised
kaiming-normal (fan-out), BN to the identity, the classifier as torch does.

Every layer ends in a ReLU and the classifier reads pooled channels, which is what
:mod:`archsearch.morphism` needs to grow these networks without changing their
function: an inserted layer sees non-negative inputs, and a widened last stage only
changes the classifier's input columns.

Example:
    >>> import torch
    >>> from archsearch.models.cnn import cnn_model
    >>> _ = torch.manual_seed(0)
    >>> config = {"stages": [{"n_layers": 2, "width": 8, "kernel": 3},
    ...                      {"n_layers": 1, "width": 16, "kernel": 5}]}
    >>> model = cnn_model(config, in_channels=1)
    >>> model(torch.randn(2, 1, 28, 28)).shape
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
from archsearch.spaces.cnn import MAX_CNN_STAGES

__all__ = ["CNN", "ConvLayer", "check_cnn_config", "cnn_model"]

#: the fields of one stage
STAGE_FIELDS = ("n_layers", "width", "kernel")


class ConvLayer(nn.Module):
    """``conv -> BN -> ReLU``, the conv without bias (the BN's shift replaces it).

    Args:
        c_in: input channels.
        c_out: output channels.
        kernel: odd kernel size (padded to keep the size at stride 1).
        stride: the conv's stride.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, *, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class CNN(nn.Module):
    """Stages of :class:`ConvLayer`, global average pooling, a linear classifier.

    Args:
        stages: checked stage configs (``n_layers``, ``width``, ``kernel``).
        in_channels: image channels.
        n_classes: classifier outputs.
    """

    def __init__(
        self, stages: Sequence[Mapping[str, Any]], *, in_channels: int = 3, n_classes: int = 10
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c = in_channels
        for stage in stages:
            layers = [
                ConvLayer(c if i == 0 else stage["width"], stage["width"], stage["kernel"],
                          stride=2 if i == 0 else 1)
                for i in range(stage["n_layers"])
            ]  # fmt: skip
            blocks.append(nn.Sequential(*layers))
            c = stage["width"]
        self.stages = nn.ModuleList(blocks)
        self.classifier = nn.Linear(c, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        logits: torch.Tensor = self.classifier(x.mean((2, 3)))
        return logits


def check_cnn_config(config: Any) -> list[dict[str, int]]:
    """The stages of a CNN config, checked: 1 to :data:`MAX_CNN_STAGES` stages, each
    with integer ``n_layers >= 1``, ``width >= 1`` and an odd ``kernel``.

    Any widths and kernels are accepted (not only the default space's), so that a
    space with other options builds too.

    Raises:
        ConfigError: naming the path of the first bad field (``stages[1].kernel``).
    """
    stages = config.get("stages") if isinstance(config, Mapping) else None
    if not isinstance(stages, list) or not 1 <= len(stages) <= MAX_CNN_STAGES:
        raise ConfigError(
            f"stages: expected a list of 1 to {MAX_CNN_STAGES} stages, got {stages!r}"
        )
    checked = []
    for s, stage in enumerate(stages):
        if not isinstance(stage, Mapping) or set(stage) != set(STAGE_FIELDS):
            raise ConfigError(
                f"stages[{s}]: expected the fields {', '.join(STAGE_FIELDS)}, got {stage!r}"
            )
        for name in STAGE_FIELDS:
            value = stage[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"stages[{s}].{name}: must be an integer >= 1, got {value!r}")
        if stage["kernel"] % 2 == 0:
            raise ConfigError(f"stages[{s}].kernel: must be odd, got {stage['kernel']}")
        checked.append({name: int(stage[name]) for name in STAGE_FIELDS})
    return checked


@MODELS.register("cnn")
def cnn_model(config: Mapping[str, Any], *, in_channels: int = 3, n_classes: int = 10) -> CNN:
    """The network of a :func:`~archsearch.spaces.cnn.cnn_space` config.

    Args:
        config: ``{"stages": [{"n_layers", "width", "kernel"}, ...]}``.
        in_channels: image channels (1 for (Fashion-)MNIST).
        n_classes: classifier outputs.

    Raises:
        ConfigError: for an invalid config or option, naming the field.
    """
    check_positive(in_channels=in_channels, n_classes=n_classes)
    return CNN(check_cnn_config(config), in_channels=in_channels, n_classes=n_classes)
