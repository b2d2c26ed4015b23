"""BOHB: options, the density model, its proposals, and resumable state."""

from __future__ import annotations

import json
import math
import random
import statistics
from typing import Any

import numpy as np
import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import NB201Benchmark
from archsearch.experiment import Budget, Experiment, SimulatedExecutor
from archsearch.objectives import Objective
from archsearch.space import Choice, Int, Real, Space
from archsearch.spaces import nb201_space
from archsearch.strategies._bohb import BOHB, _Encoder, _from_unit, _to_unit
from archsearch.trial import Candidate, Result

BEST = 2  # the best option of every decision in the toy space
TOY = Space({f"d{i}": Choice(list(range(5))) for i in range(6)})
MIXED = Space(
    {
        "optimizer": Choice(
            [
                {"name": "sgd", "lr": Real(1e-4, 1.0, log=True), "nesterov": Choice([0, 1])},
                {"name": "adam", "beta": Real(0.5, 0.999)},
            ]
        ),
        "layers": Int(1, 8),
        "width": Int(16, 512, log=True),
    }
)


def scored(score: float | None) -> Result:
    if score is None:
        return Result.failed("boom")
    return Result({"acc": score}, 1.0).with_score(score)


def toy_score(config: dict[str, int]) -> float:
    """Decisions at their best option, with a small preference for low other options."""
    return sum(v == BEST for v in config.values()) - 0.01 * sum(config.values())


def mixed_score(config: dict[str, Any]) -> float:
    opt = config["optimizer"]
    bonus = -abs(math.log10(opt["lr"]) + 2) if opt["name"] == "sgd" else opt["beta"]
    return bonus + config["layers"] / 8 - abs(math.log2(config["width"]) - 7)


def drive(strategy: BOHB, n: int, score: Any = toy_score) -> list[Candidate]:
    asked = []
    for _ in range(n):
        candidate = strategy.ask()
        assert candidate is not None
        asked.append(candidate)
        strategy.tell(candidate, scored(score(candidate.config)))
    return asked


# -- options ----------------------------------------------------------------------------


def test_defaults_are_bohbs() -> None:
    bohb = BOHB(TOY, fidelities=(1.0,))
    assert (bohb.top_n_percent, bohb.num_samples, bohb.random_fraction) == (15, 64, 1 / 3)
    assert (bohb.bandwidth_factor, bohb.min_bandwidth, bohb.eta) == (3, 1e-3, 3.0)
    assert bohb.max_brackets is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_n_percent": 0}, r"^top_n_percent: must be a number in \(0, 100\), got 0"),
        ({"num_samples": 0}, r"^num_samples: must be an integer >= 1, got 0"),
        ({"random_fraction": 1.5}, r"^random_fraction: must be a number in \[0, 1\]"),
        ({"bandwidth_factor": -1}, r"^bandwidth_factor: must be a number > 0"),
        ({"min_bandwidth": 1}, r"^min_bandwidth: must be a number in \(0, 1\)"),
        ({"min_points_in_model": 0}, r"^min_points_in_model: must be an integer >= 1 or None"),
        ({"fidelities": None}, r"^fidelities: a multi-fidelity strategy needs"),
    ],
)
def test_bohb_rejects_bad_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BOHB(TOY, **{"fidelities": (1.0, 3.0), **kwargs})


@pytest.mark.parametrize(
    ("domain", "values"),
    [
        (Int(1, 8), [0, 3, 7]),
        (Int(16, 512, log=True), [0, 17, 496]),
        (Real(1e-4, 1.0, log=True), [1e-4, 0.01, 1.0]),
        (Real(0.5, 0.999), [0.5, 0.7, 0.999]),
        (Choice(["a", "b", "c"]), [0, 2]),
    ],
)
def test_unit_coding_round_trips(domain: Any, values: list[float]) -> None:
    for value in values:
        unit = _to_unit(domain, value)
        assert 0 <= unit <= 1 or isinstance(domain, Choice)
        assert _from_unit(domain, unit) == pytest.approx(value)


def test_flat_space_rows_match_the_genome_coding() -> None:
    # look-alike options (1 == True == 1.0) must keep their own columns' indices
    space = Space({"a": Choice([1, True, "x"]), "b": Choice([0.0, False, 2]), "c": Choice(["k"])})
    fast, slow = _Encoder(space), _Encoder(space)
    slow.is_flat = False  # the genome path, decision by decision
    rng = random.Random(0)
    configs = [{"a": True, "b": False, "c": "k"}] + [space.sample(rng) for _ in range(40)]
    for config in configs:
        row = fast.encode(config)
        assert row == slow.encode(config)
        decoded = fast.decode(np.asarray(row), rng)
        assert decoded == config
        assert [type(v) for v in decoded.values()] == [type(v) for v in config.values()]
    with pytest.raises(ConfigError, match="a"):
        fast.encode({"a": "nope", "b": 2, "c": "k"})


# -- the model --------------------------------------------------------------------------


def test_model_based_proposals_beat_random() -> None:
    def mean_late_score(random_fraction: float) -> float:
        means = []
        for seed in range(4):
            bohb = BOHB(TOY, fidelities=(1.0,), random_fraction=random_fraction, seed=seed)
            asked = drive(bohb, 60)
            means.append(statistics.mean(toy_score(c.config) for c in asked[20:]))
        return statistics.mean(means)

    model, random = mean_late_score(0.0), mean_late_score(1.0)
    assert random < 1.5  # six decisions, each best with probability 1/5
    assert model > random + 1.0


def test_the_model_follows_the_highest_fidelity_with_enough_results() -> None:
    bohb = BOHB(TOY, fidelities=(1.0, 3.0), random_fraction=0.0, seed=1)
    # at fidelity 1 option 0 is best everywhere, at fidelity 3 option 4
    for i, config in enumerate(TOY.sample(seed=s) for s in range(40)):
        for fidelity, best in ((1.0, 0), (3.0, 4)):
            score = float(sum(v == best for v in config.values()))
            bohb.tell(Candidate(1000 + 2 * i + int(fidelity), config, fidelity), scored(score))
    # new configs all: bracket s=1 starts 3 at fidelity 1, bracket s=0 two at 3
    first = [bohb.ask() for _ in range(5)]
    assert [c.fidelity for c in first] == [1.0, 1.0, 1.0, 3.0, 3.0]
    values = [v for c in first for v in c.config.values()]
    assert values.count(4) > values.count(0) + 10


def test_failures_count_as_the_worst_results() -> None:
    bohb = BOHB(TOY, fidelities=(1.0,), random_fraction=0.0, seed=2)
    for i, config in enumerate(TOY.sample(seed=s) for s in range(60)):
        failed = config["d0"] == 1  # option 1 of d0 always fails
        bohb.tell(Candidate(1000 + i, config, 1.0), scored(None if failed else 1.0))
    asked = drive(bohb, 20, lambda c: 1.0)
    assert sum(c.config["d0"] == 1 for c in asked) <= 2


def test_model_picks_are_never_configs_run_before() -> None:
    bohb = BOHB(TOY, fidelities=(1.0,), random_fraction=0.0, seed=3)
    asked = drive(bohb, 80)
    keys = [TOY.key(c.config) for c in asked]
    n_min = 2 * (6 + 1)  # no model before: those are random and may repeat
    for i in range(n_min, len(keys)):
        assert keys[i] not in keys[:i]


def test_conditional_mixed_space_gives_valid_configs_and_learns() -> None:
    bohb = BOHB(MIXED, fidelities=(1.0,), random_fraction=0.0, seed=4)
    asked = drive(bohb, 60, mixed_score)
    for candidate in asked:
        assert MIXED.validate(candidate.config) == candidate.config
    early = statistics.mean(mixed_score(c.config) for c in asked[:15])
    late = statistics.mean(mixed_score(c.config) for c in asked[30:])
    assert late > early


# -- state ------------------------------------------------------------------------------


@pytest.mark.parametrize(("space", "score"), [(TOY, toy_score), (MIXED, mixed_score)])
def test_state_round_trip_gives_identical_next_asks(space: Space, score: Any) -> None:
    def make(seed: int) -> BOHB:
        return BOHB(space, fidelities=(1.0, 3.0, 9.0), seed=seed)

    original = make(5)
    drive(original, 30, score)
    pending = [original.ask(), original.ask()]
    state = json.loads(json.dumps(original.state_dict()))
    restored = make(99)
    restored.load_state_dict(state)
    assert json.loads(json.dumps(restored.state_dict())) == state
    for candidate in pending:
        assert candidate is not None
        original.tell(candidate, scored(score(candidate.config)))
        restored.tell(candidate, scored(score(candidate.config)))
    for _ in range(30):
        a, b = original.ask(), restored.ask()
        assert a == b
        assert a is not None
        original.tell(a, scored(score(a.config)))
        restored.tell(a, scored(score(a.config)))


def test_nb201_protocol_setting_runs_at_12_epochs_only() -> None:
    space = nb201_space()
    bench = NB201Benchmark()
    bohb = BOHB(space, fidelities=bench.fidelities, max_fidelity=12, seed=0)
    fidelities = []
    experiment = Experiment(
        space=space,
        strategy=bohb,
        evaluator=bench,
        objective=Objective("valid_accuracy"),
        budget=Budget(seconds=5000),
        executor=SimulatedExecutor(1),
        on_trial_end=lambda number, result, clock: fidelities.append(result.cost_s),
    )
    summary = experiment.run()
    assert bohb.rungs == (12.0,)
    assert summary.n_trials == len(fidelities) > 20
    assert summary.truth["final_accuracy"] > 80
