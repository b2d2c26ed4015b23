"""The DARTS cell space (Liu et al., ICLR 2019; NASNet's cells, Zoph et al., 2018).

A network stacks two kinds of cell, ``normal`` and ``reduce``. A cell has two inputs
(the outputs of the two previous cells, indices 0 and 1) and four intermediate nodes
(indices 2..5); node ``k`` applies one operation to each of two different earlier
nodes and sums the results; the cell outputs the concatenation of nodes 2..5. A
config lists, per cell, the four nodes' input pairs (ascending) and their ops, the
first op applying to the first input::

    {"normal": [{"inputs": [0, 1], "ops": ["sep_conv_3x3", "sep_conv_3x3"]},
                {"inputs": [0, 1], "ops": ["sep_conv_3x3", "sep_conv_3x3"]},
                {"inputs": [0, 1], "ops": ["skip_connect", "sep_conv_3x3"]},
                {"inputs": [0, 2], "ops": ["skip_connect", "dil_conv_3x3"]}],
     "reduce": [...]}

The first node can only take inputs 0 and 1 (fixed, not a decision). Counting the
``none`` op there are (1 * 3 * 6 * 10 * 8**8)**2 ~ 9.1e18 configs; DARTS' own count,
~1e18, leaves ``none`` out. :func:`from_genotype` reads DARTS' ``Genotype`` lists.

Example:
    >>> space = darts_space()
    >>> f"{space.size:.2e}"
    '9.12e+18'
    >>> DARTS_V2 in space
    True
    >>> to_genotype(DARTS_V2)["reduce"][:2]
    [('max_pool_3x3', 0), ('max_pool_3x3', 1)]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Space

__all__ = [
    "CELLS",
    "DARTS_V2",
    "N_NODES",
    "OPS",
    "darts_space",
    "from_genotype",
    "to_genotype",
]

#: DARTS' operation set, in its ``PRIMITIVES`` order (Liu et al., 2019, Sec. 3)
OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELLS: tuple[str, ...] = ("normal", "reduce")
#: intermediate nodes per cell (B = 4 in DARTS)
N_NODES = 4


def _node_spec(k: int, ops: Sequence[str]) -> dict[str, Any]:
    pairs = [list(p) for p in itertools.combinations(range(2 + k), 2)]
    inputs: Any = pairs[0] if len(pairs) == 1 else Choice(pairs)
    return {"inputs": inputs, "ops": [Choice(list(ops)), Choice(list(ops))]}


@SPACES.register("darts")
def darts_space(ops: Sequence[str] = OPS) -> Space:
    """The DARTS space, optionally restricted to a subset of ``ops``.

    Raises:
        ConfigError: naming an unknown op and the allowed ones.
    """
    if isinstance(ops, str) or not isinstance(ops, Sequence) or not ops:
        raise ConfigError(f"ops: expected a non-empty list of op names, got {ops!r}")
    for i, op in enumerate(ops):
        if op not in OPS:
            raise ConfigError(f"ops[{i}]: unknown op {op!r}; allowed: {', '.join(OPS)}")
    ordered = [op for op in OPS if op in ops]
    spec = {cell: [_node_spec(k, ordered) for k in range(N_NODES)] for cell in CELLS}
    return Space(spec, name="darts")


def from_genotype(
    normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """The config of a DARTS ``Genotype(normal=..., reduce=...)`` (8 ``(op, input)`` each).

    Raises:
        ConfigError: when a cell does not hold 4 nodes of 2 distinct valid inputs.
    """
    config: dict[str, Any] = {}
    for cell, pairs in zip(CELLS, (normal, reduce), strict=True):
        if len(pairs) != 2 * N_NODES:
            raise ConfigError(
                f"{cell}: expected {2 * N_NODES} (op, input) pairs, got {len(pairs)}"
            )
        nodes = []
        for k in range(N_NODES):
            (op_a, a), (op_b, b) = sorted(pairs[2 * k : 2 * k + 2], key=lambda p: p[1])
            nodes.append({"inputs": [a, b], "ops": [op_a, op_b]})
        config[cell] = nodes
    return dict(darts_space().validate(config))


def to_genotype(config: Mapping[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """DARTS' ``(op, input)`` lists of a (checked) config, per cell."""
    checked = darts_space().validate(config)
    out: dict[str, list[tuple[str, int]]] = {}
    for cell in CELLS:
        nodes = checked[cell]
        out[cell] = [p for n in nodes for p in zip(n["ops"], n["inputs"], strict=True)]
    return out


#: DARTS (second order), the cells of Liu et al. (2019), Fig. 4/5; genotypes.py ``DARTS_V2``
DARTS_V2: dict[str, Any] = from_genotype(
    normal=[
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2),
    ],
    reduce=[
        ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1),
    ],
)  # fmt: skip
