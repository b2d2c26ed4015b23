"""The GNN space: depth-gated layers, validation, mutation keeps the other layers."""

from __future__ import annotations

import random

import pytest

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.spaces.gnn import GNN_ACTIVATIONS, GNN_ATTENTIONS, gnn_space


def test_size_counts_one_layer_block_per_depth() -> None:
    per_layer = 6 * 3 * 3 * 3 * 8  # attention, aggregation, heads, hidden, activation
    assert gnn_space().size == sum(per_layer**d for d in range(1, 5)) * 3 * 2 * 3


def test_samples_hold_exactly_their_layers_and_cover_the_options() -> None:
    space = SPACES.create("gnn", {}, field="space")
    depths, attentions, activations = set(), set(), set()
    for seed in range(200):
        config = space.sample(seed=seed)
        space.validate(config)
        n = config["n_layers"]
        assert sorted(k for k in config if k.startswith("layer_")) == [
            f"layer_{i}" for i in range(1, n + 1)
        ]
        depths.add(n)
        attentions.update(config[f"layer_{i}"]["attention"] for i in range(1, n + 1))
        activations.update(config[f"layer_{i}"]["activation"] for i in range(1, n + 1))
    assert depths == {1, 2, 3, 4}
    assert attentions == set(GNN_ATTENTIONS) and activations == set(GNN_ACTIVATIONS)


def test_a_depth_mutation_keeps_the_layers_that_stay() -> None:
    space = gnn_space()
    rng = random.Random(0)
    seen_depth_change = False
    config = space.sample(seed=1)
    for _ in range(300):
        child = space.mutate(config, rng)
        space.validate(child)
        if child["n_layers"] != config["n_layers"]:
            seen_depth_change = True
            for i in range(1, min(child["n_layers"], config["n_layers"]) + 1):
                assert child[f"layer_{i}"] == config[f"layer_{i}"]
        config = child
    assert seen_depth_change


def test_validate_names_the_bad_field() -> None:
    space = gnn_space(max_layers=2)
    config = space.sample(seed=0)
    config["layer_1"]["attention"] = "gin"
    with pytest.raises(ConfigError, match=r"layer_1\.attention"):
        space.validate(config)


def test_options_are_checked_and_subsets_are_allowed() -> None:
    space = gnn_space(min_layers=2, max_layers=2, attentions=["const"], heads=[1], hidden=[8])
    config = space.sample(seed=0)
    assert config["n_layers"] == 2 and config["layer_2"]["attention"] == "const"
    with pytest.raises(ConfigError, match=r"min_layers, max_layers: must satisfy"):
        gnn_space(min_layers=3, max_layers=2)
    with pytest.raises(ConfigError, match=r"max_layers.*got 1, 7"):
        gnn_space(max_layers=7)
    with pytest.raises(ConfigError, match=r"attentions\[1\]: unknown 'gin'; allowed: const"):
        gnn_space(attentions=["gat", "gin"])
    with pytest.raises(ConfigError, match=r"hidden\[0\]: must be a positive integer"):
        gnn_space(hidden=[0])
    with pytest.raises(ConfigError, match="readouts: expected a non-empty list"):
        gnn_space(readouts=[])
