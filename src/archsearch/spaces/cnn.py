"""A plain CNN stage space: per stage, how many conv layers, how wide, which kernel.

The network is ``n_stages`` stages of ``conv -> BN -> ReLU`` layers, each stage
starting with a stride-2 conv, then global average pooling and a linear classifier.
Each stage chooses its number of layers, its width (channels) and its kernel size::

    {"stages": [{"n_layers": 2, "width": 16, "kernel": 3}, ...]}

Small enough that a network trains on a few thousand Fashion-MNIST images on one CPU
core in seconds per epoch; it is the space network morphism grows in
(:mod:`archsearch.morphism`). :mod:`archsearch.models.cnn` builds the network.

Example:
    >>> space = cnn_space()
    >>> int(space.size)  # (3 layer counts * 4 widths * 3 kernels) ** 3 stages
    46656
    >>> sorted(space.sample(seed=0)["stages"][0])
    ['kernel', 'n_layers', 'width']
"""

from __future__ import annotations

from collections.abc import Sequence

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Int, Space

__all__ = ["CNN_KERNELS", "CNN_WIDTHS", "MAX_CNN_STAGES", "cnn_space"]

#: channels a stage may have
CNN_WIDTHS: tuple[int, ...] = (8, 16, 24, 32)
#: kernel sizes a stage's convs may have (odd, so that padding keeps them centred)
CNN_KERNELS: tuple[int, ...] = (3, 5, 7)
#: the most stages (each halves the resolution: 28 -> 14 -> 7 -> 4 -> 2 -> 1)
MAX_CNN_STAGES = 5


@SPACES.register("cnn")
def cnn_space(
    *,
    n_stages: int = 3,
    min_layers: int = 1,
    max_layers: int = 3,
    widths: Sequence[int] = CNN_WIDTHS,
    kernels: Sequence[int] = CNN_KERNELS,
) -> Space:
    """The plain CNN space: per stage the number of layers, the width, the kernel.

    Args:
        n_stages: stages, 1 to :data:`MAX_CNN_STAGES`.
        min_layers: fewest conv layers per stage.
        max_layers: most conv layers per stage.
        widths: allowed channel counts (positive integers).
        kernels: allowed (odd) kernel sizes.

    Raises:
        ConfigError: naming the option that is out of range.
    """
    if not isinstance(n_stages, int) or not 1 <= n_stages <= MAX_CNN_STAGES:
        raise ConfigError(f"n_stages: must be in [1, {MAX_CNN_STAGES}], got {n_stages!r}")
    if not 1 <= min_layers <= max_layers:
        raise ConfigError(
            f"min_layers, max_layers: must satisfy 1 <= min <= max, got {min_layers}, {max_layers}"
        )
    for i, w in enumerate(widths):
        if not isinstance(w, int) or isinstance(w, bool) or w < 1:
            raise ConfigError(f"widths[{i}]: must be a positive integer, got {w!r}")
    for i, k in enumerate(kernels):
        if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k % 2 == 0:
            raise ConfigError(f"kernels[{i}]: must be an odd positive integer, got {k!r}")
    stages = [
        {
            "n_layers": Int(min_layers, max_layers),
            "width": Choice(list(widths)),
            "kernel": Choice(list(kernels)),
        }
        for _ in range(n_stages)
    ]
    return Space({"stages": stages}, name="cnn")
