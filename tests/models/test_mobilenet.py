"""The MobileNet / MnasNet stage space and its network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.models import build_model, count_parameters
from archsearch.models.mobilenet import MOBILENET_V2, MBConv, make_divisible, mobilenet_model
from archsearch.registry import SPACES
from archsearch.spaces.mobilenet import mobilenet_space


def stage(expansion: int = 3, kernel: int = 3, n_layers: int = 1, **kw: Any) -> dict[str, Any]:
    return {"expansion": expansion, "kernel": kernel, "n_layers": n_layers, "width": 1.0,
            "se": False, **kw}  # fmt: skip


SMALL = {"stages": [stage(6, 5, 2, se=True), stage(1, 7, 1, width=0.75)]}


def test_space_size_and_registration() -> None:
    space = mobilenet_space()
    assert space.size == (3 * 3 * 4 * 3 * 2) ** 5
    assert SPACES["mobilenet"] is mobilenet_space
    assert mobilenet_space(n_stages=6).validate(MOBILENET_V2) == MOBILENET_V2
    with pytest.raises(ConfigError, match=r"n_stages: must be in \[1, 6\], got 7"):
        mobilenet_space(n_stages=7)


def test_mobilenet_v2_config_matches_torchvision_parameter_count(
    macs: Callable[..., int],
) -> None:
    # torchvision mobilenet_v2: 3,504,872 parameters (Sandler et al., Table 4: 3.4 M)
    model = mobilenet_model(MOBILENET_V2, n_classes=1000)
    assert count_parameters(model) == 3_504_872
    assert macs(model, (1, 3, 224, 224)) == 300_774_272  # paper: 300 M multiply-adds


def test_sampled_default_config_parameter_count() -> None:
    config = mobilenet_space().sample(seed=0)
    assert count_parameters(mobilenet_model(config)) == 734_552


def test_width_multipliers_round_to_multiples_of_8() -> None:
    assert [make_divisible(24 * w) for w in (0.75, 1.0, 1.25)] == [16, 24, 32]
    assert [make_divisible(160 * w) for w in (0.75, 1.0, 1.25)] == [120, 160, 200]
    assert make_divisible(3) == 8


def test_mbconv_parts() -> None:
    plain = MBConv(16, 16, expansion=1, kernel=3, stride=1, use_se=False)
    assert plain.has_residual
    assert count_parameters(plain) == 16 * 9 + 32 + 16 * 16 + 32  # dw + BN, project + BN
    se = MBConv(16, 24, expansion=6, kernel=5, stride=2, use_se=True)
    assert not se.has_residual
    hidden = 96
    expected = 16 * hidden + 2 * hidden + hidden * 25 + 2 * hidden + hidden * 24 + 48
    expected += hidden * 4 + 4 + 4 * hidden + hidden  # SE: squeeze to 16 // 4 = 4
    assert count_parameters(se) == expected


@pytest.mark.parametrize(
    ("shape", "in_channels", "stem_stride"),
    [((2, 3, 32, 32), 3, 1), ((2, 1, 28, 28), 1, 2), ((2, 3, 28, 28), 3, 1)],
)
def test_output_shape(shape: tuple[int, ...], in_channels: int, stem_stride: int) -> None:
    model = mobilenet_model(
        SMALL, in_channels=in_channels, stem_stride=stem_stride, head_width=32, n_classes=4
    )
    assert model(torch.randn(shape)).shape == (2, 4)


def test_one_training_step_changes_weights(train_step: Callable[..., float]) -> None:
    model = mobilenet_model(SMALL, stem_stride=1, head_width=64)
    train_step(model, torch.randn(4, 3, 32, 32))


def test_channels_last_gives_the_same_logits() -> None:
    model = mobilenet_model(SMALL, stem_stride=1, head_width=32).eval()
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    model = model.to(memory_format=torch.channels_last)
    got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_sampled_configs_build_and_run(seed: int) -> None:
    config = mobilenet_space().sample(seed=seed)
    model = build_model("mobilenet", config, stem_stride=1, head_width=32).eval()
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_invalid_configs_and_options_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"stages\[1\]\.kernel: unknown value 4"):
        mobilenet_model({"stages": [stage(), stage(kernel=4)]})
    with pytest.raises(ConfigError, match="stages: expected a list of 1 to 6 stages"):
        mobilenet_model({"stages": []})
    with pytest.raises(ConfigError, match="stem_stride: must be 1 or 2, got 3"):
        mobilenet_model(SMALL, stem_stride=3)
