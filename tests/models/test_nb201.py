"""The NB201 network: NATS-Bench's parameter and FLOP records, shapes, training, pruning."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.models import build_model, count_parameters
from archsearch.models.nb201 import live_edges, nb201_model
from archsearch.spaces.nb201 import from_arch_str, nb201_space

# arch strings of NB201 indices 0, 11 and 284 (nb201_merged.csv, column arch_str)
ARCH_0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
    "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
)
ARCH_11 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
ARCH_284 = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|"
# index 1601: ResNet's convs with the 2->3 edge cut, so both convs are dead
RESNET_CUT = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
# index 2581: four 3x3 and one 1x1 conv per cell, 1.073 M parameters
ARCH_2581 = (
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize(
    ("arch", "n_params", "published_m"),
    [
        (ARCH_0, 129_306, 0.129),  # NATS-Bench records (params in M, with the classifier)
        (ARCH_11, 802_426, 0.802),
        (ARCH_284, 101_306, 0.101),
        (RESNET_CUT, 559_386, 0.559),  # dead convs are built and counted, as in NB201
        (RESNET, 559_386, 0.559),
        (ARCH_2581, 1_073_466, 1.073),
    ],
)
def test_parameter_count_matches_nats_bench(arch: str, n_params: int, published_m: float) -> None:
    n = count_parameters(nb201_model(arch))
    assert n == n_params
    assert round(n / 1e6, 3) == published_m


@pytest.mark.parametrize(
    ("arch", "n_macs", "published_mflops"),
    [(ARCH_0, 15_647_360, 15.6), (ARCH_11, 113_951_360, 114.0), (ARCH_284, 11_715_200, 11.7)],
)
def test_macs_match_nats_bench_flops(
    arch: str, n_macs: int, published_mflops: float, macs: Callable[..., int]
) -> None:
    # NATS-Bench reports multiply-adds of convolutions and the classifier as "FLOPs"
    measured = macs(nb201_model(arch))
    assert measured == n_macs
    assert abs(measured / 1e6 - published_mflops) / published_mflops < 0.02
    assert round(measured / 1e6, 1) == published_mflops


@pytest.mark.parametrize(("shape", "in_channels"), [((2, 3, 32, 32), 3), ((2, 1, 28, 28), 1)])
def test_output_shape(shape: tuple[int, ...], in_channels: int) -> None:
    model = nb201_model(ARCH_11, channels=4, n_cells=1, in_channels=in_channels, n_classes=7)
    assert model(torch.randn(shape)).shape == (2, 7)


def test_one_training_step_changes_weights(train_step: Callable[..., float]) -> None:
    model = nb201_model(ARCH_11, channels=8, n_cells=1)
    train_step(model, torch.randn(4, 3, 32, 32))


def test_same_seed_gives_same_weights() -> None:
    torch.manual_seed(3)
    a = nb201_model(RESNET, channels=4, n_cells=1).state_dict()
    torch.manual_seed(3)
    b = nb201_model(RESNET, channels=4, n_cells=1).state_dict()
    c = nb201_model(RESNET, channels=4, n_cells=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_live_edges_leave_out_edges_that_cannot_reach_the_output() -> None:
    assert live_edges(from_arch_str(RESNET_CUT)) == {"edge_0_3"}
    assert live_edges(from_arch_str(RESNET)) == {"edge_0_1", "edge_1_2", "edge_0_3", "edge_2_3"}


@pytest.mark.parametrize(
    "arch",
    [
        RESNET_CUT,
        # node 2 has no input (zeros) but feeds a live conv; the 0->1 conv is dead
        "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|none~2|",
    ],
)
def test_pruning_keeps_outputs_and_drops_dead_parameters(arch: str) -> None:
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(1)
    full = nb201_model(arch, channels=4, n_cells=2)
    torch.manual_seed(1)
    pruned = nb201_model(arch, channels=4, n_cells=2, prune=True)
    for mode in (True, False):  # batch statistics, then running statistics
        full.train(mode)
        pruned.train(mode)
        torch.testing.assert_close(pruned(x), full(x), rtol=0, atol=0)
    assert count_parameters(pruned) < count_parameters(full)


def test_pruned_resnet_cut_at_full_size_keeps_only_the_skeleton() -> None:
    assert count_parameters(nb201_model(RESNET_CUT, prune=True)) == 73_306


def test_cell_of_none_edges_makes_the_output_independent_of_the_input() -> None:
    model = nb201_model(ALL_NONE, channels=4, n_cells=1).eval()
    out = model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(out[0], out[1])
    assert torch.isfinite(out).all()


def test_channels_last_gives_the_same_logits() -> None:
    model = nb201_model(ARCH_11, channels=4, n_cells=1).eval()
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    model = model.to(memory_format=torch.channels_last)
    got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_sampled_cells_build_and_run(seed: int) -> None:
    config = nb201_space().sample(seed=seed)
    model = nb201_model(config, channels=4, n_cells=1, prune=seed % 2 == 0)
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_build_model_resolves_nb201_and_checks_options() -> None:
    torch.manual_seed(0)
    a = build_model("nb201", from_arch_str(RESNET), channels=4, n_cells=1)
    torch.manual_seed(0)
    b = nb201_model(RESNET, channels=4, n_cells=1)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(ConfigError, match=r"model\.width: unknown option for model 'nb201'"):
        build_model("nb201", RESNET, width=4)
    with pytest.raises(ConfigError, match=r"model\.channels: must be a positive integer, got 0"):
        build_model("nb201", RESNET, channels=0)


def test_invalid_cells_are_refused_naming_the_edge() -> None:
    bad = {**from_arch_str(RESNET), "edge_0_1": "conv_5x5"}
    with pytest.raises(ConfigError, match=r"edge_0_1: unknown value 'conv_5x5'"):
        nb201_model(bad)
    with pytest.raises(ConfigError, match="arch: expected 3 nodes"):
        nb201_model("|nor_conv_3x3~0|")
