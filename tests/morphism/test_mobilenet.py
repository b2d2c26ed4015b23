"""Morphism of the MobileNet stage networks: widen (stage and expansion), deepen, grow kernels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models import build_model
from archsearch.morphism import morph

OPTIONS = {"head_width": 32, "stem_stride": 1, "in_channels": 1, "dropout": 0.0}


def net(*stages: tuple[int, int, int, float, bool]) -> dict[str, Any]:
    keys = ("expansion", "kernel", "n_layers", "width", "se")
    return {"stages": [dict(zip(keys, stage, strict=True)) for stage in stages]}


# stage 0: expansion 3 with SE; stage 1: expansion 1 (no expansion conv); stage 2: 6, SE
PARENT = net((3, 3, 1, 0.75, True), (1, 3, 2, 0.75, False), (6, 5, 1, 1.0, True))
CASES = {
    "widen": net((3, 3, 1, 1.25, True), (1, 3, 2, 0.75, False), (6, 5, 1, 1.0, True)),
    "widen no expansion": net((3, 3, 1, 0.75, True), (1, 3, 2, 1.0, False), (6, 5, 1, 1.0, True)),
    "widen expansion": net((6, 3, 1, 0.75, True), (1, 3, 2, 0.75, False), (6, 5, 1, 1.0, True)),
    "deepen": net((3, 3, 3, 0.75, True), (1, 3, 2, 0.75, False), (6, 5, 2, 1.0, True)),
    "grow kernel": net((3, 5, 1, 0.75, True), (1, 7, 2, 0.75, False), (6, 5, 1, 1.0, True)),
    "composed": net((6, 7, 4, 1.25, True), (1, 5, 3, 1.25, False), (6, 7, 2, 1.25, True)),
}
X = torch.randn(4, 1, 16, 16)


def build(config: Any) -> nn.Module:
    return build_model("mobilenet", config, **OPTIONS)


@pytest.mark.parametrize("case", list(CASES))
def test_child_computes_what_the_parent_computes(
    case: str,
    perturb: Callable[..., nn.Module],
    same_function: Callable[..., None],
    shapes_of: Callable[..., None],
) -> None:
    parent = perturb(build(PARENT))
    child = morph(parent, PARENT, CASES[case], space="mobilenet", seed=3, **OPTIONS)
    shapes_of(child, build(CASES[case]))
    same_function(parent, child, X)


def test_morphism_is_exact_in_train_mode_too(perturb: Callable[..., nn.Module]) -> None:
    """Copies share batch statistics and new blocks add zeros: no eval-mode caveat here."""
    parent = perturb(build(PARENT)).train()
    child = morph(parent, PARENT, CASES["composed"], space="mobilenet", **OPTIONS)
    assert child.training
    with torch.no_grad():
        torch.testing.assert_close(child(X), parent(X), atol=1e-5, rtol=1e-5)


def test_a_user_build_function_is_used_for_the_child(perturb: Callable[..., nn.Module]) -> None:
    parent = perturb(build(PARENT))
    child = morph(parent, PARENT, CASES["widen"], space="mobilenet", build=build)
    with torch.no_grad():
        torch.testing.assert_close(child.eval()(X), parent.eval()(X), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            net((3, 3, 1, 0.75, True), (1, 3, 2, 0.75, False), (6, 5, 1, 0.75, True)),
            r"^stages\[2\]\.width: 1\.0 -> 0\.75 is a decrease",
        ),
        (
            net((3, 3, 1, 0.75, True), (1, 3, 1, 0.75, False), (6, 5, 1, 1.0, True)),
            r"^stages\[1\]\.n_layers: 2 -> 1 is a decrease",
        ),
        (
            net((1, 3, 1, 0.75, True), (1, 3, 2, 0.75, False), (6, 5, 1, 1.0, True)),
            r"^stages\[0\]\.expansion: 3 -> 1 is a decrease",
        ),
        (
            net((3, 3, 1, 0.75, True), (3, 3, 2, 0.75, False), (6, 5, 1, 1.0, True)),
            r"^stages\[1\]\.expansion: 1 -> 3 adds an expansion conv",
        ),
        (
            net((3, 3, 1, 0.75, False), (1, 3, 2, 0.75, False), (6, 5, 1, 1.0, True)),
            r"^stages\[0\]\.se: True -> False cannot preserve the function",
        ),
        (
            net((3, 3, 1, 0.75, True), (1, 3, 2, 0.75, False), (6, 3, 1, 1.0, True)),
            r"^stages\[2\]\.kernel: 5 -> 3 is a decrease",
        ),
        (
            net((3, 3, 1, 0.75, True), (1, 3, 2, 0.75, False), (6, 5, 1, 1.5, True)),
            r"^child_config\.stages\[2\]\.width: unknown value 1\.5",
        ),
    ],
)
def test_unreachable_children_are_refused_naming_the_field(config: Any, message: str) -> None:
    parent = build(PARENT)
    with pytest.raises(ConfigError, match=message):
        morph(parent, PARENT, config, space="mobilenet", **OPTIONS)


def test_a_model_of_another_space_is_refused() -> None:
    parent = build_model("cnn", {"stages": [{"n_layers": 1, "width": 8, "kernel": 3}]})
    with pytest.raises(ConfigError, match=r"^space 'mobilenet': expected MobileNet models"):
        morph(parent, PARENT, CASES["widen"], space="mobilenet", **OPTIONS)
