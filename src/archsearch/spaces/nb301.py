"""The NAS-Bench-301 (DARTS) cell space (Siems et al., 2020), as YAHPO Gym ships it.

A DARTS cell has two inputs (nodes 0 and 1) and four intermediate nodes 2..5; node
``n`` sums two operations applied to two earlier nodes. There are two cells, ``normal``
and ``reduce``. YAHPO's ``config_space.json`` writes this as 14 edge choices per cell
(``edge_<cell>_<k>``) and, for nodes 3..5, an ``inputs_node_<cell>_<n>`` choice
(``"0_2"``: inputs 0 and 2) with conditions: an edge is active only when the node's
inputs include its source. archsearch writes those conditions as a choice of
sub-spaces, one branch per value of ``inputs`` holding the two active edges::

    {"normal": {"edge_0": "sep_conv_3x3", "edge_1": "skip_connect",
                "node_3": {"inputs": "0_2", "edge_2": "max_pool_3x3", "edge_4": "sep_conv_5x5"},
                "node_4": {"inputs": "1_3", "edge_6": ..., "edge_8": ...},
                "node_5": {"inputs": "0_4", "edge_9": ..., "edge_13": ...}},
     "reduce": {...}}

Node 2 always takes inputs 0 and 1 (edges 0 and 1 are unconditional). The branches,
the operations and the conditions are all read from the shipped file; the fidelity
(``epoch``) is not a decision. :func:`to_yahpo` and :func:`from_yahpo` convert to and
from YAHPO's flat dict (inactive edges left out, as ConfigSpace does).

Example:
    >>> space = nb301_space()
    >>> config = space.sample(seed=0)
    >>> sorted(config["normal"])
    ['edge_0', 'edge_1', 'node_3', 'node_4', 'node_5']
    >>> from_yahpo(to_yahpo(config)) == config
    True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from archsearch.errors import ConfigError, DataError
from archsearch.registry import SPACES
from archsearch.space import Choice, Space
from archsearch.spaces._configspace import ConfigSpace, load_config_space, yahpo_dir

__all__ = ["CELLS", "FIDELITY", "PREFIX", "config_space", "from_yahpo", "nb301_space", "to_yahpo"]

CELLS: tuple[str, ...] = ("normal", "reduce")
FIDELITY = "epoch"
#: the prefix of every YAHPO hyperparameter name (from NAS-Bench-301's data set)
PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
_NAME = re.compile(rf"^{PREFIX}(edge|inputs_node)_(normal|reduce)_(\d+)$")


def config_space() -> ConfigSpace:
    """The shipped NB301 config space (read once per process)."""
    return load_config_space(str(yahpo_dir("nb301") / "config_space.json"))


@dataclass(frozen=True)
class _Cell:
    """One cell as the file describes it, under archsearch's keys.

    ``edges``: unconditional ``"edge_k"`` -> YAHPO name; ``nodes``: ``"node_n"`` ->
    (YAHPO name of its inputs choice, inputs value -> {``"edge_k"`` -> YAHPO name});
    ``ops``: YAHPO edge name -> allowed operations.
    """

    edges: dict[str, str]
    nodes: dict[str, tuple[str, dict[str, dict[str, str]]]]
    ops: dict[str, tuple[str, ...]]


@functools.cache
def _layout() -> dict[str, _Cell]:
    """Both cells, read from the config space (cached: built once per process)."""
    cs = config_space()
    names: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for name in cs.hyperparameters:
        match = _NAME.match(name)
        if match is None:
            if name == FIDELITY:
                continue
            raise DataError(f"{cs.file}: unexpected hyperparameter {name!r}")
        kind, cell, number = match.groups()
        names.setdefault((kind, cell), []).append((int(number), name))
    return {cell: _read_cell(cs, names, cell) for cell in CELLS}


def _read_cell(
    cs: ConfigSpace, names: dict[tuple[str, str], list[tuple[int, str]]], cell: str
) -> _Cell:
    edges = sorted(names.get(("edge", cell), []))
    ops = {name: tuple(cs.hyperparameters[name]["choices"]) for _, name in edges}
    fixed = {f"edge_{k}": name for k, name in edges if name not in cs.conditions}
    nodes: dict[str, tuple[str, dict[str, dict[str, str]]]] = {}
    for n, parent in sorted(names.get(("inputs_node", cell), [])):
        children = [(k, name) for k, name in edges if cs.conditions.get(name, ("",))[0] == parent]
        branches = {
            value: {f"edge_{k}": name for k, name in children if value in cs.conditions[name][1]}
            for value in cs.hyperparameters[parent]["choices"]
        }
        nodes[f"node_{n}"] = (parent, branches)
    return _Cell(fixed, nodes, ops)


@SPACES.register("nb301")
def nb301_space() -> Space:
    """The NB301 space: two DARTS cells, each node's inputs a conditional choice.

    Raises:
        DataError: when the shipped config space is missing or malformed.
    """
    spec: dict[str, Any] = {}
    for cell, part in _layout().items():
        cell_spec: dict[str, Any] = {k: Choice(list(part.ops[n])) for k, n in part.edges.items()}
        for key, (_, branches) in part.nodes.items():
            cell_spec[key] = Choice(
                [
                    {"inputs": value, **{k: Choice(list(part.ops[n])) for k, n in edges.items()}}
                    for value, edges in branches.items()
                ]
            )
        spec[cell] = cell_spec
    return Space(spec, name="nb301")


def _check_keys(value: Any, allowed: Iterable[str], path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {value!r}")
    allowed = tuple(allowed)
    for key in allowed:
        if key not in value:
            raise ConfigError(f"{path + '.' if path else ''}{key}: missing")
    if len(value) != len(allowed):
        extra = next(k for k in value if k not in allowed)
        raise ConfigError(
            f"{path + '.' if path else ''}{extra}: unknown field; allowed: {', '.join(allowed)}"
        )
    return value


def _op(op: Any, ops: tuple[str, ...], path: str) -> str:
    if op not in ops:
        raise ConfigError(f"{path}: unknown op {op!r}; allowed: {', '.join(ops)}")
    return str(op)


def to_yahpo(config: Any) -> dict[str, str]:
    """YAHPO's flat dict of the active hyperparameters of ``config`` (checked).

    Raises:
        ConfigError: naming the path of the first missing, unknown or invalid field.
    """
    layout = _layout()
    _check_keys(config, layout, "")
    flat: dict[str, str] = {}
    for cell, part in layout.items():
        value = _check_keys(config[cell], (*part.edges, *part.nodes), cell)
        for key, name in part.edges.items():
            flat[name] = _op(value[key], part.ops[name], f"{cell}.{key}")
        for key, (parent, branches) in part.nodes.items():
            _node_to_yahpo(value[key], parent, branches, part.ops, f"{cell}.{key}", flat)
    return flat


def _node_to_yahpo(
    node: Any,
    parent: str,
    branches: dict[str, dict[str, str]],
    ops: dict[str, tuple[str, ...]],
    path: str,
    flat: dict[str, str],
) -> None:
    if not isinstance(node, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'inputs', got {node!r}")
    inputs = node.get("inputs")
    if inputs not in branches:
        allowed = ", ".join(branches)
        raise ConfigError(f"{path}.inputs: unknown value {inputs!r}; allowed: {allowed}")
    edges = branches[inputs]
    _check_keys(node, ("inputs", *edges), path)
    flat[parent] = inputs
    for edge, name in edges.items():
        flat[name] = _op(node[edge], ops[name], f"{path}.{edge}")


def from_yahpo(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The archsearch config of a YAHPO flat dict (inactive entries are ignored).

    Raises:
        ConfigError: naming the YAHPO field that is missing.
    """
    try:
        config: dict[str, Any] = {}
        for cell, part in _layout().items():
            out: dict[str, Any] = {key: flat[name] for key, name in part.edges.items()}
            for key, (parent, branches) in part.nodes.items():
                inputs = flat[parent]
                edges = branches.get(inputs, {})
                out[key] = {"inputs": inputs, **{e: flat[n] for e, n in edges.items()}}
            config[cell] = out
    except KeyError as exc:
        raise ConfigError(f"{exc.args[0]}: missing") from None
    return config
