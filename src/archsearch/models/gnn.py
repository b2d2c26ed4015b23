"""Graph neural networks from a :mod:`~archsearch.spaces.gnn` config, in plain torch.

Input: a batch of dense padded graphs, one tensor ``(B, n_nodes, n_nodes + 1 +
n_features)`` a sample: ``[adjacency | mask | features]`` (see
:mod:`archsearch.data._graphs`). A uint8 tensor is read as fixed point (value / 255,
as images are), a float one as it is; an entry above 0.5 in the adjacency or the mask
is an edge or a real node. Each real node gets a self loop; edges to or from padding
are dropped, so padding nodes never reach a real one.

Each layer computes messages ``m = W h`` per head, weighs the neighbours ``j`` of each
node ``i`` by its attention ``a_ij`` (dense ``(B, heads, N, N)``, zero off the
graph), aggregates ``a_ij m_j`` by sum (one batched matmul), mean (divided by the
degree) or max (masked), concatenates the heads, adds a bias, then the optional
per-node LayerNorm and the activation; padding rows are zeroed after every layer.
A softmax over neighbours fills non-edges with the dtype's lowest value rather than
``-inf``, so a padding row (no neighbour at all) gives finite zeros, not NaN, in
fp32 and in bf16 autocast. The readout (sum, mean or max over real nodes) feeds one
linear classifier. Every step is permutation-equivariant and ignores padding, so
the logits do not depend on the node order or on how much padding there is.

Example:
    >>> import torch
    >>> from archsearch.spaces.gnn import gnn_space
    >>> _ = torch.manual_seed(0)
    >>> model = gnn_model(gnn_space().sample(seed=0), n_nodes=5, n_features=3)
    >>> x = torch.zeros(2, 5, 5 + 1 + 3)
    >>> x[:, :3, 5] = 1.0  # three real nodes, no edges but the self loops
    >>> model(x).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models._ops import check_positive
from archsearch.models._registry import MODELS
from archsearch.spaces.gnn import (
    GNN_ACTIVATIONS,
    GNN_AGGREGATIONS,
    GNN_ATTENTIONS,
    GNN_NORMS,
    GNN_READOUTS,
    GNN_SKIPS,
    LAYER_FIELDS,
    MAX_GNN_LAYERS,
    layer_key,
)

__all__ = ["GNN", "GraphLayer", "check_gnn_config", "gnn_model", "unpack_graphs"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "relu6": nn.ReLU6,
    "linear": nn.Identity,
}
_SOFTMAX = ("gat", "sym_gat", "dot", "cos")


def unpack_graphs(
    x: torch.Tensor, n_nodes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(adjacency, mask, features)`` of packed graphs ``(B, N, N + 1 + F)``.

    The adjacency ``(B, N, N)`` and the mask ``(B, N)`` are 0/1 in the features' dtype;
    the adjacency has self loops on real nodes and no edge touching padding.
    """
    if not x.is_floating_point():
        x = x.float() / 255.0
    mask = (x[..., n_nodes] > 0.5).to(x.dtype)
    pair = mask[:, :, None] * mask[:, None, :]
    eye = torch.eye(n_nodes, dtype=x.dtype, device=x.device)
    adj = torch.maximum((x[..., :n_nodes] > 0.5).to(x.dtype), eye) * pair
    return adj, mask, x[..., n_nodes + 1 :]


def _lowest(t: torch.Tensor) -> float:
    return float(torch.finfo(t.dtype).min)


def _wide(t: torch.Tensor) -> torch.Tensor:
    """``t`` in at least fp32 (bf16/fp16 under autocast are widened, fp64 is kept)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


class GraphLayer(nn.Module):
    """One message-passing layer: attention, aggregation, heads, norm, activation.

    Args:
        c_in: input size per node.
        attention, aggregation, activation: names from :mod:`archsearch.spaces.gnn`.
        heads: attention heads (outputs concatenated).
        hidden: output size per head.
        norm: ``layer`` for a per-node LayerNorm before the activation, or ``none``.
    """

    def __init__(
        self,
        c_in: int,
        *,
        attention: str,
        aggregation: str,
        heads: int,
        hidden: int,
        activation: str,
        norm: str = "none",
    ) -> None:
        super().__init__()
        self.attention, self.aggregation = attention, aggregation
        self.heads, self.hidden = heads, hidden
        self.width = heads * hidden
        self.lin = nn.Linear(c_in, self.width, bias=False)
        self.bias = nn.Parameter(torch.zeros(self.width))
        if attention in ("gat", "sym_gat"):
            self.att_l = nn.Parameter(torch.empty(heads, hidden))
            self.att_r = nn.Parameter(torch.empty(heads, hidden))
            bound = math.sqrt(6.0 / (hidden + 1))  # glorot, as GAT
            nn.init.uniform_(self.att_l, -bound, bound)
            nn.init.uniform_(self.att_r, -bound, bound)
        if attention == "cos":
            self.scale = nn.Parameter(torch.full((heads,), 5.0))  # cosines in [-5, 5] first
        self.norm = nn.LayerNorm(self.width) if norm == "layer" else nn.Identity()
        self.act = _ACTIVATIONS[activation]()

    def forward(self, h: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, _ = h.shape
        m = self.lin(h).view(b, n, self.heads, self.hidden).transpose(1, 2)  # (B, H, N, D)
        weights = self._weights(m, adj)  # (B, H or 1, N, N), zero off the graph
        if self.aggregation == "max":
            msgs = weights[..., None] * m[:, :, None, :, :]  # (B, H, N, N, D)
            # an additive mask and max() (a scatter backward) are twice as fast as
            # masked_fill and amax(); half the lowest value cannot overflow to -inf
            off = (adj - 1.0).to(msgs.dtype) * (-_lowest(msgs) / 2)
            out = (msgs + off[:, None, :, :, None]).max(dim=3).values
            out = torch.where(mask[:, None, :, None] > 0, out, torch.zeros_like(out))
        else:
            out = torch.matmul(weights.to(m.dtype), m)
            if self.aggregation == "mean":
                out = out / adj.sum(-1).clamp(min=1.0)[:, None, :, None].to(out.dtype)
        out = out.transpose(1, 2).reshape(b, n, self.width) + self.bias
        out = self.act(self.norm(out))
        masked: torch.Tensor = out * mask[..., None].to(out.dtype)
        return masked

    def _weights(self, m: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        if self.attention == "const":
            return adj[:, None]
        if self.attention == "gcn":
            d = adj.sum(-1).clamp(min=1.0).rsqrt()
            return (adj * d[:, :, None] * d[:, None, :])[:, None]
        if self.attention in ("gat", "sym_gat"):
            left = (m * self.att_l[:, None, :]).sum(-1)  # (B, H, N)
            right = (m * self.att_r[:, None, :]).sum(-1)
            scores = F.leaky_relu(left[..., :, None] + right[..., None, :], 0.2)
            if self.attention == "sym_gat":
                scores = scores + scores.transpose(-1, -2)
        elif self.attention == "dot":
            scores = torch.matmul(m, m.transpose(-1, -2)) / math.sqrt(self.hidden)
        else:  # cos
            unit = F.normalize(_wide(m), dim=-1)
            scores = torch.matmul(unit, unit.transpose(-1, -2)) * self.scale[:, None, None]
        edge = adj[:, None] > 0
        scores = _wide(scores)
        scores = scores.masked_fill(~edge, _lowest(scores))
        return torch.softmax(scores, dim=-1) * adj[:, None]  # a padding row: all zero


class GNN(nn.Module):
    """Graph layers, a skip scheme, a masked readout and a linear classifier.

    Args:
        layers: checked layer configs (see :func:`check_gnn_config`).
        skip: ``none``, ``residual`` or ``jk``.
        norm: ``none`` or ``layer``.
        readout: ``sum``, ``mean`` or ``max``.
        n_nodes: nodes per padded graph.
        n_features: features per node.
        n_classes: classifier outputs.
    """

    def __init__(
        self,
        layers: list[dict[str, Any]],
        *,
        skip: str,
        norm: str,
        readout: str,
        n_nodes: int,
        n_features: int,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        self.n_nodes, self.n_features = n_nodes, n_features
        self.skip, self.readout = skip, readout
        built: list[GraphLayer] = []
        projections: list[nn.Module] = []
        c = n_features
        for layer in layers:
            built.append(GraphLayer(c, norm=norm, **layer))
            width = built[-1].width
            projections.append(nn.Identity() if c == width else nn.Linear(c, width, bias=False))
            c = width
        self.layers = nn.ModuleList(built)
        self.projections = nn.ModuleList(projections) if skip == "residual" else None
        out = sum(layer.width for layer in built) if skip == "jk" else c
        self.classifier = nn.Linear(out, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n_nodes
        if x.ndim != 3 or tuple(x.shape[1:]) != (n, n + 1 + self.n_features):
            raise ConfigError(
                f"input: expected packed graphs (B, {n}, {n + 1 + self.n_features}) "
                f"[adjacency | mask | features], got {tuple(x.shape)}"
            )
        adj, mask, h = unpack_graphs(x, n)
        outputs = []
        for i, layer in enumerate(self.layers):
            new = layer(h, adj, mask)
            if self.projections is not None:
                new = new + self.projections[i](h) * mask[..., None].to(new.dtype)
            h = new
            outputs.append(h)
        if self.skip == "jk":
            h = torch.cat(outputs, dim=-1)
        logits: torch.Tensor = self.classifier(self._readout(h, mask))
        return logits

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """Full graphs (every node present, all pairs adjacent): the dense cost measured.

        ``CostEvaluator(space="gnn", input_shape=None, ...)`` measures on this batch.
        """
        n, f = self.n_nodes, self.n_features
        adjacency = torch.ones(n, n)
        mask = torch.ones(n, 1)
        features = torch.linspace(0.0, 1.0, n * f).reshape(n, f)
        return torch.cat([adjacency, mask, features], dim=1).repeat(batch_size, 1, 1)

    def _readout(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask[..., None].to(h.dtype)
        if self.readout == "max":
            found = h.masked_fill(keep == 0, _lowest(h)).amax(dim=1)
            return torch.where(mask.sum(1, keepdim=True) > 0, found, torch.zeros_like(found))
        total = (h * keep).sum(dim=1)
        if self.readout == "mean":
            return total / mask.sum(1, keepdim=True).clamp(min=1.0).to(total.dtype)
        return total


def _check_choice(path: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{path}: unknown {value!r}; allowed: {', '.join(map(str, allowed))}")


def check_gnn_config(config: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The layers and the global choices of a GNN config, checked.

    Any positive head counts and hidden sizes are accepted (not only the default
    space's), so that a space with other options builds too.

    Returns:
        ``(layers, {"skip", "norm", "readout"})``.

    Raises:
        ConfigError: naming the path of the first bad field (``layer_2.attention``).
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config: expected a mapping, got {config!r}")
    n_layers = config.get("n_layers")
    if (
        not isinstance(n_layers, int)
        or isinstance(n_layers, bool)
        or not (1 <= n_layers <= MAX_GNN_LAYERS)
    ):
        raise ConfigError(
            f"n_layers: must be an integer in [1, {MAX_GNN_LAYERS}], got {n_layers!r}"
        )
    layers = []
    for i in range(1, n_layers + 1):
        key = layer_key(i)
        layer = config.get(key)
        if not isinstance(layer, Mapping) or set(layer) != set(LAYER_FIELDS):
            raise ConfigError(
                f"{key}: expected the fields {', '.join(LAYER_FIELDS)}, got {layer!r}"
            )
        _check_choice(f"{key}.attention", layer["attention"], GNN_ATTENTIONS)
        _check_choice(f"{key}.aggregation", layer["aggregation"], GNN_AGGREGATIONS)
        _check_choice(f"{key}.activation", layer["activation"], GNN_ACTIVATIONS)
        for name in ("heads", "hidden"):
            value = layer[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}.{name}: must be an integer >= 1, got {value!r}")
        layers.append({name: layer[name] for name in LAYER_FIELDS})
    known = {"n_layers", "skip", "norm", "readout", *map(layer_key, range(1, n_layers + 1))}
    extra = [k for k in config if k not in known]
    if extra:
        raise ConfigError(
            f"{extra[0]}: unexpected key (n_layers is {n_layers}); "
            f"allowed: {', '.join(sorted(known))}"
        )
    globals_ = {}
    for name, allowed in (("skip", GNN_SKIPS), ("norm", GNN_NORMS), ("readout", GNN_READOUTS)):
        _check_choice(name, config.get(name), allowed)
        globals_[name] = str(config[name])
    return layers, globals_


@MODELS.register("gnn")
def gnn_model(
    config: Mapping[str, Any], *, n_nodes: int, n_features: int, n_classes: int = 10
) -> GNN:
    """The network of a :func:`~archsearch.spaces.gnn.gnn_space` config.

    Args:
        config: see :mod:`archsearch.spaces.gnn`.
        n_nodes: nodes per padded graph (the data's ``model_options``).
        n_features: features per node (idem).
        n_classes: classifier outputs.

    Raises:
        ConfigError: for an invalid config or option, naming the field.
    """
    check_positive(n_nodes=n_nodes, n_features=n_features, n_classes=n_classes)
    layers, options = check_gnn_config(config)
    return GNN(layers, n_nodes=n_nodes, n_features=n_features, n_classes=n_classes, **options)
