"""Encodings of configs as tensors: one-hot genomes for any flat categorical space, op
codes on the edges of a cell DAG for the graph predictors.

Example:
    >>> from archsearch.spaces import nb201_space
    >>> from archsearch.spaces.nb201 import cell_from_index
    >>> OneHotEncoder(nb201_space()).encode([cell_from_index(1)]).shape
    torch.Size([1, 30])
    >>> NB201_CELL.encode([cell_from_index(1)]).tolist()
    [[0, 0, 0, 0, 0, 1]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from archsearch.errors import ConfigError
from archsearch.space import Space
from archsearch.spaces.nb201 import EDGE_NODES, EDGES, OPS

__all__ = ["NB201_CELL", "CellEncoder", "OneHotEncoder"]


class OneHotEncoder:
    """Concatenated one-hot vectors of a config's decisions (its genome).

    For NB201 this is the adjacency encoding: one block of ``len(OPS)`` per edge of
    the upper-triangular adjacency matrix, marking the op on that edge. Works for any
    space whose configs all have the same categorical (``Choice`` / ``Int``) decisions.

    Args:
        space: the search space.

    Raises:
        ConfigError: when the space has a ``Real`` decision or conditional parts.
    """

    def __init__(self, space: Space) -> None:
        genome = space.genome(space.sample(seed=0))
        for gene in genome:
            if gene.n_options is None:
                raise ConfigError(
                    f"{gene.path}: a Real decision cannot be one-hot encoded; allowed: "
                    "spaces of Choice and Int decisions"
                )
        self.space = space
        self.paths = [gene.path for gene in genome]
        self.sizes = [int(gene.n_options or 0) for gene in genome]
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.dim = sum(self.sizes)

    def indices(self, config: Any) -> list[int]:
        """Positions of the ones in the encoding of ``config``."""
        genome = self.space.genome(config)
        if [gene.path for gene in genome] != self.paths:
            raise ConfigError(
                f"config: decisions {[g.path for g in genome]} differ from the space's "
                f"{self.paths}; one-hot encoding needs a flat space"
            )
        return [
            offset + int(gene.index) for offset, gene in zip(self.offsets, genome, strict=True)
        ]

    def encode(self, configs: Sequence[Any]) -> torch.Tensor:
        """``(N, dim)`` float32 one-hot rows."""
        out = torch.zeros(len(configs), self.dim)
        rows = [i for i, config in enumerate(configs) for _ in self.paths]
        cols = [j for config in configs for j in self.indices(config)]
        out[rows, cols] = 1.0
        return out


@dataclass(frozen=True)
class CellEncoder:
    """A cell DAG with an operation on each edge (NB201-style), as op codes per edge.

    Node 0 is the cell input and node ``n_nodes - 1`` its output; edge ``k`` runs
    ``edge_nodes[k] = (i, j)`` with ``i < j`` and carries ``config[edges[k]]``, one of
    ``ops``. ``zero_op`` names the op that passes nothing (NB201's ``none``).
    """

    edges: tuple[str, ...]
    edge_nodes: tuple[tuple[int, int], ...]
    ops: tuple[str, ...]
    n_nodes: int
    zero_op: str | None = "none"
    _codes: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.edges) != len(self.edge_nodes):
            raise ConfigError(f"edges: {len(self.edges)} names for {len(self.edge_nodes)} edges")
        for k, (i, j) in enumerate(self.edge_nodes):
            if not 0 <= i < j < self.n_nodes:
                raise ConfigError(
                    f"edge_nodes[{k}]: need 0 <= i < j < {self.n_nodes}, got {(i, j)}"
                )
        object.__setattr__(self, "_codes", {op: c for c, op in enumerate(self.ops)})

    @property
    def zero_code(self) -> int:
        """The code of ``zero_op`` (-1 when every op passes information)."""
        return self._codes.get(self.zero_op, -1) if self.zero_op is not None else -1

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """``(N, n_edges)`` int64 op codes.

        Raises:
            ConfigError: naming the edge and the allowed ops for an unknown op.
        """
        codes = self._codes
        try:
            rows = [[codes[config[edge]] for edge in self.edges] for config in configs]
        except (KeyError, TypeError):
            for config in configs:
                for edge in self.edges:
                    op = config.get(edge) if isinstance(config, Mapping) else None
                    if op not in codes:
                        raise ConfigError(
                            f"{edge}: unknown op {op!r}; allowed: {', '.join(self.ops)}"
                        ) from None
            raise
        return torch.tensor(rows, dtype=torch.int64).reshape(len(configs), len(self.edges))


#: the NAS-Bench-201 cell: 4 nodes, 6 edges, 5 ops
NB201_CELL = CellEncoder(EDGES, EDGE_NODES, OPS, n_nodes=4)
