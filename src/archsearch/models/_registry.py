"""The model registry: space name -> builder of a ``torch.nn.Module`` from a config."""

from __future__ import annotations

from archsearch.registry import Registry

__all__ = ["MODELS"]

#: builders ``f(config, **skeleton_options) -> nn.Module``, under their space's name
MODELS = Registry("model")
