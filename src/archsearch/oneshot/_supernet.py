"""Supernets derived from a cell space: one mixed operation per edge, weights shared.

A :class:`CellSpace` (:class:`NB201Cells`, :class:`DartsCells`) says what a one-shot
search needs of a space: its edges and op names, how to build the weight-sharing
network on the project's skeleton (NB201's ``TinyNetwork``, DARTS' ``NetworkCIFAR``)
with the project's op modules, how to read a config off architecture weights, and
which op each edge runs for a config. The network's forward takes a *route*: a
callable ``route(edge, mixed_op, x)`` that decides what each edge computes (a softmax
mixture, one sampled op, a hard Gumbel sample, a binarised pair), so every method
uses the same network.

Batch norm in a supernet uses batch statistics always (``track_running_stats`` off,
as XAutoDL's NB201 search models): an inherited architecture is evaluated without
statistics accumulated under other paths.

Example:
    >>> import torch
    >>> cells = NB201Cells()
    >>> net = cells.build(channels=4, n_cells=1, in_channels=1, n_classes=10)
    >>> route = lambda edge, op, x: op.single(x, 3)   # nor_conv_3x3 everywhere
    >>> net(torch.randn(2, 1, 8, 8), route).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models._ops import ReLUConvBN, Zero, check_positive
from archsearch.models.darts import FactorizedReduce, darts_skeleton
from archsearch.models.darts import _make_op as _darts_op
from archsearch.models.nb201 import ResNetBasicBlock
from archsearch.models.nb201 import _make_op as _nb201_op
from archsearch.space import Space
from archsearch.spaces import darts as darts_spaces
from archsearch.spaces import nb201 as nb201_spaces

__all__ = [
    "CELL_SPACES",
    "CellSpace",
    "DartsCells",
    "MixedOp",
    "NB201Cells",
    "Route",
    "Supernet",
]


class MixedOp(nn.Module):
    """The candidate ops of one edge, with the ways a one-shot method combines them.

    Args:
        ops: the op modules, in the space's op order.
        partial: PC-DARTS' ``K``: only ``1/K`` of the channels go through the ops, the
            rest bypass them (pooled on a strided edge) and channels are shuffled after.
        stride: the edge's stride (2 on a reduction cell's input edges).
    """

    def __init__(self, ops: Sequence[nn.Module], *, partial: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.partial = partial
        # ceil_mode: an odd size halves as the strided ops do (7 -> 4)
        bypass = nn.MaxPool2d(2, 2, ceil_mode=True) if stride == 2 else nn.Identity()
        self.bypass: nn.Module = bypass
        self.n_runs = [0] * len(ops)  # forwards per op, for inspection and tests

    def _on_part(
        self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """``fn`` on the first ``1/partial`` channels; the rest bypass it (PC-DARTS)."""
        if self.partial == 1:
            return fn(x)
        k = x.shape[1] // self.partial
        out = torch.cat([fn(x[:, :k]), self.bypass(x[:, k:])], dim=1)
        return _channel_shuffle(out, self.partial)

    def _run(self, k: int, x: torch.Tensor) -> torch.Tensor:
        self.n_runs[k] += 1
        out: torch.Tensor = self.ops[k](x)
        return out

    def mix(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum_k w_k op_k(x)`` over every op (DARTS, PC-DARTS, SETN's joint mode)."""

        def fn(h: torch.Tensor) -> torch.Tensor:
            return _sum(w * self._run(k, h) for k, w in enumerate(weights))

        return self._on_part(x, fn)

    def single(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Op ``index`` alone (single-path methods: RSPS, SPOS, ENAS, SETN)."""
        return self._on_part(x, lambda h: self._run(index, h))

    def hard(self, x: torch.Tensor, weights: torch.Tensor, index: int) -> torch.Tensor:
        """GDAS: ``w_index * op_index(x)`` plus the other weights as scalars.

        ``weights`` is a straight-through one-hot (1 at ``index``, 0 elsewhere in value),
        so only one op runs while every weight receives a gradient.
        """

        def fn(h: torch.Tensor) -> torch.Tensor:
            out = weights[index] * self._run(index, h)
            others = weights.sum() - weights[index]  # zero in value, not in gradient
            return out + others

        return self._on_part(x, fn)

    def binary(
        self, x: torch.Tensor, gates: torch.Tensor, index: int, others: Sequence[int]
    ) -> torch.Tensor:
        """ProxylessNAS path binarisation: op ``index`` runs with autograd; ops in
        ``others`` run without it, so only their outputs are held, not their activations.

        ``gates`` (one per op, straight-through binary) get ``dL/dg_k = <dL/dy, op_k(x)>``
        for the active and the other sampled paths: the gradient ProxylessNAS estimates
        from two sampled paths.
        """
        out = gates[index] * self._run(index, x)
        for k in others:
            with torch.no_grad():
                value = self._run(k, x)
            out = out + gates[k] * value
        return out


def _sum(terms: Any) -> torch.Tensor:
    out: torch.Tensor | None = None
    for term in terms:
        out = term if out is None else out + term
    assert out is not None
    return out


def _channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


#: what an edge computes: ``route(edge_index, mixed_op, x) -> tensor``
Route = Callable[[int, MixedOp, torch.Tensor], torch.Tensor]


class Supernet(nn.Module, abc.ABC):
    """A weight-sharing network whose edges follow a :data:`Route` given to forward.

    Attributes:
        node_edges: per intermediate node (of one cell type), the edge indices feeding
            it; PC-DARTS' edge normalisation weights the edges of a node.
    """

    node_edges: list[list[int]]

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, route: Route) -> torch.Tensor:
        """Logits of ``x`` with each edge computed by ``route``."""

    def mixed_ops(self) -> list[MixedOp]:
        """Every mixed op of the network."""
        return [m for m in self.modules() if isinstance(m, MixedOp)]


def _no_running_stats(net: nn.Module) -> None:
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None


# -- cell spaces ----------------------------------------------------------------------
class CellSpace(abc.ABC):
    """What a one-shot search needs of a cell space.

    Attributes:
        name: the space's registry name.
        space: the :class:`~archsearch.space.Space` configs belong to.
        ops: op names, the columns of the architecture weights.
        edges: edge names, the rows (``normal/...`` and ``reduce/...`` for DARTS).
        node_edges: per intermediate node, the rows of the edges feeding it.
    """

    name: str
    space: Space
    ops: tuple[str, ...]
    edges: tuple[str, ...]
    node_edges: list[list[int]]

    @abc.abstractmethod
    def build(self, *, partial: int = 1, **options: Any) -> Supernet:
        """The supernet on this space's skeleton (options as the space's model builder)."""

    @abc.abstractmethod
    def derive(self, weights: torch.Tensor, edge_weights: torch.Tensor | None = None) -> Any:
        """The config read off architecture weights ``(n_edges, n_ops)``.

        ``edge_weights`` (one per edge, PC-DARTS' normalisation) scale the op strengths
        when edges compete, as in DARTS' top-2 inputs per node.
        """

    @abc.abstractmethod
    def indices(self, config: Any) -> list[int]:
        """The op index each edge runs for ``config`` (``none`` for unused edges)."""

    @abc.abstractmethod
    def skip_count(self, config: Any) -> int:
        """Skip connections in the (normal) cell: what DARTS collapses onto."""

    @abc.abstractmethod
    def describe(self, config: Any) -> str:
        """A one-line form of the config (the NB201 string; the DARTS genotype)."""

    def sample(self, rng: random.Random) -> Any:
        """A uniformly random config of the space."""
        return self.space.sample(rng)

    def op_index(self, op: str) -> int:
        return self.ops.index(op)


class NB201Cells(CellSpace):
    """The NB201 cell space: a mixed op on each of the 6 edges of a 4-node cell."""

    name = "nb201"

    def __init__(self) -> None:
        self.space = nb201_spaces.nb201_space()
        self.ops = nb201_spaces.OPS
        self.edges = nb201_spaces.EDGES
        self.node_edges = [
            [e for e, (_, j) in enumerate(nb201_spaces.EDGE_NODES) if j == node]
            for node in (1, 2, 3)
        ]

    def build(self, *, partial: int = 1, **options: Any) -> Supernet:
        net = _NB201Supernet(self, partial=partial, **options)
        _no_running_stats(net)
        return net

    def derive(self, weights: torch.Tensor, edge_weights: torch.Tensor | None = None) -> Any:
        best = weights.argmax(dim=1).tolist()
        return {edge: self.ops[k] for edge, k in zip(self.edges, best, strict=True)}

    def indices(self, config: Any) -> list[int]:
        cell = self.space.validate(config)
        return [self.ops.index(cell[edge]) for edge in self.edges]

    def skip_count(self, config: Any) -> int:
        return sum(op == "skip_connect" for op in config.values())

    def describe(self, config: Any) -> str:
        return nb201_spaces.to_arch_str(config)


class _NB201SearchCell(nn.Module):
    def __init__(self, cells: NB201Cells, c: int, offset: int, partial: int) -> None:
        super().__init__()
        self.offset = offset
        self.mixed = nn.ModuleList()
        for _ in cells.edges:
            built = [_nb201_op(op, c // partial, c // partial) for op in cells.ops]
            ops = [Zero() if m is None else m for m in built]
            self.mixed.append(MixedOp(ops, partial=partial))
        self.node_edges = cells.node_edges

    def forward(self, x: torch.Tensor, route: Route) -> torch.Tensor:
        nodes = [x]
        for incoming in self.node_edges:
            terms = []
            for e in incoming:
                source = nb201_spaces.EDGE_NODES[e][0]
                op: MixedOp = self.mixed[e]  # type: ignore[assignment]
                terms.append(route(self.offset + e, op, nodes[source]))
            nodes.append(_sum(terms))
        return nodes[-1]


class _NB201Supernet(Supernet):
    """NB201's ``TinyNetwork`` with a search cell in place of each cell."""

    def __init__(
        self,
        cells: NB201Cells,
        *,
        partial: int = 1,
        channels: int = 16,
        n_cells: int = 5,
        in_channels: int = 3,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        check_positive(channels=channels, n_cells=n_cells, in_channels=in_channels)
        _check_partial(partial, channels)
        self.node_edges = cells.node_edges
        c = channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        )
        layers = [c] * n_cells + [2 * c] * (n_cells + 1) + [4 * c] * (n_cells + 1)
        self.cells = nn.ModuleList()
        c_prev = c
        for index, c_layer in enumerate(layers):
            if index in (n_cells, 2 * n_cells + 1):
                self.cells.append(ResNetBasicBlock(c_prev, c_layer))
            else:
                self.cells.append(_NB201SearchCell(cells, c_layer, 0, partial))
            c_prev = c_layer
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(c_prev, n_classes)

    def forward(self, x: torch.Tensor, route: Route) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x, route) if isinstance(block, _NB201SearchCell) else block(x)
        x = F.adaptive_avg_pool2d(self.lastact(x), 1)
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits


class DartsCells(CellSpace):
    """The DARTS space: normal and reduction cells, a mixed op on each of 14 edges.

    Edges are ``CELL/i->j`` for node ``j`` in 2..5 and input ``i < j``; rows 0..13 are
    the normal cell's, 14..27 the reduction cell's. A config keeps, per node, the two
    inputs whose strongest non-``none`` op is strongest, with that op (DARTS, Sec. 2.4).
    """

    name = "darts"

    def __init__(self) -> None:
        self.space = darts_spaces.darts_space()
        self.ops = darts_spaces.OPS
        self.pairs = [(i, j) for j in range(2, 2 + darts_spaces.N_NODES) for i in range(j)]
        cells = darts_spaces.CELLS
        self.edges = tuple(f"{cell}/{i}->{j}" for cell in cells for i, j in self.pairs)
        per_cell = len(self.pairs)
        self.node_edges = [
            [cell * per_cell + e for e, (_, j) in enumerate(self.pairs) if j == node]
            for cell in (0, 1)
            for node in range(2, 2 + darts_spaces.N_NODES)
        ]

    def build(self, *, partial: int = 1, **options: Any) -> Supernet:
        net = _DartsSupernet(self, partial=partial, **options)
        _no_running_stats(net)
        return net

    def derive(self, weights: torch.Tensor, edge_weights: torch.Tensor | None = None) -> Any:
        none = self.ops.index("none")
        strength = weights.detach().float().clone()
        strength[:, none] = -1.0
        if edge_weights is not None:
            strength = strength * edge_weights.detach().float()[:, None]
        per_cell = len(self.pairs)
        config: dict[str, Any] = {}
        for c, cell in enumerate(darts_spaces.CELLS):
            nodes = []
            for j in range(2, 2 + darts_spaces.N_NODES):
                rows = {i: c * per_cell + self.pairs.index((i, j)) for i in range(j)}
                best = sorted(rows, key=lambda i: -float(strength[rows[i]].max()))[:2]
                inputs = sorted(best)
                ops = [self.ops[int(strength[rows[i]].argmax())] for i in inputs]
                nodes.append({"inputs": inputs, "ops": ops})
            config[cell] = nodes
        return dict(self.space.validate(config))

    def indices(self, config: Any) -> list[int]:
        checked = self.space.validate(config)
        chosen = [self.ops.index("none")] * len(self.edges)
        per_cell = len(self.pairs)
        for c, cell in enumerate(darts_spaces.CELLS):
            for k, node in enumerate(checked[cell]):
                for i, op in zip(node["inputs"], node["ops"], strict=True):
                    chosen[c * per_cell + self.pairs.index((i, k + 2))] = self.ops.index(op)
        return chosen

    def skip_count(self, config: Any) -> int:
        return sum(op == "skip_connect" for node in config["normal"] for op in node["ops"])

    def describe(self, config: Any) -> str:
        genotype = darts_spaces.to_genotype(config)
        return " | ".join(
            f"{cell}: " + " ".join(f"{op}~{i}" for op, i in genotype[cell])
            for cell in darts_spaces.CELLS
        )


class _DartsSearchCell(nn.Module):
    def __init__(
        self,
        cells: DartsCells,
        c_pp: int,
        c_p: int,
        c: int,
        *,
        is_reduction: bool,
        is_reduction_prev: bool,
        partial: int,
    ) -> None:
        super().__init__()
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_pp, c) if is_reduction_prev else ReLUConvBN(c_pp, c, 1)
        )
        self.preprocess1 = ReLUConvBN(c_p, c, 1)
        self.offset = len(cells.pairs) if is_reduction else 0
        self.pairs = cells.pairs
        self.mixed = nn.ModuleList()
        for i, _ in cells.pairs:
            stride = 2 if is_reduction and i < 2 else 1
            ops = [_darts_op(op, c // partial, stride) for op in cells.ops]
            self.mixed.append(MixedOp(ops, partial=partial, stride=stride))
        self.out_channels = darts_spaces.N_NODES * c

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, route: Route) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for j in range(2, 2 + darts_spaces.N_NODES):
            terms = []
            for e, (i, target) in enumerate(self.pairs):
                if target == j:
                    op: MixedOp = self.mixed[e]  # type: ignore[assignment]
                    terms.append(route(self.offset + e, op, states[i]))
            states.append(_sum(terms))
        return torch.cat(states[2:], dim=1)


class _DartsSupernet(Supernet):
    """DARTS' search network (``Network``): stem of 3C, cells, reductions at 1/3 and 2/3."""

    def __init__(
        self,
        cells: DartsCells,
        *,
        partial: int = 1,
        channels: int = 16,
        n_layers: int = 8,
        in_channels: int = 3,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        check_positive(channels=channels, n_layers=n_layers, in_channels=in_channels)
        _check_partial(partial, channels)
        self.node_edges = cells.node_edges

        def make_cell(c_pp: int, c_p: int, c: int, reduction: bool, after: bool) -> nn.Module:
            return _DartsSearchCell(
                cells,
                c_pp,
                c_p,
                c,
                is_reduction=reduction,
                is_reduction_prev=after,
                partial=partial,
            )

        self.stem, self.cells, c_p = darts_skeleton(
            make_cell, channels=channels, n_layers=n_layers, in_channels=in_channels
        )
        self.classifier = nn.Linear(c_p, n_classes)

    def forward(self, x: torch.Tensor, route: Route) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, route)
        logits: torch.Tensor = self.classifier(torch.flatten(F.adaptive_avg_pool2d(s1, 1), 1))
        return logits


def _check_partial(partial: int, channels: int) -> None:
    if isinstance(partial, bool) or not isinstance(partial, int) or partial < 1:
        raise ConfigError(f"partial: must be an integer >= 1, got {partial!r}")
    if channels % partial:
        raise ConfigError(f"partial: must divide channels ({channels}), got {partial}")


#: cell spaces by name
CELL_SPACES: Mapping[str, Callable[[], CellSpace]] = {"nb201": NB201Cells, "darts": DartsCells}
