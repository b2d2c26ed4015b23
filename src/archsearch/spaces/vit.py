"""A small vision transformer space: patches, then the heterogeneous transformer layers.

The image is cut into ``patch x patch`` patches (a strided convolution embeds each as a
token), followed by the layers of :func:`archsearch.spaces.transformer.transformer_space`
(same keys, same rules: per layer its mixing operation, heads or kernel, hidden and
feed-forward widths) and ``cls`` or ``mean`` pooling::

    {"patch": 7, "pooling": "mean", "n_layers": 1,
     "layer_0": {"op": "fourier", "hidden": 64, "ff": 128}}

On Fashion-MNIST (28 x 28) patch 7 gives 16 tokens and patch 4 gives 49.
:mod:`archsearch.models.vit` builds the network.

Example:
    >>> space = vit_space(max_layers=2)
    >>> int(space.size)  # 2 patches * the transformer space of the same options
    21024
    >>> sorted(space.sample(seed=0))[:3]
    ['layer_0', 'n_layers', 'patch']
"""

from __future__ import annotations

from collections.abc import Sequence

from archsearch.registry import SPACES
from archsearch.space import Choice, Space
from archsearch.spaces.transformer import (
    FF_SIZES,
    HEADS,
    HIDDEN_SIZES,
    KERNELS,
    MIXING_OPS,
    POOLINGS,
    check_poolings,
    check_sizes,
    layers_spec,
)

__all__ = ["PATCHES", "vit_space"]

#: patch sizes (both divide Fashion-MNIST's 28 pixels)
PATCHES: tuple[int, ...] = (4, 7)


@SPACES.register("vit")
def vit_space(
    *,
    patches: Sequence[int] = PATCHES,
    min_layers: int = 1,
    max_layers: int = 4,
    hidden_sizes: Sequence[int] = HIDDEN_SIZES,
    ff_sizes: Sequence[int] = FF_SIZES,
    heads: Sequence[int] = HEADS,
    kernels: Sequence[int] = KERNELS,
    ops: Sequence[str] = MIXING_OPS,
    poolings: Sequence[str] = POOLINGS,
) -> Space:
    """The ViT space: a patch size, a pooling and the transformer layers.

    Args:
        patches: patch sizes (each must divide the image size the model is built for).
        min_layers, max_layers, hidden_sizes, ff_sizes, heads, kernels, ops, poolings:
            as in :func:`~archsearch.spaces.transformer.transformer_space`.

    Raises:
        ConfigError: naming the option that is out of range.
    """
    spec = {
        "patch": Choice(check_sizes("patches", patches)),
        "pooling": Choice(check_poolings(poolings)),
        **layers_spec(
            min_layers=min_layers,
            max_layers=max_layers,
            hidden_sizes=hidden_sizes,
            ff_sizes=ff_sizes,
            heads=heads,
            kernels=kernels,
            ops=ops,
        ),
    }
    return Space(spec, name="vit")
