"""Bit-width spaces: per-layer bits of a fixed network, and a CNN searched with its bits.

:func:`quantisation_space` is HAQ's search: one weight bit width per ``Conv2d``/
``Linear`` layer of a given network, in module order, ``{"bits": [8, 4, ...]}``
(with ``activation_choices``, each entry is ``{"weight": w, "activation": a}``).

:func:`quantised_cnn_space` is SimQ-NAS' joint search over the plain ``cnn`` space:
``{"arch": <cnn config>, "stage_bits": [b_1, ..., b_S, b_classifier]}``, one bit width
per stage (shared by the stage's convs) and one for the classifier. Per stage rather
than per layer keeps the genome fixed-length with every decision active: per-layer
bits would need a decision per possible layer gated on the stage's ``n_layers``, and
``when`` conditions only look at keys of their own dict, so the bits would have to sit
inside the architecture's stage dicts and the architecture would no longer be a plain
``cnn`` config. The ``quantisation`` benchmark
(:class:`~archsearch.quantisation.QuantisationEvaluator`) reads both forms.

Example:
    >>> arch = {"stages": [{"n_layers": 2, "width": 8, "kernel": 3}]}
    >>> space = quantisation_space(arch=arch, bits=[4, 8])
    >>> space.size  # 2 convs and the classifier
    8
    >>> space.sample(seed=0)
    {'bits': [8, 8, 4]}
    >>> joint = quantised_cnn_space(n_stages=2, bits=[4, 8])
    >>> len(joint.sample(seed=0)["stage_bits"])
    3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Space
from archsearch.spaces.cnn import CNN_KERNELS, CNN_WIDTHS, cnn_space

__all__ = ["BIT_CHOICES", "quantisation_space", "quantised_cnn_space"]

#: the bit widths searched by default (32: left in float)
BIT_CHOICES: tuple[int, ...] = (4, 8, 16, 32)


def _bit_options(field: str, values: Any) -> list[int]:
    # mirrors archsearch.quantisation.check_bits, which imports torch
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ConfigError(f"{field}: expected a non-empty list of bit widths, got {values!r}")
    for i, v in enumerate(values):
        ok = isinstance(v, int) and not isinstance(v, bool)
        if not ok or not (2 <= v <= 16 or v == 32):
            raise ConfigError(
                f"{field}[{i}]: bit width must be an integer in 2..16 or 32 (float), got {v!r}"
            )
    if len(set(values)) != len(values):
        raise ConfigError(f"{field}: bit widths repeat, got {list(values)}")
    return list(values)


def _entry(bits: list[int], activations: list[int] | None) -> Any:
    if activations is None:
        return Choice(bits)
    return {"weight": Choice(bits), "activation": Choice(activations)}


def _cnn_layer_count(arch: Any) -> int:
    stages = arch.get("stages") if isinstance(arch, Mapping) else None
    counts = [s.get("n_layers") if isinstance(s, Mapping) else None for s in stages or ()]
    if not isinstance(stages, list) or not stages or not all(isinstance(c, int) for c in counts):
        raise ConfigError(f"arch: expected a cnn config {{'stages': [...]}}, got {arch!r}")
    return sum(int(c) for c in counts if c is not None) + 1  # the convs, then the classifier


@SPACES.register("quantisation")
def quantisation_space(
    *,
    n_layers: int | None = None,
    arch: Mapping[str, Any] | None = None,
    bits: Sequence[int] = BIT_CHOICES,
    activation_choices: Sequence[int] | None = None,
) -> Space:
    """Per-layer weight bit widths of one network: ``{"bits": [...]}``.

    Args:
        n_layers: the network's ``Conv2d``/``Linear`` layers (any builder).
        arch: instead of ``n_layers``, a ``cnn`` config (its convs plus the classifier).
        bits: the weight bit widths to choose from (2 to 16, 32 = float).
        activation_choices: also search each layer's input bits from these (entries
            become ``{"weight": w, "activation": a}``); None: the evaluator's setting.

    Raises:
        ConfigError: naming the bad option.
    """
    if (n_layers is None) == (arch is None):
        raise ConfigError("n_layers: give exactly one of n_layers or arch")
    if arch is not None:
        n_layers = _cnn_layer_count(arch)
    if not isinstance(n_layers, int) or isinstance(n_layers, bool) or n_layers < 1:
        raise ConfigError(f"n_layers: must be an integer >= 1, got {n_layers!r}")
    choices = _bit_options("bits", bits)
    activations = (
        None
        if activation_choices is None
        else _bit_options("activation_choices", activation_choices)
    )
    return Space(
        {"bits": [_entry(choices, activations) for _ in range(n_layers)]}, name="quantisation"
    )


@SPACES.register("quantised_cnn")
def quantised_cnn_space(
    *,
    n_stages: int = 3,
    min_layers: int = 1,
    max_layers: int = 3,
    widths: Sequence[int] = CNN_WIDTHS,
    kernels: Sequence[int] = CNN_KERNELS,
    bits: Sequence[int] = BIT_CHOICES,
    activation_choices: Sequence[int] | None = None,
) -> Space:
    """The ``cnn`` space with one bit width per stage and the classifier's.

    Args:
        n_stages, min_layers, max_layers, widths, kernels: as in
            :func:`~archsearch.spaces.cnn.cnn_space`.
        bits, activation_choices: as in :func:`quantisation_space`.

    Raises:
        ConfigError: naming the bad option.
    """
    arch = cnn_space(
        n_stages=n_stages,
        min_layers=min_layers,
        max_layers=max_layers,
        widths=widths,
        kernels=kernels,
    )
    choices = _bit_options("bits", bits)
    activations = (
        None
        if activation_choices is None
        else _bit_options("activation_choices", activation_choices)
    )
    stage_bits = [_entry(choices, activations) for _ in range(n_stages + 1)]
    return Space({"arch": arch, "stage_bits": stage_bits}, name="cnn+bits")
