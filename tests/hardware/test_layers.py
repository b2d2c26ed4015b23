"""Layer shapes from built networks (forward hooks) and the NB201 fast path."""

from __future__ import annotations

import random

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.evaluation import count_macs
from archsearch.hardware import extract_layers, model_layers, nb201_layers
from archsearch.models import build_model, nb201_model
from archsearch.spaces import mobilenet_space, nb201_space


@pytest.mark.parametrize("prune", [False, True])
def test_nb201_fast_path_equals_the_hooked_network(prune: bool) -> None:
    rng = random.Random(3)
    space = nb201_space()
    for _ in range(4):
        cell = space.sample(rng)
        model = nb201_model(cell, channels=8, n_cells=2, prune=prune)
        hooked = extract_layers(model, (3, 32, 32))
        assert list(nb201_layers(cell, channels=8, n_cells=2, prune=prune)) == hooked


def test_nb201_layers_count_the_networks_macs() -> None:
    cell = nb201_space().sample(random.Random(0))
    model = nb201_model(cell, channels=8, n_cells=2)
    layers = nb201_layers(cell, channels=8, n_cells=2)
    assert sum(layer.macs for layer in layers) == count_macs(model, (1, 3, 32, 32))


def test_mobilenet_layers_include_depthwise_convs_with_their_macs() -> None:
    torch.manual_seed(0)
    config = mobilenet_space(n_stages=2).sample(random.Random(1))
    layers = model_layers("mobilenet", config, (3, 32, 32))
    assert any(layer.kind == "depthwise" for layer in layers)
    assert layers[-1].kind == "linear"
    model = build_model("mobilenet", config)
    # FlopCounterMode counts conv and matmul MACs: the same set of layers
    assert sum(layer.macs for layer in layers) == count_macs(model, (1, 3, 32, 32))


def test_hooks_are_removed_and_training_mode_restored() -> None:
    model = nb201_model("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|", n_cells=1)
    model.train()
    extract_layers(model, (3, 32, 32))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_bad_input_shape_is_refused() -> None:
    model = nb201_model("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|", n_cells=1)
    with pytest.raises(ConfigError, match="input_shape"):
        extract_layers(model, (2, 3, 32, 32))
