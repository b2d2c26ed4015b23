"""Small torch networks that map encoded architectures to a score.

Each has ``embed(inputs) -> (N, dim)`` (the fixed-size architecture encoding) and
``forward(inputs) -> (N,)`` (an MLP head on the encoding).

* :class:`MLPNet`: the one-hot (adjacency) encoding itself, through the head.
* :class:`GCNNet`: Kipf & Welling graph convolutions on the cell as an op-on-node DAG.
* :class:`GATESNet`: GATES (Ning et al., ECCV 2020): information flows through the
  cell in topological order and each operation acts as a soft attention mask on it.
"""

from __future__ import annotations

import torch
from torch import nn

from archsearch.predictors._encoding import CellEncoder

__all__ = ["GATESNet", "GCNNet", "MLPNet"]


def _head(dim: int, width: int = 200, dropout: float = 0.1) -> nn.Sequential:
    """Two hidden ReLU layers of 200 with dropout 0.1: GATES' scoring MLP (Ning et al., 2020)."""
    return nn.Sequential(
        nn.Linear(dim, width),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, 1),
    )


class MLPNet(nn.Module):
    """An MLP on a flat encoding (e.g. one-hot): ``layers - 1`` ReLU layers, then the head."""

    def __init__(self, in_dim: int, *, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        body: list[nn.Module] = []
        for k in range(layers - 1):
            body += [nn.Linear(in_dim if k == 0 else hidden, hidden), nn.ReLU()]
        self.body = nn.Sequential(*body)
        self.dim = hidden if layers > 1 else in_dim
        self.head = _head(self.dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.embed(x))
        return out.squeeze(-1)


class GCNNet(nn.Module):
    """Graph convolutions (Kipf & Welling, ICLR 2017) on the cell's op-on-node graph.

    Every edge of the cell becomes a node carrying its op (one-hot), between an input
    and an output node; an edge-node feeds every edge-node leaving the cell node it
    ends in. Edges with the zero op are cut out of the graph. Layers compute
    ``H' = ReLU(A_hat H W)`` with ``A_hat = D^-1/2 (A + A^T + I) D^-1/2``; the
    encoding is the mean over the graph's nodes.
    """

    def __init__(self, cell: CellEncoder, *, hidden: int = 64, layers: int = 3) -> None:
        super().__init__()
        n_edges = len(cell.edge_nodes)
        n = n_edges + 2  # input node, edge-nodes, output node
        template = torch.zeros(n, n)
        for k, (i, j) in enumerate(cell.edge_nodes):
            if i == 0:
                template[0, k + 1] = 1.0
            if j == cell.n_nodes - 1:
                template[k + 1, n - 1] = 1.0
            for m, (i2, _) in enumerate(cell.edge_nodes):
                if i2 == j:
                    template[k + 1, m + 1] = 1.0
        self.template: torch.Tensor
        self.register_buffer("template", template)
        self.zero_code = cell.zero_code
        self.n_features = len(cell.ops) + 2  # ops, "input", "output"
        dims = [self.n_features] + [hidden] * layers
        self.convs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:], strict=False))
        self.dim = hidden
        self.head = _head(hidden)

    def _graph(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Node features ``(N, V, F)`` and normalised adjacency ``(N, V, V)``."""
        n_batch, n_edges = codes.shape
        ends = torch.full((n_batch, 1), self.n_features - 2, dtype=codes.dtype)
        labels = torch.cat([ends, codes, ends + 1], dim=1)
        features = nn.functional.one_hot(labels, self.n_features).float()
        keep = torch.ones(n_batch, n_edges + 2)
        keep[:, 1:-1] = (codes != self.zero_code).float()
        adj = self.template * keep[:, :, None] * keep[:, None, :]
        adj = adj + adj.transpose(1, 2) + torch.eye(n_edges + 2)
        norm = adj.sum(-1).rsqrt()
        return features, norm[:, :, None] * adj * norm[:, None, :]

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        h, adj = self._graph(codes)
        for conv in self.convs:
            h = torch.relu(adj @ conv(h))
        return h.mean(dim=1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.embed(codes))
        return out.squeeze(-1)


class GATESNet(nn.Module):
    """GATES: operations as attention masks on information flowing through the cell.

    Within one layer, node 0 holds the incoming information and node ``j`` gathers
    ``sum_i sigmoid(A e(op_ij)) * (W h_i)`` over its inputs ``i < j`` in topological
    order; the zero op passes nothing. Layers are stacked like cells: the output
    node's state of one layer is the input of the next, starting from a learned
    vector, and the output node's state of the last layer is the encoding.

    Args:
        cell: the cell layout and op vocabulary.
        op_dim: size of the op embeddings.
        hidden: size of the information vectors.
        layers: stacked GATES layers.
    """

    def __init__(
        self, cell: CellEncoder, *, op_dim: int = 48, hidden: int = 64, layers: int = 1
    ) -> None:
        super().__init__()
        self.edge_nodes = cell.edge_nodes
        self.n_nodes = cell.n_nodes
        self.zero_code = cell.zero_code
        self.op_embedding = nn.Embedding(len(cell.ops), op_dim)
        self.start = nn.Parameter(torch.randn(hidden) / hidden**0.5)
        self.transforms = nn.ModuleList(
            nn.Linear(hidden, hidden, bias=False) for _ in range(layers)
        )
        self.attention = nn.ModuleList(nn.Linear(op_dim, hidden) for _ in range(layers))
        self.dim = hidden
        self.head = _head(hidden)

    def _layer(self, x: torch.Tensor, masks: torch.Tensor, transform: nn.Module) -> torch.Tensor:
        nodes = [x]
        moved: dict[int, torch.Tensor] = {}
        for j in range(1, self.n_nodes):
            total = torch.zeros_like(x)
            for k, (i, target) in enumerate(self.edge_nodes):
                if target == j:
                    if i not in moved:
                        moved[i] = transform(nodes[i])
                    total = total + masks[:, k] * moved[i]
            nodes.append(total)
        return nodes[-1]

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        ops = self.op_embedding(codes)  # (N, E, op_dim)
        passes = (codes != self.zero_code).float()[:, :, None]
        x = self.start.expand(len(codes), -1)
        for transform, attention in zip(self.transforms, self.attention, strict=True):
            masks = torch.sigmoid(attention(ops)) * passes  # (N, E, hidden)
            x = self._layer(x, masks, transform)
        return x

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.embed(codes))
        return out.squeeze(-1)
