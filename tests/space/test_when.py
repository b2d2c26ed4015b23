"""Flat conditional keys: ``when(spec, key=values)`` in a dict of the space language."""

from __future__ import annotations

import inspect
import json
import math
import random
import time
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Int, Real, Space, when
from archsearch.space._nodes import CondDictNode, DictNode
from archsearch.strategies._base import Strategy
from archsearch.trial import Result

# A space is declared here as (key, spec, conditions) rows, so that the tests can work
# out which keys are active on their own, independently of the implementation.
Rows = list[tuple[str, Any, dict[str, Any]]]


def build(rows: Rows) -> Space:
    return Space({key: when(spec, **conds) if conds else spec for key, spec, conds in rows})


def plain(rows: Rows) -> Space:
    """The same space with every key unconditional."""
    return Space({key: spec for key, spec, _ in rows})


def allowed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set) else [value]


def trim(rows: Rows, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the keys whose conditions fail (worked out in key order)."""
    out: dict[str, Any] = {}
    for key, _, conds in rows:
        if all(
            p in out and any(out[p] == a and type(out[p]) is type(a) for a in allowed(v))
            for p, v in conds.items()
        ):
            out[key] = config[key]
    return out


def example_rows() -> Rows:
    """The example of the docs, finite: momentum is a Choice."""
    return [
        ("depth", Int(1, 3), {}),
        ("kernel_0", Choice([3, 5]), {}),
        ("kernel_1", Choice([3, 5]), {"depth": [2, 3]}),
        ("kernel_2", Choice([3, 5]), {"depth": 3}),
        ("optimizer", Choice(["sgd", "adam"]), {}),
        ("momentum", Choice([0.9, 0.99]), {"optimizer": "sgd"}),
    ]


def chained_rows() -> Rows:
    """Conditions on conditional keys, a conjunction, bools, a constant and a dead Real."""
    return [
        ("a", Choice([0, 1, 2]), {}),
        ("b", Choice(["x", "y"]), {"a": [1, 2]}),
        ("c", Int(1, 3), {"b": "y"}),
        ("d", Choice([True, False]), {"a": 0}),
        ("e", Int(0, 1), {"d": True}),
        ("f", Choice([1, 2, 3]), {"a": 2, "b": "x"}),
        ("note", "wide", {"c": [2, 3]}),
        # c only exists where b == "y", so c == 1 and b == "x" never hold together
        ("never", Real(0.0, 1.0), {"c": 1, "b": "x"}),
        ("g", Choice([10, 20]), {}),
    ]


def example_space() -> Space:
    return build(example_rows())


def real_space() -> Space:
    """The example of the docs as written: momentum is a Real."""
    return Space(
        {
            "depth": Int(1, 3),
            "kernel_0": Choice([3, 5]),
            "kernel_1": when(Choice([3, 5]), depth=[2, 3]),
            "kernel_2": when(Choice([3, 5]), depth=3),
            "optimizer": Choice(["sgd", "adam"]),
            "momentum": when(Real(0.5, 0.99), optimizer="sgd"),
        }
    )


def when_in_choice_space() -> Space:
    """A ``when`` dict as an option of a choice, next to a plain option."""
    return Space(
        {
            "block": Choice(
                [
                    {"type": "conv", "k": Choice([3, 5]), "dil": when(Int(1, 2), k=5)},
                    {"type": "pool"},
                ]
            ),
            "n": Int(1, 2),
        }
    )


def choice_in_when_space() -> Space:
    """A choice of dicts (the nested conditional) inside a ``when`` key."""
    return Space(
        {
            "use_block": Choice([False, True]),
            "block": when(
                Choice([{"type": "conv", "k": Choice([3, 5]), "ch": Int(8, 9)}, "skip"]),
                use_block=True,
            ),
            "act": when(Choice(["relu", "gelu"]), block="skip"),
        }
    )


def dict_gate_space() -> Space:
    """A condition on the dict value of a choice of dicts."""
    return Space(
        {
            "block": Choice([{"type": "conv", "k": Choice([3, 5])}, "skip"]),
            "pad": when(Choice([0, 1]), block=[{"type": "conv", "k": 5}, "skip"]),
        }
    )


def mixed_when_space() -> Space:
    """Infinite: Reals in branches, a nested ``when`` dict and a choice inside ``when``."""
    return Space(
        {
            "optimizer": Choice(["sgd", "adam", "rmsprop"]),
            "momentum": Real(0.5, 0.99).when(optimizer=["sgd", "rmsprop"]),
            "nesterov": when(Choice([False, True]), optimizer="sgd"),
            "lr": Real(1e-4, 1e-1, log=True),
            "block": Choice(
                [{"type": "conv", "k": Choice([3, 5]), "dil": when(Int(1, 2), k=5)}, "skip"]
            ),
            "norm": when(Choice(["bn", "ln"]), block="skip"),
        }
    )


FINITE = [
    example_space,
    lambda: build(chained_rows()),
    when_in_choice_space,
    choice_in_when_space,
    dict_gate_space,
]
ALL = [*FINITE, real_space, mixed_when_space]


def genome_by_path(space: Space, config: Any) -> dict[str, int | float]:
    return {gene.path: gene.index for gene in space.genome(config)}


# -- building ---------------------------------------------------------------------------


def test_a_dict_with_when_compiles_to_a_conditional_node_and_others_do_not() -> None:
    space = example_space()
    assert isinstance(space.root, CondDictNode)
    assert space.root.flat_options is None
    assert space.root.flat_mutable is None
    flat = Space({"a": Choice([1, 2]), "b": Choice(["x", "y"])})
    assert type(flat.root) is DictNode
    assert flat.root.flat_options == ((1, 2), ("x", "y"))
    inner = when_in_choice_space().root
    assert type(inner) is DictNode
    assert isinstance(inner.items["block"].options[0], CondDictNode)  # type: ignore[attr-defined]


def test_domain_when_is_the_same_as_the_function() -> None:
    a = Space({"x": Choice([1, 2]), "y": Int(1, 3).when(x=2), "z": Real(0.0, 1.0).when(x=[1])})
    b = Space({"x": Choice([1, 2]), "y": when(Int(1, 3), x=[2]), "z": when(Real(0.0, 1.0), x=1)})
    assert a == b
    assert a.sample(seed=3) == b.sample(seed=3)


def test_a_bool_never_satisfies_a_condition_on_a_number() -> None:
    space = Space({"g": Choice([True, 1, 0]), "x": when(Int(5, 6), g=1)})
    assert space.validate({"g": True}) == {"g": True}
    assert space.validate({"g": 1, "x": 5}) == {"g": 1, "x": 5}
    assert space.size == 1 + 2 + 1
    assert sorted(map(space.key, space.enumerate())) == sorted(
        map(space.key, [{"g": True}, {"g": 1, "x": 5}, {"g": 1, "x": 6}, {"g": 0}])
    )


def test_a_set_of_values_is_stored_in_a_fixed_order() -> None:
    a = Space({"x": Int(1, 4), "y": when(Choice([0, 1]), x={4, 2, 3})})
    assert a.to_json()["root"]["$when"][1][2] == {"x": [2, 3, 4]}
    mixed = Space({"x": Choice([1, "a", None]), "y": when(Int(0, 1), x={"a", 1, None})})
    assert mixed.to_json()["root"]["$when"][1][2] == {"x": ["a", 1, None]}  # by repr


# -- sampling ---------------------------------------------------------------------------


@pytest.mark.parametrize("make_rows", [example_rows, chained_rows])
def test_samples_hold_exactly_the_active_keys_and_validate(make_rows: Any) -> None:
    rows = make_rows()
    space, full = build(rows), plain(rows)
    present: dict[str, set[bool]] = {key: set() for key, _, _ in rows}
    for seed in range(500):
        config = space.sample(seed=seed)
        assert space.sample(seed=seed) == config
        assert space.validate(config) == config
        assert list(config) == list(trim(rows, {**full.sample(seed=0), **config}))
        for key in present:
            present[key].add(key in config)
    for key, seen in present.items():
        if key == "never":
            assert seen == {False}
        elif rows[[r[0] for r in rows].index(key)][2]:
            assert seen == {True, False}, key  # a conditional key: sometimes there, sometimes not
        else:
            assert seen == {True}, key


@pytest.mark.parametrize("make", ALL)
def test_every_sample_validates(make: Any) -> None:
    space = make()
    rng = random.Random(0)
    for _ in range(300):
        config = space.sample(rng)
        assert space.validate(config) == config
        assert config in space


def test_inactive_keys_are_absent_in_the_example_of_the_docs() -> None:
    space = real_space()
    for seed in range(300):
        config = space.sample(seed=seed)
        assert ("kernel_1" in config) == (config["depth"] in (2, 3))
        assert ("kernel_2" in config) == (config["depth"] == 3)
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        if "momentum" in config:
            assert 0.5 <= config["momentum"] <= 0.99


# -- size and enumerate -------------------------------------------------------------------


@pytest.mark.parametrize("make_rows", [example_rows, chained_rows])
def test_enumerate_is_every_trimmed_config_once_and_size_counts_it(make_rows: Any) -> None:
    rows = make_rows()
    rows = [r for r in rows if r[0] != "never"] if make_rows is chained_rows else rows
    space = build(rows)
    expected = {space.key(trim(rows, c)) for c in plain(rows).enumerate()}
    configs = list(space.enumerate())
    assert len(configs) == len(expected) == space.size
    assert {space.key(c) for c in configs} == expected
    assert configs == list(space.enumerate())  # a fixed order
    for config in configs:
        assert space.validate(config) == config


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (example_space, 42),  # depth 1: 2 * 3, depth 2: 2 * 2 * 3, depth 3: 2 * 2 * 2 * 3
        (lambda: build(chained_rows()), 26),
        (when_in_choice_space, (1 + 2 + 1) * 2),
        (choice_in_when_space, 1 + (2 * 2 + 2)),
        (dict_gate_space, 1 + 2 + 2),
    ],
)
def test_size_is_exact_and_matches_enumerate(make: Any, size: int) -> None:
    space = make()
    configs = list(space.enumerate())
    assert space.size == size
    assert isinstance(space.size, int)
    assert len(configs) == size
    assert len({space.key(c) for c in configs}) == size
    for config in configs:
        assert space.validate(config) == config


def test_chained_size_by_hand() -> None:
    # a=0: d (True: e 2, False: 1) = 3;  a=1: b (x: 1, y: c 3) = 4;
    # a=2: b (x: f 3, y: c 3) = 6;  times g 2
    assert build(chained_rows()).size == (3 + 4 + 6) * 2


def test_size_counts_repeated_options_as_enumerate_does() -> None:
    space = Space({"a": Choice([3, 3, 5]), "b": when(Choice([0, 1]), a=3), "c": Int(1, 2)})
    assert space.size == (2 * 2 + 1) * 2
    assert len(list(space.enumerate())) == space.size


def test_size_of_a_condition_on_a_choice_with_a_range_option() -> None:
    space = Space(
        {
            "a": Choice([Int(1, 3), "skip", Choice([2, 7])]),
            "b": when(Choice(["x", "y"]), a=[2, "skip"]),
            "c": when(Int(0, 2), a=7),
        }
    )
    # a: 1 and 3 alone; 2 (from either option) and skip with b; 7 with c
    assert space.size == 2 + 3 * 2 + 3
    assert len(list(space.enumerate())) == space.size


def test_size_is_infinite_only_when_a_real_can_be_active() -> None:
    assert real_space().size == math.inf
    assert mixed_when_space().size == math.inf
    # the Real of "never" is never active: the space stays finite and enumerable
    chained = build(chained_rows())
    assert chained.is_finite
    assert not any("never" in c for c in chained.enumerate())
    # a Real that is a condition's key: infinite wherever it is active
    assert Space({"lr": Real(0.0, 1.0), "x": when(Choice([1, 2]), lr=0.5)}).size == math.inf
    gated = Space({"on": Choice([0, 1]), "lr": when(Real(0.0, 1.0), on=1), "x": Choice([1, 2])})
    assert gated.size == math.inf
    with pytest.raises(ConfigError, match="infinite"):
        gated.enumerate()


def test_size_of_a_huge_space_is_computed_without_enumerating() -> None:
    stages: dict[str, Any] = {}
    for i in range(25):
        stages[f"n{i}"] = Int(1, 10)
        stages[f"w{i}"] = when(Int(1, 100), **{f"n{i}": [1, 2, 3]})
        if i:
            stages[f"k{i}"] = when(Choice([3, 5]), **{"n0": [1, 10], f"n{i}": 10})
    space = Space(stages)
    start = time.perf_counter()
    size = space.size
    assert time.perf_counter() - start < 1.0
    # stage 0: n0 in 1..3 -> w0 (100 each), else 1.  Stage i > 0: n_i in 1..3 -> w_i (300),
    # n_i = 10 -> k_i (2 when n0 is 1 or 10, else 1), 4..9 -> 6: 308 or 307
    assert size == (100 + 1) * 308**24 + (200 + 6) * 307**24


# -- genome -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL)
def test_genome_round_trip_and_only_active_decisions(make: Any) -> None:
    space = make()
    for seed in range(200):
        config = space.sample(seed=seed)
        genome = space.genome(config)
        assert space.from_genome([g.index for g in genome]) == config
        assert len({g.path for g in genome}) == len(genome)
        for gene in genome:
            if gene.n_options is not None:
                assert 0 <= gene.index < gene.n_options


def test_genome_of_the_example_lists_active_keys_in_dict_order() -> None:
    space = real_space()
    config = {"depth": 2, "kernel_0": 5, "kernel_1": 3, "optimizer": "adam"}
    assert space.genome(config) == [
        ("depth", 1, 3),
        ("kernel_0", 1, 2),
        ("kernel_1", 0, 2),
        ("optimizer", 1, 2),
    ]
    sgd = {"depth": 1, "kernel_0": 3, "optimizer": "sgd", "momentum": 0.7}
    assert [g.path for g in space.genome(sgd)] == ["depth", "kernel_0", "optimizer", "momentum"]
    assert space.from_genome([0, 0, 0, 0.7]) == sgd
    with pytest.raises(ConfigError, match="^momentum: genome too short"):
        space.from_genome([0, 0, 0])
    with pytest.raises(ConfigError, match="genome too long"):
        space.from_genome([0, 0, 1, 0.7])  # adam: no momentum to read


def test_decide_asks_only_active_decisions_in_genome_order() -> None:
    space = real_space()
    asked: list[str] = []

    def last(path: str, n: int | None, domain: Any) -> int | float:
        asked.append(path)
        return 0.8 if n is None else n - 1

    config = space.decide(last)
    assert config == {
        "depth": 3,
        "kernel_0": 5,
        "kernel_1": 5,
        "kernel_2": 5,
        "optimizer": "adam",
    }
    assert asked == [g.path for g in space.genome(config)]
    for make in ALL:
        space = make()
        for seed in range(30):
            target = space.sample(seed=seed)
            genes = iter(space.genome(target))

            def replay(path: str, n: int | None, domain: Any, genes: Any = genes) -> int | float:
                gene = next(genes)
                assert gene.path == path and gene.n_options == n
                return gene.index

            assert space.decide(replay) == target
            assert next(genes, None) is None


# -- mutate and neighbours --------------------------------------------------------------

#: per space, the keys whose presence a key's value decides (directly or through others)
DEPENDENTS: dict[Any, dict[str, set[str]]] = {
    real_space: {"depth": {"kernel_1", "kernel_2"}, "optimizer": {"momentum"}},
    mixed_when_space: {
        "optimizer": {"momentum", "nesterov"},
        "block": {"norm", "block.type", "block.k", "block.dil"},
        "block.k": {"block.dil"},
    },
    lambda: build(chained_rows()): {
        "a": {"b", "c", "d", "e", "f", "note"},
        "b": {"c", "f", "note"},
        "c": {"note"},
        "d": {"e"},
    },
    choice_in_when_space: {
        "use_block": {"block", "block.k", "block.ch", "act"},
        "block": {"block.k", "block.ch", "act"},
    },
}


@pytest.mark.parametrize("make", list(DEPENDENTS))
def test_mutate_changes_one_decision_and_adds_or_drops_only_its_dependents(make: Any) -> None:
    space, dependents = make(), DEPENDENTS[make]
    n_added = n_dropped = 0
    for seed in range(400):
        rng = random.Random(seed)
        config = space.sample(rng)
        before = json.dumps(config)
        mutant = space.mutate(config, rng)
        assert json.dumps(config) == before, "mutate must not change its input"
        assert space.validate(mutant) == mutant
        old, new = genome_by_path(space, config), genome_by_path(space, mutant)
        changed = [p for p in old.keys() & new.keys() if old[p] != new[p]]
        assert len(changed) == 1, (config, mutant)
        moved = old.keys() ^ new.keys()
        assert moved <= dependents.get(changed[0], set()), (config, mutant)
        n_added += bool(new.keys() - old.keys())
        n_dropped += bool(old.keys() - new.keys())
    assert n_added > 20
    assert n_dropped > 20


def test_mutate_samples_newly_active_keys_afresh() -> None:
    space = real_space()
    momenta = set()
    for seed in range(300):
        rng = random.Random(seed)
        config = {"depth": 1, "kernel_0": 3, "optimizer": "adam"}
        mutant = space.mutate(config, rng)
        if "momentum" in mutant:
            momenta.add(mutant["momentum"])
        if "kernel_1" in mutant:
            assert mutant["depth"] in (2, 3)
    assert len(momenta) > 20


def test_mutate_reaches_the_neighbours_up_to_new_keys() -> None:
    space = example_space()
    config = {"depth": 2, "kernel_0": 5, "kernel_1": 3, "optimizer": "adam"}
    rng = random.Random(0)
    reached = {space.key(space.mutate(config, rng)) for _ in range(3000)}
    # kernel_2 (depth 3) and momentum (sgd) may come with either value
    assert reached == {
        space.key(c)
        for c in [
            {"depth": 1, "kernel_0": 5, "optimizer": "adam"},
            {"depth": 3, "kernel_0": 5, "kernel_1": 3, "kernel_2": 3, "optimizer": "adam"},
            {"depth": 3, "kernel_0": 5, "kernel_1": 3, "kernel_2": 5, "optimizer": "adam"},
            {"depth": 2, "kernel_0": 3, "kernel_1": 3, "optimizer": "adam"},
            {"depth": 2, "kernel_0": 5, "kernel_1": 5, "optimizer": "adam"},
            {"depth": 2, "kernel_0": 5, "kernel_1": 3, "optimizer": "sgd", "momentum": 0.9},
            {"depth": 2, "kernel_0": 5, "kernel_1": 3, "optimizer": "sgd", "momentum": 0.99},
        ]
    }


def test_neighbours_give_new_keys_their_first_value() -> None:
    space = example_space()
    config = {"depth": 2, "kernel_0": 5, "kernel_1": 3, "optimizer": "adam"}
    assert space.neighbours(config) == [
        {"depth": 1, "kernel_0": 5, "optimizer": "adam"},
        {"depth": 3, "kernel_0": 5, "kernel_1": 3, "kernel_2": 3, "optimizer": "adam"},
        {"depth": 2, "kernel_0": 3, "kernel_1": 3, "optimizer": "adam"},
        {"depth": 2, "kernel_0": 5, "kernel_1": 5, "optimizer": "adam"},
        {"depth": 2, "kernel_0": 5, "kernel_1": 3, "optimizer": "sgd", "momentum": 0.9},
    ]
    wide = Space({"on": Choice([0, 1]), "w": when(Int(10, 99), on=1), "v": Int(10, 99).when(on=1)})
    assert wide.neighbours({"on": 0}) == [{"on": 1, "w": 10, "v": 10}]


@pytest.mark.parametrize("make", FINITE)
def test_neighbours_validate_and_differ_in_one_decision(make: Any) -> None:
    space = make()
    for config in space.enumerate():
        neighbours = space.neighbours(config)
        keys = [space.key(n) for n in neighbours]
        assert len(keys) == len(set(keys)), "no neighbour twice"
        assert space.key(config) not in keys
        genome = space.genome(config)
        assert len(neighbours) == sum(g.n_options - 1 for g in genome)  # type: ignore[operator]
        old = genome_by_path(space, config)
        for neighbour in neighbours:
            assert space.validate(neighbour) == neighbour
            new = genome_by_path(space, neighbour)
            assert sum(old[p] != new[p] for p in old.keys() & new.keys()) == 1


# -- validate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"depth": 2, "kernel_0": 3, "optimizer": "adam"}, r"^kernel_1: missing"),
        (
            {"depth": 1, "kernel_0": 3, "kernel_1": 3, "optimizer": "adam"},
            r"^kernel_1: present, but allowed only when depth is one of \[2, 3\] "
            r"\(here depth is 1\)",
        ),
        (
            {"depth": 1, "kernel_0": 3, "optimizer": "adam", "momentum": 0.9},
            r"^momentum: present, but allowed only when optimizer is 'sgd' "
            r"\(here optimizer is 'adam'\)",
        ),
        ({"depth": 1, "kernel_0": 3, "optimizer": "sgd"}, r"^momentum: missing"),
        (
            {"depth": 1, "kernel_0": 3, "optimizer": "sgd", "momentum": 0.3},
            r"^momentum: unknown value 0\.3",
        ),
        (
            {"depth": 1, "kernel_0": 3, "optimizer": "adam", "zz": 1},
            r"^zz: unknown field; allowed: depth, kernel_0, kernel_1, kernel_2, optimizer, mom",
        ),
        (["not", "a", "dict"], r"^config: expected a mapping"),
    ],
)
def test_validate_names_the_key_and_its_condition(config: Any, message: str) -> None:
    space = example_space()
    with pytest.raises(ConfigError, match=message):
        space.validate(config)
    assert config not in space


def test_validate_of_a_chained_condition_says_the_gate_is_absent() -> None:
    space = build(chained_rows())
    with pytest.raises(ConfigError, match=r"^c: present, but .* b is 'y' \(here b is absent\)"):
        space.validate({"a": 0, "d": False, "c": 2, "g": 10})
    # a constant key that is active may be left out; it is filled in
    assert space.validate({"a": 1, "b": "y", "c": 2, "g": 10}) == {
        "a": 1,
        "b": "y",
        "c": 2,
        "note": "wide",
        "g": 10,
    }
    with pytest.raises(ConfigError, match=r"^note: present, but allowed only when c is one of"):
        space.validate({"a": 1, "b": "y", "c": 1, "note": "wide", "g": 10})


def test_validate_names_the_path_inside_nested_spaces() -> None:
    space = when_in_choice_space()
    with pytest.raises(ConfigError, match=r"block\.dil: missing"):
        space.validate({"block": {"type": "conv", "k": 5}, "n": 1})
    with pytest.raises(ConfigError, match=r"block\.dil: present, but allowed only when k is 5"):
        space.validate({"block": {"type": "conv", "k": 3, "dil": 1}, "n": 1})
    assert space.validate({"block": {"type": "conv", "k": 3}, "n": 1}) == {
        "block": {"type": "conv", "k": 3},
        "n": 1,
    }


# -- errors when building ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build_space", "message"),
    [
        (
            lambda: Space({"kernel": when(Choice([3, 5]), depth=2), "depth": Int(1, 3)}),
            r"^kernel: when\(depth=\.\.\.\) names a later key",
        ),
        (
            lambda: Space({"depth": Int(1, 3), "kernel": when(Choice([3, 5]), kernel=3)}),
            r"^kernel: when\(kernel=\.\.\.\) names the key itself",
        ),
        (
            lambda: Space({"depth": Int(1, 3), "kernel": when(Choice([3, 5]), dpth=2)}),
            r"^kernel: when\(dpth=\.\.\.\) names no key of this dict.*\(here: depth\)",
        ),
        (
            lambda: Space({"opt": Choice(["sgd", "adam"]), "m": when(Real(0.5, 0.9), opt="sgdd")}),
            r"^m: when\(opt=\.\.\.\) allows 'sgdd', which opt never takes",
        ),
        (
            lambda: Space({"depth": Int(1, 3), "kernel": when(Choice([3, 5]), depth=[2, 9])}),
            r"^kernel: when\(depth=\.\.\.\) allows 9, which depth never takes",
        ),
        (lambda: Space(when(Int(1, 2), a=1)), "only the value of a dict key may be conditional"),
        (
            lambda: Space({"a": Int(1, 2), "b": [when(Int(1, 2), a=1)]}),
            "only the value of a dict key may be conditional",
        ),
        (
            lambda: Space({"a": Int(1, 2), "b": Choice([when(Int(1, 2), a=1), 3])}),
            r"when\(\.\.\., a=\[1\]\): only the value of a dict key",
        ),
        (lambda: when(Int(1, 2)), "needs at least one condition"),
        (lambda: when(Int(1, 2), a=[]), r"a=\[\] allows no value"),
        (lambda: when(when(Int(1, 2), a=1), b=2), "cannot wrap another when"),
    ],
)
def test_bad_conditions_raise_config_error_naming_the_key(build_space: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_space()


# -- JSON and identity -------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL)
def test_to_json_from_json_round_trip(make: Any) -> None:
    space = make()
    data = space.to_json()
    rebuilt = Space.from_json(json.loads(json.dumps(data)))
    assert rebuilt == space
    assert rebuilt.to_json() == data
    assert type(rebuilt.root) is type(space.root)
    assert rebuilt.size == space.size
    for seed in range(20):
        config = space.sample(seed=seed)
        assert rebuilt.sample(seed=seed) == config
        assert rebuilt.genome(config) == space.genome(config)
        assert rebuilt.mutate(config, random.Random(seed)) == space.mutate(
            config, random.Random(seed)
        )


def test_json_keeps_keys_that_look_like_markers_and_differs_by_condition() -> None:
    space = Space({"$op": Choice([1, 2]), "$when": when(Int(1, 3), **{"$op": 2})})
    rebuilt = Space.from_json(json.loads(json.dumps(space.to_json())))
    assert rebuilt == space
    assert list(rebuilt.enumerate()) == list(space.enumerate())
    assert space.size == 4
    a = Space({"x": Choice([1, 2]), "y": when(Int(1, 3), x=1)})
    assert a != Space({"x": Choice([1, 2]), "y": when(Int(1, 3), x=2)})
    assert a != Space({"x": Choice([1, 2]), "y": Int(1, 3)})


def test_key_ignores_order_and_separates_present_from_absent() -> None:
    space = real_space()
    a = {"depth": 1, "kernel_0": 3, "optimizer": "sgd", "momentum": 0.7}
    b = {"momentum": 0.7, "optimizer": "sgd", "kernel_0": 3, "depth": 1}
    assert space.key(a) == space.key(b)
    assert space.key(a) != space.key({"depth": 1, "kernel_0": 3, "optimizer": "adam"})


# -- strategies -------------------------------------------------------------------------

#: strategies that need a finite space (they list neighbours, options or a grid)
FINITE_ONLY = {"grid", "local", "mcts", "reinforce", "lstm"}
#: the predictor's encoders need one genome layout shared by every config (or NB201 cells)
NAMES = sorted(set(STRATEGIES) - {"predictor"})


def make_strategy(name: str, space: Space, seed: int | None = 0) -> Strategy:
    factory = STRATEGIES[name]
    params = inspect.signature(factory).parameters
    extra: dict[str, Any] = {}
    if "fidelities" in params:
        extra["fidelities"] = (1.0, 3.0, 9.0)
    if "configs" in params:
        rng = random.Random(7)
        extra["configs"] = [space.sample(rng) for _ in range(30)]
        extra["ladder"] = (1.0, 3.0)
    strategy = factory(space, seed=seed, **extra)
    assert isinstance(strategy, Strategy)
    return strategy


def score_of(config: dict[str, Any], fidelity: float | None) -> float:
    """A made-up score that the conditional keys move."""
    score = config["depth"] + 0.2 * config.get("kernel_1", 0) - 0.1 * config.get("kernel_2", 0)
    score += config.get("momentum", 0.0) + (fidelity or 9.0) / 9.0
    return score


def run(strategy: Strategy, space: Space, n: int) -> list[Any]:
    asked = []
    for i in range(n):
        candidate = strategy.ask()
        if candidate is None:
            break
        assert space.validate(candidate.config) == candidate.config
        asked.append(candidate.config)
        if i % 7 == 3:
            strategy.tell(candidate, Result.failed("x"))
        else:
            strategy.tell(
                candidate, Result({}, score=score_of(candidate.config, candidate.fidelity))
            )
    return asked


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("make", [example_space, real_space])
def test_every_strategy_searches_a_when_space(name: str, make: Any) -> None:
    space = make()
    if name in FINITE_ONLY and not space.is_finite:
        with pytest.raises(ConfigError, match="Real|finite"):
            make_strategy(name, space)
        return
    asked = run(make_strategy(name, space), space, 60)
    if name == "grid":
        assert len(asked) == space.size
    elif name == "sequence":  # each given config, again at the next fidelity unless it failed
        assert 30 <= len(asked) < 60
    else:
        assert len(asked) == 60
    assert any("kernel_1" in c for c in asked)
    assert any("kernel_1" not in c for c in asked)


@pytest.mark.parametrize("name", NAMES)
def test_strategy_state_round_trips_on_a_when_space(name: str) -> None:
    space = example_space()
    original = make_strategy(name, space, seed=3)
    run(original, space, 12)
    state = json.loads(json.dumps(original.state_dict()))
    restored = make_strategy(name, space, seed=99)
    restored.load_state_dict(state)
    assert run(original, space, 15) == run(restored, space, 15)


def test_grid_walks_every_config_of_a_when_space_once() -> None:
    space = build(chained_rows())
    grid = make_strategy("grid", space)
    asked = [c.config for c in iter(grid.ask, None)]
    assert len(asked) == space.size == len({space.key(c) for c in asked})
    assert grid.is_finished


def test_nsga2_crossover_that_would_switch_keys_on_keeps_a_parent() -> None:
    # g1 = 1 from one parent and g2 = 1 from the other would need an x the genomes lack
    space = Space({"g1": Choice([1, 2]), "g2": Choice([1, 2]), "x": when(Int(7, 9), g1=1, g2=1)})
    strategy = make_strategy("nsga2", space)
    a, b = {"g1": 1, "g2": 2}, {"g1": 2, "g2": 1}
    children = []
    for seed in range(40):
        strategy.rng = random.Random(seed)
        child = strategy._crossover(a, b)  # type: ignore[attr-defined]
        assert space.validate(child) == child
        children.append(child)
    assert {space.key(c) for c in children} == {space.key(c) for c in [a, b, {"g1": 2, "g2": 2}]}


def test_materialize_builds_symbolic_calls_inside_when() -> None:
    from archsearch.space import materialize, symbolic

    @symbolic
    def block(width=Choice([2, 4])):  # noqa: B008 - an inline space
        return ["block", width]

    hyper = {"deep": Choice([False, True]), "extra": when(block(), deep=True)}
    assert materialize(hyper, {"deep": False}) == {"deep": False}
    built = materialize(hyper, {"deep": True, "extra": {"@": "block", "width": 4}})
    assert built == {"deep": True, "extra": ["block", 4]}
