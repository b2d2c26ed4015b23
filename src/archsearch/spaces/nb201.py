"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell has 4 nodes; node ``j`` sums one operation applied to each earlier node
``i < j``, so there are 6 edges and 5**6 = 15,625 cells. A config names the
operation on each edge::

    {"edge_0_1": "nor_conv_3x3", "edge_0_2": "none", "edge_1_2": "nor_conv_3x3",
     "edge_0_3": "skip_connect", "edge_1_3": "none", "edge_2_3": "none"}

and converts to and from the NB201 string
``|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|``.

Example:
    >>> config = from_arch_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    ...                        "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> to_arch_str(config) == to_arch_str(from_arch_str(to_arch_str(config)))
    True
    >>> nb201_space().size
    15625
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Space

__all__ = [
    "EDGES",
    "OPS",
    "arch_index",
    "cell_from_index",
    "from_arch_str",
    "functional_key",
    "live_edges",
    "nb201_space",
    "to_arch_str",
]

#: operations in NB201's own order (their position is the op code used in genomes)
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: edges ``(from, to)`` in the order of the NB201 string
EDGE_NODES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
EDGES: tuple[str, ...] = tuple(f"edge_{i}_{j}" for i, j in EDGE_NODES)
_OP_CODE = {op: i for i, op in enumerate(OPS)}
_N_CELLS = len(OPS) ** len(EDGES)


@SPACES.register("nb201")
def nb201_space(ops: Sequence[str] = OPS) -> Space:
    """The NB201 cell space, optionally restricted to a subset of ``ops``.

    Raises:
        ConfigError: naming an unknown op and the allowed ones.
    """
    if isinstance(ops, str) or not isinstance(ops, Sequence) or not ops:
        raise ConfigError(f"ops: expected a non-empty list of op names, got {ops!r}")
    for i, op in enumerate(ops):
        if op not in _OP_CODE:
            raise ConfigError(f"ops[{i}]: unknown op {op!r}; allowed: {', '.join(OPS)}")
    if len(set(ops)) != len(ops):
        raise ConfigError(f"ops: listed twice in {list(ops)}")
    ordered = [op for op in OPS if op in ops]  # keep NB201's order whatever the user wrote
    return Space({edge: Choice(ordered) for edge in EDGES}, name="nb201")


def _check(config: Mapping[str, Any]) -> tuple[int, ...]:
    if not isinstance(config, Mapping):
        raise ConfigError(f"config: expected a mapping of edges to ops, got {config!r}")
    codes = []
    for edge in EDGES:
        op = config.get(edge)
        if op is None:
            raise ConfigError(f"{edge}: missing")
        code = _OP_CODE.get(op)
        if code is None:
            raise ConfigError(f"{edge}: unknown op {op!r}; allowed: {', '.join(OPS)}")
        codes.append(code)
    return tuple(codes)


def to_arch_str(config: Mapping[str, Any]) -> str:
    """The NB201 string of a cell config."""
    _check(config)
    nodes = []
    for j in (1, 2, 3):
        nodes.append("|" + "|".join(f"{config[f'edge_{i}_{j}']}~{i}" for i in range(j)) + "|")
    return "+".join(nodes)


def live_edges(cell: Mapping[str, str]) -> set[str]:
    """The edges whose output can reach the cell output (node 3) through non-none edges.

    Example:
        >>> sorted(live_edges(from_arch_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
        ...                                  "+|skip_connect~0|none~1|none~2|")))
        ['edge_0_3']
    """
    reaches = {3: True}
    for node in (2, 1, 0):
        reaches[node] = any(
            cell[f"edge_{node}_{j}"] != "none" and reaches[j] for j in range(node + 1, 4)
        )
    return {
        e for e, (_, j) in zip(EDGES, EDGE_NODES, strict=True) if cell[e] != "none" and reaches[j]
    }


def from_arch_str(arch: str) -> dict[str, str]:
    """Parse an NB201 string into a cell config.

    Raises:
        ConfigError: when the string is malformed or names an unknown op.
    """
    if not isinstance(arch, str):
        raise ConfigError(f"arch: expected an NB201 string, got {arch!r}")
    parts = arch.strip().split("+")
    if len(parts) != 3:
        raise ConfigError(f"arch: expected 3 nodes joined by '+', got {len(parts)} in {arch!r}")
    config: dict[str, str] = {}
    for j, part in enumerate(parts, start=1):
        items = [x for x in part.strip().strip("|").split("|")]
        if len(items) != j:
            raise ConfigError(f"arch: node {j} needs {j} inputs, got {len(items)} in {part!r}")
        for item in items:
            op, sep, src = item.partition("~")
            if not sep or src not in {str(i) for i in range(j)}:
                raise ConfigError(f"arch: malformed input {item!r} of node {j}; use OP~INDEX")
            if op not in _OP_CODE:
                raise ConfigError(
                    f"arch: unknown op {op!r} at edge {src}->{j}; allowed: {', '.join(OPS)}"
                )
            key = f"edge_{src}_{j}"
            if key in config:
                raise ConfigError(f"arch: node {j} lists input {src} twice")
            config[key] = op
    return {edge: config[edge] for edge in EDGES}


def arch_index(config: Mapping[str, Any]) -> int:
    """The cell's position in archsearch's enumeration (mixed radix over edges).

    This is *not* the official NB201 index; the benchmark maps between the two.
    """
    index = 0
    for code in _check(config):
        index = index * len(OPS) + code
    return index


def cell_from_index(index: int) -> dict[str, str]:
    """Inverse of :func:`arch_index`."""
    if not 0 <= index < _N_CELLS:
        raise ConfigError(f"index: must be in [0, {_N_CELLS - 1}], got {index}")
    codes = []
    for _ in EDGES:
        index, code = divmod(index, len(OPS))
        codes.append(code)
    return {edge: OPS[code] for edge, code in zip(EDGES, reversed(codes), strict=True)}


# -- functional identity ------------------------------------------------------------
_ZERO = "0"


def _expression(config: Mapping[str, Any]) -> str:
    """The function the cell computes, as a canonical expression string.

    Node 0 is ``x``; node ``j`` is the sum of ``op(node_i)``. ``none`` contributes
    nothing, an op applied to zero is zero, ``skip_connect`` passes its input's terms
    into the sum unchanged (sums are flattened), and sums are order-free (sorted
    multisets). Cells that compute the same function (isomorphic cells, edges cut off
    from the input or the output, the same sum reached through different skips) give
    the same string. Parametrised ops keep their own weights: ``conv(x)+conv(x)`` is
    not ``2*conv(x)``.
    """
    nodes: list[list[str]] = [["x"]]  # each node: the sorted terms of its sum
    for j in (1, 2, 3):
        terms: list[str] = []
        for i in range(j):
            op, src = config[f"edge_{i}_{j}"], nodes[i]
            if op == "none" or not src:
                continue
            if op == "skip_connect":
                terms.extend(src)
            else:
                inner = src[0] if len(src) == 1 else "[" + "+".join(src) + "]"
                terms.append(f"{op}({inner})")
        nodes.append(sorted(terms))
    return "+".join(nodes[3]) if nodes[3] else _ZERO


def functional_key(config: Mapping[str, Any]) -> str:
    """A hash equal for cells that compute the same function (see :func:`_expression`)."""
    _check(config)
    return hashlib.sha1(_expression(config).encode()).hexdigest()[:16]
