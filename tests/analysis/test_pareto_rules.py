"""Pareto fronts, hypervolume and choice rules."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.analysis import choice_rules, hypervolume, pareto_front
from archsearch.space import Choice, Space


def test_front_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    for dims in (2, 3):
        pts = rng.integers(0, 6, size=(60, dims)).astype(float)  # many ties
        brute = [
            i
            for i in range(len(pts))
            if not any(
                (pts[j] >= pts[i]).all() and (pts[j] > pts[i]).any() for j in range(len(pts))
            )
        ]
        assert pareto_front(pts).tolist() == brute


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_agrees_with_monte_carlo(dims: int) -> None:
    rng = np.random.default_rng(dims)
    pts = rng.random((40, dims))
    samples = rng.random((100_000, dims))
    covered = np.zeros(len(samples), dtype=bool)
    for p in pts:
        covered |= (samples <= p).all(axis=1)
    assert hypervolume(pts, [0.0] * dims) == pytest.approx(covered.mean(), abs=0.01)


def test_hypervolume_ignores_points_behind_the_reference() -> None:
    assert hypervolume(np.array([[1.0, 1.0], [-1.0, 5.0]]), (0.0, 0.0)) == 1.0


def test_choice_rules_find_the_over_represented_value() -> None:
    space = Space({"a": Choice(["x", "y", "z", "w"]), "b": Choice([1, 2])})
    chosen = [{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"a": "x", "b": 1}, {"a": "y", "b": 2}]
    rules = choice_rules(chosen, space)
    assert (rules[0].path, rules[0].value) == ("a", "x")
    assert rules[0].share_set == 0.75 and rules[0].share_space == 0.25
    assert str(rules[0]) == "a is x in 75% of the set, 25% of the space"
