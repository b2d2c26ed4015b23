"""Architectures as drawable graphs: NB201 and DARTS/NB301 cells as DAGs, others as trees.

The layout (node positions, edge bends) is computed here once, so the dashboard's SVG
and the report's matplotlib drawing show the same picture.

Example:
    >>> from archsearch.spaces.nb201 import from_arch_str
    >>> cell = from_arch_str("|nor_conv_3x3~0|+|none~0|skip_connect~1|"
    ...                      "+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
    >>> graph = arch_graph(cell)
    >>> graph["kind"], len(graph["cells"][0]["edges"])
    ('nb201', 6)
    >>> [e["op"] for e in graph["cells"][0]["edges"] if e["source"] == 0]
    ['nor_conv_3x3', 'none', 'avg_pool_3x3']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archsearch.spaces.nb201 import EDGE_NODES, EDGES

__all__ = ["arch_graph"]

_DARTS_CELLS = ("normal", "reduce")
#: DARTS' 14 edges in NB301's order: node 2 from 0,1; node 3 from 0..2; ... node 5 from 0..4
_DARTS_EDGES: tuple[tuple[int, int], ...] = tuple(
    (source, node) for node in range(2, 6) for source in range(node)
)


def arch_graph(config: Any) -> dict[str, Any]:
    """A drawable description of ``config``.

    Returns:
        ``{"kind": "nb201" | "darts", "cells": [{"name", "nodes", "edges"}]}`` for cell
        spaces (nodes ``{"id", "label", "x", "y"}``, edges ``{"source", "target",
        "op", "bend"}``; ``op`` None for an unlabelled edge), else ``{"kind": "tree",
        "tree": config}``.
    """
    cell = _nb201_cell(config)
    if cell is not None:
        return {"kind": "nb201", "cells": [_nb201_graph(cell, "cell")]}
    if isinstance(config, Mapping) and all(_is_darts_cell(config.get(c)) for c in _DARTS_CELLS):
        return {"kind": "darts", "cells": [_darts_graph(config[c], c) for c in _DARTS_CELLS]}
    return {"kind": "tree", "tree": config}


def _nb201_cell(config: Any) -> Mapping[str, Any] | None:
    """The NB201 cell of a config (itself, or a nested ``arch``/``cell`` entry)."""
    if not isinstance(config, Mapping):
        return None
    if all(isinstance(config.get(edge), str) for edge in EDGES):
        return config
    for key in ("arch", "cell"):
        if key in config and _nb201_cell(config[key]) is not None:
            return _nb201_cell(config[key])
    return None


def _nb201_graph(cell: Mapping[str, Any], name: str) -> dict[str, Any]:
    labels = ["in", "1", "2", "out"]
    nodes = [{"id": i, "label": labels[i], "x": float(i), "y": 0.0} for i in range(4)]
    edges = []
    for edge, (i, j) in zip(EDGES, EDGE_NODES, strict=True):
        # neighbours straight, longer edges arc: 0->2 below, 1->3 above, 0->3 around it
        bend = {1: 0.0, 2: 0.45 if i == 0 else -0.45, 3: -0.55}[j - i]
        edges.append({"source": i, "target": j, "op": str(cell[edge]), "bend": bend})
    return {"name": name, "nodes": nodes, "edges": edges}


def _is_darts_cell(cell: Any) -> bool:
    if isinstance(cell, list):  # archsearch's DARTS space: 4 nodes of inputs + ops
        return len(cell) == 4 and all(
            isinstance(n, Mapping) and "inputs" in n and "ops" in n for n in cell
        )
    # NB301's layout: edge_K entries, the conditional nodes nested as node_N dicts
    return isinstance(cell, Mapping) and "edge_0" in cell


def _darts_edges(cell: Any) -> list[tuple[int, int, str]]:
    """``(source, target, op)`` of a DARTS cell (nodes 0, 1 inputs; 2..5 intermediate)."""
    if isinstance(cell, list):
        return [
            (int(source), 2 + k, str(op))
            for k, node in enumerate(cell)
            for source, op in zip(node["inputs"], node["ops"], strict=True)
        ]
    out = []
    for key, value in _flatten_edges(cell):
        index = int(key.removeprefix("edge_"))
        if 0 <= index < len(_DARTS_EDGES):
            out.append((*_DARTS_EDGES[index], str(value)))
    return sorted(out, key=lambda e: (e[1], e[0]))


def _flatten_edges(cell: Mapping[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in cell.items():
        if isinstance(value, Mapping):
            out += _flatten_edges(value)
        elif key.startswith("edge_") and key.removeprefix("edge_").isdigit():
            out.append((key, value))
    return out


def _darts_graph(cell: Any, name: str) -> dict[str, Any]:
    nodes = [
        {"id": 0, "label": "k-2", "x": 0.0, "y": 1.0},
        {"id": 1, "label": "k-1", "x": 0.0, "y": -1.0},
    ]
    nodes += [
        {"id": n, "label": str(n - 2), "x": float(n - 1), "y": 1.5 - (n - 2)} for n in range(2, 6)
    ]
    nodes.append({"id": 6, "label": "out", "x": 5.0, "y": 0.0})
    edges: list[dict[str, Any]] = [
        {"source": s, "target": t, "op": op, "bend": 0.0 if t - s == 1 else 0.12}
        for s, t, op in _darts_edges(cell)
    ]
    edges += [{"source": n, "target": 6, "op": None, "bend": 0.0} for n in range(2, 6)]
    return {"name": name, "nodes": nodes, "edges": edges}
