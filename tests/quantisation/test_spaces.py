"""The bit-width spaces: per-layer bits of a fixed network, and the CNN with stage bits."""

from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.models.cnn import cnn_model
from archsearch.quantisation import expand_stage_bits, model_size_bits
from archsearch.registry import SPACES
from archsearch.spaces.quantisation import quantisation_space, quantised_cnn_space

ARCH = {
    "stages": [
        {"n_layers": 2, "width": 8, "kernel": 3},
        {"n_layers": 1, "width": 16, "kernel": 5},
    ]
}


def test_per_layer_bits_follow_the_networks_layers() -> None:
    space = quantisation_space(arch=ARCH, bits=[2, 4, 8])
    assert space.size == 3**4  # three convs and the classifier
    assert quantisation_space(n_layers=4, bits=[2, 4, 8]).size == space.size
    for seed in range(5):
        config = space.sample(seed=seed)
        assert space.validate(config) == config
        assert set(config) == {"bits"} and len(config["bits"]) == 4
        model = cnn_model(ARCH, in_channels=1)
        assert model_size_bits(model, config["bits"]) > 0  # the policy fits the built model
    assert space.sample(seed=3) == space.sample(seed=3)


def test_validation_names_the_bad_entry() -> None:
    space = quantisation_space(arch=ARCH, bits=[4, 8])
    with pytest.raises(ConfigError, match="bits"):
        space.validate({"bits": [4, 8, 8]})
    with pytest.raises(ConfigError, match=r"bits\[1\]"):
        space.validate({"bits": [4, 6, 8, 8]})


def test_activation_choices_make_entries_pairs() -> None:
    space = quantisation_space(n_layers=2, bits=[4, 8], activation_choices=[8, 32])
    config = space.sample(seed=0)
    assert all(set(entry) == {"weight", "activation"} for entry in config["bits"])
    assert space.size == 4**2


def test_bad_space_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="n_layers: give exactly one of n_layers or arch"):
        quantisation_space()
    with pytest.raises(ConfigError, match="n_layers: give exactly one"):
        quantisation_space(n_layers=3, arch=ARCH)
    with pytest.raises(ConfigError, match="n_layers: must be an integer >= 1"):
        quantisation_space(n_layers=0)
    with pytest.raises(ConfigError, match=r"bits\[1\]: bit width must be an integer in 2..16"):
        quantisation_space(n_layers=2, bits=[4, 1])
    with pytest.raises(ConfigError, match="bits: bit widths repeat"):
        quantisation_space(n_layers=2, bits=[4, 4])
    with pytest.raises(ConfigError, match=r"activation_choices\[0\]"):
        quantisation_space(n_layers=2, activation_choices=[64])
    with pytest.raises(ConfigError, match="arch: expected a cnn config"):
        quantisation_space(arch={"stages": [{"width": 8}]})


def test_the_joint_space_has_one_bit_width_per_stage_and_the_classifier() -> None:
    space = quantised_cnn_space(n_stages=2, max_layers=2, widths=[8, 16], kernels=[3], bits=[4, 8])
    assert space.size == (2 * 2) ** 2 * 2**3
    for seed in range(5):
        config = space.sample(seed=seed)
        assert space.validate(config) == config
        assert set(config) == {"arch", "stage_bits"} and len(config["stage_bits"]) == 3
        model = cnn_model(config["arch"], in_channels=1)  # the arch part is a plain cnn config
        per_layer = expand_stage_bits(config["arch"], config["stage_bits"])
        assert model_size_bits(model, per_layer) > 0
    with pytest.raises(ConfigError, match="n_stages"):
        quantised_cnn_space(n_stages=9)


def test_both_spaces_are_registered() -> None:
    assert SPACES["quantisation"] is quantisation_space
    assert SPACES["quantised_cnn"] is quantised_cnn_space
    assert SPACES.create("quantisation", {"n_layers": 3}, field="space").size == 4**3
