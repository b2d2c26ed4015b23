"""curve_stop and freeze_thaw: ladders, decisions, curves told, short runs on LCBench.

(These test ``strategies/_freeze_thaw.py``; they sit here beside the curve models they
rely on. The strategy contract suite picks both up from the registry.)
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.registry import STRATEGIES
from archsearch.space import Int, Real, Space
from archsearch.spaces import lcbench_space
from archsearch.strategies._freeze_thaw import CurveStopping, FreezeThaw
from archsearch.trial import Candidate, Result

SPACE = Space({"x": Int(0, 999)})
LADDER = tuple(float(e) for e in range(1, 53))


def curve_result(candidate: Candidate, rate: float) -> Result:
    """A saturating curve whose level grows with x, up to the asked epoch."""
    top = 40.0 + 0.05 * candidate.config["x"]
    epochs = range(1, int(candidate.fidelity or 52) + 1)
    curve = [top - (top - 10.0) * math.exp(-rate * e) for e in epochs]
    return Result({"acc": curve[-1]}, float(len(curve)), curve=curve).with_score(curve[-1])


def test_the_curve_strategies_are_registered_for_the_contract_suite() -> None:
    assert {"curve_stop", "freeze_thaw"} <= set(STRATEGIES)
    assert STRATEGIES["freeze_thaw"] is FreezeThaw
    assert STRATEGIES["curve_stop"] is CurveStopping


def test_ladders_double_or_take_fixed_steps() -> None:
    assert CurveStopping(SPACE, fidelities=LADDER, min_fidelity=3).rungs == (
        3.0,
        6.0,
        12.0,
        24.0,
        48.0,
        52.0,
    )
    chunks = FreezeThaw(SPACE, fidelities=LADDER, min_fidelity=3, step=12).rungs
    assert chunks == (3.0, 15.0, 27.0, 39.0, 51.0, 52.0)
    with pytest.raises(ConfigError, match="step: must be a number > 0"):
        FreezeThaw(SPACE, fidelities=LADDER, step=0)
    with pytest.raises(ConfigError, match="horizon: must be 'next' or 'final'"):
        FreezeThaw(SPACE, fidelities=LADDER, horizon="later")
    with pytest.raises(ConfigError, match="threshold: must be in"):
        CurveStopping(SPACE, fidelities=LADDER, threshold=0)


def test_curve_stop_continues_good_curves_and_stops_hopeless_ones() -> None:
    stop = CurveStopping(SPACE, fidelities=LADDER, min_fidelity=3, seed=0, model="last_value")
    trained: dict[int, float] = {}  # x -> highest epoch asked
    for _ in range(200):
        candidate = stop.ask()
        trained[candidate.config["x"]] = candidate.fidelity or 0.0
        # curves flat after 3 epochs: the last value (std 1) is a good model of them
        stop.tell(candidate, curve_result(candidate, rate=1.5))
    finished = [x for x, epoch in trained.items() if epoch == 52.0]
    stopped = [x for x, epoch in trained.items() if epoch < 52.0]
    assert finished and stopped
    assert all(epoch == 3.0 for x, epoch in trained.items() if x in stopped)
    # stopped at once when 1.645 std below the best final: never a config that beats it
    best = max(40 + 0.05 * x for x in finished)
    assert all(40 + 0.05 * x < best for x in stopped)


def test_freeze_thaw_continues_the_most_promising_configs() -> None:
    model = {"name": "parametric", "upper": 100}
    ft = FreezeThaw(SPACE, fidelities=LADDER, min_fidelity=3, seed=0, model=model)
    trained: dict[int, float] = {}
    for _ in range(60):
        candidate = ft.ask()
        trained[candidate.config["x"]] = max(
            trained.get(candidate.config["x"], 0.0), candidate.fidelity or 0.0
        )
        ft.tell(candidate, curve_result(candidate, rate=0.1))
    finished = {x for x, epoch in trained.items() if epoch == 52.0}
    assert len(trained) > 10  # new configs were started too
    assert finished
    assert finished <= set(sorted(trained)[-3:])  # the best three started (level grows with x)


def test_final_horizon_continues_configs_whose_first_rung_is_too_short_to_fit() -> None:
    """Without curves (one value per rung) the first rung never has ``min_points``
    values: new configs are then judged by their first values as they stand, and the
    pool is still continued (it used to start new configs for ever)."""
    model = {"name": "parametric", "upper": 100}
    ft = FreezeThaw(SPACE, fidelities=LADDER, min_fidelity=1, seed=0, model=model, horizon="final")
    asked = []
    for _ in range(60):
        candidate = ft.ask()
        asked.append(candidate.fidelity)
        scored = curve_result(candidate, rate=0.1)
        ft.tell(candidate, Result(scored.metrics, scored.cost_s).with_score(scored.score))
    assert asked.count(1.0) < 40
    assert max(f or 0.0 for f in asked) > 4.0


def test_a_curve_of_the_negated_score_is_read_and_another_metrics_curve_is_not() -> None:
    ft = FreezeThaw(SPACE, fidelities=LADDER, min_fidelity=3, seed=0)
    first = ft.ask()
    ft.tell(first, Result({"loss": 0.5}, 1.0, curve=[0.9, 0.7, 0.5]).with_score(-0.5))
    second = ft.ask()
    ft.tell(second, Result({"acc": 70.0}, 1.0, curve=[0.9, 0.7, 0.5]).with_score(70.0))
    traces = ft.state_dict()["traces"]
    assert traces[0][1:3] == [[1.0, 2.0, 3.0], [-0.9, -0.7, -0.5]]
    assert traces[1][1:3] == [[3.0], [70.0]]


def test_failures_end_a_trace_and_the_state_round_trips() -> None:
    stop = CurveStopping(SPACE, fidelities=LADDER, min_fidelity=3, seed=1, model="last_value")
    for i in range(30):
        candidate = stop.ask()
        result = Result.failed("boom") if i % 4 == 0 else curve_result(candidate, rate=0.2)
        stop.tell(candidate, result)
    restored = CurveStopping(SPACE, fidelities=LADDER, min_fidelity=3, seed=9, model="last_value")
    restored.load_state_dict(json.loads(json.dumps(stop.state_dict())))
    for _ in range(30):
        a, b = stop.ask(), restored.ask()
        assert a == b
        stop.tell(a, curve_result(a, rate=0.2))
        restored.tell(b, curve_result(b, rate=0.2))


def run_on_lcbench(strategy: dict[str, Any], trainings: float = 4.0) -> Any:
    spec = normalize_spec(
        {
            "space": "lcbench",
            "benchmark": {"name": "lcbench", "task": "3945", "with_curve": True},
            "strategy": strategy,
            # a 52-epoch training on 3945 takes about 180 simulated seconds
            "budget": {"seconds": trainings * 180.0},
            "seed": 0,
        }
    )
    return build_experiment(spec, store=None, name="curves").run()


@pytest.mark.parametrize(
    "strategy",
    [
        {"name": "curve_stop", "min_fidelity": 3, "model": {"name": "parametric", "upper": 100}},
        {"name": "freeze_thaw", "min_fidelity": 3, "model": {"name": "parametric", "upper": 100}},
        {"name": "freeze_thaw", "min_fidelity": 3, "model": "last_value", "horizon": "final"},
    ],
    ids=["curve_stop", "freeze_thaw", "freeze_thaw_final"],
)
def test_a_short_run_on_lcbench_returns_a_config(strategy: dict[str, Any]) -> None:
    summary = run_on_lcbench(strategy)
    assert summary.n_trials > 5
    assert lcbench_space().validate(summary.best_config) == summary.best_config
    assert 0 < summary.best_score <= 100


def test_density_configs_favour_the_region_of_good_curves() -> None:
    """Levels grow with x: after a random start, new configs come mostly from high x."""
    space = Space({"x": Real(0.0, 1.0)})

    def result(candidate: Candidate) -> Result:
        level, epochs = 40.0 + 50.0 * candidate.config["x"], int(candidate.fidelity or 52)
        curve = [level - 30.0 * math.exp(-1.5 * e) for e in range(1, epochs + 1)]
        return Result({"acc": curve[-1]}, float(epochs), curve=curve).with_score(curve[-1])

    started: dict[str, list[float]] = {}
    for configs in ("density", "random"):
        ft = FreezeThaw(
            space,
            fidelities=LADDER,
            min_fidelity=3,
            seed=0,
            model="last_value",
            new_configs=configs,
            random_fraction=0.0,
            per_step=True,
        )
        started[configs] = []
        for _ in range(150):
            candidate = ft.ask()
            if candidate.fidelity == 3.0:
                started[configs].append(candidate.config["x"])
            ft.tell(candidate, result(candidate))
    late = started["density"][10:]  # once the model has data (two decisions' worth)
    assert len(late) >= 15
    assert statistics.median(late) > 0.9  # uniform draws: a median near 0.5
    assert statistics.median(started["random"][10:]) < 0.8
    with pytest.raises(ConfigError, match="new_configs: must be 'random', 'density' or 'prior'"):
        FreezeThaw(SPACE, fidelities=LADDER, new_configs="tpe")


class HighX:
    """A config prior that believes in high x."""

    def score(self, configs: Any) -> Any:
        return [c["x"] for c in configs]


def test_prior_configs_are_the_draws_the_prior_scores_highest() -> None:
    space = Space({"x": Real(0.0, 1.0)})
    started: dict[str, list[float]] = {}
    for name, options in (("prior", {"new_configs": "prior", "prior": HighX()}), ("random", {})):
        ft = FreezeThaw(
            space,
            fidelities=LADDER,
            min_fidelity=3,
            seed=0,
            model="last_value",
            random_fraction=0.0,
            num_samples=16,
            **options,
        )
        started[name] = []
        for _ in range(12):
            candidate = ft._ask_new()  # every ask a new config
            started[name].append(candidate.config["x"])
    # the best of 16 uniform draws: median above 0.9; uniform: about 0.5
    assert statistics.median(started["prior"]) > 0.9
    assert statistics.median(started["random"]) < 0.8
    with pytest.raises(ConfigError, match="prior: give one exactly when new_configs is 'prior'"):
        FreezeThaw(SPACE, fidelities=LADDER, new_configs="prior")
    with pytest.raises(ConfigError, match="prior: give one exactly"):
        FreezeThaw(SPACE, fidelities=LADDER, prior=HighX())
    with pytest.raises(ConfigError, match="prior: unknown config prior 'nope'"):
        FreezeThaw(SPACE, fidelities=LADDER, new_configs="prior", prior="nope")


@pytest.mark.parametrize(
    "options",
    [{"new_configs": "density"}, {"new_configs": "prior", "prior": "high_x"}],
    ids=["density", "prior"],
)
def test_new_config_state_round_trips_to_the_same_asks(options: dict[str, Any]) -> None:
    options = {**options, "prior": HighX()} if "prior" in options else options

    def make(seed: int) -> FreezeThaw:
        return FreezeThaw(
            SPACE, fidelities=LADDER, min_fidelity=3, seed=seed, model="last_value", **options
        )

    ft = make(2)
    for _ in range(40):
        candidate = ft.ask()
        ft.tell(candidate, curve_result(candidate, rate=0.2))
    restored = make(7)
    restored.load_state_dict(json.loads(json.dumps(ft.state_dict())))
    for _ in range(30):
        a, b = ft.ask(), restored.ask()
        assert a == b
        ft.tell(a, curve_result(a, rate=0.2))
        restored.tell(b, curve_result(b, rate=0.2))


def test_per_second_prefers_the_cheaper_of_two_equal_curves() -> None:
    """Two configs with the same curve, one 10 times slower: the cheap one goes on first."""
    ft = FreezeThaw(
        SPACE, fidelities=LADDER, min_fidelity=3, seed=0, model="last_value", per_second=True
    )
    first, second = ft.ask(), ft.ask()
    for candidate, seconds in ((first, 30.0), (second, 3.0)):
        curve = [50.0, 60.0, 70.0]
        ft.tell(candidate, Result({"acc": 70.0}, seconds, curve=curve).with_score(70.0))
    nxt = ft.ask()
    assert nxt.config == second.config and nxt.fidelity == 6.0
    slow = FreezeThaw(SPACE, fidelities=LADDER, min_fidelity=3, seed=0, model="last_value")
    a, b = slow.ask(), slow.ask()
    for candidate in (a, b):  # by steps alone they tie, and the older goes on
        slow.tell(candidate, Result({"acc": 70.0}, 1.0, curve=[50.0, 60.0, 70.0]).with_score(70.0))
    assert slow.ask().config == a.config
    with pytest.raises(ConfigError, match="per_step, per_second"):
        FreezeThaw(SPACE, fidelities=LADDER, per_step=True, per_second=True)
