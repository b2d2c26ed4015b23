"""The model registry: one builder per built-in space, resolved by name."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.models import MODELS, build_model
from archsearch.spaces.darts import DARTS_V2


def test_every_builder_is_registered_under_its_space_name() -> None:
    assert {"nb201", "nats_size", "darts", "nb301", "mobilenet"} <= set(MODELS)


def test_unknown_space_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"model: unknown model 'resnet'; allowed: .*nb201"):
        build_model("resnet", {})


CASES = [
    ("nb201", "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
     {"channels": 4, "n_cells": 1}),
    ("nats_size", "8:16:8:16:8", {}),
    ("darts", DARTS_V2, {"channels": 4, "n_layers": 3}),
    ("mobilenet", {"stages": [{"expansion": 3, "kernel": 5, "n_layers": 2, "width": 1.0,
                               "se": True}]}, {"head_width": 32}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "config", "options"), CASES, ids=[c[0] for c in CASES])
def test_initial_weights_depend_only_on_the_torch_seed(
    name: str, config: Any, options: dict[str, Any]
) -> None:
    states = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        states.append(build_model(name, config, **options).state_dict())
    same, other = states[1], states[2]
    assert all(torch.equal(states[0][k], same[k]) for k in same)
    assert not all(torch.equal(states[0][k], other[k]) for k in other)
