"""Morphism of the MBConv stage networks of :mod:`archsearch.models.mobilenet`.

* widen a stage (``width`` up): the stage's residual stream gets copied channels
  (one :class:`~archsearch.morphism.ChannelMap` for the whole stream, since its
  tensors are summed); each block's projection writes the copies, BN follows, and
  every reader of the stream (the blocks' expansion convs, the next stage's first
  block, the head conv) splits its weights of the copies. Blocks whose hidden width
  grows with their input (``expansion * c_in``) widen their hidden layer too, and
  squeeze-and-excitation widens its squeeze (``c_in // 4``);
* widen the expansion (3 -> 6): the hidden layer's channels are copied: expansion conv
  and its BN, the depthwise conv and its BN, SE's input and gate, and the projection
  splits its weights of the copies. Expansion 1 has no expansion conv; adding one
  (1 -> 3) would put a ReLU6 on the block's unbounded input, which no weights can
  undo, so it is refused;
* deepen a stage (``n_layers`` up): blocks are appended to the stage with their
  projection's BN zeroed (scale and shift), so each starts as nothing added to its
  residual: the identity, in train and eval mode;
* grow a stage's kernel (3 -> 5 -> 7): every depthwise kernel of the stage is
  zero-padded around its centre.

Squeeze-and-excitation cannot be added or removed without changing the function
(the sigmoid gate is never exactly one), and the number of stages is fixed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from archsearch.errors import ConfigError
from archsearch.models.mobilenet import MBConv, MobileNet, SqueezeExcite
from archsearch.morphism._base import MORPHERS, Morpher, check_growth, stages_of
from archsearch.morphism._ops import (
    ChannelMap,
    copy_bn,
    pad_kernel,
    put,
    widen_depthwise,
    widen_layer,
    zero_bn_,
)
from archsearch.spaces.mobilenet import mobilenet_space

__all__ = ["MobileNetMorpher"]

#: ``MobileNet.features``: stem conv, BN, ReLU6, the fixed first block, then the stages
N_FIXED = 4


@dataclass(frozen=True)
class _Parts:
    """The layers of one MBConv block, found by type."""

    expand: tuple[nn.Conv2d, nn.BatchNorm2d] | None
    depthwise: tuple[nn.Conv2d, nn.BatchNorm2d]
    se: SqueezeExcite | None
    project: tuple[nn.Conv2d, nn.BatchNorm2d]


def _parts(block: MBConv) -> _Parts:
    layers = list(block.block)
    convs = [(m, layers[i + 1]) for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    se = next((m for m in layers if isinstance(m, SqueezeExcite)), None)
    expand = convs[0] if len(convs) == 3 else None
    return _Parts(expand, convs[-2], se, convs[-1])  # type: ignore[arg-type]


def _checked(config: Any, label: str) -> list[Mapping[str, Any]]:
    stages = stages_of(config, label)
    try:
        checked = mobilenet_space(n_stages=len(stages)).validate({"stages": stages})
    except ConfigError as exc:
        raise ConfigError(f"{label}.{exc}") from None
    result: list[Mapping[str, Any]] = checked["stages"]
    return result


@MORPHERS.register("mobilenet")
class MobileNetMorpher(Morpher):
    """Widen, deepen, widen the expansion and grow kernels of MobileNet stages."""

    def check(self, parent_config: Any, child_config: Any) -> None:
        parent = _checked(parent_config, "parent_config")
        child = _checked(child_config, "child_config")
        check_growth(
            parent, child, grow=("n_layers", "width", "kernel", "expansion"), keep=("se",)
        )
        for s, (a, b) in enumerate(zip(parent, child, strict=True)):
            if a["expansion"] == 1 and b["expansion"] != 1:
                raise ConfigError(
                    f"stages[{s}].expansion: 1 -> {b['expansion']} adds an expansion conv "
                    "whose ReLU6 clips the block's input, which cannot preserve the "
                    "function (allowed: 1)"
                )

    def transfer(
        self,
        parent: nn.Module,
        child: nn.Module,
        parent_config: Any,
        child_config: Any,
        *,
        rng: random.Random,
        split: str,
    ) -> None:
        if not isinstance(parent, MobileNet) or not isinstance(child, MobileNet):
            raise ConfigError(
                "space 'mobilenet': expected MobileNet models (archsearch.models.mobilenet), "
                f"got {type(parent).__name__} and {type(child).__name__}"
            )
        a_stages = _checked(parent_config, "parent_config")
        b_stages = _checked(child_config, "child_config")
        old, new = list(parent.features), list(child.features)
        n_old = sum(stage["n_layers"] for stage in a_stages)
        if len(old) != N_FIXED + n_old + 3:
            raise ConfigError(
                f"parent_config: has {n_old} blocks in its stages, but the parent model "
                f"{len(old) - N_FIXED - 3}"
            )
        for i in range(N_FIXED):  # stem and first block are fixed
            new[i].load_state_dict(old[i].state_dict())
        first = old[N_FIXED - 1]
        assert isinstance(first, MBConv)
        stream = ChannelMap.identity(_parts(first).project[0].out_channels)
        p = c = N_FIXED
        for s, (a, b) in enumerate(zip(a_stages, b_stages, strict=True)):
            stream = self._stage(old[p : p + a["n_layers"]], new[c : c + b["n_layers"]],
                                 stream, b["kernel"], s, rng, split)  # fmt: skip
            p, c = p + a["n_layers"], c + b["n_layers"]
        head_conv, head_bn, old_conv, old_bn = new[-3], new[-2], old[-3], old[-2]
        assert isinstance(head_conv, nn.Conv2d) and isinstance(old_conv, nn.Conv2d)
        assert isinstance(head_bn, nn.BatchNorm2d) and isinstance(old_bn, nn.BatchNorm2d)
        out = ChannelMap.identity(head_conv.out_channels)
        widen_layer(head_conv, old_conv, out, stream, where="head.conv")
        copy_bn(head_bn, old_bn, out, "head.bn")
        child.classifier.load_state_dict(parent.classifier.state_dict())

    def _stage(
        self,
        old: list[nn.Module],
        new: list[nn.Module],
        stream: ChannelMap,
        kernel: int,
        s: int,
        rng: random.Random,
        split: str,
    ) -> ChannelMap:
        """Fill stage ``s``'s blocks; returns the map of the stage's output stream."""
        head_old, head_new = old[0], new[0]
        assert isinstance(head_old, MBConv) and isinstance(head_new, MBConv)
        if head_old.has_residual != head_new.has_residual:
            raise ConfigError(
                f"stages[{s}].width: changes whether the stage's first block has a residual "
                "connection (its input and output widths become equal or unequal), which "
                "cannot preserve the function"
            )
        if head_new.has_residual:  # one tensor flows through: one map
            out = stream
        else:
            n_before = _parts(head_old).project[0].out_channels
            out = ChannelMap.widen(n_before, _parts(head_new).project[0].out_channels, rng, split)
        for i, block in enumerate(new):
            assert isinstance(block, MBConv)
            where = f"stages[{s}][{i}]"
            if i >= len(old):  # deepened: a residual block that adds nothing yet
                zero_bn_(_parts(block).project[1])
                continue
            source = old[i]
            assert isinstance(source, MBConv)
            _block(source, block, stream if i == 0 else out, out, kernel, where, rng, split)
        return out


def _block(
    old: MBConv,
    new: MBConv,
    in_map: ChannelMap,
    out_map: ChannelMap,
    kernel: int,
    where: str,
    rng: random.Random,
    split: str,
) -> None:
    """Fill one MBConv from its parent block, its input and output widened by the maps."""
    po, pn = _parts(old), _parts(new)
    if pn.expand is not None and po.expand is not None:
        (conv, bn), (old_conv, old_bn) = pn.expand, po.expand
        hidden = ChannelMap.widen(old_conv.out_channels, conv.out_channels, rng, split)
        widen_layer(conv, old_conv, hidden, in_map, where=f"{where}.expand")
        copy_bn(bn, old_bn, hidden, f"{where}.expand.bn")
    elif pn.expand is None and po.expand is None:
        hidden = in_map  # no expansion conv: the depthwise conv reads the block's input
    else:
        raise ConfigError(f"{where}: the expansion conv cannot be added or removed")
    (conv, bn), (old_conv, old_bn) = pn.depthwise, po.depthwise
    weight = widen_depthwise(old_conv.weight, hidden, where=f"{where}.depthwise")
    put(conv.weight, pad_kernel(weight, kernel), f"{where}.depthwise")
    copy_bn(bn, old_bn, hidden, f"{where}.depthwise.bn")
    if pn.se is not None and po.se is not None:
        se, old_se = pn.se, po.se
        squeeze = ChannelMap.widen(old_se.reduce.out_channels, se.reduce.out_channels, rng, split)
        widen_layer(se.reduce, old_se.reduce, squeeze, hidden, where=f"{where}.se.reduce")
        widen_layer(se.expand, old_se.expand, hidden, squeeze, where=f"{where}.se.expand")
    (conv, bn), (old_conv, old_bn) = pn.project, po.project
    widen_layer(conv, old_conv, out_map, hidden, where=f"{where}.project")
    copy_bn(bn, old_bn, out_map, f"{where}.project.bn")
