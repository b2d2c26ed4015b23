"""Building blocks shared by the cell networks (NB201, NATS size space, DARTS)."""

from __future__ import annotations

import torch
from torch import nn

from archsearch.errors import ConfigError

__all__ = ["ReLUConvBN", "Zero", "check_positive", "count_parameters", "zeros_for"]


class ReLUConvBN(nn.Sequential):
    """ReLU, a bias-free convolution, then affine BatchNorm.

    The NB201 ``nor_conv_*`` operation (Dong & Yang, 2020) and DARTS' 1x1 input
    preprocessing (Liu et al., 2019) are both this block.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, *, stride: int = 1, padding: int = 0
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` operation: zeros shaped like the (strided) input."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return torch.zeros_like(x)
        return torch.zeros_like(x[:, :, :: self.stride, :: self.stride])

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


def zeros_for(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Zeros with ``channels`` channels and ``x``'s batch, size, dtype, device and layout."""
    if x.shape[1] == channels:
        return torch.zeros_like(x)  # keeps x's memory format (channels_last stays so)
    n, _, h, w = x.shape
    return x.new_zeros((n, channels, h, w))


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters of ``model`` (buffers such as BN statistics excluded).

    Example:
        >>> count_parameters(nn.Linear(4, 2))
        10
    """
    return sum(p.numel() for p in model.parameters())


def check_positive(**values: int) -> None:
    """Raise a ConfigError naming the first option that is not a positive integer.

    Example:
        >>> check_positive(channels=0)
        Traceback (most recent call last):
        ...
        archsearch.errors.ConfigError: channels: must be a positive integer, got 0
    """
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
