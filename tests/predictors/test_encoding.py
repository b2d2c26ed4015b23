"""Encoders: one-hot genomes for flat spaces, op codes on cell edges."""

from __future__ import annotations

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.predictors import NB201_CELL, CellEncoder, OneHotEncoder
from archsearch.space import Choice, Int, Real, Space
from archsearch.spaces import nb201_space
from archsearch.spaces.nb201 import EDGES, OPS, cell_from_index


def test_nb201_one_hot_marks_one_op_per_edge() -> None:
    encoder = OneHotEncoder(nb201_space())
    rows = encoder.encode([cell_from_index(i) for i in (0, 1, 15_624)])
    assert rows.shape == (3, len(EDGES) * len(OPS))
    assert rows.sum(dim=1).tolist() == [6.0, 6.0, 6.0]
    # cell 1: "skip_connect" (op 1) on the last edge, "none" (op 0) elsewhere
    assert torch.nonzero(rows[1]).flatten().tolist() == [0, 5, 10, 15, 20, 26]


def test_one_hot_works_for_any_flat_categorical_space() -> None:
    space = Space({"kernel": Choice([3, 5, 7]), "depth": Int(1, 4)})
    encoder = OneHotEncoder(space)
    assert encoder.dim == 7
    assert encoder.encode([{"kernel": 7, "depth": 2}]).tolist() == [[0, 0, 1, 0, 1, 0, 0]]


def test_one_hot_refuses_real_decisions() -> None:
    with pytest.raises(ConfigError, match=r"^lr: a Real decision cannot be one-hot encoded"):
        OneHotEncoder(Space({"lr": Real(1e-3, 1.0)}))


def test_cell_encoder_gives_op_codes_per_edge() -> None:
    codes = NB201_CELL.encode([cell_from_index(15_624), dict.fromkeys(EDGES, "skip_connect")])
    assert codes.dtype == torch.int64
    assert codes.tolist() == [[4] * 6, [1] * 6]
    assert NB201_CELL.zero_code == 0


def test_cell_encoder_names_an_unknown_op() -> None:
    bad = {**dict.fromkeys(EDGES, "none"), "edge_1_2": "conv5x5"}
    with pytest.raises(ConfigError, match=r"^edge_1_2: unknown op 'conv5x5'; allowed: none"):
        NB201_CELL.encode([bad])


def test_cell_encoder_checks_its_layout() -> None:
    with pytest.raises(ConfigError, match=r"^edge_nodes\[0\]: need 0 <= i < j < 3"):
        CellEncoder(("e",), ((2, 1),), ("a",), n_nodes=3)
