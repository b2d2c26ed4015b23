"""REINFORCE: independent categoricals, moving-average baseline, Adam on the logits."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Int, Real, Space
from archsearch.spaces import nb201_space
from archsearch.strategies._reinforce import Reinforce
from archsearch.trial import Result


def scored(score: float) -> Result:
    return Result({"acc": score}, 1.0).with_score(score)


def toy_space() -> Space:
    return Space({"op": Choice(["a", "b", "c"]), "width": Int(1, 2)})


def train(strategy: Reinforce, reward: Any, n: int) -> list[Any]:
    configs = []
    for _ in range(n):
        candidate = strategy.ask()
        strategy.tell(candidate, scored(reward(candidate.config)))
        configs.append(candidate.config)
    return configs


def test_registered_as_reinforce() -> None:
    assert STRATEGIES["reinforce"] is Reinforce


def test_rewarded_option_gains_probability() -> None:
    strategy = Reinforce(toy_space(), seed=0, learning_rate=0.05)
    train(strategy, lambda c: 1.0 if c["op"] == "b" else 0.0, 200)
    probs = strategy.probabilities("op", 3)
    assert probs is not None
    assert probs[1] > 0.9
    assert math.isclose(sum(probs), 1.0)
    assert strategy.probabilities("depth", 2) is None  # never met


@pytest.mark.slow  # the first torch.optim optimizer of a process imports torch._dynamo (~1-3 s)
def test_matches_nats_bench_torch_reinforce_step_for_step() -> None:
    """Same logits, actions and rewards: torch's Adam on -log_prob * (r - baseline)."""
    strategy = Reinforce(toy_space(), seed=3)
    first = strategy.ask()
    names = [("op", 3), ("width", 2)]
    start = [list(strategy._policy[name].logits) for name in names]
    params = [torch.nn.Parameter(torch.tensor(z, dtype=torch.float64)) for z in start]
    optimizer = torch.optim.Adam(params, lr=0.01)
    numerator = denominator = 0.0
    candidate = first
    for reward in (80.0, 84.0, 79.0, 90.0, 85.0):
        strategy.tell(candidate, scored(reward))
        actions = [gene.index for gene in strategy.space.genome(candidate.config)]
        numerator = 0.9 * numerator + 0.1 * reward  # NATS-Bench's ExponentialMovingAverage
        denominator = 0.9 * denominator + 0.1
        log_prob = sum(torch.log_softmax(p, 0)[a] for p, a in zip(params, actions, strict=True))
        loss = -log_prob * (reward - numerator / denominator)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
        candidate = strategy.ask()
    for param, name in zip(params, names, strict=True):
        assert strategy._policy[name].logits == pytest.approx(param.tolist(), rel=1e-12)
    assert strategy.baseline == pytest.approx(numerator / denominator)


def test_sgd_takes_a_plain_gradient_step() -> None:
    strategy = Reinforce(Space({"x": Choice([0, 1])}), seed=1, optimizer="sgd", learning_rate=0.5)
    first, second = strategy.ask(), None
    strategy.tell(first, scored(1.0))  # baseline = 1.0: advantage 0, nothing moves
    before = strategy.probabilities("x", 2)
    second = strategy.ask()
    logits = list(strategy._policy["x", 2].logits)
    strategy.tell(second, scored(3.0))
    advantage = 3.0 - (0.9 * 0.1 + 0.1 * 3.0) / (0.9 * 0.1 + 0.1)
    chosen = second.config["x"]
    assert before is not None
    expected = [
        z + 0.5 * advantage * ((1.0 if j == chosen else 0.0) - before[j])
        for j, z in enumerate(logits)
    ]
    assert strategy._policy["x", 2].logits == pytest.approx(expected, rel=1e-12)


def test_first_score_sets_the_baseline_and_failures_change_nothing() -> None:
    strategy = Reinforce(toy_space(), seed=2)
    assert strategy.baseline is None
    failed = strategy.ask()
    state = json.dumps(strategy.state_dict())
    strategy.tell(failed, Result.failed("boom"))
    after = strategy.state_dict()
    assert after["pending"] == []
    assert after["policy"] == json.loads(state)["policy"]
    assert strategy.baseline is None
    strategy.tell(strategy.ask(), scored(42.0))
    assert strategy.baseline == pytest.approx(42.0)


def test_flat_fast_path_equals_the_generic_decide_path() -> None:
    fast = Reinforce(nb201_space(), seed=5)
    generic = Reinforce(nb201_space(), seed=5)
    generic._flat = None
    assert fast._flat is not None
    reward = lambda c: float(sum(op == "nor_conv_3x3" for op in c.values()))  # noqa: E731
    assert train(fast, reward, 30) == train(generic, reward, 30)
    assert fast.state_dict() == generic.state_dict()


def test_conditional_space_keys_logits_by_path() -> None:
    space = Space(
        {"block": Choice([{"type": "conv", "kernel": Choice([3, 5])}, {"type": "pool"}])}
    )
    strategy = Reinforce(space, seed=0, learning_rate=0.1)
    configs = train(strategy, lambda c: float(c["block"].get("kernel", 0)), 150)
    for config in configs:
        assert space.validate(config) == config
    kernel = strategy.probabilities("block.kernel", 2)
    block = strategy.probabilities("block", 2)
    assert kernel is not None and block is not None
    assert kernel[1] > 0.7  # kernel 5 pays most
    assert block[0] > 0.7  # and only the conv branch has a kernel


def test_a_choice_nested_in_a_choice_gets_its_own_logits() -> None:
    space = Space({"x": Choice([Choice([1, 2]), Choice([3, 4, 5])])})
    strategy = Reinforce(space, seed=0, learning_rate=0.1)
    configs = train(strategy, lambda c: float(c["x"] == 5), 200)
    assert {config["x"] for config in configs} <= {1, 2, 3, 4, 5}
    inner = strategy.probabilities("x#1", 3)
    assert inner is not None and inner[2] > 0.7


def test_tell_of_a_candidate_from_elsewhere_uses_its_genome() -> None:
    strategy = Reinforce(toy_space(), seed=0)
    train(strategy, lambda c: 0.0, 2)
    before = strategy.probabilities("op", 3)
    from archsearch.trial import Candidate

    strategy.tell(Candidate(99, {"op": "c", "width": 1}), scored(10.0))
    after = strategy.probabilities("op", 3)
    assert before is not None and after is not None
    assert after[2] > before[2]


def test_state_round_trip_mid_search() -> None:
    original = Reinforce(nb201_space(), seed=9)
    train(original, lambda c: float(len(set(c.values()))), 10)
    out = original.ask()
    restored = Reinforce(nb201_space(), seed=0)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    original.tell(out, scored(1.0))
    restored.tell(out, scored(1.0))
    reward = lambda c: float(len(set(c.values())))  # noqa: E731
    assert train(original, reward, 10) == train(restored, reward, 10)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"learning_rate": 0}, "learning_rate: must be a finite number > 0, got 0"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"momentum": 1.0}, r"momentum: must be a number in \[0, 1\), got 1.0"),
        ({"momentum": True}, "momentum"),
        ({"optimizer": "rmsprop"}, "optimizer: unknown 'rmsprop'; allowed: adam, sgd"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Reinforce(toy_space(), **options)


def test_real_decisions_are_refused() -> None:
    with pytest.raises(ConfigError, match="space: reinforce needs finite decisions"):
        Reinforce(Space({"lr": Real(1e-4, 1e-1)}))


def test_registry_names_the_field_of_a_bad_option() -> None:
    with pytest.raises(ConfigError, match=r"^strategy\.momentum: must be"):
        STRATEGIES.create(
            "reinforce", {"momentum": -0.1}, field="strategy", space=toy_space(), seed=0
        )
