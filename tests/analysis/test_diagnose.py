"""diagnose(): known estimators (perfect, reversed, random, tied) and the fast Kendall tau."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from archsearch.analysis import diagnose
from archsearch.analysis._diagnose import fast_kendall_tau
from archsearch.errors import ConfigError


def _brute_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    s = t_x = t_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        s += int(dx * dy)
        t_x += int(dx != 0)
        t_y += int(dy != 0)
    return s / np.sqrt(t_x * t_y)


def test_fast_kendall_tau_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(3)
    for n in (2, 3, 7, 40, 129):
        x = rng.integers(0, 4, n).astype(float)
        y = rng.integers(0, 6, n) + 0.5 * x
        assert fast_kendall_tau(x, y) == pytest.approx(_brute_tau_b(x, y), abs=1e-12)


def test_perfect_estimator() -> None:
    truth = np.random.default_rng(0).normal(size=1000)
    d = diagnose(2 * truth + 1, truth, n_boot=20)
    assert d.spearman == pytest.approx(1.0) and d.kendall == pytest.approx(1.0)
    assert [t.overlap for t in d.top_k] == pytest.approx([1.0, 1.0, 1.0])
    assert [t.k for t in d.top_k] == [10, 50, 100]
    assert (d.pick_rank, d.pick_regret, d.best_rank, d.prune_keep) == (1.0, 0.0, 1.0, 1.0)
    assert "picks the best" in d.verdict and "safe for pruning" in d.verdict


def test_reversed_estimator_and_lower_is_better() -> None:
    truth = np.arange(500.0)
    d = diagnose(-truth, truth, n_boot=10)
    assert d.kendall == pytest.approx(-1.0) and d.pick_rank == 500.0
    assert d.prune_keep == 0.0 and "ranks backwards" in d.verdict
    flipped = diagnose(-truth, truth, higher_is_better=False, n_boot=10)
    assert flipped.kendall == pytest.approx(1.0) and flipped.pick_regret == 0.0


def test_random_estimator_is_told_apart() -> None:
    rng = np.random.default_rng(1)
    truth, estimate = rng.normal(size=4000), rng.normal(size=4000)
    d = diagnose(estimate, truth, n_boot=50)
    assert abs(d.kendall) < 0.03 and d.kendall_ci[0] < 0 < d.kendall_ci[1]
    assert d.kendall_ci[1] - d.kendall_ci[0] < 0.06
    assert d.top_k[2].overlap == pytest.approx(0.1, abs=0.03)
    assert d.prune_keep == pytest.approx(0.5, abs=0.06)
    assert "barely ranks" in d.verdict and "not for picking the best" in d.verdict


def test_ties_count_as_random_tie_breaks() -> None:
    d = diagnose([1.0, 1.0, 0.0, 0.0], [4.0, 3.0, 2.0, 1.0], ks=(0.25, 0.5), n_boot=0)
    assert [t.overlap for t in d.top_k] == [0.5, 1.0]  # top 1 is either of two: half a hit
    assert (d.pick_rank, d.pick_regret, d.n_tied_picks) == (1.5, 0.5, 2)
    assert d.best_rank == 1.5


def test_non_finite_pairs_are_dropped_and_json_round_trips() -> None:
    d = diagnose([1.0, np.nan, 3.0, 4.0, np.inf], [1.0, 2.0, 3.0, 4.0, 5.0], n_boot=5)
    assert (d.n, d.n_dropped) == (3, 2)
    record = d.to_json()
    assert record["n"] == 3 and record["verdict"] == d.verdict
    assert record["top_k"][0]["k"] == 1


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ConfigError, match="estimate: expected a 1-d array"):
        diagnose([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="at least 3 finite pairs"):
        diagnose([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match=r"ks: shares must be in \(0, 1\], got 5"):
        diagnose([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ks=(5,))
