"""The search-space language: decisions, nesting, sampling, genomes, validation, JSON."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.space import Choice, Int, Real, Space


def mixed_space() -> Space:
    """Every kind of decision, a nested list and a fixed value."""
    return Space(
        {
            "op": Choice(["conv", "pool", "skip"]),
            "depth": Int(1, 4),
            "width": Int(8, 64, log=True),
            "lr": Real(1e-4, 1e-1, log=True),
            "drop": Real(0.0, 0.5),
            "layers": [Choice([16, 32]), Int(0, 2)],
            "act": "relu",
        }
    )


def finite_space() -> Space:
    """A finite space without conditionals: dicts, a list, ints, a fixed value."""
    return Space(
        {
            "a": Choice(["x", "y", "z"]),
            "b": Int(1, 3),
            "c": [Choice([0, 1]), "fixed"],
            "d": {"e": Choice(["p", "q"]), "f": 7},
        }
    )


def conditional_space() -> Space:
    """A choice between sub-spaces (and a plain value): a conditional."""
    return Space(
        {
            "block": Choice(
                [
                    {"type": "conv", "k": Choice([3, 5]), "ch": Int(8, 10)},
                    {"type": "pool", "size": Choice([2, 3])},
                    "identity",
                ]
            ),
            "n": Int(1, 2),
        }
    )


def nested_space() -> Space:
    return Space(
        {
            "block": {"type": Choice(["conv", "pool"]), "k": Int(1, 3)},
            "layers": [Choice([16, 32]), Choice([16, 32])],
            "lr": Real(0.001, 0.1),
        }
    )


def indices(space: Space, config: Any) -> list[int | float]:
    return [gene.index for gene in space.genome(config)]


def genome_by_path(space: Space, config: Any) -> dict[str, int | float]:
    return {gene.path: gene.index for gene in space.genome(config)}


# -- sampling ---------------------------------------------------------------------------


def test_seeded_sample_gives_exact_expected_configs() -> None:
    space = mixed_space()
    assert space.sample(seed=0) == {
        "op": "skip",
        "depth": 4,
        "width": 19,
        "lr": pytest.approx(0.0005980675662697353, rel=1e-12),
        "drop": pytest.approx(0.25563736068430426, rel=1e-12),
        "layers": [16, 2],
        "act": "relu",
    }
    assert space.sample(seed=1) == {
        "op": "conv",
        "depth": 4,
        "width": 39,
        "lr": pytest.approx(0.0005823808382847415, rel=1e-12),
        "drop": pytest.approx(0.24771754354597048, rel=1e-12),
        "layers": [16, 1],
        "act": "relu",
    }


def test_small_flat_space_samples_exact_sequence_from_one_generator() -> None:
    space = Space({"a": Choice(["x", "y", "z"]), "b": Int(1, 3)})
    rng = random.Random(7)
    drawn = [space.sample(rng) for _ in range(4)]
    again = random.Random(7)
    assert drawn == [space.sample(again) for _ in range(4)]
    assert [space.sample(seed=s) for s in range(4)] == [
        {"a": "z", "b": 3},
        {"a": "x", "b": 3},
        {"a": "z", "b": 3},
        {"a": "x", "b": 2},
    ]


@pytest.mark.parametrize("make", [mixed_space, finite_space, conditional_space, nested_space])
def test_same_seed_same_config_and_samples_validate(make: Any) -> None:
    space = make()
    for seed in range(30):
        config = space.sample(seed=seed)
        assert space.sample(seed=seed) == config
        assert space.validate(config) == config
        assert config in space


def test_samples_cover_every_option_and_stay_in_bounds() -> None:
    space = mixed_space()
    rng = random.Random(3)
    samples = [space.sample(rng) for _ in range(400)]
    assert {s["op"] for s in samples} == {"conv", "pool", "skip"}
    assert {s["depth"] for s in samples} == {1, 2, 3, 4}
    assert {s["layers"][1] for s in samples} == {0, 1, 2}
    assert all(8 <= s["width"] <= 64 for s in samples)
    assert all(1e-4 <= s["lr"] <= 1e-1 for s in samples)
    assert all(0.0 <= s["drop"] <= 0.5 for s in samples)
    assert all(s["act"] == "relu" for s in samples)


def test_log_scale_is_log_uniform_and_linear_scale_is_uniform() -> None:
    space = Space(
        {
            "lr": Real(1e-4, 1.0, log=True),
            "x": Real(0.0, 1.0),
            "n": Int(1, 1000, log=True),
            "m": Int(1, 1000),
        }
    )
    rng = random.Random(0)
    samples = [space.sample(rng) for _ in range(2000)]
    # half the log-uniform mass is below the geometric midpoint
    below = sum(s["lr"] < 1e-2 for s in samples) / len(samples)
    assert 0.45 < below < 0.55
    assert 0.45 < sum(s["x"] < 0.5 for s in samples) / len(samples) < 0.55
    assert 0.45 < sum(s["n"] < math.sqrt(1000) for s in samples) / len(samples) < 0.55
    assert 0.45 < sum(s["m"] <= 500 for s in samples) / len(samples) < 0.55
    assert all(isinstance(s["n"], int) and 1 <= s["n"] <= 1000 for s in samples)


def test_log_int_reaches_both_ends() -> None:
    space = Space({"n": Int(1, 4, log=True)})
    rng = random.Random(1)
    assert {space.sample(rng)["n"] for _ in range(500)} == {1, 2, 3, 4}


# -- size and enumerate -------------------------------------------------------------------


@pytest.mark.parametrize(("make", "size"), [(finite_space, 36), (conditional_space, 18)])
def test_size_and_enumerate_agree_and_configs_are_distinct(make: Any, size: int) -> None:
    space = make()
    configs = list(space.enumerate())
    assert space.size == size
    assert len(configs) == size
    assert len({space.key(c) for c in configs}) == size
    for config in configs:
        assert space.validate(config) == config


def test_conditional_size_sums_branches() -> None:
    space = conditional_space()
    # conv: 2 * 3, pool: 2, identity: 1; times n in {1, 2}
    assert space.size == (6 + 2 + 1) * 2
    branches = [
        c["block"] if c["block"] == "identity" else c["block"]["type"] for c in space.enumerate()
    ]
    assert branches.count("conv") == 12
    assert branches.count("pool") == 4
    assert branches.count("identity") == 2


def test_infinite_space_has_infinite_size_and_refuses_enumerate() -> None:
    space = mixed_space()
    assert space.size == math.inf
    assert not space.is_finite
    with pytest.raises(ConfigError, match="infinite"):
        space.enumerate()


def test_fixed_only_space_has_one_config() -> None:
    space = Space({"act": "relu", "sizes": [1, 2, 3]})
    assert space.size == 1
    assert list(space.enumerate()) == [{"act": "relu", "sizes": [1, 2, 3]}]
    assert space.sample(seed=0) == {"act": "relu", "sizes": [1, 2, 3]}
    assert space.genome({"act": "relu", "sizes": [1, 2, 3]}) == []
    assert space.mutate({"act": "relu", "sizes": [1, 2, 3]}, random.Random(0)) == {
        "act": "relu",
        "sizes": [1, 2, 3],
    }


# -- mutate ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [mixed_space, finite_space, nested_space])
def test_mutate_changes_exactly_one_decision_and_validates(make: Any) -> None:
    space = make()
    for seed in range(300):
        rng = random.Random(seed)
        config = space.sample(rng)
        before = repr(config)
        mutant = space.mutate(config, rng)
        assert repr(config) == before, "mutate must not change its input"
        assert space.validate(mutant) == mutant
        old, new = indices(space, config), indices(space, mutant)
        assert len(old) == len(new)
        assert sum(a != b for a, b in zip(old, new, strict=True)) == 1, (config, mutant)


def test_mutate_conditional_space_switching_branch_resamples_it() -> None:
    space = conditional_space()
    switched_into_conv: set[tuple[int, int]] = set()
    n_switches = n_inner = 0
    for seed in range(400):
        rng = random.Random(seed)
        config = space.sample(rng)
        mutant = space.mutate(config, rng)
        assert space.validate(mutant) == mutant
        old, new = genome_by_path(space, config), genome_by_path(space, mutant)
        if old["block"] != new["block"]:
            n_switches += 1
            # only the block changed; the rest of the config is untouched
            assert mutant["n"] == config["n"]
            if isinstance(mutant["block"], dict) and mutant["block"]["type"] == "conv":
                switched_into_conv.add((mutant["block"]["k"], mutant["block"]["ch"]))
        else:
            n_inner += 1
            changed = [p for p in old if old[p] != new[p]]
            assert set(old) == set(new)
            assert len(changed) == 1, (config, mutant)
    assert n_switches > 50
    assert n_inner > 50
    # a newly active branch is sampled afresh, not reset to a fixed first value
    assert len(switched_into_conv) >= 4


def test_mutate_is_reproducible_with_a_seeded_generator() -> None:
    space = finite_space()
    config = space.sample(seed=0)
    first = [space.mutate(config, random.Random(s)) for s in range(20)]
    second = [space.mutate(config, random.Random(s)) for s in range(20)]
    assert first == second
    assert len({space.key(m) for m in first}) > 1


def test_mutate_reaches_every_neighbour() -> None:
    space = finite_space()
    config = space.sample(seed=5)
    rng = random.Random(0)
    reached = {space.key(space.mutate(config, rng)) for _ in range(2000)}
    assert reached == {space.key(n) for n in space.neighbours(config)}


# -- genome ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [mixed_space, finite_space, conditional_space, nested_space])
def test_genome_round_trip_and_indices_in_range(make: Any) -> None:
    space = make()
    for seed in range(100):
        config = space.sample(seed=seed)
        genome = space.genome(config)
        assert space.from_genome([g.index for g in genome]) == config
        assert len(genome) == space.n_decisions(config)
        assert len({g.path for g in genome}) == len(genome)
        for gene in genome:
            if gene.n_options is None:
                assert isinstance(gene.index, float)
            else:
                assert isinstance(gene.index, int)
                assert 0 <= gene.index < gene.n_options


def test_genome_has_one_entry_per_active_decision() -> None:
    space = mixed_space()
    config = space.sample(seed=0)
    assert [g.path for g in space.genome(config)] == [
        "op",
        "depth",
        "width",
        "lr",
        "drop",
        "layers[0]",
        "layers[1]",
    ]
    assert space.genome(config)[:3] == [("op", 2, 3), ("depth", 3, 4), ("width", 11, 57)]

    cond = conditional_space()
    conv = {"block": {"type": "conv", "k": 5, "ch": 9}, "n": 2}
    assert cond.genome(conv) == [
        ("block", 0, 3),
        ("block.k", 1, 2),
        ("block.ch", 1, 3),
        ("n", 1, 2),
    ]
    pool = {"block": {"type": "pool", "size": 3}, "n": 1}
    assert cond.genome(pool) == [("block", 1, 3), ("block.size", 1, 2), ("n", 0, 2)]
    assert cond.genome({"block": "identity", "n": 1}) == [("block", 2, 3), ("n", 0, 2)]


def test_from_genome_rejects_bad_genomes() -> None:
    space = finite_space()
    with pytest.raises(ConfigError, match="genome too short"):
        space.from_genome([0, 0])
    with pytest.raises(ConfigError, match="genome too long"):
        space.from_genome([0, 0, 0, 0, 0])
    with pytest.raises(ConfigError, match=r"^a: option index 3 out of range"):
        space.from_genome([3, 0, 0, 0])


# -- validate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"block": {"type": "conv", "k": 1}, "layers": [17, 16], "lr": 0.01},
            r"^layers\[0\]: unknown value 17; allowed: 16, 32",
        ),
        (
            {"block": {"type": "conv", "k": 1}, "layers": [16, 64], "lr": 0.01},
            r"^layers\[1\]: unknown value 64",
        ),
        (
            {"block": {"type": "sep", "k": 1}, "layers": [16, 16], "lr": 0.01},
            r"^block\.type: unknown value 'sep'; allowed: conv, pool",
        ),
        (
            {"block": {"type": "conv", "k": 9}, "layers": [16, 16], "lr": 0.01},
            r"^block\.k: must be in \[1, 3\], got 9",
        ),
        (
            {"block": {"type": "conv", "k": "3"}, "layers": [16, 16], "lr": 0.01},
            r"^block\.k: expected an integer",
        ),
        (
            {"block": {"type": "conv", "k": 1, "pad": 0}, "layers": [16, 16], "lr": 0.01},
            r"^block\.pad: unknown field; allowed: type, k",
        ),
        (
            {"block": {"type": "conv"}, "layers": [16, 16], "lr": 0.01},
            r"^block\.k: missing",
        ),
        ({"block": {"type": "conv", "k": 1}, "layers": [16, 16]}, r"^lr: missing"),
        (
            {"block": {"type": "conv", "k": 1}, "layers": [16, 16], "lr": 0.5},
            r"^lr: must be in \[0\.001, 0\.1\], got 0\.5",
        ),
        (
            {"block": {"type": "conv", "k": 1}, "layers": [16], "lr": 0.01},
            r"^layers: expected 2 items, got 1",
        ),
        (
            {"block": "conv", "layers": [16, 16], "lr": 0.01},
            r"^block: expected a mapping",
        ),
        (["not", "a", "dict"], r"^config: expected a mapping"),
    ],
)
def test_validate_names_the_path_of_the_bad_field(config: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        nested_space().validate(config)
    assert config not in nested_space()


def test_validate_conditional_names_the_field_inside_the_branch() -> None:
    space = conditional_space()
    with pytest.raises(ConfigError, match=r"block\.type: fixed at 'conv', got 'x'"):
        space.validate({"block": {"type": "x"}, "n": 1})
    with pytest.raises(ConfigError, match=r"block\.k: unknown value 4"):
        space.validate({"block": {"type": "conv", "k": 4, "ch": 8}, "n": 1})
    with pytest.raises(ConfigError, match=r"^zz: unknown field"):
        space.validate({"block": "identity", "n": 1, "zz": 2})
    with pytest.raises(ConfigError, match=r"^n: missing"):
        space.validate({"block": "identity"})


def test_validate_fills_missing_fixed_fields() -> None:
    space = finite_space()
    config = {"a": "x", "b": 2, "c": [1, "fixed"], "d": {"e": "q"}}
    assert space.validate(config) == {"a": "x", "b": 2, "c": [1, "fixed"], "d": {"e": "q", "f": 7}}
    with pytest.raises(ConfigError, match=r"^d\.f: fixed at 7, got 8"):
        space.validate({"a": "x", "b": 2, "c": [1, "fixed"], "d": {"e": "q", "f": 8}})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Choice([]), "at least one option"),
        (lambda: Choice("abc"), "options must be a list"),
        (lambda: Int(3, 1), "low must be <= high"),
        (lambda: Int(1.5, 3), "must be integers"),
        (lambda: Int(0, 5, log=True), "log scale needs low > 0"),
        (lambda: Real(1.0, 1.0), "finite low < high"),
        (lambda: Real(0.0, 1.0, log=True), "log scale needs low > 0"),
        (lambda: Real(0.0, math.inf), "finite low < high"),
    ],
)
def test_bad_decisions_raise_config_error(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


# -- JSON and identity -------------------------------------------------------------------


@pytest.mark.parametrize("make", [mixed_space, finite_space, conditional_space, nested_space])
def test_to_json_from_json_round_trip(make: Any) -> None:
    space = make()
    data = space.to_json()
    text = json.dumps(data)
    rebuilt = Space.from_json(json.loads(text))
    assert rebuilt == space
    assert rebuilt.to_json() == data
    assert rebuilt.size == space.size
    for seed in range(20):
        assert rebuilt.sample(seed=seed) == space.sample(seed=seed)
    config = space.sample(seed=0)
    assert rebuilt.genome(config) == space.genome(config)
    assert rebuilt.mutate(config, random.Random(1)) == space.mutate(config, random.Random(1))


def test_from_json_keeps_name_and_unequal_spaces_differ() -> None:
    space = Space({"a": Choice([1, 2])}, name="tiny")
    rebuilt = Space.from_json(json.loads(json.dumps(space.to_json())))
    assert rebuilt.name == "tiny"
    assert hash(rebuilt) == hash(space)
    assert Space({"a": Choice([1, 3])}) != Space({"a": Choice([1, 2])})
    assert Space({"a": Int(1, 3)}) != Space({"a": Int(1, 3, log=True)})


def test_key_ignores_dict_order_and_separates_configs() -> None:
    space = nested_space()
    a = {"block": {"type": "conv", "k": 2}, "layers": [16, 32], "lr": 0.01}
    b = {"lr": 0.01, "layers": [16, 32], "block": {"k": 2, "type": "conv"}}
    assert space.key(a) == space.key(b)
    assert space.key(a) != space.key({**a, "layers": [32, 16]})
    assert space.key(a) != space.key({**a, "block": {"type": "conv", "k": 3}})


# -- neighbours ------------------------------------------------------------------------


def test_neighbours_are_exactly_the_configs_at_genome_distance_one() -> None:
    space = finite_space()
    configs = list(space.enumerate())
    genomes = {space.key(c): indices(space, c) for c in configs}
    for config in configs:
        mine = genomes[space.key(config)]
        expected = {
            key
            for key, other in genomes.items()
            if sum(a != b for a, b in zip(mine, other, strict=True)) == 1
        }
        found = [space.key(n) for n in space.neighbours(config)]
        assert len(found) == len(set(found)), "no neighbour twice"
        assert set(found) == expected
        # (3-1) + (3-1) + (2-1) + (2-1)
        assert len(found) == 6


def test_neighbours_of_conditional_switch_to_the_first_config_of_other_branches() -> None:
    space = conditional_space()
    config = {"block": {"type": "conv", "k": 5, "ch": 9}, "n": 2}
    assert space.neighbours(config) == [
        {"block": {"type": "pool", "size": 2}, "n": 2},
        {"block": "identity", "n": 2},
        {"block": {"type": "conv", "k": 3, "ch": 9}, "n": 2},
        {"block": {"type": "conv", "k": 5, "ch": 8}, "n": 2},
        {"block": {"type": "conv", "k": 5, "ch": 10}, "n": 2},
        {"block": {"type": "conv", "k": 5, "ch": 9}, "n": 1},
    ]


def test_neighbours_refuse_real_decisions() -> None:
    space = mixed_space()
    with pytest.raises(ConfigError, match="Real decision"):
        space.neighbours(space.sample(seed=0))
