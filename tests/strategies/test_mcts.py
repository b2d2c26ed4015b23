"""Monte-Carlo tree search: UCB1 on normalised scores, expansion, rollout, backup."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Int, Real, Space
from archsearch.strategies._mcts import MonteCarloTreeSearch
from archsearch.trial import Candidate, Result


def scored(score: float) -> Result:
    return Result({"acc": score}, 1.0).with_score(score)


def grid(n_a: int = 4, n_b: int = 4) -> Space:
    return Space({"a": Choice(list(range(n_a))), "b": Choice(list(range(n_b)))})


def run(strategy: MonteCarloTreeSearch, score: Callable[[Any], float], n: int) -> list[Any]:
    configs = []
    for _ in range(n):
        candidate = strategy.ask()
        strategy.tell(candidate, scored(score(candidate.config)))
        configs.append(candidate.config)
    return configs


def best_a(config: Any) -> float:
    """a = 2 pays most; within every branch b = 3 pays a little more."""
    return (10.0 if config["a"] == 2 else 0.0) + (3.0 if config["b"] == 3 else 0.0)


def test_registered_as_mcts() -> None:
    assert STRATEGIES["mcts"] is MonteCarloTreeSearch


def test_every_root_child_is_tried_before_any_is_revisited() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=0)
    first = run(strategy, best_a, 4)
    assert sorted(config["a"] for config in first) == [0, 1, 2, 3]
    assert strategy.visits() == [1, 1, 1, 1]
    assert strategy.n_nodes == 5  # the root and one expansion per ask


def test_visits_concentrate_on_the_best_branch() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=1)
    configs = run(strategy, best_a, 120)
    visits = strategy.visits()
    assert visits is not None and sum(visits) == 120
    assert visits[2] > 0.6 * 120
    assert visits.index(max(visits)) == 2
    # inside the best branch, the best leaf (b = 3) is visited most
    inner = strategy.visits((2,))
    assert inner is not None and inner.index(max(inner)) == 3
    assert all(config["a"] == 2 for config in configs[-10:])


def test_exploration_zero_is_greedy_after_the_first_round() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=0, exploration=0.0)
    configs = run(strategy, lambda c: float(c["a"]), 20)
    assert [config["a"] for config in configs[4:]] == [3] * 16


def test_scores_are_normalised_so_scale_and_shift_do_not_matter() -> None:
    plain = run(MonteCarloTreeSearch(grid(), seed=3), best_a, 60)
    scaled = run(MonteCarloTreeSearch(grid(), seed=3), lambda c: 1000 * best_a(c) - 77, 60)
    assert plain == scaled


def test_outstanding_asks_spread_over_the_children() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=0)
    batch = [strategy.ask() for _ in range(8)]
    assert sorted(c.config["a"] for c in batch) == [0, 0, 1, 1, 2, 2, 3, 3]
    for candidate in batch:
        strategy.tell(candidate, scored(best_a(candidate.config)))
    assert sum(strategy.visits() or []) == 8
    assert strategy.state_dict()["pending"] == []


def test_failed_results_leave_no_visit() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=0)
    candidate = strategy.ask()
    strategy.tell(candidate, Result.failed("boom"))
    tree = {tuple(p): (v, s) for p, v, s in strategy.state_dict()["tree"]}
    assert tree[()] == (0, 0.0)
    assert all(visits == 0 for visits, _ in tree.values())
    assert strategy.state_dict()["score_range"] == [None, None]
    # and the search goes on
    assert run(strategy, best_a, 5)


def test_backup_adds_the_score_to_every_tree_node_on_the_path() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=0)
    run(strategy, lambda c: 1.0, 4)  # one expansion at the root each
    candidate = strategy.ask()  # goes one level deeper: root -> child -> new grandchild
    strategy.tell(candidate, scored(5.0))
    a, b = candidate.config["a"], candidate.config["b"]
    tree = {tuple(p): (v, s) for p, v, s in strategy.state_dict()["tree"]}
    assert tree[()] == (5, 9.0)
    assert tree[(a,)] == (2, 6.0)
    assert tree[(a, b)] == (1, 5.0)


def test_small_space_fills_its_tree_and_keeps_going() -> None:
    space = grid(2, 2)
    strategy = MonteCarloTreeSearch(space, seed=0)
    configs = run(strategy, lambda c: float(c["a"] + c["b"]), 30)
    assert strategy.n_nodes == 1 + 2 + 4
    assert all(space.validate(config) == config for config in configs)
    root, best_branch = strategy.visits(), strategy.visits((1,))
    assert root is not None and sum(root) == 30 and root[1] > root[0]
    assert best_branch is not None and best_branch[1] > best_branch[0]  # (1, 1) the most


def test_conditional_and_integer_decisions() -> None:
    space = Space(
        {
            "block": Choice([{"type": "conv", "k": Choice([3, 5])}, {"type": "pool"}]),
            "n": Int(1, 3),
        }
    )
    strategy = MonteCarloTreeSearch(space, seed=0)
    configs = run(strategy, lambda c: float(c["block"].get("k", 0) + c["n"]), 60)
    assert all(space.validate(config) == config for config in configs)
    counts = Counter(json.dumps(config, sort_keys=True) for config in configs)
    best = {"block": {"type": "conv", "k": 5}, "n": 3}
    assert counts.most_common(1)[0][0] == json.dumps(best, sort_keys=True)
    visits = strategy.visits((0, 1))  # conv, then kernel 5: the n decisions below
    assert visits is not None and visits == sorted(visits)


def test_tell_of_a_candidate_from_elsewhere_backs_up_its_tree_part() -> None:
    strategy = MonteCarloTreeSearch(grid(), seed=0)
    run(strategy, lambda c: 1.0, 4)
    strategy.tell(Candidate(99, {"a": 1, "b": 0}), scored(3.0))
    tree = {tuple(p): (v, s) for p, v, s in strategy.state_dict()["tree"]}
    assert tree[()] == (5, 7.0)
    assert tree[(1,)] == (2, 4.0)


def test_state_is_json_and_restores_identical_asks() -> None:
    original = MonteCarloTreeSearch(grid(), seed=5)
    run(original, best_a, 10)
    out = [original.ask(), original.ask()]
    state = json.loads(json.dumps(original.state_dict()))
    assert all(len(node) == 3 for node in state["tree"])  # [indices, visits, value_sum]
    restored = MonteCarloTreeSearch(grid(), seed=0)
    restored.load_state_dict(state)
    for candidate in out:
        original.tell(candidate, scored(best_a(candidate.config)))
        restored.tell(candidate, scored(best_a(candidate.config)))
    assert run(original, best_a, 20) == run(restored, best_a, 20)


@pytest.mark.parametrize("value", [-1.0, math.inf, True, "2"])
def test_bad_exploration_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="exploration: must be a finite number >= 0"):
        MonteCarloTreeSearch(grid(), exploration=value)


def test_real_decisions_are_refused() -> None:
    with pytest.raises(ConfigError, match="space: mcts needs finite decisions"):
        MonteCarloTreeSearch(Space({"a": Choice([0, 1]), "lr": Real(0.1, 1.0)}))
