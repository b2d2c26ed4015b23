"""The NATS-Bench size space and its network."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.models import build_model, count_parameters
from archsearch.models.nats_size import nats_size_model
from archsearch.registry import SPACES
from archsearch.spaces.nats_size import from_size_str, nats_size_space, to_size_str

# the cell the task named (NB201 2581: 1x1 conv on edge 0->2); NATS uses a 3x3 there
CELL_2581 = (
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


def test_space_has_32768_configs_of_five_layers() -> None:
    space = nats_size_space()
    assert space.size == 8**5 == 32_768
    assert SPACES["nats_size"] is nats_size_space
    config = space.sample(seed=0)
    assert len(config["channels"]) == 5
    assert space.n_decisions(config) == 5


def test_size_strings_round_trip_and_are_checked() -> None:
    assert from_size_str("64:64:64:64:64") == {"channels": [64] * 5}
    assert to_size_str({"channels": [8, 16, 24, 32, 40]}) == "8:16:24:32:40"
    with pytest.raises(ConfigError, match=r"channels\[2\]: unknown value 12"):
        from_size_str("8:8:12:8:8")
    with pytest.raises(ConfigError, match="size: expected 5 counts"):
        from_size_str("8:8:8")


@pytest.mark.parametrize(
    ("size", "n_params"),
    # NATS-Bench size-space records (CIFAR-10): 0.011714, 0.107826, 0.713674 M
    [("8:8:8:8:8", 11_714), ("8:8:16:40:40", 107_826), ("64:64:64:64:64", 713_674)],
)
def test_parameter_counts_match_nats_bench(size: str, n_params: int) -> None:
    assert count_parameters(nats_size_model(size)) == n_params


def test_largest_network_macs(macs: Callable[..., int]) -> None:
    assert macs(nats_size_model("64:64:64:64:64")) == 274_399_872
    assert macs(nats_size_model("8:8:8:8:8")) == 4_481_104


def test_other_cells_can_be_used() -> None:
    assert count_parameters(nats_size_model("64:64:64:64:64", cell=CELL_2581)) == 615_370


@pytest.mark.parametrize(("shape", "in_channels"), [((2, 3, 32, 32), 3), ((2, 1, 28, 28), 1)])
def test_output_shape(shape: tuple[int, ...], in_channels: int) -> None:
    model = nats_size_model("8:16:8:24:16", in_channels=in_channels, n_classes=5)
    assert model(torch.randn(shape)).shape == (2, 5)


def test_one_training_step_changes_weights(train_step: Callable[..., float]) -> None:
    # channels change inside cells, so skip_connect from the input is a 1x1 conv + BN
    train_step(nats_size_model("8:16:24:16:8"), torch.randn(4, 3, 32, 32))


def test_channels_last_gives_the_same_logits() -> None:
    model = nats_size_model("8:16:24:16:8").eval()
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    model = model.to(memory_format=torch.channels_last)
    got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_sampled_configs_build_and_run(seed: int) -> None:
    config = nats_size_space().sample(seed=seed)
    out = build_model("nats_size", config)(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_invalid_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"channels: expected 5 items, got 4"):
        nats_size_model({"channels": [8, 8, 8, 8]})
    with pytest.raises(ConfigError, match=r"n_classes: must be a positive integer"):
        nats_size_model("8:8:8:8:8", n_classes=0)
