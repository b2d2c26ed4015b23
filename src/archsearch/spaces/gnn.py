"""A graph neural network space in the manner of GraphNAS / Auto-GNN.

Per message-passing layer, as GraphNAS (Gao et al., 2020) and Auto-GNN (Zhou et al.,
2019): the attention that weighs each neighbour, the aggregation of the weighted
messages, the number of heads, the hidden size per head and the activation. The
number of layers is a decision too, and the later layers exist only where it allows
(``when``), so a mutation of the depth keeps the layers that stay. Around the layers:
the skip connection, a per-node normalisation and the graph readout::

    {"n_layers": 2,
     "layer_1": {"attention": "gat", "aggregation": "sum", "heads": 2, "hidden": 16,
                 "activation": "elu"},
     "layer_2": {...},
     "skip": "residual", "norm": "layer", "readout": "mean"}

Attention (as GraphNAS' names, on messages ``m = W h`` of each head): ``const`` (every
neighbour 1), ``gcn`` (``1 / sqrt(d_i d_j)``), ``gat`` (softmax of
``leaky_relu(a_l m_i + a_r m_j)``), ``sym_gat`` (the GAT score of both directions
summed), ``dot`` (softmax of ``m_i . m_j / sqrt(d)``), ``cos`` (softmax of a learnt
scale times the cosine of ``m_i`` and ``m_j``). Aggregation: ``sum``, ``mean``
(over the neighbours, self included) or ``max`` of the weighted messages.
:mod:`archsearch.models.gnn` builds the network.

Example:
    >>> space = gnn_space()
    >>> config = space.sample(seed=0)
    >>> sorted(config["layer_1"])
    ['activation', 'aggregation', 'attention', 'heads', 'hidden']
    >>> len([k for k in config if k.startswith("layer_")]) == config["n_layers"]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Int, Space, when

__all__ = [
    "GNN_ACTIVATIONS",
    "GNN_AGGREGATIONS",
    "GNN_ATTENTIONS",
    "GNN_HEADS",
    "GNN_HIDDEN",
    "GNN_NORMS",
    "GNN_READOUTS",
    "GNN_SKIPS",
    "LAYER_FIELDS",
    "MAX_GNN_LAYERS",
    "gnn_space",
    "layer_key",
]

#: neighbour weights (GraphNAS' attention functions, ``generalized_linear`` left out)
GNN_ATTENTIONS: tuple[str, ...] = ("const", "gcn", "gat", "sym_gat", "dot", "cos")
#: how the weighted messages of the neighbours are combined
GNN_AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "max")
#: GraphNAS' activations
GNN_ACTIVATIONS: tuple[str, ...] = (
    "relu", "elu", "leaky_relu", "tanh", "sigmoid", "softplus", "relu6", "linear",
)  # fmt: skip
#: attention heads per layer (their outputs are concatenated)
GNN_HEADS: tuple[int, ...] = (1, 2, 4)
#: output size of each head (GraphNAS goes to 256; kept small for CPU training)
GNN_HIDDEN: tuple[int, ...] = (8, 16, 32)
#: ``none``, ``residual`` (each layer adds its input, projected when the width changes)
#: or ``jk`` (jumping knowledge: the readout reads every layer's output, concatenated)
GNN_SKIPS: tuple[str, ...] = ("none", "residual", "jk")
#: per-node normalisation of each layer's output, before the activation
GNN_NORMS: tuple[str, ...] = ("none", "layer")
#: how node states become the graph's (padding nodes excluded)
GNN_READOUTS: tuple[str, ...] = ("sum", "mean", "max")
#: the most layers
MAX_GNN_LAYERS = 6
#: the decisions of one layer
LAYER_FIELDS = ("attention", "aggregation", "heads", "hidden", "activation")


def layer_key(i: int) -> str:
    """The config key of layer ``i`` (counted from 1): ``layer_1``, ``layer_2``, ..."""
    return f"layer_{i}"


def _check_options(name: str, values: Sequence[Any], allowed: Sequence[Any] | None) -> list[Any]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ConfigError(f"{name}: expected a non-empty list, got {values!r}")
    for i, v in enumerate(values):
        if allowed is None:
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name}[{i}]: must be a positive integer, got {v!r}")
        elif v not in allowed:
            raise ConfigError(
                f"{name}[{i}]: unknown {v!r}; allowed: {', '.join(map(str, allowed))}"
            )
    return list(values)


@SPACES.register("gnn")
def gnn_space(
    *,
    min_layers: int = 1,
    max_layers: int = 4,
    attentions: Sequence[str] = GNN_ATTENTIONS,
    aggregations: Sequence[str] = GNN_AGGREGATIONS,
    activations: Sequence[str] = GNN_ACTIVATIONS,
    heads: Sequence[int] = GNN_HEADS,
    hidden: Sequence[int] = GNN_HIDDEN,
    skips: Sequence[str] = GNN_SKIPS,
    norms: Sequence[str] = GNN_NORMS,
    readouts: Sequence[str] = GNN_READOUTS,
) -> Space:
    """The GNN space: depth, per layer attention/aggregation/heads/hidden/activation,
    and the skip connection, normalisation and readout.

    Args:
        min_layers: fewest message-passing layers (>= 1).
        max_layers: most layers (<= :data:`MAX_GNN_LAYERS`).
        attentions, aggregations, activations, skips, norms, readouts: the allowed
            options, subsets of the module's lists (e.g. ``attentions=["const"]``).
        heads, hidden: allowed head counts and per-head sizes (positive integers).

    Raises:
        ConfigError: naming the option that is out of range.
    """
    if not (
        isinstance(min_layers, int)
        and isinstance(max_layers, int)
        and 1 <= min_layers <= max_layers <= MAX_GNN_LAYERS
    ):
        raise ConfigError(
            f"min_layers, max_layers: must satisfy 1 <= min <= max <= {MAX_GNN_LAYERS}, "
            f"got {min_layers!r}, {max_layers!r}"
        )
    layer = {
        "attention": Choice(_check_options("attentions", attentions, GNN_ATTENTIONS)),
        "aggregation": Choice(_check_options("aggregations", aggregations, GNN_AGGREGATIONS)),
        "heads": Choice(_check_options("heads", heads, None)),
        "hidden": Choice(_check_options("hidden", hidden, None)),
        "activation": Choice(_check_options("activations", activations, GNN_ACTIVATIONS)),
    }
    spec: dict[str, Any] = {"n_layers": Int(min_layers, max_layers)}
    for i in range(1, max_layers + 1):
        deep_enough = list(range(max(i, min_layers), max_layers + 1))
        spec[layer_key(i)] = (
            dict(layer) if i <= min_layers else when(dict(layer), n_layers=deep_enough)
        )
    spec["skip"] = Choice(_check_options("skips", skips, GNN_SKIPS))
    spec["norm"] = Choice(_check_options("norms", norms, GNN_NORMS))
    spec["readout"] = Choice(_check_options("readouts", readouts, GNN_READOUTS))
    return Space(spec, name="gnn")
