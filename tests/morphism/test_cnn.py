"""Morphism of the plain CNN: widen, deepen, grow kernels, alone and composed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models import build_model
from archsearch.morphism import morph


def cnn(*stages: tuple[int, int, int]) -> dict[str, Any]:
    return {"stages": [{"n_layers": n, "width": w, "kernel": k} for n, w, k in stages]}


PARENT = cnn((1, 8, 3), (2, 16, 3), (1, 16, 5))
CASES = {
    "widen": cnn((1, 16, 3), (2, 16, 3), (1, 16, 5)),
    "widen last stage": cnn((1, 8, 3), (2, 16, 3), (1, 32, 5)),
    "deepen": cnn((1, 8, 3), (3, 16, 3), (1, 16, 5)),
    "grow kernel": cnn((1, 8, 3), (2, 16, 7), (1, 16, 5)),
    "composed": cnn((3, 24, 5), (3, 32, 5), (2, 32, 7)),
    "unchanged": PARENT,
}
X = torch.randn(4, 1, 16, 16)


@pytest.mark.parametrize("split", ["even", "random"])
@pytest.mark.parametrize("case", list(CASES))
def test_child_computes_what_the_parent_computes(
    case: str,
    split: str,
    perturb: Callable[..., nn.Module],
    same_function: Callable[..., None],
    shapes_of: Callable[..., None],
) -> None:
    parent = perturb(build_model("cnn", PARENT, in_channels=1))
    child = morph(parent, PARENT, CASES[case], space="cnn", seed=1, split=split, in_channels=1)
    shapes_of(child, build_model("cnn", CASES[case], in_channels=1))
    same_function(parent, child, X)


def test_widened_and_grown_child_computes_the_same_in_train_mode_too(
    perturb: Callable[..., nn.Module],
) -> None:
    config = cnn((1, 16, 5), (2, 24, 3), (1, 32, 7))  # no new layers: exact in both modes
    parent = perturb(build_model("cnn", PARENT, in_channels=1)).train()
    child = morph(parent, PARENT, config, space="cnn", in_channels=1)
    assert child.training
    with torch.no_grad():
        torch.testing.assert_close(child(X), parent(X), atol=1e-5, rtol=1e-5)


def test_parent_is_left_unchanged() -> None:
    parent = build_model("cnn", PARENT, in_channels=1)
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    morph(parent, PARENT, CASES["composed"], space="cnn", in_channels=1)
    assert all(torch.equal(v, before[k]) for k, v in parent.state_dict().items())


def test_the_seed_chooses_the_copied_channels() -> None:
    parent = build_model("cnn", PARENT, in_channels=1)
    a, b, c = (
        morph(parent, PARENT, CASES["widen"], space="cnn", seed=seed, in_channels=1).state_dict()[
            "stages.0.0.conv.weight"
        ]
        for seed in (1, 1, 2)
    )
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (cnn((1, 8, 3), (2, 8, 3), (1, 16, 5)), r"^stages\[1\]\.width: 16 -> 8 is a decrease"),
        (cnn((1, 8, 3), (1, 16, 3), (1, 16, 5)), r"^stages\[1\]\.n_layers: 2 -> 1 is a decrease"),
        (cnn((1, 8, 3), (2, 16, 3), (1, 16, 3)), r"^stages\[2\]\.kernel: 5 -> 3 is a decrease"),
        (cnn((1, 8, 3), (2, 16, 3)), r"^stages: the child has 2 stages, the parent 3"),
        (
            cnn((1, 8, 3), (2, 16, 4), (1, 16, 5)),
            r"^child_config\.stages\[1\]\.kernel: must be odd",
        ),
    ],
)
def test_unreachable_children_are_refused_naming_the_field(config: Any, message: str) -> None:
    parent = build_model("cnn", PARENT, in_channels=1)
    with pytest.raises(ConfigError, match=message):
        morph(parent, PARENT, config, space="cnn", in_channels=1)


def test_a_parent_that_does_not_match_its_config_is_refused() -> None:
    parent = build_model("cnn", CASES["widen"], in_channels=1)
    with pytest.raises(
        ConfigError, match=r"^stages\[0\]\[0\]\.conv: the parent's weight has shape"
    ):
        morph(parent, PARENT, CASES["composed"], space="cnn", in_channels=1)


def test_builder_options_go_to_build_when_it_is_given() -> None:
    parent = build_model("cnn", PARENT, in_channels=1)
    with pytest.raises(ConfigError, match=r"^in_channels: builder options go to build"):
        morph(parent, PARENT, PARENT, space="cnn", build=lambda c: parent, in_channels=1)


def test_unknown_space_and_split_are_refused() -> None:
    parent = build_model("cnn", PARENT, in_channels=1)
    with pytest.raises(
        ConfigError, match=r"^space: unknown morpher 'nb201'; allowed: cnn, mobilenet"
    ):
        morph(parent, PARENT, PARENT, space="nb201")
    with pytest.raises(ConfigError, match=r"^split: unknown 'half'"):
        morph(parent, PARENT, PARENT, space="cnn", split="half", in_channels=1)


def test_cnn_builder_names_bad_fields() -> None:
    with pytest.raises(ConfigError, match=r"^model\.stages\[0\]\.width: must be an integer >= 1"):
        build_model("cnn", cnn((1, 0, 3)))
    with pytest.raises(ConfigError, match=r"^model\.stages\[0\]: expected the fields"):
        build_model("cnn", {"stages": [{"n_layers": 1}]})
