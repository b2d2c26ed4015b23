"""The shipped SynFlow scores of all NB201 cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsearch.errors import DataError
from archsearch.evaluation import load_nb201_synflow
from archsearch.spaces.nb201 import arch_index


def test_shipped_scores_cover_every_cell_read_only() -> None:
    scores = load_nb201_synflow()
    assert scores.shape == (15625,) and scores.dtype == np.float64
    assert int((scores == 0).sum()) == 341  # no weighted path from input to output
    with pytest.raises(ValueError, match="read-only"):
        scores[0] = 1.0
    all_conv = dict.fromkeys(
        ["edge_0_1", "edge_0_2", "edge_1_2", "edge_0_3", "edge_1_3", "edge_2_3"], "nor_conv_3x3"
    )
    assert int(np.argmax(scores)) == arch_index(all_conv)  # the most parameters


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.npy: SynFlow scores not found"):
        load_nb201_synflow(str(tmp_path / "missing.npy"))
    short = tmp_path / "short.npy"
    np.save(short, np.ones(10))
    with pytest.raises(DataError, match=r"short.npy: expected 15,625 finite scores"):
        load_nb201_synflow(str(short))
