"""Inline (PyGlove-style) spaces: decisions written as arguments of deferred calls."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.space import Choice, Int, Real, Space, Symbolic, materialize, symbolic


@symbolic
def block(width: Any = Choice([16, 32, 64]), depth: Any = Int(1, 3), act: str = "relu") -> Any:
    return {"widths": [width] * depth, "act": act}


def conv_hyper() -> Symbolic:
    return symbolic(nn.Conv2d)(
        3, Choice([8, 16]), kernel_size=Choice([1, 3, 5]), padding="same", bias=False
    )


def net_hyper() -> Symbolic:
    return symbolic(nn.Sequential)(
        conv_hyper(),
        symbolic(nn.ReLU)(),
        symbolic(nn.AdaptiveAvgPool2d)(1),
        symbolic(nn.Flatten)(),
    )


# -- decorated functions ------------------------------------------------------------------


def test_decorated_function_defers_the_call() -> None:
    hyper = block()
    assert isinstance(hyper, Symbolic)
    assert hyper.name == "block"


def test_placeholder_defaults_make_the_space() -> None:
    space = Space(block())
    assert space.size == 3 * 3
    for seed in range(20):
        config = space.sample(seed=seed)
        assert set(config) == {"@", "width", "depth"}  # "act" is fixed: not in the config
        assert config["@"] == "block"
        assert config["width"] in (16, 32, 64)
        assert 1 <= config["depth"] <= 3


def test_explicit_arguments_replace_placeholders() -> None:
    space = Space(block(width=48))
    assert space.size == 3
    assert set(space.sample(seed=0)) == {"@", "depth"}
    assert materialize(block(width=48, act="gelu"), {"@": "block", "depth": 2}) == {
        "widths": [48, 48],
        "act": "gelu",
    }


def test_materialize_decorated_function_for_every_config() -> None:
    hyper = block()
    space = Space(hyper)
    configs = list(space.enumerate())
    assert len(configs) == 9
    for config in configs:
        assert materialize(hyper, config) == {
            "widths": [config["width"]] * config["depth"],
            "act": "relu",
        }


# -- torch modules ----------------------------------------------------------------------


def test_symbolic_conv_space_has_only_varying_args() -> None:
    hyper = conv_hyper()
    space = Space(hyper)
    assert space.size == 2 * 3
    seen = set()
    for seed in range(30):
        config = space.sample(seed=seed)
        assert set(config) == {"@", "out_channels", "kernel_size"}
        assert config["@"] == "Conv2d"
        seen.add((config["out_channels"], config["kernel_size"]))
    assert len(seen) == 6


@pytest.mark.parametrize(("out_channels", "kernel_size"), [(8, 1), (16, 3), (8, 5)])
def test_materialize_conv_builds_the_configured_module(
    out_channels: int, kernel_size: int
) -> None:
    config = {"@": "Conv2d", "out_channels": out_channels, "kernel_size": kernel_size}
    conv = materialize(conv_hyper(), config)
    assert isinstance(conv, nn.Conv2d)
    assert conv.in_channels == 3
    assert conv.out_channels == out_channels
    assert conv.kernel_size == (kernel_size, kernel_size)
    assert conv.bias is None
    assert conv.weight.shape == (out_channels, 3, kernel_size, kernel_size)
    out = conv(torch.zeros(2, 3, 9, 9))
    assert out.shape == (2, out_channels, 9, 9)


def test_symbolic_sequential_nests_symbolic_modules() -> None:
    hyper = net_hyper()
    space = Space(hyper)
    assert space.size == 6
    config = space.sample(seed=0)
    assert config["@"] == "Sequential"
    assert set(config) == {"@", "args"}
    assert [m["@"] for m in config["args"]] == ["Conv2d", "ReLU", "AdaptiveAvgPool2d", "Flatten"]
    assert set(config["args"][0]) == {"@", "out_channels", "kernel_size"}
    assert config["args"][1] == {"@": "ReLU"}


def test_materialize_sequential_runs_a_forward_pass() -> None:
    hyper = net_hyper()
    space = Space(hyper)
    for config in space.enumerate():
        net = materialize(hyper, config)
        assert isinstance(net, nn.Sequential)
        assert len(net) == 4
        conv = net[0]
        assert isinstance(conv, nn.Conv2d)
        want = config["args"][0]
        assert conv.out_channels == want["out_channels"]
        assert conv.kernel_size == (want["kernel_size"],) * 2
        assert isinstance(net[1], nn.ReLU)
        with torch.no_grad():
            out = net(torch.randn(4, 3, 8, 8))
        assert out.shape == (4, want["out_channels"])


def test_symbolic_modules_inside_a_plain_space_with_a_choice_between_modules() -> None:
    hyper = {
        "layer": Choice(
            [
                symbolic(nn.Conv2d)(3, 4, Choice([1, 3]), padding="same"),
                symbolic(nn.MaxPool2d)(Choice([2, 3])),
            ]
        ),
        "lr": Real(1e-3, 1e-1, log=True),
    }
    space = Space(hyper)
    assert space.size == float("inf")
    kinds = set()
    for seed in range(20):
        config = space.sample(seed=seed)
        built = materialize(hyper, config)
        assert built["lr"] == config["lr"]
        layer, want = built["layer"], config["layer"]
        kinds.add(type(layer))
        if want["@"] == "Conv2d":
            assert isinstance(layer, nn.Conv2d)
            assert layer.kernel_size == (want["kernel_size"],) * 2
        else:
            assert want["@"] == "MaxPool2d"
            assert isinstance(layer, nn.MaxPool2d)
            assert layer.kernel_size == want["kernel_size"]
    assert kinds == {nn.Conv2d, nn.MaxPool2d}


def test_symbolic_space_mutates_and_serialises_like_any_space() -> None:
    space = Space(net_hyper())
    config = space.sample(seed=1)
    mutant = space.mutate(config, random.Random(0))
    assert mutant != config
    assert space.validate(mutant) == mutant
    assert space.from_genome([g.index for g in space.genome(config)]) == config
    rebuilt = Space.from_json(json.loads(json.dumps(space.to_json())))
    assert rebuilt.size == space.size
    assert rebuilt.sample(seed=3) == space.sample(seed=3)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"@": "Conv2d", "out_channels": 7, "kernel_size": 3}, r"^out_channels: unknown value 7"),
        ({"@": "Conv2d", "out_channels": 8}, r"^kernel_size: missing"),
        ({"@": "Linear", "out_channels": 8, "kernel_size": 3}, r"^@: fixed at 'Conv2d'"),
        (
            {"@": "Conv2d", "out_channels": 8, "kernel_size": 3, "stride": 2},
            r"^stride: unknown field",
        ),
    ],
)
def test_materialize_rejects_a_bad_config(config: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        materialize(conv_hyper(), config)


def test_materialize_rejects_a_bad_nested_config() -> None:
    config = Space(net_hyper()).sample(seed=0)
    config["args"][0]["kernel_size"] = 4
    with pytest.raises(ConfigError, match=r"args\[0\]\.kernel_size: unknown value 4"):
        materialize(net_hyper(), config)
