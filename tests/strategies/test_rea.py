"""Regularized evolution: random start, tournament + one-edge mutation, aging."""

from __future__ import annotations

import random
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import NB201Benchmark
from archsearch.spaces import nb201_space
from archsearch.spaces.nb201 import EDGES, OPS
from archsearch.strategies import RegularizedEvolution
from archsearch.trial import Candidate, Result

BENCH = NB201Benchmark()


def scored(score: float) -> Result:
    return Result({"valid_accuracy": score}, 1.0).with_score(score)


def bench_result(candidate: Candidate) -> Result:
    result = BENCH.evaluate(candidate.config)
    return result.with_score(result.metrics["valid_accuracy"])


def distance(a: dict[str, str], b: dict[str, str]) -> int:
    return sum(a[e] != b[e] for e in EDGES)


def members(rea: RegularizedEvolution) -> list[Any]:
    return [config for config, _ in rea.population]


# -- arguments --------------------------------------------------------------------------


def test_rea_rejects_sample_larger_than_population() -> None:
    with pytest.raises(ConfigError, match="sample_size"):
        RegularizedEvolution(nb201_space(), population_size=3, sample_size=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"population_size": 0}, r"^population_size: must be an integer >= 1"),
        ({"population_size": 2.5}, r"^population_size: must be an integer >= 1"),
        ({"sample_size": 0}, r"^sample_size: must be an integer >= 1"),
        ({"population_size": 4, "sample_size": 5}, r"^sample_size: must be <= population_size"),
    ],
)
def test_rea_rejects_bad_sizes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RegularizedEvolution(nb201_space(), **kwargs)


def test_defaults_are_the_nats_bench_settings() -> None:
    rea = RegularizedEvolution(nb201_space())
    assert (rea.population_size, rea.sample_size, rea.aging) == (10, 3, True)


# -- the random start ---------------------------------------------------------------------


@pytest.mark.parametrize("tell_each", [True, False])
def test_first_population_size_asks_are_random_samples(tell_each: bool) -> None:
    space = nb201_space()
    rea = RegularizedEvolution(space, population_size=10, seed=21)
    rng = random.Random(21)
    expected = [space.sample(rng) for _ in range(10)]
    asked = []
    for _ in range(10):
        candidate = rea.ask()
        asked.append(candidate.config)
        if tell_each:
            rea.tell(candidate, bench_result(candidate))
    assert asked == expected


def test_failed_start_members_are_replaced_by_new_random_samples() -> None:
    space = nb201_space()
    rea = RegularizedEvolution(space, population_size=3, sample_size=2, seed=4)
    rng = random.Random(4)
    expected = [space.sample(rng) for _ in range(5)]
    asked = []
    for i in range(5):
        candidate = rea.ask()
        asked.append(candidate.config)
        rea.tell(candidate, Result.failed("x") if i < 2 else scored(float(i)))
    # two failures: the start needs five random samples to fill three places
    assert asked == expected
    assert len(rea.population) == 3


# -- evolution ----------------------------------------------------------------------------


@pytest.mark.parametrize("aging", [True, False])
def test_after_the_start_each_ask_mutates_one_edge_of_a_member(aging: bool) -> None:
    space = nb201_space()
    rea = RegularizedEvolution(space, population_size=8, sample_size=3, aging=aging, seed=5)
    for _ in range(8):
        candidate = rea.ask()
        rea.tell(candidate, bench_result(candidate))
    assert len(rea.population) == 8
    for _ in range(200):
        before = members(rea)
        candidate = rea.ask()
        assert space.validate(candidate.config) == candidate.config
        # (the mutant may happen to equal another member, so "some", not "nearest")
        assert any(distance(candidate.config, m) == 1 for m in before)
        rea.tell(candidate, bench_result(candidate))
        assert len(rea.population) <= 8


def test_population_never_exceeds_population_size() -> None:
    rea = RegularizedEvolution(nb201_space(), population_size=5, sample_size=2, seed=6)
    sizes = []
    pending: list[Candidate] = []
    for i in range(120):
        pending.append(rea.ask())
        if i % 3 == 2:  # asks run ahead of tells
            for candidate in pending:
                rea.tell(candidate, bench_result(candidate))
                sizes.append(len(rea.population))
            pending.clear()
    assert max(sizes) == 5
    assert sizes[-1] == 5


def test_tournament_prefers_the_best_member() -> None:
    space = nb201_space()
    uniform = [dict.fromkeys(EDGES, op) for op in OPS]  # pairwise 6 edges apart

    def parents(sample_size: int) -> list[int]:
        rea = RegularizedEvolution(space, population_size=5, sample_size=sample_size, seed=8)
        state = rea.state_dict()
        state["population"] = [[cell, float(score)] for score, cell in enumerate(uniform)]
        rea.load_state_dict(state)
        picked = []
        for _ in range(300):
            candidate = rea.ask()
            (parent,) = [i for i, m in enumerate(uniform) if distance(candidate.config, m) == 1]
            picked.append(parent)
            rea.tell(candidate, Result.failed("x"))  # keep the population fixed
        return picked

    best = len(uniform) - 1
    # sample 5 of 5 with replacement: best is drawn with probability 1 - 0.8**5 = 0.67
    assert parents(5).count(best) / 300 > 0.55
    # sample 1: every member equally likely
    assert parents(1).count(best) / 300 < 0.3
    assert set(parents(1)) == set(range(5))


# -- who leaves ---------------------------------------------------------------------------


def test_aging_removes_the_oldest_even_if_it_is_the_best() -> None:
    rea = RegularizedEvolution(nb201_space(), population_size=3, sample_size=2, seed=9)
    candidates = [rea.ask() for _ in range(3)]
    for candidate, score in zip(candidates, (90.0, 10.0, 50.0), strict=True):
        rea.tell(candidate, scored(score))
    assert [s for _, s in rea.population] == [90.0, 10.0, 50.0]
    newcomer = rea.ask()
    rea.tell(newcomer, scored(20.0))
    assert [s for _, s in rea.population] == [10.0, 50.0, 20.0]
    assert members(rea) == [candidates[1].config, candidates[2].config, newcomer.config]


def test_without_aging_the_worst_leaves() -> None:
    rea = RegularizedEvolution(
        nb201_space(), population_size=3, sample_size=2, aging=False, seed=9
    )
    candidates = [rea.ask() for _ in range(3)]
    for candidate, score in zip(candidates, (90.0, 10.0, 50.0), strict=True):
        rea.tell(candidate, scored(score))
    newcomer = rea.ask()
    rea.tell(newcomer, scored(20.0))
    assert [s for _, s in rea.population] == [90.0, 50.0, 20.0]
    # a newcomer worse than everyone leaves at once
    last = rea.ask()
    rea.tell(last, scored(1.0))
    assert [s for _, s in rea.population] == [90.0, 50.0, 20.0]


def test_failed_results_never_join_the_population() -> None:
    rea = RegularizedEvolution(nb201_space(), population_size=4, sample_size=2, seed=10)
    for i in range(40):
        candidate = rea.ask()
        if i % 2:
            rea.tell(candidate, Result.failed("boom"))
        elif i % 4 == 0:
            rea.tell(candidate, BENCH.evaluate(candidate.config).with_score(None))
        else:
            rea.tell(candidate, scored(float(i)))
        assert all(score is not None and score % 4 == 2 for _, score in rea.population)
    assert len(rea.population) == 4
    assert sorted(s for _, s in rea.population) == [26.0, 30.0, 34.0, 38.0]


# -- unique -------------------------------------------------------------------------------


def test_unique_never_asks_a_config_twice() -> None:
    space = nb201_space()
    plain = RegularizedEvolution(space, seed=3)
    unique = RegularizedEvolution(space, unique=True, seed=3)
    keys: dict[str, list[str]] = {"plain": [], "unique": []}
    for name, rea in (("plain", plain), ("unique", unique)):
        for _ in range(300):
            candidate = rea.ask()
            keys[name].append(space.key(candidate.config))
            rea.tell(candidate, bench_result(candidate))
    assert len(set(keys["plain"])) < 250  # the published algorithm repeats itself
    assert len(set(keys["unique"])) == 300


def test_unique_round_trips_through_state_dict() -> None:
    space = nb201_space()
    rea = RegularizedEvolution(space, unique=True, seed=9)
    for _ in range(40):
        candidate = rea.ask()
        rea.tell(candidate, bench_result(candidate))
    copy = RegularizedEvolution(space, unique=True, seed=0)
    copy.load_state_dict(rea.state_dict())
    assert [copy.ask().config for _ in range(20)] == [rea.ask().config for _ in range(20)]
