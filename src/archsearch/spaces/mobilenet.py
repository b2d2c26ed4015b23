"""A MnasNet / MobileNetV2-style stage space (Tan et al., CVPR 2019; Sandler et al., 2018).

The network is a fixed stem, ``n_stages`` searchable stages of MBConv blocks with
fixed strides and base widths (MobileNetV2's), and a fixed head. Each stage chooses,
as in MnasNet's factorized hierarchical space, its block's expansion ratio, kernel
size, number of layers, a width multiplier on the stage's base width, and whether
blocks use squeeze-and-excitation::

    {"stages": [{"expansion": 6, "kernel": 3, "n_layers": 2, "width": 1.0, "se": False},
                ...]}

:mod:`archsearch.models.mobilenet` builds the network.

Example:
    >>> space = mobilenet_space()
    >>> f"{space.size:.3e}"  # (3 * 3 * 4 * 3 * 2) ** 5
    '4.702e+11'
    >>> sorted(space.sample(seed=0)["stages"][0])
    ['expansion', 'kernel', 'n_layers', 'se', 'width']
"""

from __future__ import annotations

from collections.abc import Sequence

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Int, Space

__all__ = ["EXPANSIONS", "KERNELS", "MAX_STAGES", "WIDTHS", "mobilenet_space"]

#: MBConv expansion ratios (MnasNet's MBConv1/3/6)
EXPANSIONS: tuple[int, ...] = (1, 3, 6)
#: depthwise kernel sizes (MnasNet: 3, 5; ProxylessNAS adds 7)
KERNELS: tuple[int, ...] = (3, 5, 7)
#: width multipliers of a stage's base width (MnasNet's filter-size ratios)
WIDTHS: tuple[float, ...] = (0.75, 1.0, 1.25)
#: number of searchable stages with base widths (MobileNetV2's stages after the first)
MAX_STAGES = 6


def _positive_range(name: str, low: int, high: int) -> None:
    if not 1 <= low <= high:
        raise ConfigError(f"{name}: must satisfy 1 <= min <= max, got {low}, {high}")


@SPACES.register("mobilenet")
def mobilenet_space(
    *,
    n_stages: int = 5,
    min_layers: int = 1,
    max_layers: int = 4,
    expansions: Sequence[int] = EXPANSIONS,
    kernels: Sequence[int] = KERNELS,
    widths: Sequence[float] = WIDTHS,
) -> Space:
    """The stage space: per stage expansion, kernel, layers, width multiplier, SE.

    Args:
        n_stages: searchable stages, 1 to :data:`MAX_STAGES` (the first ``n_stages`` of
            MobileNetV2's widths 24, 32, 64, 96, 160, 320 and strides 2, 2, 2, 1, 2, 1).
        min_layers: fewest MBConv blocks per stage.
        max_layers: most MBConv blocks per stage.
        expansions: allowed expansion ratios.
        kernels: allowed (odd) depthwise kernel sizes.
        widths: allowed width multipliers.

    Raises:
        ConfigError: naming the option that is out of range.
    """
    if not 1 <= n_stages <= MAX_STAGES:
        raise ConfigError(f"n_stages: must be in [1, {MAX_STAGES}], got {n_stages}")
    _positive_range("min_layers, max_layers", min_layers, max_layers)
    for i, k in enumerate(kernels):
        if not isinstance(k, int) or k < 1 or k % 2 == 0:
            raise ConfigError(f"kernels[{i}]: must be an odd positive integer, got {k!r}")
    stages = [
        {
            "expansion": Choice(list(expansions)),
            "kernel": Choice(list(kernels)),
            "n_layers": Int(min_layers, max_layers),
            "width": Choice(list(widths)),
            "se": Choice([False, True]),
        }
        for _ in range(n_stages)
    ]
    return Space({"stages": stages}, name="mobilenet")
