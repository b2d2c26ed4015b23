"""The ``morph`` strategy: children grow their parent by one step and name it."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.morphism import MORPHERS
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.spaces import cnn_space, mobilenet_space
from archsearch.strategies import MorphEvolution
from archsearch.strategies._morph import growth_moves
from archsearch.trial import Candidate, Result


def scored(candidate: Candidate) -> Result:
    """A deterministic score that favours bigger networks, so that lineages grow."""
    stages = candidate.config["stages"]
    score = sum(s["n_layers"] * s["width"] * s["kernel"] for s in stages) % 97
    return Result({"accuracy": float(score)}).with_score(float(score))


def run(strategy: MorphEvolution, n: int) -> list[Candidate]:
    asked = []
    for _ in range(n):
        candidate = strategy.ask()
        strategy.tell(candidate, scored(candidate))
        asked.append(candidate)
    return asked


def changed_fields(a: Any, b: Any) -> list[str]:
    return [
        f"stages[{s}].{k}"
        for s, (x, y) in enumerate(zip(a["stages"], b["stages"], strict=True))
        for k in x
        if x[k] != y[k]
    ]


@pytest.mark.parametrize(
    ("name", "space"), [("cnn", cnn_space()), ("mobilenet", mobilenet_space())]
)
def test_children_are_valid_one_step_growths_of_their_named_parent(
    name: str, space: Space
) -> None:
    morpher = MORPHERS[name]()
    asked = run(MorphEvolution(space, population_size=6, sample_size=2, seed=0), 60)
    children = [c for c in asked if c.context is not None]
    assert len(children) > 30
    assert all(c.context is None for c in asked[:6])  # the random start population
    for child in children:
        parent = child.context["parent"]  # type: ignore[index]
        assert space.validate(child.config) == child.config
        morpher.check(parent, child.config)  # reachable by function-preserving growth
        (field,) = changed_fields(parent, child.config)
        assert field.rsplit(".", 1)[1] in ("n_layers", "width", "kernel")
        assert child.config in growth_moves(space, parent)


def test_moves_step_to_the_next_larger_option() -> None:
    space = cnn_space(n_stages=1, widths=[32, 8, 16], kernels=[7, 3])
    config = {"stages": [{"n_layers": 1, "width": 8, "kernel": 7}]}
    assert growth_moves(space, config) == [
        {"stages": [{"n_layers": 2, "width": 8, "kernel": 7}]},
        {"stages": [{"n_layers": 1, "width": 16, "kernel": 7}]},
    ]


def test_without_inheritance_the_same_evolution_names_no_parent() -> None:
    space = cnn_space()
    inherit = run(MorphEvolution(space, seed=4), 40)
    scratch = run(MorphEvolution(space, seed=4, inherit=False), 40)
    assert [c.config for c in scratch] == [c.config for c in inherit]
    assert all(c.context is None for c in scratch)


def test_a_winner_that_cannot_grow_gets_a_plain_mutation_without_parent() -> None:
    space = cnn_space(n_stages=1, widths=[8, 16], kernels=[3])
    strategy = MorphEvolution(space, population_size=2, sample_size=1, grow=["kernel"], seed=0)
    asked = run(strategy, 12)
    assert all(c.context is None for c in asked)
    assert len({space.key(c.config) for c in asked}) > 1


def test_state_round_trips_through_json_to_identical_children() -> None:
    original = MorphEvolution(cnn_space(), population_size=5, sample_size=2, seed=1)
    run(original, 12)
    pending = original.ask()
    restored = MorphEvolution(cnn_space(), population_size=5, sample_size=2, seed=99)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    for strategy in (original, restored):
        strategy.tell(pending, scored(pending))
    assert run(original, 20) == run(restored, 20)


def test_registered_as_morph_with_its_options() -> None:
    strategy = STRATEGIES.create(
        "morph", {"inherit": False, "population_size": 4}, field="strategy", space=cnn_space()
    )
    assert isinstance(strategy, MorphEvolution)
    assert (strategy.inherit, strategy.population_size) == (False, 4)


def test_bad_options_are_refused_naming_them() -> None:
    with pytest.raises(ConfigError, match=r"^grow: expected a list of decision names"):
        MorphEvolution(cnn_space(), grow="width")
    with pytest.raises(ConfigError, match=r"^sample_size: must be <= population_size \(2\)"):
        MorphEvolution(cnn_space(), population_size=2, sample_size=3)


def test_growth_moves_skip_non_numeric_and_unnamed_decisions() -> None:
    from archsearch.space import Choice, Real

    space = Space({"kernel": Choice(["3x3", "5x5"]), "width": Choice([1, 2]), "lr": Real(0.1, 1)})
    config = space.sample(random.Random(0))
    config["width"] = 1
    moves = growth_moves(space, config)
    assert moves == [{**config, "width": 2}]
