"""Predictor-based search: valid, new asks; exploitation; priors; identical asks after restore."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import NB201Benchmark
from archsearch.space import Choice, Space
from archsearch.spaces import nb201_space
from archsearch.spaces.nb201 import EDGES
from archsearch.strategies._predictor import PredictorSearch
from archsearch.trial import Candidate, Result

BENCH = NB201Benchmark(fidelity=200)
FAST = {"n_members": 2, "steps": 15, "n_initial": 5, "refit_every": 4, "n_random": 30}


def result_for(candidate: Candidate) -> Result:
    result = BENCH.evaluate(candidate.config)
    return result.with_score(result.metrics["valid_accuracy"])


def run(strategy: PredictorSearch, n: int) -> list[Any]:
    asked = []
    for _ in range(n):
        candidate = strategy.ask()
        strategy.tell(candidate, result_for(candidate))
        asked.append(candidate.config)
    return asked


def test_asks_are_valid_and_never_repeat() -> None:
    space = nb201_space()
    asked = run(PredictorSearch(space, seed=0, **FAST), 30)
    for config in asked:
        assert space.validate(config) == config
    assert len({space.key(c) for c in asked}) == 30


def test_the_model_steers_asks_to_better_cells() -> None:
    strategy = PredictorSearch(nb201_space(), seed=1, **FAST)
    asked = run(strategy, 30)
    start = [BENCH.truth(c)["final_accuracy"] for c in asked[:5]]
    guided = [BENCH.truth(c)["final_accuracy"] for c in asked[-10:]]
    assert sum(guided) / 10 > sum(start) / 5


@pytest.mark.parametrize("acquisition", ["ucb", "thompson", "mean"])
def test_state_round_trips_to_identical_asks(acquisition: str) -> None:
    original = PredictorSearch(nb201_space(), seed=2, acquisition=acquisition, **FAST)
    run(original, 9)  # past the first model, one result short of a refit
    pending = [original.ask(), original.ask()]
    state = json.loads(json.dumps(original.state_dict()))
    restored = PredictorSearch(nb201_space(), seed=99, acquisition=acquisition, **FAST)
    restored.load_state_dict(state)
    assert json.loads(json.dumps(restored.state_dict())) == state
    for candidate in pending:
        original.tell(candidate, result_for(candidate))
        restored.tell(candidate, result_for(candidate))
    assert run(original, 6) == run(restored, 6)


def test_a_prior_chooses_the_first_asks() -> None:
    def convs(config: dict[str, str]) -> float:
        return float(sum(op == "nor_conv_3x3" for op in config.values()))

    strategy = PredictorSearch(nb201_space(), prior=convs, n_prior_pool=200, seed=3, **FAST)
    first = [strategy.ask().config for _ in range(3)]
    assert first[0] == dict.fromkeys(EDGES, "nor_conv_3x3") or convs(first[0]) >= 5
    assert [convs(c) for c in first] == sorted((convs(c) for c in first), reverse=True)


def test_failures_are_remembered_but_not_learned_from() -> None:
    strategy = PredictorSearch(nb201_space(), seed=4, **FAST)
    for i in range(12):
        candidate = strategy.ask()
        strategy.tell(candidate, Result.failed("x") if i % 2 else result_for(candidate))
    assert len(strategy.data) == 6
    assert len(strategy.asked) == 12


def test_mlp_searches_a_flat_space_and_gates_refuses_it() -> None:
    space = Space({"a": Choice(list(range(6))), "b": Choice(list(range(6)))})
    strategy = PredictorSearch(space, predictor="mlp", loss="mse", seed=5, **FAST)
    for _ in range(12):
        candidate = strategy.ask()
        strategy.tell(candidate, Result({}).with_score(float(sum(candidate.config.values()))))
    with pytest.raises(ConfigError, match=r"^edge_0_1: unknown op None"):
        PredictorSearch(space)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"acquisition": "ei"}, r"^acquisition: unknown 'ei'; allowed: thompson, ucb, mean"),
        ({"n_members": 0}, r"^n_members: must be an integer >= 1, got 0"),
        ({"n_random": -1}, r"^n_random: must be an integer >= 0, got -1"),
        ({"predictor": "lstm"}, r"^model: unknown 'lstm'"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PredictorSearch(nb201_space(), **options)
