"""Config -> ``torch.nn.Module`` builders for the built-in search spaces.

Each builder takes a config of its space (the registry name is the space's) and
keyword-only skeleton options (channels, depth, input channels, classes) and
returns a module mapping images ``(N, C, H, W)`` to logits. Initial weights depend
only on the torch seed; nothing is CUDA-specific, and ``channels_last`` works.

Example:
    >>> import torch
    >>> from archsearch.models import build_model, count_parameters
    >>> _ = torch.manual_seed(0)
    >>> model = build_model("nats_size", {"channels": [8, 8, 8, 8, 8]})
    >>> count_parameters(model)
    11714
    >>> model(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Any

from torch import nn

from archsearch.models._ops import count_parameters
from archsearch.models._registry import MODELS
from archsearch.models.cnn import cnn_model
from archsearch.models.darts import darts_model, nb301_model
from archsearch.models.gnn import gnn_model
from archsearch.models.mobilenet import mobilenet_model
from archsearch.models.nats_size import nats_size_model
from archsearch.models.nb201 import nb201_model
from archsearch.models.transformer import transformer_model
from archsearch.models.vit import vit_model

__all__ = [
    "MODELS",
    "build_model",
    "cnn_model",
    "count_parameters",
    "darts_model",
    "gnn_model",
    "mobilenet_model",
    "nats_size_model",
    "nb201_model",
    "nb301_model",
    "transformer_model",
    "vit_model",
]


def build_model(space_name: str, config: Any, **options: Any) -> nn.Module:
    """Build the network of ``config`` from space ``space_name``.

    Args:
        space_name: a registered space with a builder: ``nb201``, ``nats_size``,
            ``darts``, ``nb301``, ``mobilenet``, ``cnn``, ``transformer``, ``vit``, ``gnn``.
        config: a config of that space.
        **options: the builder's skeleton options (e.g. ``channels``, ``n_classes``).

    Raises:
        ConfigError: for an unknown space, an unknown option or an invalid config,
            naming the field.
    """
    model: nn.Module = MODELS.create(space_name, options, field="model", config=config)
    return model
