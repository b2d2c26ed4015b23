"""A heterogeneous transformer space for text classification, after FlexiBERT.

FlexiBERT (Tuli et al., JAIR 2023) lets every encoder layer choose its own hidden size,
feed-forward size and token-mixing operation, with a linear projection between layers
whose hidden sizes differ. Here, per layer:

- ``op``: the token mixing: ``attention`` (multi-head self-attention), ``conv`` (a
  1-D depthwise-separable convolution over the tokens, span ``kernel``), ``fourier``
  (FNet: the real part of a 2-D FFT over tokens and features, no weights) or
  ``linear`` (a learnt linear map over the token axis, as MLP-Mixer's token mixing);
- ``heads``: attention heads, present only where ``op`` is ``attention``;
- ``kernel``: the convolution's span, present only where ``op`` is ``conv``;
- ``hidden``: the layer's width; ``ff``: its feed-forward width.

The depth is ``n_layers``; layer ``i`` is the key ``layer_i``, present only where
``n_layers > i`` (flat ``when`` conditionals, so that a mutation of the depth keeps the
layers it does not add or remove), and ``pooling`` reads the class token (``cls``) or
averages the tokens (``mean``)::

    {"pooling": "cls", "n_layers": 2,
     "layer_0": {"op": "attention", "heads": 2, "hidden": 64, "ff": 128},
     "layer_1": {"op": "conv", "kernel": 5, "hidden": 32, "ff": 64}}

:mod:`archsearch.models.transformer` builds the network; :func:`archsearch.spaces.vit.vit_space`
uses the same layers over image patches.

Example:
    >>> space = transformer_space(max_layers=2)
    >>> int(space.size)  # per layer (3 heads + 3 kernels + 2) * 3 hidden * 3 ff = 72
    10512
    >>> sorted(space.sample(seed=1))
    ['layer_0', 'layer_1', 'n_layers', 'pooling']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Int, Space, when

__all__ = [
    "FF_SIZES",
    "HEADS",
    "HIDDEN_SIZES",
    "KERNELS",
    "MAX_LAYERS",
    "MIXING_OPS",
    "POOLINGS",
    "check_poolings",
    "check_sizes",
    "layer_key",
    "layers_spec",
    "transformer_space",
]

#: token-mixing operations a layer may use
MIXING_OPS: tuple[str, ...] = ("attention", "conv", "fourier", "linear")
#: layer widths (FlexiBERT's 128/256, scaled down to train on a CPU)
HIDDEN_SIZES: tuple[int, ...] = (32, 64, 128)
#: feed-forward widths
FF_SIZES: tuple[int, ...] = (64, 128, 256)
#: attention heads (each must divide every hidden size)
HEADS: tuple[int, ...] = (1, 2, 4)
#: convolution spans (odd, so that padding keeps tokens in place; FlexiBERT: 5, 9)
KERNELS: tuple[int, ...] = (3, 5, 9)
#: ways of reading the sequence out
POOLINGS: tuple[str, ...] = ("cls", "mean")
#: the most layers a space may have
MAX_LAYERS = 12


def layer_key(index: int) -> str:
    """The config key of layer ``index`` (``layer_0``, ``layer_1``, ...)."""
    return f"layer_{index}"


def check_sizes(name: str, values: Sequence[Any], *, odd: bool = False) -> list[int]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ConfigError(f"{name}: expected a non-empty list of integers, got {values!r}")
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1 or (odd and v % 2 == 0):
            kind = "an odd positive integer" if odd else "a positive integer"
            raise ConfigError(f"{name}[{i}]: must be {kind}, got {v!r}")
    return list(values)


def _check_ops(ops: Sequence[Any]) -> list[str]:
    if isinstance(ops, str) or not isinstance(ops, Sequence) or not ops:
        raise ConfigError(f"ops: expected a non-empty list of operations, got {ops!r}")
    for i, op in enumerate(ops):
        if op not in MIXING_OPS:
            raise ConfigError(f"ops[{i}]: unknown {op!r}; allowed: {', '.join(MIXING_OPS)}")
    return list(ops)


def layers_spec(
    *,
    min_layers: int,
    max_layers: int,
    hidden_sizes: Sequence[int],
    ff_sizes: Sequence[int],
    heads: Sequence[int],
    kernels: Sequence[int],
    ops: Sequence[str],
) -> dict[str, Any]:
    """The ``n_layers`` and ``layer_i`` keys shared by the text and the image space.

    Raises:
        ConfigError: naming the option that is out of range (a head count that does not
            divide a hidden size included).
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (min_layers, max_layers)):
        raise ConfigError(
            f"min_layers, max_layers: must be integers, got {min_layers!r}, {max_layers!r}"
        )
    if not 1 <= min_layers <= max_layers <= MAX_LAYERS:
        raise ConfigError(
            f"min_layers, max_layers: must satisfy 1 <= min <= max <= {MAX_LAYERS}, "
            f"got {min_layers}, {max_layers}"
        )
    ops = _check_ops(ops)
    hidden = check_sizes("hidden_sizes", hidden_sizes)
    layer: dict[str, Any] = {"op": Choice(ops)}
    if "attention" in ops:
        for h in check_sizes("heads", heads):
            bad = [d for d in hidden if d % h]
            if bad:
                raise ConfigError(f"heads: {h} does not divide the hidden sizes {bad}")
        layer["heads"] = when(Choice(list(heads)), op="attention")
    if "conv" in ops:
        layer["kernel"] = when(Choice(check_sizes("kernels", kernels, odd=True)), op="conv")
    layer["hidden"] = Choice(hidden)
    layer["ff"] = Choice(check_sizes("ff_sizes", ff_sizes))
    spec: dict[str, Any] = {"n_layers": Int(min_layers, max_layers)}
    for i in range(max_layers):
        deeper = list(range(i + 1, max_layers + 1))
        spec[layer_key(i)] = dict(layer) if i < min_layers else when(dict(layer), n_layers=deeper)
    return spec


def check_poolings(poolings: Sequence[Any]) -> list[str]:
    """``poolings`` checked against :data:`POOLINGS`."""
    if isinstance(poolings, str) or not isinstance(poolings, Sequence) or not poolings:
        raise ConfigError(f"poolings: expected a non-empty list, got {poolings!r}")
    for i, p in enumerate(poolings):
        if p not in POOLINGS:
            raise ConfigError(f"poolings[{i}]: unknown {p!r}; allowed: {', '.join(POOLINGS)}")
    return list(poolings)


@SPACES.register("transformer")
def transformer_space(
    *,
    min_layers: int = 1,
    max_layers: int = 4,
    hidden_sizes: Sequence[int] = HIDDEN_SIZES,
    ff_sizes: Sequence[int] = FF_SIZES,
    heads: Sequence[int] = HEADS,
    kernels: Sequence[int] = KERNELS,
    ops: Sequence[str] = MIXING_OPS,
    poolings: Sequence[str] = POOLINGS,
) -> Space:
    """The heterogeneous transformer space (see the module docstring).

    Args:
        min_layers: fewest layers.
        max_layers: most layers (at most :data:`MAX_LAYERS`).
        hidden_sizes: widths a layer may have.
        ff_sizes: feed-forward widths a layer may have.
        heads: attention heads (each dividing every hidden size).
        kernels: odd convolution spans.
        ops: the mixing operations allowed (a subset of :data:`MIXING_OPS`).
        poolings: ``cls`` and/or ``mean``.

    Raises:
        ConfigError: naming the option that is out of range.
    """
    spec = {
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
    return Space(spec, name="transformer")
