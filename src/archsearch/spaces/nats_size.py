"""The NATS-Bench size search space (Dong et al., TPAMI 2021), ``S_s``.

The network is NB201's skeleton with one cell per stage, so it has five layers
(cell, reduction block, cell, reduction block, cell); each layer's channel count is
chosen from {8, 16, ..., 64}: 8**5 = 32,768 configs. A config lists the five counts
(the first is also the stem's)::

    {"channels": [8, 16, 24, 32, 64]}

and converts to and from NATS's ``"8:16:24:32:64"`` string. The cell topology is
fixed; :mod:`archsearch.models.nats_size` builds the network.

Example:
    >>> space = nats_size_space()
    >>> space.size
    32768
    >>> to_size_str({"channels": [64, 64, 64, 64, 64]})
    '64:64:64:64:64'
    >>> from_size_str("8:16:24:32:64")
    {'channels': [8, 16, 24, 32, 64]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Space

__all__ = ["CHANNELS", "N_LAYERS", "from_size_str", "nats_size_space", "to_size_str"]

#: channel counts allowed in every layer (NATS-Bench, Sec. 3.1)
CHANNELS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
#: layers whose channels are searched: 3 stages of 1 cell and the 2 reduction blocks
N_LAYERS = 5


@SPACES.register("nats_size")
def nats_size_space() -> Space:
    """The NATS-Bench size space: five channel counts from :data:`CHANNELS`."""
    return Space({"channels": [Choice(list(CHANNELS)) for _ in range(N_LAYERS)]}, name="nats_size")


def to_size_str(config: Mapping[str, Any]) -> str:
    """NATS's ``"c1:c2:c3:c4:c5"`` string of a (checked) config.

    Raises:
        ConfigError: naming the bad layer and the allowed counts.
    """
    checked = nats_size_space().validate(config)
    return ":".join(str(c) for c in checked["channels"])


def from_size_str(text: str) -> dict[str, list[int]]:
    """Parse NATS's ``"c1:c2:c3:c4:c5"`` string into a config.

    Raises:
        ConfigError: when the string does not hold five allowed counts.
    """
    parts = text.strip().split(":") if isinstance(text, str) else []
    if len(parts) != N_LAYERS or not all(p.isdigit() for p in parts):
        raise ConfigError(f"size: expected {N_LAYERS} counts joined by ':', got {text!r}")
    config = {"channels": [int(p) for p in parts]}
    nats_size_space().validate(config)
    return config
