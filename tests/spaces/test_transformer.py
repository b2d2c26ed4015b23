"""The transformer and ViT spaces: per-layer conditionals, depth, options."""

from __future__ import annotations

import random
from typing import Any

import pytest

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.spaces.transformer import transformer_space
from archsearch.spaces.vit import vit_space

LAYER_KEYS = {
    "attention": {"op", "heads", "hidden", "ff"},
    "conv": {"op", "kernel", "hidden", "ff"},
    "fourier": {"op", "hidden", "ff"},
    "linear": {"op", "hidden", "ff"},
}


def test_both_spaces_are_registered() -> None:
    assert SPACES["transformer"] is transformer_space
    assert SPACES["vit"] is vit_space


def _check_structure(config: dict[str, Any]) -> None:
    n = config["n_layers"]
    layers = {k for k in config if k.startswith("layer_")}
    assert layers == {f"layer_{i}" for i in range(n)}
    for key in layers:
        assert set(config[key]) == LAYER_KEYS[config[key]["op"]]


def test_samples_validate_and_have_exactly_the_active_keys() -> None:
    space = transformer_space()
    rng = random.Random(0)
    configs = [space.sample(rng) for _ in range(300)]
    for config in configs:
        assert space.validate(config) == config
        _check_structure(config)
    ops = {config[f"layer_{i}"]["op"] for config in configs for i in range(config["n_layers"])}
    assert ops == set(LAYER_KEYS)
    assert {c["n_layers"] for c in configs} == {1, 2, 3, 4}


def test_mutations_stay_valid_and_a_deeper_config_keeps_its_first_layers() -> None:
    space = transformer_space()
    rng = random.Random(1)
    config = space.sample(rng)
    for _ in range(200):
        child = space.mutate(config, rng)
        assert space.validate(child) == child and child != config
        _check_structure(child)
        if child["n_layers"] != config["n_layers"]:
            shared = min(child["n_layers"], config["n_layers"])
            assert all(child[f"layer_{i}"] == config[f"layer_{i}"] for i in range(shared))
        config = child


def test_genome_round_trips() -> None:
    space = vit_space()
    for seed in range(20):
        config = space.sample(seed=seed)
        genome = space.genome(config)
        assert space.from_genome([g.index for g in genome]) == config


def test_heads_only_with_attention_and_kernel_only_with_conv() -> None:
    space = transformer_space(max_layers=1)
    base = {"pooling": "cls", "n_layers": 1}
    with pytest.raises(ConfigError, match="layer_0"):
        space.validate({**base, "layer_0": {"op": "fourier", "heads": 2, "hidden": 32, "ff": 64}})
    with pytest.raises(ConfigError, match="layer_0"):
        space.validate({**base, "layer_0": {"op": "conv", "hidden": 32, "ff": 64}})
    ok = {**base, "layer_0": {"op": "conv", "kernel": 9, "hidden": 32, "ff": 64}}
    assert space.validate(ok) == ok


def test_a_layer_beyond_the_depth_is_refused() -> None:
    space = transformer_space(max_layers=2)
    layer = {"op": "linear", "hidden": 32, "ff": 64}
    with pytest.raises(ConfigError, match="layer_1"):
        space.validate({"pooling": "cls", "n_layers": 1, "layer_0": layer, "layer_1": layer})


def test_the_space_size_counts_the_conditional_branches() -> None:
    # per layer: 3 heads + 3 kernels + fourier + linear = 8 mixings, times 3 x 3 widths
    per_layer = 8 * 3 * 3
    assert transformer_space(max_layers=2).size == 2 * (per_layer + per_layer**2)
    assert transformer_space(ops=["fourier"], max_layers=1, poolings=["mean"]).size == 9
    assert vit_space(max_layers=1).size == 2 * 2 * per_layer


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"heads": [3]}, r"heads: 3 does not divide the hidden sizes \[32, 64, 128\]"),
        ({"ops": ["attention", "mlp"]}, r"ops\[1\]: unknown 'mlp'"),
        ({"kernels": [3, 4]}, r"kernels\[1\]: must be an odd positive integer"),
        ({"min_layers": 3, "max_layers": 2}, "min_layers, max_layers"),
        ({"max_layers": 13}, "min_layers, max_layers"),
        ({"hidden_sizes": []}, "hidden_sizes: expected a non-empty list"),
        ({"poolings": ["max"]}, r"poolings\[0\]: unknown 'max'"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        transformer_space(**options)


def test_vit_patches_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"patches\[0\]: must be a positive integer"):
        vit_space(patches=[0])
    assert {vit_space().sample(seed=s)["patch"] for s in range(30)} == {4, 7}
