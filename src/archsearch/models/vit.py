"""Small vision transformers from a :mod:`~archsearch.spaces.vit` config.

The image is cut into ``patch x patch`` patches by a strided convolution (one token of
the first layer's width per patch), a learnt position embedding is added (and a class
token put in front with ``cls`` pooling), and the :class:`~archsearch.models.transformer.Encoder`
of the text transformer runs the heterogeneous layers; a linear classifier reads the
pooled token.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> config = {"patch": 7, "pooling": "mean", "n_layers": 1,
    ...           "layer_0": {"op": "fourier", "hidden": 32, "ff": 64}}
    >>> vit_model(config, in_channels=1, image_size=28)(torch.randn(2, 1, 28, 28)).shape
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
from archsearch.models.transformer import Encoder, check_layers, check_pooling, init_embeddings

__all__ = ["VisionTransformer", "vit_model"]


class VisionTransformer(nn.Module):
    """Images ``(B, C, H, W)`` -> logits: patch embedding, positions, encoder, classifier.

    Args:
        layers: checked layer configs.
        pooling: ``cls`` or ``mean``.
        patch: patch size (divides ``image_size``).
        in_channels: image channels.
        image_size: image height and width.
        n_classes: classifier outputs.
    """

    def __init__(
        self,
        layers: Sequence[Mapping[str, Any]],
        pooling: str,
        *,
        patch: int,
        in_channels: int,
        image_size: int,
        n_classes: int,
    ) -> None:
        super().__init__()
        d = layers[0]["hidden"]
        self.image_size = image_size
        n_tokens = (image_size // patch) ** 2 + (1 if pooling == "cls" else 0)
        self.patches = nn.Conv2d(in_channels, d, patch, stride=patch)
        self.position = nn.Parameter(torch.zeros(1, n_tokens, d))
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if pooling == "cls" else None
        self.encoder = Encoder(d, layers, n_tokens, pooling)
        self.classifier = nn.Linear(self.encoder.out_dim, n_classes)
        init_embeddings(self.position, self.cls)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patches(images).flatten(2).transpose(1, 2)  # (B, patches, d)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
        logits: torch.Tensor = self.classifier(self.encoder(x + self.position))
        return logits


@MODELS.register("vit")
def vit_model(
    config: Mapping[str, Any],
    *,
    in_channels: int = 1,
    image_size: int = 28,
    n_classes: int = 10,
) -> VisionTransformer:
    """The network of a :func:`~archsearch.spaces.vit.vit_space` config.

    Args:
        config: ``{"patch", "pooling", "n_layers", "layer_0", ...}``.
        in_channels: image channels (1 for Fashion-MNIST).
        image_size: image height and width (28 for Fashion-MNIST, 32 for CIFAR).
        n_classes: classifier outputs.

    Raises:
        ConfigError: for an invalid config or option, naming the field (a patch that
            does not divide the image size included).
    """
    check_positive(in_channels=in_channels, image_size=image_size, n_classes=n_classes)
    layers = check_layers(config, extra=("patch",))
    patch = config.get("patch")
    if not isinstance(patch, int) or isinstance(patch, bool) or patch < 1 or image_size % patch:
        raise ConfigError(
            f"patch: must be a positive integer dividing image_size ({image_size}), got {patch!r}"
        )
    return VisionTransformer(
        layers,
        check_pooling(config),
        patch=patch,
        in_channels=in_channels,
        image_size=image_size,
        n_classes=n_classes,
    )
