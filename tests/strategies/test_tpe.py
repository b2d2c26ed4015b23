"""TPE through Optuna: valid configs, learning from results, resumable state."""

from __future__ import annotations

import json
import statistics
from typing import Any

import optuna  # noqa: E402 - a dependency of archsearch
import pytest

from archsearch.errors import ConfigError
from archsearch.space import Choice, Int, Real, Space
from archsearch.spaces import nb201_space
from archsearch.strategies._tpe import TPE
from archsearch.trial import Candidate, Result

MIXED = Space(
    {
        "optimizer": Choice(
            [
                {"name": "sgd", "lr": Real(1e-4, 1.0, log=True)},
                {"name": "adam", "lr": Real(1e-5, 1e-2, log=True), "amsgrad": Choice([0, 1])},
            ]
        ),
        "layers": Int(1, 8),
        "width": Int(16, 512, log=True),
    }
)
ONE_BEST = Space({f"d{i}": Choice(list(range(5))) for i in range(3)})


def scored(score: float | None) -> Result:
    if score is None:
        return Result.failed("boom")
    return Result({"acc": score}, 1.0).with_score(score)


def one_best_score(config: dict[str, int]) -> float:
    return float(sum(v == 3 for v in config.values()))


def drive(tpe: TPE, n: int, score: Any) -> list[Candidate]:
    asked = []
    for _ in range(n):
        candidate = tpe.ask()
        asked.append(candidate)
        tpe.tell(candidate, scored(score(candidate.config)))
    return asked


def test_tpe_rejects_bad_startup_trials() -> None:
    with pytest.raises(ConfigError, match=r"^n_startup_trials: must be an integer >= 0, got -1"):
        TPE(ONE_BEST, n_startup_trials=-1)


def test_asks_valid_configs_in_nb201_and_a_conditional_space() -> None:
    for space in (nb201_space(), MIXED):
        tpe = TPE(space, n_startup_trials=5, seed=0)
        for candidate in drive(tpe, 15, lambda c: 1.0):
            assert space.validate(candidate.config) == candidate.config
            assert candidate.fidelity is None


def test_branches_sharing_a_path_get_distinct_parameters() -> None:
    tpe = TPE(MIXED, n_startup_trials=3, seed=1)
    drive(tpe, 12, lambda c: c["layers"])  # "optimizer.lr" has two domains
    names = {name for t in tpe.study.trials for name in t.params}
    assert {"optimizer", "optimizer.lr", "optimizer.lr#1", "layers", "width"} <= names


def test_told_results_steer_the_search() -> None:
    def late_mean(score: Any) -> float:
        means = []
        for seed in range(2):
            asked = drive(TPE(ONE_BEST, n_startup_trials=8, seed=seed), 40, score)
            means.append(statistics.mean(one_best_score(c.config) for c in asked[20:]))
        return statistics.mean(means)

    # random picks option 3 with probability 1/5: a mean of 0.6 of 3
    assert late_mean(one_best_score) > 1.5


def test_failures_are_told_as_failed_trials() -> None:
    tpe = TPE(ONE_BEST, seed=2)
    candidate = tpe.ask()
    tpe.tell(candidate, scored(None))
    tpe.tell(candidate, scored(1.0))  # told twice: ignored
    assert [t.state for t in tpe.study.trials] == [optuna.trial.TrialState.FAIL]


def test_same_seed_gives_the_same_sequence() -> None:
    first = [c.config for c in drive(TPE(MIXED, n_startup_trials=4, seed=3), 12, len)]
    second = [c.config for c in drive(TPE(MIXED, n_startup_trials=4, seed=3), 12, len)]
    assert first == second


def test_state_round_trip_gives_identical_next_asks() -> None:
    def score(config: dict[str, Any]) -> float:
        return config["layers"] - abs(config["width"] - 128) / 100

    original = TPE(MIXED, n_startup_trials=5, seed=4)
    drive(original, 8, score)
    pending = [original.ask(), original.ask()]
    state = json.loads(json.dumps(original.state_dict()))
    assert [i for i, _ in state["pending"]] == [c.id for c in pending]
    restored = TPE(MIXED, seed=99)
    restored.load_state_dict(state)
    assert json.loads(json.dumps(restored.state_dict())) == state
    for candidate in pending:
        original.tell(candidate, scored(score(candidate.config)))
        restored.tell(candidate, scored(score(candidate.config)))
    for _ in range(6):
        a, b = original.ask(), restored.ask()
        assert a == b
        original.tell(a, scored(score(a.config)))
        restored.tell(b, scored(score(b.config)))
