"""The LSTM controller: token-by-token configs, REINFORCE updates, exact state."""

from __future__ import annotations

import json
import random
import statistics
from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Int, Real, Space
from archsearch.spaces import nb201_space
from archsearch.strategies._controller import LSTMController, _Adam
from archsearch.trial import Result

TARGET = {"a": 2, "b": 0, "c": 3}


def scored(score: float) -> Result:
    return Result({"acc": score}, 1.0).with_score(score)


def toy_space() -> Space:
    return Space({key: Choice([0, 1, 2, 3]) for key in TARGET})


def matches(config: dict[str, int]) -> float:
    return float(sum(config[key] == value for key, value in TARGET.items()))


def train(strategy: LSTMController, reward: Any, n: int) -> list[float]:
    rewards = []
    for _ in range(n):
        candidate = strategy.ask()
        rewards.append(reward(candidate.config))
        strategy.tell(candidate, scored(rewards[-1]))
    return rewards


def test_registered_as_lstm() -> None:
    assert STRATEGIES["lstm"] is LSTMController


def test_rewarded_first_decision_gains_probability_quickly() -> None:
    strategy = LSTMController(Space({"a": Choice([0, 1, 2, 3]), "b": Choice([0, 1])}), seed=0)
    assert strategy.probabilities([], 4)[2] == pytest.approx(0.25, abs=0.05)
    train(strategy, lambda c: float(c["a"] == 2), 40)
    probs = strategy.probabilities([], 4)
    assert probs[2] > 0.5
    assert sum(probs) == pytest.approx(1.0)


def test_learns_a_toy_task_in_a_few_hundred_tells() -> None:
    strategy = LSTMController(toy_space(), seed=1)
    rewards = train(strategy, matches, 300)
    assert statistics.mean(rewards[:50]) < 1.2  # about 3 * 1/4 at random
    assert statistics.mean(rewards[-50:]) > 2.2
    assert max(strategy.probabilities([], 4)) == pytest.approx(strategy.probabilities([], 4)[2])
    assert strategy.probabilities([2], 4)[0] > 0.7


def test_tanh_constant_bounds_how_sure_the_policy_gets() -> None:
    strategy = LSTMController(Space({"a": Choice([0, 1])}), seed=0, tanh_constant=0.5)
    train(strategy, lambda c: float(c["a"]), 60)
    # logits in [-0.5, 0.5]: p <= e^0.5 / (e^0.5 + e^-0.5)
    assert strategy.probabilities([], 2)[1] <= 0.7311 + 1e-6


def test_does_not_touch_global_random_state() -> None:
    torch_state, py_state = torch.random.get_rng_state(), random.getstate()
    strategy = LSTMController(toy_space(), seed=0)
    train(strategy, matches, 3)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert random.getstate() == py_state


def test_same_seed_same_network_and_configs() -> None:
    first, second = LSTMController(toy_space(), seed=4), LSTMController(toy_space(), seed=4)
    assert train(first, matches, 5) == train(second, matches, 5)
    for a, b in zip(first.network.parameters(), second.network.parameters(), strict=True):
        assert torch.equal(a, b)
    other = LSTMController(toy_space(), seed=5)
    assert not torch.equal(other.network.head.weight, first.network.head.weight)


def test_failed_results_leave_the_network_alone() -> None:
    strategy = LSTMController(toy_space(), seed=0)
    before = [p.clone() for p in strategy.network.parameters()]
    strategy.tell(strategy.ask(), Result.failed("boom"))
    assert all(
        torch.equal(a, b) for a, b in zip(before, strategy.network.parameters(), strict=True)
    )
    assert strategy.baseline is None
    assert strategy.state_dict()["pending"] == []


def test_state_is_json_and_restores_training_exactly() -> None:
    original = LSTMController(toy_space(), seed=2)
    train(original, matches, 4)
    out = original.ask()
    state = json.loads(json.dumps(original.state_dict()))
    assert state["network"]["head.weight"]["dtype"] == "float32"
    assert len(state["generator"]) == len(torch.Generator().get_state())
    restored = LSTMController(toy_space(), seed=99)
    restored.load_state_dict(state)
    original.tell(out, scored(3.0))
    restored.tell(out, scored(3.0))
    assert train(original, matches, 6) == train(restored, matches, 6)
    for a, b in zip(original.network.parameters(), restored.network.parameters(), strict=True):
        assert torch.equal(a, b)


def test_conditional_and_integer_decisions() -> None:
    space = Space(
        {
            "block": Choice([{"type": "conv", "kernel": Choice([3, 5, 7])}, {"type": "pool"}]),
            "depth": Int(1, 6),
        }
    )
    strategy = LSTMController(space, seed=0)
    assert strategy.network.head.out_features == 6  # the widest decision: depth
    for _ in range(20):
        candidate = strategy.ask()
        assert space.validate(candidate.config) == candidate.config
        strategy.tell(candidate, scored(float(candidate.config["depth"])))


def test_ask_cost_is_one_lstm_step_per_decision() -> None:
    strategy = LSTMController(nb201_space(), seed=0, hidden_size=16)
    calls = []
    step = strategy.network.step

    def counting(*args: Any) -> Any:
        calls.append(args[2])
        return step(*args)

    strategy.network.step = counting  # type: ignore[method-assign]
    strategy.ask()
    assert calls == [5] * 6


@pytest.mark.slow  # the first torch.optim optimizer of a process imports torch._dynamo (~1-3 s)
def test_its_adam_steps_exactly_as_torch_optim_adam() -> None:
    generator = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.rand(128, 32, generator=generator)) for _ in range(2)]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    mine, reference = _Adam(ours, 0.0035), torch.optim.Adam(theirs, lr=0.0035)
    for _ in range(5):
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.randn(128, 32, generator=generator)
            b.grad = a.grad.clone()
        mine.step()
        reference.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"hidden_size": 0}, "hidden_size: must be an integer >= 1, got 0"),
        ({"hidden_size": 32.0}, "hidden_size"),
        ({"learning_rate": -1}, "learning_rate: must be a finite number > 0, got -1"),
        ({"momentum": 1}, r"momentum: must be a number in \[0, 1\)"),
        ({"entropy_weight": -0.1}, "entropy_weight: must be a number >= 0"),
        ({"temperature": 0}, "temperature: must be a number > 0"),
        ({"tanh_constant": 0}, "tanh_constant: must be a number > 0 or None"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LSTMController(toy_space(), **options)


def test_unsupported_spaces_are_refused() -> None:
    with pytest.raises(ConfigError, match="space: lstm needs finite decisions"):
        LSTMController(Space({"x": Choice([0, 1]), "lr": Real(0.1, 1.0)}))
    with pytest.raises(ConfigError, match="at most 4096 options per decision, got 10001"):
        LSTMController(Space({"n": Int(0, 10_000)}))
