"""Layer shapes of a network, for the accelerator cost model.

:func:`extract_layers` runs a built ``torch.nn.Module`` once on a zero input with
forward hooks on every ``Conv2d`` and ``Linear`` and records their shapes, so any
builder in :mod:`archsearch.models` can be costed. :func:`nb201_layers` gives the
same list for an NB-201 network straight from the cell, without torch (a test checks
the two agree).

Example:
    >>> from archsearch.spaces.nb201 import from_arch_str
    >>> cell = from_arch_str("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|"
    ...                      "+|skip_connect~0|none~1|avg_pool_3x3~2|")
    >>> layers = nb201_layers(cell, n_cells=1)
    >>> len(layers), layers[0].kh, layers[-1].kind
    (14, 3, 'linear')
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.hardware._accelerator import Layer
from archsearch.spaces.nb201 import EDGES, from_arch_str, live_edges, to_arch_str

__all__ = ["extract_layers", "model_layers", "nb201_layers"]


def _input_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4 or shape[0] != 1 or min(shape) < 1:
        raise ConfigError(
            f"input_shape: expected (channels, height, width) at batch 1, got {input_shape!r}"
        )
    return shape


def extract_layers(model: Any, input_shape: Sequence[int]) -> list[Layer]:
    """The conv and linear layers of ``model`` in the order a forward pass runs them.

    Args:
        model: a ``torch.nn.Module`` (put in eval mode for the pass, then restored).
        input_shape: ``(channels, height, width)`` of one image (batch 1).

    Raises:
        ConfigError: for a bad input shape.
    """
    import torch
    from torch import nn

    shape = _input_shape(input_shape)
    layers: list[Layer] = []

    def conv_hook(module: nn.Conv2d, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        _, c_in, h_in, w_in = inputs[0].shape
        groups = module.groups
        depthwise = groups > 1 and groups == c_in
        layers.append(
            Layer(
                in_channels=int(c_in),
                out_channels=int(out.shape[1]),
                kernel=(int(module.kernel_size[0]), int(module.kernel_size[1])),
                stride=int(module.stride[0]),
                out_h=int(out.shape[2]),
                out_w=int(out.shape[3]),
                groups=groups,
                kind="depthwise" if depthwise else "conv",
                in_h=int(h_in),
                in_w=int(w_in),
            )
        )

    def linear_hook(module: nn.Linear, inputs: tuple[torch.Tensor, ...], out: Any) -> None:
        rows = inputs[0].numel() // module.in_features
        layers.append(
            Layer(
                in_channels=module.in_features,
                out_channels=module.out_features,
                out_h=rows,
                kind="linear",
                in_h=rows,
                in_w=1,
            )
        )

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return layers


def model_layers(
    space: str, config: Any, input_shape: Sequence[int] = (3, 32, 32), **options: Any
) -> list[Layer]:
    """Build ``config`` of ``space`` with :func:`archsearch.models.build_model` and
    extract its layers (``options``: the builder's skeleton options)."""
    from archsearch.models import build_model

    shape = _input_shape(input_shape)
    model = build_model(space, config, in_channels=shape[1], **options)
    return extract_layers(model, shape[1:])


def _conv(c_in: int, c_out: int, k: int, size: int, *, stride: int = 1) -> Layer:
    out = (size + 2 * (k // 2) - k) // stride + 1
    return Layer(c_in, c_out, k, stride, out, out, in_h=size, in_w=size)


@functools.lru_cache(maxsize=4096)
def _nb201_layers(
    arch: str,
    channels: int,
    n_cells: int,
    size: int,
    in_channels: int,
    n_classes: int,
    prune: bool,
) -> tuple[Layer, ...]:
    cell = from_arch_str(arch)
    edges = live_edges(cell) if prune else {e for e in EDGES if cell[e] != "none"}
    kernels = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
    cell_edges = [kernels[cell[e]] for e in EDGES if e in edges and cell[e] in kernels]
    c = channels
    layers = [_conv(in_channels, c, 3, size)]
    for stage in range(3):
        if stage > 0:  # NB201's ResNet block: pooled 1x1 shortcut, then conv_a, conv_b
            half = -(-size // 2)
            layers += [
                _conv(c, 2 * c, 1, half),
                _conv(c, 2 * c, 3, size, stride=2),
                _conv(2 * c, 2 * c, 3, half),
            ]
            size, c = half, 2 * c
        for _ in range(n_cells):
            layers += [_conv(c, c, k, size) for k in cell_edges]
    layers.append(Layer(c, n_classes, kind="linear", in_h=1, in_w=1))
    return tuple(layers)


def nb201_layers(
    config: Mapping[str, Any] | str,
    *,
    channels: int = 16,
    n_cells: int = 5,
    image_size: int = 32,
    in_channels: int = 3,
    n_classes: int = 10,
    prune: bool = False,
) -> tuple[Layer, ...]:
    """The layers of :func:`archsearch.models.nb201_model` for a cell, without torch.

    The stem, each cell's ``nor_conv`` edges (``skip_connect`` and ``avg_pool_3x3``
    have no conv at equal channels), the two reduction blocks and the classifier, in
    forward order; cached per cell and skeleton.

    Args:
        config: an NB201 cell (edge -> op) or NB201 string.
        channels, n_cells, in_channels, n_classes, prune: as for ``nb201_model``.
        image_size: the input's height and width (32 for CIFAR).
    """
    arch = config if isinstance(config, str) else to_arch_str(config)
    return _nb201_layers(arch, channels, n_cells, image_size, in_channels, n_classes, prune)
