"""Bit policies: one weight and one activation bit width per quantisable layer.

A policy is given as a list with one entry per ``Conv2d``/``Linear`` layer of the
network, in module order (``model.modules()``). An entry is an integer, the layer's
weight bits, or ``{"weight": w, "activation": a}``; the activation bits are those of
the layer's *input*. An integer entry takes its activation bits from the caller's
``activation_bits`` (None: the same as the weight bits, the usual ``W8A8`` pairing).
Bit widths are integers from 2 to 16, or 32 for "not quantised" (float).

Stage-structured networks (the plain ``cnn``) may give one entry per stage plus one
for the classifier instead (``stage_bits``); :func:`expand_stage_bits` turns that into
the per-layer form.

Example:
    >>> parse_policy([8, {"weight": 4, "activation": 8}], 2)
    [LayerBits(weight=8, activation=8), LayerBits(weight=4, activation=8)]
    >>> expand_stage_bits({"stages": [{"n_layers": 2}, {"n_layers": 1}]}, [4, 8, 16])
    [4, 4, 8, 16]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archsearch.errors import ConfigError

__all__ = ["FLOAT_BITS", "LayerBits", "check_bits", "expand_stage_bits", "parse_policy"]

#: the bit width that means "left in float"
FLOAT_BITS = 32
#: the quantised bit widths allowed (symmetric weights need at least 2 bits)
MIN_BITS, MAX_BITS = 2, 16


@dataclass(frozen=True, slots=True)
class LayerBits:
    """Bit widths of one layer: its weights and its input activations (32: float)."""

    weight: int
    activation: int


def check_bits(value: Any, field: str) -> int:
    """``value`` as a bit width (2 to 16, or 32), or a ConfigError naming ``field``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or not (MIN_BITS <= value <= MAX_BITS or value == FLOAT_BITS):
        raise ConfigError(
            f"{field}: bit width must be an integer in {MIN_BITS}..{MAX_BITS} or "
            f"{FLOAT_BITS} (float), got {value!r}"
        )
    return int(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def parse_policy(
    policy: Any, n_layers: int, *, activation_bits: int | None = None, field: str = "bits"
) -> list[LayerBits]:
    """Check a per-layer policy against a network of ``n_layers`` quantisable layers.

    Args:
        policy: one entry per layer: weight bits, or ``{"weight": w, "activation": a}``.
        n_layers: the network's ``Conv2d``/``Linear`` layers.
        activation_bits: input bits of layers given as an integer (None: their weight bits).
        field: the name errors give the policy (``bits``, ``stage_bits``).

    Raises:
        ConfigError: naming ``field`` (and the entry) for a wrong length or bit width.
    """
    if activation_bits is not None:
        activation_bits = check_bits(activation_bits, "activation_bits")
    if not _is_list(policy) or len(policy) != n_layers:
        got = f"{len(policy)} entries" if _is_list(policy) else repr(policy)
        raise ConfigError(
            f"{field}: expected {n_layers} entries, one per Conv2d/Linear layer in module "
            f"order, got {got}"
        )
    layers = []
    for i, entry in enumerate(policy):
        where = f"{field}[{i}]"
        if isinstance(entry, Mapping):
            if set(entry) != {"weight", "activation"}:
                raise ConfigError(
                    f"{where}: expected the keys activation, weight, got {sorted(entry)}"
                )
            weight = check_bits(entry["weight"], f"{where}.weight")
            activation = check_bits(entry["activation"], f"{where}.activation")
        else:
            weight = check_bits(entry, where)
            activation = weight if activation_bits is None else activation_bits
        layers.append(LayerBits(weight, activation))
    return layers


def expand_stage_bits(arch: Any, stage_bits: Any, *, field: str = "stage_bits") -> list[Any]:
    """Per-layer entries of a stage policy: each stage's entry repeated over its layers.

    Args:
        arch: a stage config, ``{"stages": [{"n_layers": k, ...}, ...]}`` (the ``cnn`` form).
        stage_bits: one entry per stage, then one for the classifier.
        field: the name errors give the policy.

    Raises:
        ConfigError: for an arch without stages or a policy of the wrong length.
    """
    stages = arch.get("stages") if isinstance(arch, Mapping) else None
    counts = [s.get("n_layers") if isinstance(s, Mapping) else None for s in stages or ()]
    if not _is_list(stages) or not counts or not all(isinstance(c, int) for c in counts):
        raise ConfigError(
            f"arch: {field} needs a stage config {{'stages': [{{'n_layers': ...}}, ...]}}, "
            f"got {arch!r}"
        )
    if not _is_list(stage_bits) or len(stage_bits) != len(counts) + 1:
        got = f"{len(stage_bits)} entries" if _is_list(stage_bits) else repr(stage_bits)
        raise ConfigError(
            f"{field}: expected {len(counts) + 1} entries (one per stage, then the "
            f"classifier), got {got}"
        )
    per_layer = [b for n, b in zip(counts, stage_bits, strict=False) for _ in range(int(n or 0))]
    return [*per_layer, stage_bits[-1]]
