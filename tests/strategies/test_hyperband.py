"""Hyperband and ASHA: the rung ladder, synchronous and asynchronous successive halving."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import NB201Benchmark
from archsearch.experiment import Budget, Experiment, SimulatedExecutor
from archsearch.objectives import Objective
from archsearch.space import Int, Space
from archsearch.spaces import nb201_space
from archsearch.strategies._hyperband import ASHA, Hyperband, SuccessiveHalving, rung_ladder
from archsearch.trial import Candidate, Result

SPACE = Space({"x": Int(0, 999)})


def scored(score: float | None) -> Result:
    if score is None:
        return Result.failed("boom")
    return Result({"acc": score}, 1.0).with_score(score)


def toy(candidate: Candidate) -> Result:
    """Score = x, whatever the fidelity."""
    return scored(float(candidate.config["x"]))


def ask_all(strategy: Hyperband) -> list[Candidate]:
    out = []
    while (candidate := strategy.ask()) is not None:
        out.append(candidate)
    return out


# -- the rung ladder --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fidelities", "kwargs", "rungs"),
    [
        (range(1, 53), {"min_fidelity": 1}, (1.0, 3.0, 9.0, 27.0, 52.0)),
        ((12.0, 200.0), {}, (12.0, 200.0)),
        ((12.0, 200.0), {"max_fidelity": 12}, (12.0,)),
        (None, {"min_fidelity": 1, "max_fidelity": 100}, (1.0, 3.0, 9.0, 27.0, 81.0, 100.0)),
        ((), {"min_fidelity": 2, "max_fidelity": 8, "eta": 2}, (2.0, 4.0, 8.0)),
        # 3 -> 2, 9 -> 10, 27 -> 20, 81 -> 100 (the top, added once)
        ((1, 2, 5, 10, 20, 50, 100), {}, (1.0, 2.0, 10.0, 20.0, 100.0)),
        ((1, 2, 5, 10, 20, 50, 100), {"min_fidelity": 4, "max_fidelity": 60}, (5.0, 10.0, 50.0)),
    ],
)
def test_rung_ladder(fidelities: Any, kwargs: dict[str, Any], rungs: tuple[float, ...]) -> None:
    assert rung_ladder(fidelities, **kwargs) == rungs


@pytest.mark.parametrize(
    ("fidelities", "kwargs", "message"),
    [
        (None, {}, r"^fidelities: a multi-fidelity strategy needs .* min_fidelity and max_f"),
        ((), {"min_fidelity": 1}, r"^fidelities: .*max_fidelity=None"),
        ((12.0, 200.0), {"eta": 1}, r"^eta: must be a number > 1, got 1"),
        ((12.0, 200.0), {"max_fidelity": 300}, r"^max_fidelity: must lie within .*got 300"),
        ((12.0, 200.0), {"min_fidelity": 200, "max_fidelity": 12}, r"^min_fidelity: must be <="),
        ((12.0, -1.0), {}, r"^fidelities: must be a number > 0, got -1"),
        ("12", {}, r"^fidelities: expected a list of numbers"),
    ],
)
def test_rung_ladder_rejects(fidelities: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rung_ladder(fidelities, **kwargs)


@pytest.mark.parametrize("cls", [Hyperband, ASHA])
def test_strategies_need_fidelities(cls: type) -> None:
    with pytest.raises(ConfigError, match=r"^fidelities: .*NB201's 12 and 200 epochs"):
        cls(nb201_space())


# -- Hyperband --------------------------------------------------------------------------


def test_bracket_sizes_are_li_et_al_table() -> None:
    hb = Hyperband(SPACE, fidelities=range(1, 82))  # rungs 1, 3, 9, 27, 81
    sizes = [hb.bracket_sizes(s) for s in (4, 3, 2, 1, 0)]
    assert sizes == [[81, 27, 9, 3, 1], [34, 11, 3, 1], [15, 5, 1], [8, 2], [5]]


def test_successive_halving_promotes_exactly_the_top_third() -> None:
    hb = Hyperband(SPACE, fidelities=(1, 3, 9), seed=0)
    first = ask_all(hb)
    assert [c.fidelity for c in first] == [1.0] * 9
    for candidate in first:
        hb.tell(candidate, toy(candidate))
    second = ask_all(hb)
    top3 = sorted((c.config["x"] for c in first), reverse=True)[:3]
    assert [c.config["x"] for c in second] == top3
    assert [c.fidelity for c in second] == [3.0] * 3
    assert [c.id for c in second] == [9, 10, 11]  # promotions are new candidates
    for candidate in second:
        hb.tell(candidate, toy(candidate))
    (third,) = ask_all(hb)
    assert (third.config["x"], third.fidelity) == (top3[0], 9.0)


def run_brackets(strategy: Hyperband, n_brackets: int) -> list[tuple[float, int]]:
    """(bottom fidelity, configs asked there) of each bracket, scoring by ``toy``."""
    starts: list[tuple[float, int]] = []
    while len(starts) < n_brackets:
        before = strategy._n_brackets
        batch = ask_all(strategy)
        if strategy._n_brackets > before:
            starts.append((batch[0].fidelity, len(batch)))  # type: ignore[arg-type]
        for candidate in batch:
            strategy.tell(candidate, toy(candidate))
    return starts


def test_successive_halving_repeats_the_widest_bracket_hyperband_cycles() -> None:
    fidelities = (1, 3, 9)  # rungs 1, 3, 9: brackets s = 2, 1, 0
    hyperband = run_brackets(Hyperband(SPACE, fidelities=fidelities, seed=0), 4)
    assert hyperband == [(1.0, 9), (3.0, 5), (9.0, 3), (1.0, 9)]
    sh = run_brackets(SuccessiveHalving(SPACE, fidelities=fidelities, seed=0), 4)
    assert sh == [(1.0, 9)] * 4


def test_hyperband_returns_none_while_a_rung_waits() -> None:
    hb = Hyperband(SPACE, fidelities=(1, 3, 9), seed=1)
    stage = ask_all(hb)
    assert len(stage) == 9
    for candidate in stage[:-1]:
        hb.tell(candidate, toy(candidate))
        assert hb.ask() is None
    hb.tell(stage[-1], toy(stage[-1]))
    assert hb.ask() is not None


def test_brackets_cycle_from_widest_to_narrowest() -> None:
    hb = Hyperband(SPACE, fidelities=(1, 3, 9), seed=2)
    stages = []
    while len(stages) < 7:
        batch = ask_all(hb)
        stages.append((len(batch), batch[0].fidelity))
        for candidate in batch:
            hb.tell(candidate, toy(candidate))
    # s=2: 9@1, 3@3, 1@9; s=1: 5@3, 1@9; s=0: 3@9; then s=2 again
    assert stages == [(9, 1.0), (3, 3.0), (1, 9.0), (5, 3.0), (1, 9.0), (3, 9.0), (9, 1.0)]


def test_failed_results_are_never_promoted() -> None:
    hb = Hyperband(SPACE, fidelities=(1, 3), seed=3)  # s=1: 3 configs, best 1 promoted
    stage = ask_all(hb)
    best = max(stage, key=lambda c: c.config["x"])
    for candidate in stage:
        hb.tell(candidate, scored(None) if candidate is best else toy(candidate))
    (promoted,) = ask_all(hb)
    assert promoted.config != best.config
    assert promoted.fidelity == 3.0


def test_a_stage_of_failures_ends_the_bracket() -> None:
    hb = Hyperband(SPACE, fidelities=(1, 3), seed=4)
    for candidate in ask_all(hb):
        hb.tell(candidate, scored(None))
    nxt = ask_all(hb)  # bracket s=0: 2 new configs at the top rung
    assert [c.fidelity for c in nxt] == [3.0, 3.0]


def test_unlimited_brackets_never_wait() -> None:
    hb = Hyperband(SPACE, fidelities=(1, 3, 9), max_brackets=None, seed=5)
    asked = [hb.ask() for _ in range(20)]
    assert all(c is not None for c in asked)
    # bracket s=2 (9 at 1), then s=1 (5 at 3), then s=0 (3 at 9), then s=2 again
    assert [c.fidelity for c in asked if c is not None] == [1.0] * 9 + [3.0] * 5 + [9.0] * 3 + [
        1.0
    ] * 3


def test_hyperband_rejects_bad_max_brackets() -> None:
    with pytest.raises(ConfigError, match=r"^max_brackets: must be an integer >= 1 or None"):
        Hyperband(SPACE, fidelities=(1, 3), max_brackets=0)


# -- ASHA -------------------------------------------------------------------------------


def test_asha_promotes_asynchronously() -> None:
    asha = ASHA(SPACE, fidelities=(1, 3, 9), seed=0)
    batch = [asha.ask() for _ in range(5)]  # asks run ahead of tells
    assert [c.fidelity for c in batch] == [1.0] * 5
    for candidate in batch[:3]:  # two are still out
        asha.tell(candidate, toy(candidate))
    promoted = asha.ask()
    best = max(batch[:3], key=lambda c: c.config["x"])
    assert (promoted.config, promoted.fidelity, promoted.id) == (best.config, 3.0, 5)
    # 3 told at rung 0 allow one promotion: the next config is new, at the bottom
    assert asha.ask().fidelity == 1.0


def test_asha_promotes_the_top_of_each_rung_once_best_first() -> None:
    asha = ASHA(SPACE, fidelities=(1, 3), seed=1)
    batch = [asha.ask() for _ in range(6)]
    for candidate in batch:
        asha.tell(candidate, toy(candidate))
    ranked = sorted((c.config["x"] for c in batch), reverse=True)
    first, second, third = asha.ask(), asha.ask(), asha.ask()
    assert [first.config["x"], second.config["x"]] == ranked[:2]
    assert (first.fidelity, second.fidelity, third.fidelity) == (3.0, 3.0, 1.0)


def test_asha_looks_at_higher_rungs_first() -> None:
    asha = ASHA(SPACE, fidelities=(1, 3, 9), seed=2)
    for candidate in [asha.ask() for _ in range(9)]:
        asha.tell(candidate, toy(candidate))
    middle = [asha.ask() for _ in range(3)]  # the top 3 of 9 go to rung 3
    assert [c.fidelity for c in middle] == [3.0] * 3
    for candidate in [asha.ask() for _ in range(3)]:  # 12 told at rung 1: a 4th may go
        assert candidate.fidelity == 1.0
        asha.tell(candidate, toy(candidate))
    for candidate in middle:
        asha.tell(candidate, toy(candidate))
    top = asha.ask()
    assert (top.fidelity, top.config) == (
        9.0,
        max((c.config for c in middle), key=lambda c: c["x"]),
    )
    assert asha.ask().fidelity == 3.0


def test_asha_neither_counts_nor_promotes_failures() -> None:
    asha = ASHA(SPACE, fidelities=(1, 3), seed=6)
    failed = [asha.ask() for _ in range(3)]
    for candidate in failed:
        asha.tell(candidate, scored(None))
    fine = [asha.ask() for _ in range(3)]
    assert all(c.fidelity == 1.0 for c in fine)
    for candidate in fine:
        asha.tell(candidate, toy(candidate))
    # 3 results count, not 6: one promotion, then a new config
    assert [asha.ask().fidelity, asha.ask().fidelity] == [3.0, 1.0]


def test_asha_and_hyperband_round_trip_mid_rung() -> None:
    for make in (
        lambda: ASHA(nb201_space(), fidelities=(12.0, 200.0), seed=3),
        lambda: Hyperband(nb201_space(), fidelities=(12.0, 200.0), max_brackets=2, seed=3),
    ):
        bench = NB201Benchmark()
        original = make()
        pending = [original.ask() for _ in range(4)]
        original.tell(pending[0], bench_result(bench, pending[0]))
        state = json.loads(json.dumps(original.state_dict()))
        restored = make()
        restored.load_state_dict(state)
        assert json.loads(json.dumps(restored.state_dict())) == state
        for candidate in pending[1:]:
            original.tell(candidate, bench_result(bench, candidate))
            restored.tell(candidate, bench_result(bench, candidate))
        for _ in range(40):
            a, b = original.ask(), restored.ask()
            assert a == b
            if a is not None:
                original.tell(a, bench_result(bench, a))
                restored.tell(a, bench_result(bench, a))


def bench_result(bench: NB201Benchmark, candidate: Candidate) -> Result:
    result = bench.evaluate(candidate.config, candidate.fidelity)
    return result.with_score(result.metrics["valid_accuracy"])


@pytest.mark.parametrize("cls", [Hyperband, ASHA])
def test_runs_in_an_experiment_with_parallel_workers(cls: type) -> None:
    space = nb201_space()
    experiment = Experiment(
        space=space,
        strategy=cls(space, fidelities=NB201Benchmark.fidelities, seed=0),
        evaluator=NB201Benchmark(),
        objective=Objective("valid_accuracy"),
        budget=Budget(n_trials=40),
        executor=SimulatedExecutor(4),
    )
    summary = experiment.run()
    assert summary.n_trials == 40
    assert summary.best_config is not None
