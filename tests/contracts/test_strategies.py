"""The Strategy contract, run against every registered strategy on the NB201 space."""

from __future__ import annotations

import inspect
import json
import random
from typing import Any

import pytest

from archsearch.evaluation import NB201Benchmark
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.spaces import nb201_space
from archsearch.strategies import GridSearch
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result, TrialStatus

NAMES = sorted(STRATEGIES)
BENCH = NB201Benchmark(dataset="cifar10")


def make(name: str, seed: int | None = 0, space: Space | None = None) -> Strategy:
    factory = STRATEGIES[name]
    extra: dict[str, Any] = {}
    if "fidelities" in inspect.signature(factory).parameters:
        extra["fidelities"] = BENCH.fidelities  # as build_experiment passes them
    space = space if space is not None else nb201_space()
    if "configs" in inspect.signature(factory).parameters:  # evaluates a given list
        rng = random.Random(7)
        extra["configs"] = [space.sample(rng) for _ in range(200)]
        extra["ladder"] = BENCH.fidelities
    strategy = factory(space, seed=seed, **extra)
    assert isinstance(strategy, Strategy)
    return strategy


def result_for(candidate: Candidate) -> Result:
    result = BENCH.evaluate(candidate.config, candidate.fidelity)
    return result.with_score(result.metrics["valid_accuracy"])


def step(strategy: Strategy) -> Candidate | None:
    """Ask once and tell the benchmark's answer at once."""
    candidate = strategy.ask()
    if candidate is not None:
        strategy.tell(candidate, result_for(candidate))
    return candidate


def asks(strategy: Strategy, n: int) -> list[Candidate]:
    """Up to ``n`` asks before any tell; at least the first must give a candidate.

    The contract allows None ("nothing to propose right now"): a synchronous strategy
    such as Hyperband answers None while a rung waits for its results.
    """
    batch = [strategy.ask() for _ in range(n)]
    assert batch[0] is not None
    first_none = next((i for i, c in enumerate(batch) if c is None), n)
    assert all(c is None for c in batch[first_none:]), "None then a candidate again"
    return [c for c in batch if c is not None]


def run(strategy: Strategy, n: int) -> list[Any]:
    asked = []
    for _ in range(n):
        candidate = step(strategy)
        if candidate is None:
            break
        asked.append(candidate.config)
    return asked


def test_registry_lists_the_builtin_strategies() -> None:
    assert {"grid", "random", "rea"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_asked_configs_are_valid_in_the_space(name: str) -> None:
    space = nb201_space()
    strategy = make(name, seed=1, space=space)
    asked = run(strategy, 60)
    assert len(asked) == 60
    for config in asked:
        assert space.validate(config) == config


@pytest.mark.parametrize("name", NAMES)
def test_candidate_ids_count_up_from_zero(name: str) -> None:
    strategy = make(name)
    ids = []
    # a batch of asks before any tell (a synchronous strategy may answer None while it
    # waits for results), then one at a time
    batch = asks(strategy, 4)
    for candidate in batch:
        ids.append(candidate.id)
    for candidate in batch:
        strategy.tell(candidate, result_for(candidate))
    for _ in range(26):
        candidate = step(strategy)
        assert candidate is not None
        ids.append(candidate.id)
    assert ids == list(range(len(ids)))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_sequence(name: str) -> None:
    first = run(make(name, seed=7), 40)
    second = run(make(name, seed=7), 40)
    assert len(first) == 40
    assert first == second


@pytest.mark.parametrize("name", NAMES)
def test_failed_and_scoreless_results_are_accepted(name: str) -> None:
    space = nb201_space()
    strategy = make(name, seed=2, space=space)
    for i in range(30):
        candidate = strategy.ask()
        assert candidate is not None
        if i % 3 == 0:
            result = Result.failed("x")
            assert result.score is None
            assert result.status == TrialStatus.FAILED
        elif i % 3 == 1:
            result = BENCH.evaluate(candidate.config).with_score(None)  # infeasible
        else:
            result = result_for(candidate)
        strategy.tell(candidate, result)
    # and it goes on proposing valid configs
    for config in run(strategy, 10):
        assert space.validate(config) == config


@pytest.mark.parametrize("name", NAMES)
def test_only_failures_still_leaves_a_working_strategy(name: str) -> None:
    space = nb201_space()
    strategy = make(name, seed=3, space=space)
    for _ in range(25):
        candidate = strategy.ask()
        assert candidate is not None
        strategy.tell(candidate, Result.failed("x"))
        assert space.validate(candidate.config) == candidate.config


@pytest.mark.parametrize("name", NAMES)
def test_results_may_be_told_out_of_order(name: str) -> None:
    space = nb201_space()
    strategy = make(name, seed=4, space=space)
    for _ in range(5):
        batch = asks(strategy, 5)
        for candidate in reversed(batch):
            strategy.tell(candidate, result_for(candidate))
    for config in run(strategy, 10):
        assert space.validate(config) == config


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("warmup", [0, 3, 25])
def test_state_dict_round_trips_to_identical_next_asks(name: str, warmup: int) -> None:
    original = make(name, seed=11)
    run(original, warmup)
    # two candidates are out (asked, not told) when the snapshot is taken
    pending = asks(original, 2)
    state = original.state_dict()
    text = json.dumps(state)  # JSON-serialisable
    restored = make(name, seed=12345)  # a different seed: the state must win
    restored.load_state_dict(json.loads(text))
    assert json.loads(json.dumps(restored.state_dict())) == json.loads(text)

    for candidate in pending:
        assert candidate is not None
        original.tell(candidate, result_for(candidate))
        restored.tell(candidate, result_for(candidate))
    for _ in range(30):
        a, b = original.ask(), restored.ask()
        assert a == b
        assert a is not None
        original.tell(a, result_for(a))
        restored.tell(b, result_for(b))


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_with_failures_round_trips(name: str) -> None:
    original = make(name, seed=5)
    for i in range(14):
        candidate = original.ask()
        assert candidate is not None
        original.tell(candidate, Result.failed("x") if i % 2 else result_for(candidate))
    restored = make(name, seed=None)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    assert run(original, 20) == run(restored, 20)


# -- grid search ------------------------------------------------------------------------


def test_grid_covers_every_config_once_then_finishes() -> None:
    space = nb201_space()
    grid = GridSearch(space)
    seen = set()
    n = 0
    while (candidate := grid.ask()) is not None:
        assert candidate.id == n
        seen.add(space.key(candidate.config))
        n += 1
        if n == 15_625:
            break
    assert n == 15_625
    assert len(seen) == 15_625
    assert grid.is_finished
    assert grid.ask() is None
    assert grid.ask() is None
    assert grid.is_finished


def test_grid_resumes_where_it_stopped() -> None:
    space = nb201_space(ops=["none", "skip_connect", "nor_conv_3x3"])
    whole = [c.config for c in iter(GridSearch(space).ask, None)]
    assert len(whole) == 3**6
    first = GridSearch(space)
    head = [first.ask().config for _ in range(100)]  # type: ignore[union-attr]
    second = GridSearch(space)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert not second.is_finished
    tail = [c.config for c in iter(second.ask, None)]
    assert head + tail == whole
    assert second.is_finished
