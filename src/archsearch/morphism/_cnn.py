"""Morphism of the plain CNNs of :mod:`archsearch.models.cnn`.

* widen a stage (``width`` up): every conv of the stage gets new filters copied from
  its old ones (Net2Wider), BN follows its conv's channels, and the next conv (or the
  classifier) splits its weights of the copies;
* deepen a stage (``n_layers`` up): layers are appended to the stage with an identity
  kernel and BN set to the identity in eval mode (zero mean, unit variance, scale
  ``sqrt(1 + eps)``, zero shift). The layer's ReLU is then the identity too, because
  its input, the previous layer's ReLU output, is non-negative;
* grow a stage's kernel (3 -> 5 -> 7): every kernel of the stage is zero-padded
  around its centre.

Caveat: an appended layer is the identity in eval mode only. In train mode its BN
normalises with the batch's statistics, so the first training steps of a deepened
network see that stage's output centred and scaled (Net2Net's Net2DeeperNet has the
same caveat with batch normalisation); widening and kernel growth preserve the
function in both modes.
"""

from __future__ import annotations

import random
from typing import Any

from torch import nn

from archsearch.errors import ConfigError
from archsearch.models.cnn import CNN, ConvLayer, check_cnn_config
from archsearch.morphism._base import MORPHERS, Morpher, check_growth, stages_of
from archsearch.morphism._ops import (
    ChannelMap,
    copy_bn,
    identity_bn_,
    identity_conv_,
    widen_layer,
)

__all__ = ["CNNMorpher"]


def _checked(config: Any, label: str) -> list[dict[str, int]]:
    try:
        return check_cnn_config({"stages": stages_of(config, label)})
    except ConfigError as exc:
        raise ConfigError(f"{label}.{exc}") from None


def _layers(model: CNN, s: int) -> list[ConvLayer]:
    stage = model.stages[s]
    layers = [m for m in stage.children() if isinstance(m, ConvLayer)]
    if len(layers) != len(list(stage.children())):
        raise ConfigError(f"stages[{s}]: expected only ConvLayer modules in a CNN stage")
    return layers


@MORPHERS.register("cnn")
class CNNMorpher(Morpher):
    """Widen, deepen and grow kernels of :class:`~archsearch.models.cnn.CNN` stages."""

    def check(self, parent_config: Any, child_config: Any) -> None:
        parent = _checked(parent_config, "parent_config")
        child = _checked(child_config, "child_config")
        check_growth(parent, child, grow=("n_layers", "width", "kernel"))

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
        if not isinstance(parent, CNN) or not isinstance(child, CNN):
            raise ConfigError(
                f"space 'cnn': expected CNN models (archsearch.models.cnn), got "
                f"{type(parent).__name__} and {type(child).__name__}"
            )
        a_stages = _checked(parent_config, "parent_config")
        b_stages = _checked(child_config, "child_config")
        stream = ChannelMap.identity(_layers(parent, 0)[0].conv.in_channels)
        for s, (a, b) in enumerate(zip(a_stages, b_stages, strict=True)):
            old_layers, new_layers = _layers(parent, s), _layers(child, s)
            if len(old_layers) != a["n_layers"]:
                raise ConfigError(
                    f"parent_config: stages[{s}].n_layers is {a['n_layers']}, but the "
                    f"parent model's stage has {len(old_layers)} layers"
                )
            for i, layer in enumerate(new_layers):
                where = f"stages[{s}][{i}]"
                if i >= a["n_layers"]:  # deepened: an identity layer at the stage's end
                    identity_conv_(layer.conv)
                    identity_bn_(layer.bn)
                    continue
                old = old_layers[i]
                out = ChannelMap.widen(a["width"], b["width"], rng, split)
                widen_layer(
                    layer.conv, old.conv, out, stream, where=f"{where}.conv", kernel=b["kernel"]
                )
                copy_bn(layer.bn, old.bn, out, f"{where}.bn")
                stream = out
        n_classes = child.classifier.out_features
        widen_layer(
            child.classifier,
            parent.classifier,
            ChannelMap.identity(n_classes),
            stream,
            where="classifier",
        )
