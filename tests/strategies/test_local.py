"""Local search: best improvement over one-decision neighbours, restarts at optima."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Int, Real, Space
from archsearch.strategies._local import LocalSearch
from archsearch.trial import Candidate, Result

SPACE = Space({"a": Choice([0, 1, 2, 3]), "b": Choice([0, 1, 2, 3])})


def scored(score: float) -> Result:
    return Result({"acc": score}, 1.0).with_score(score)


def bowl(config: Any) -> float:
    """One optimum, at a = 2, b = 1."""
    return -float((config["a"] - 2) ** 2 + (config["b"] - 1) ** 2)


def two_peaks(config: Any) -> float:
    """A global peak at (3, 3) and a local one at (0, 0): their neighbours score 0."""
    return {(3, 3): 10.0, (0, 0): 5.0}.get((config["a"], config["b"]), 0.0) + 0.1 * config["b"]


def run(strategy: LocalSearch, score: Callable[[Any], float], n: int) -> list[Any]:
    configs = []
    for _ in range(n):
        candidate = strategy.ask()
        assert candidate is not None  # one at a time: never left waiting
        strategy.tell(candidate, scored(score(candidate.config)))
        configs.append(candidate.config)
    return configs


def test_registered_as_local() -> None:
    assert STRATEGIES["local"] is LocalSearch


def test_evaluates_every_neighbour_then_moves_to_the_best() -> None:
    strategy = LocalSearch(SPACE, seed=0)
    start, *hood = run(strategy, bowl, 7)
    assert sorted(map(SPACE.key, hood)) == sorted(map(SPACE.key, SPACE.neighbours(start)))
    strategy.ask()  # every result is in: the walk moves on
    expected = max(SPACE.neighbours(start), key=bowl)
    assert bowl(expected) > bowl(start)
    assert strategy.current == (expected, bowl(expected))
    assert strategy.n_moves == 1 and strategy.n_restarts == 0


def test_a_config_already_scored_in_the_walk_is_not_asked_again() -> None:
    strategy = LocalSearch(SPACE, seed=0)
    first = run(strategy, bowl, 7)
    candidate = strategy.ask()  # the first of the second neighbourhood
    assert candidate is not None
    strategy.tell(candidate, scored(bowl(candidate.config)))
    centre = strategy.current[0]  # type: ignore[index]
    new = [c for c in SPACE.neighbours(centre) if SPACE.key(c) not in set(map(SPACE.key, first))]
    second = [candidate.config, *run(strategy, bowl, len(new) - 1)]
    assert sorted(map(SPACE.key, second)) == sorted(map(SPACE.key, new))
    assert len(new) < len(SPACE.neighbours(centre))  # the old centre and shared neighbours


def test_restarts_at_a_local_optimum_with_a_fresh_walk() -> None:
    strategy = LocalSearch(SPACE, seed=4)
    walks: list[list[str]] = [[]]
    for _ in range(80):
        before = strategy.current
        candidate = strategy.ask()
        assert candidate is not None
        if strategy.n_restarts == len(walks):  # this ask restarted the search
            assert before is not None
            centre, score = before
            assert all(two_peaks(n) <= score for n in SPACE.neighbours(centre))
            assert len(strategy.state_dict()["walk"]) == 1  # only the new start
            walks.append([])
        walks[-1].append(SPACE.key(candidate.config))
        strategy.tell(candidate, scored(two_peaks(candidate.config)))
    assert strategy.n_restarts >= 2
    for walk in walks:
        assert len(walk) == len(set(walk))  # never twice within a walk


def test_hands_out_neighbours_before_results_and_waits_when_none_remain() -> None:
    strategy = LocalSearch(SPACE, seed=1)
    batch = [strategy.ask() for _ in range(7)]  # the start and its 6 neighbours
    assert all(c is not None for c in batch)
    assert len({SPACE.key(c.config) for c in batch if c is not None}) == 7
    assert strategy.ask() is None
    for candidate in reversed(batch[1:]):
        assert candidate is not None
        strategy.tell(candidate, scored(bowl(candidate.config)))
    assert strategy.ask() is None  # the start's own result is still out
    assert batch[0] is not None
    strategy.tell(batch[0], scored(bowl(batch[0].config)))
    assert strategy.ask() is not None


def test_a_failed_start_is_beaten_by_any_scored_neighbour() -> None:
    strategy = LocalSearch(SPACE, seed=2)
    start = strategy.ask()
    assert start is not None
    strategy.tell(start, Result.failed("boom"))
    hood = run(strategy, lambda c: -100.0, 6)
    strategy.ask()
    assert strategy.n_moves == 1
    assert strategy.current == (hood[0], -100.0)  # all tie: the first of the neighbourhood


def test_failed_neighbours_never_win_and_all_failures_restart() -> None:
    strategy = LocalSearch(SPACE, seed=3)
    for _ in range(7):
        candidate = strategy.ask()
        assert candidate is not None
        strategy.tell(candidate, Result.failed("boom"))
    assert strategy.ask() is not None
    assert strategy.n_moves == 0 and strategy.n_restarts == 1


def test_tell_of_a_candidate_from_elsewhere_is_ignored() -> None:
    strategy = LocalSearch(SPACE, seed=0)
    run(strategy, bowl, 3)
    state = strategy.state_dict()
    strategy.tell(Candidate(99, {"a": 2, "b": 1}), scored(100.0))
    assert strategy.state_dict() == state


def test_state_is_json_and_restores_identical_asks() -> None:
    original = LocalSearch(SPACE, seed=6)
    run(original, two_peaks, 9)
    out = [original.ask(), original.ask()]
    restored = LocalSearch(SPACE, seed=0)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    for candidate in out:
        assert candidate is not None
        original.tell(candidate, scored(two_peaks(candidate.config)))
        restored.tell(candidate, scored(two_peaks(candidate.config)))
    assert run(original, two_peaks, 30) == run(restored, two_peaks, 30)
    assert (original.n_moves, original.n_restarts) == (restored.n_moves, restored.n_restarts)


def test_conditional_and_integer_spaces() -> None:
    space = Space({"block": Choice([{"k": Choice([3, 5])}, "pool"]), "n": Int(1, 4)})
    strategy = LocalSearch(space, seed=0)
    configs = run(strategy, lambda c: float(c["n"]) + (c["block"] != "pool"), 40)
    assert all(space.validate(config) == config for config in configs)
    assert {"block": {"k": 3}, "n": 4} in configs or {"block": {"k": 5}, "n": 4} in configs


def test_real_decisions_are_refused() -> None:
    with pytest.raises(ConfigError, match="space: local needs finite decisions"):
        LocalSearch(Space({"a": Choice([0, 1]), "lr": Real(0.1, 1.0)}))
