"""The NATS-Bench size-space network (Dong et al., TPAMI 2021) from a channel config.

XAutoDL's ``DynamicShapeTinyNet`` ("infer.shape.tiny"): NB201's skeleton with one cell
per stage, the channels of its five layers taken from the config (the stem has the
first layer's channels), and one fixed cell. NATS-Bench fixes the cell to NB201 arch
9930, ``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|
nor_conv_3x3~2|`` (XAutoDL ``exps/NATS-Bench/main-sss.py``: "the architecture with the
highest accuracy on CIFAR-100 validation set"); ``cell=`` replaces it. Where a cell's
input and output channels differ, ``skip_connect`` from the input is a 1x1 conv + BN
and ``avg_pool_3x3`` is preceded by a 1x1 ReLU-Conv-BN, as in XAutoDL.

Example:
    >>> import torch
    >>> from archsearch.models.nats_size import nats_size_model
    >>> _ = torch.manual_seed(0)
    >>> model = nats_size_model("8:16:24:32:64")
    >>> model(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archsearch.models._ops import check_positive
from archsearch.models._registry import MODELS
from archsearch.models.nb201 import TinyNetwork, cell_config
from archsearch.spaces.nats_size import from_size_str, nats_size_space

__all__ = ["NATS_SIZE_CELL", "nats_size_model"]

#: the cell of every NATS-Bench size-space network (NB201 index 9930)
NATS_SIZE_CELL = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


@MODELS.register("nats_size")
def nats_size_model(
    config: Mapping[str, Any] | str,
    *,
    cell: Mapping[str, Any] | str = NATS_SIZE_CELL,
    in_channels: int = 3,
    n_classes: int = 10,
    prune: bool = False,
) -> TinyNetwork:
    """The NATS size-space network of a channel config (or ``"c1:c2:c3:c4:c5"``).

    Args:
        config: ``{"channels": [c1, ..., c5]}`` from
            :func:`~archsearch.spaces.nats_size.nats_size_space`, or NATS's string.
        cell: the fixed cell, as an NB201 config or string (NATS-Bench's by default).
        in_channels: image channels (3; 1 for (Fashion-)MNIST).
        n_classes: classifier outputs (10 for CIFAR-10).
        prune: drop cell edges that cannot reach the cell output (no effect on the
            default cell, whose edges all do).

    Raises:
        ConfigError: for invalid channels, an invalid cell or a non-positive size.
    """
    check_positive(in_channels=in_channels, n_classes=n_classes)
    checked = (
        from_size_str(config) if isinstance(config, str) else nats_size_space().validate(config)
    )
    return TinyNetwork(
        cell_config(cell),
        checked["channels"],
        in_channels=in_channels,
        n_classes=n_classes,
        prune=prune,
    )
