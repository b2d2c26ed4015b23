"""The tensor-level operations of network morphism: widen, grow a kernel, insert identity.

Net2Wider (Chen et al., ICLR 2016): a layer widened from ``n`` to ``m`` channels keeps
its ``n`` channels and fills the other ``m - n`` with copies of channels drawn at
random; every consumer of the widened tensor multiplies its incoming weights of the
copies of a channel by shares that sum to one over those copies, so that it computes
what it computed before. A :class:`ChannelMap` holds both: for each new channel the
old channel it copies and its share. Everything downstream of a channel-wise operation
(BN, ReLU, a depthwise conv, a residual sum of tensors with the same map) keeps the
map, so one map describes a tensor wherever it flows.

Kernel growth pads a kernel with zeros around its centre: with padding ``k // 2`` the
centre stays on the same input pixel at any stride, so the output is unchanged.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
from torch import nn

from archsearch.errors import ConfigError

__all__ = [
    "SPLITS",
    "ChannelMap",
    "copy_bn",
    "identity_bn_",
    "identity_conv_",
    "pad_kernel",
    "put",
    "widen_conv",
    "widen_depthwise",
    "widen_layer",
    "zero_bn_",
]

#: how a consumer's weights of a replicated channel are split among its copies
SPLITS = ("even", "random")


@dataclass(frozen=True, eq=False)
class ChannelMap:
    """Where each channel of a widened tensor comes from, and its share.

    Attributes:
        index: ``(m,)`` int64, the old channel that new channel ``j`` copies; the first
            ``n_old`` entries are ``0 .. n_old - 1`` (the old channels stay in place).
        share: ``(m,)`` float32, what a consumer multiplies its weights of new channel
            ``j`` by; the shares of the copies of one old channel sum to one.
        n_old: the number of channels before widening.
    """

    index: torch.Tensor
    share: torch.Tensor
    n_old: int

    @property
    def n_new(self) -> int:
        return int(self.index.numel())

    @classmethod
    def identity(cls, n: int) -> ChannelMap:
        """The map of a tensor that keeps its ``n`` channels."""
        return cls(torch.arange(n), torch.ones(n), n)

    @classmethod
    def widen(cls, n_old: int, n_new: int, rng: random.Random, split: str) -> ChannelMap:
        """Net2Wider's random mapping from ``n_new`` channels to ``n_old`` (``n_new >= n_old``).

        Args:
            n_old: channels before.
            n_new: channels after.
            rng: draws the copied channels (and the ``random`` shares).
            split: ``even`` divides by the number of copies (Net2Net); ``random`` draws
                shares in ``[0.5, 1.5]`` normalised over the copies. Both preserve the
                function exactly; ``random`` also breaks the symmetry between copies,
                which would otherwise receive identical gradients forever.

        Raises:
            ConfigError: when ``n_new < n_old`` or ``split`` is unknown.

        Example:
            >>> m = ChannelMap.widen(2, 4, random.Random(0), "even")
            >>> m.index.tolist(), [round(s, 2) for s in m.share.tolist()]
            ([0, 1, 1, 1], [1.0, 0.33, 0.33, 0.33])
        """
        if split not in SPLITS:
            raise ConfigError(f"split: unknown {split!r}; allowed: {', '.join(SPLITS)}")
        if n_new < n_old:
            raise ConfigError(f"channels: cannot widen {n_old} channels to {n_new}")
        index = list(range(n_old)) + [int(rng.random() * n_old) for _ in range(n_new - n_old)]
        # even: Net2Net's 1 / copies; random: unequal shares that still sum to one
        weight = [1.0] * n_new if split == "even" else [0.5 + rng.random() for _ in range(n_new)]
        total = [0.0] * n_old
        for j, i in enumerate(index):
            total[i] += weight[j]
        share = [weight[j] / total[i] for j, i in enumerate(index)]
        return cls(torch.tensor(index), torch.tensor(share), n_old)


def put(target: torch.Tensor, value: torch.Tensor, where: str) -> None:
    """Copy ``value`` into ``target`` (a parameter or buffer of the child), in place.

    Raises:
        ConfigError: when the shapes differ: the parent model is not the one its config
            describes, or parent and child were built with different options.
    """
    if target.shape != value.shape:
        raise ConfigError(
            f"{where}: derived shape {tuple(value.shape)} does not fit the child's "
            f"{tuple(target.shape)}; was the parent built from parent_config with the "
            "same builder options?"
        )
    with torch.no_grad():
        target.copy_(value)


def _expect(weight: torch.Tensor, shape: tuple[int, ...], where: str) -> None:
    if tuple(weight.shape) != shape:
        raise ConfigError(
            f"{where}: the parent's weight has shape {tuple(weight.shape)}, but parent_config "
            f"implies {shape}; was the parent built from parent_config?"
        )


def pad_kernel(weight: torch.Tensor, kernel: int) -> torch.Tensor:
    """``weight`` (``(out, in, k, k)``) zero-padded around its centre to ``kernel``.

    Raises:
        ConfigError: when ``kernel`` is smaller or of another parity.

    Example:
        >>> pad_kernel(torch.ones(1, 1, 1, 1), 3)[0, 0].tolist()
        [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    k = weight.shape[-1]
    if kernel < k or (kernel - k) % 2:
        raise ConfigError(f"kernel: cannot grow a {k}x{k} kernel to {kernel}x{kernel}")
    p = (kernel - k) // 2
    return nn.functional.pad(weight, (p, p, p, p)) if p else weight


def widen_conv(
    weight: torch.Tensor, out_map: ChannelMap, in_map: ChannelMap, *, where: str
) -> torch.Tensor:
    """A dense conv's weight for widened outputs and inputs (Net2Wider on both sides).

    Output channel ``o`` copies the old filter ``out_map.index[o]``; the weights of input
    channel ``i`` are the old ones of ``in_map.index[i]`` times ``in_map.share[i]``.
    """
    _expect(weight, (out_map.n_old, in_map.n_old, *weight.shape[2:]), where)
    share = in_map.share.to(weight)
    out = weight[out_map.index.to(weight.device)][:, in_map.index.to(weight.device)]
    return out * share.view(1, -1, *([1] * (weight.dim() - 2)))


def widen_depthwise(weight: torch.Tensor, channel_map: ChannelMap, *, where: str) -> torch.Tensor:
    """A depthwise conv's weight (``(C, 1, k, k)``) for widened channels: each copy keeps
    its channel's filter unscaled (it reads only that channel, and writes a copy)."""
    _expect(weight, (channel_map.n_old, 1, *weight.shape[2:]), where)
    return weight[channel_map.index.to(weight.device)]


def widen_layer(
    layer: nn.Conv2d | nn.Linear,
    source: nn.Conv2d | nn.Linear,
    out_map: ChannelMap,
    in_map: ChannelMap,
    *,
    where: str,
    kernel: int | None = None,
) -> None:
    """Fill a dense conv or linear ``layer`` from ``source``: the weight widened on both
    sides (:func:`widen_conv`) and padded to ``kernel``, the bias following the outputs."""
    weight = widen_conv(source.weight, out_map, in_map, where=where)
    put(layer.weight, weight if kernel is None else pad_kernel(weight, kernel), where)
    if layer.bias is not None and source.bias is not None:
        put(layer.bias, source.bias[out_map.index.to(source.bias.device)], where)


def copy_bn(
    bn: nn.BatchNorm2d, source: nn.BatchNorm2d, channel_map: ChannelMap, where: str
) -> None:
    """Fill ``bn`` from ``source``, channel ``j`` from ``channel_map.index[j]``: affine
    parameters and running statistics, so that copies normalise alike in both modes."""
    index = channel_map.index
    pairs = [
        (bn.weight, source.weight),
        (bn.bias, source.bias),
        (bn.running_mean, source.running_mean),
        (bn.running_var, source.running_var),
    ]
    for target, value in pairs:
        if target is not None and value is not None:
            _expect(value, (channel_map.n_old,), where)
            put(target, value[index.to(value.device)], where)
    if bn.num_batches_tracked is not None and source.num_batches_tracked is not None:
        put(bn.num_batches_tracked, source.num_batches_tracked, where)


def identity_conv_(conv: nn.Conv2d) -> None:
    """Make a dense conv with as many inputs as outputs the identity: a one at the
    kernel's centre on the diagonal, zeros elsewhere (and a zero bias)."""
    c_out, c_in, k, _ = conv.weight.shape
    if c_in != c_out or conv.groups != 1 or conv.stride != (1, 1):
        raise ConfigError(
            f"conv: an identity layer needs as many inputs as outputs and stride 1, got "
            f"{c_in} -> {c_out}, stride {conv.stride}"
        )
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[torch.arange(c_out), torch.arange(c_out), k // 2, k // 2] = 1.0
        if conv.bias is not None:
            conv.bias.zero_()


def identity_bn_(bn: nn.BatchNorm2d) -> None:
    """Make ``bn`` the identity in eval mode: zero mean, unit variance, a scale of
    ``sqrt(1 + eps)`` to undo its ``eps``, zero shift."""
    with torch.no_grad():
        bn.running_mean.zero_()  # type: ignore[union-attr]
        bn.running_var.fill_(1.0)  # type: ignore[union-attr]
        bn.weight.fill_(math.sqrt(1.0 + bn.eps))
        bn.bias.zero_()


def zero_bn_(bn: nn.BatchNorm2d) -> None:
    """Make ``bn`` output zeros in both modes (scale and shift zero), as for the last
    BN of a residual branch that must start as nothing (Goyal et al., 2017)."""
    with torch.no_grad():
        bn.weight.zero_()
        bn.bias.zero_()
