"""Tensor-level morphism operations: channel maps, kernel padding, identity layers."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.morphism import (
    ChannelMap,
    identity_bn_,
    identity_conv_,
    pad_kernel,
    widen_conv,
    zero_bn_,
)


@pytest.mark.parametrize("split", ["even", "random"])
def test_widened_map_keeps_old_channels_and_shares_sum_to_one(split: str) -> None:
    m = ChannelMap.widen(5, 12, random.Random(3), split)
    assert m.index[:5].tolist() == [0, 1, 2, 3, 4]
    assert m.n_old == 5 and m.n_new == 12
    totals = torch.zeros(5).index_add_(0, m.index, m.share)
    torch.testing.assert_close(totals, torch.ones(5))
    single = [j for j in range(12) if (m.index == m.index[j]).sum() == 1]
    assert all(m.share[j] == 1.0 for j in single)  # unreplicated channels keep their weights


def test_even_split_divides_by_the_number_of_copies() -> None:
    m = ChannelMap.widen(2, 4, random.Random(0), "even")
    assert m.index.tolist() == [0, 1, 1, 1]
    torch.testing.assert_close(m.share, torch.tensor([1.0, 1 / 3, 1 / 3, 1 / 3]))


def test_random_split_gives_copies_unequal_shares() -> None:
    m = ChannelMap.widen(1, 3, random.Random(0), "random")
    assert len(set(m.share.tolist())) == 3


def test_narrowing_and_unknown_split_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"^channels: cannot widen 4 channels to 3"):
        ChannelMap.widen(4, 3, random.Random(0), "even")
    with pytest.raises(ConfigError, match=r"^split: unknown 'odd'; allowed: even, random"):
        ChannelMap.widen(4, 5, random.Random(0), "odd")


def test_widened_conv_feeding_a_widened_consumer_computes_the_same() -> None:
    first, second = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 1)
    wide = ChannelMap.widen(4, 7, random.Random(1), "random")
    w1 = widen_conv(first.weight, wide, ChannelMap.identity(3), where="first")
    w2 = widen_conv(second.weight, ChannelMap.identity(2), wide, where="second")
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        expected = second(torch.relu(first(x)))
        h = torch.relu(nn.functional.conv2d(x, w1, first.bias[wide.index], padding=1))  # type: ignore[index]
        got = nn.functional.conv2d(h, w2, second.bias)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_a_weight_of_the_wrong_shape_is_refused_naming_the_layer() -> None:
    with pytest.raises(
        ConfigError, match=r"^stages\[0\]\[1\]\.conv: the parent's weight has shape"
    ):
        widen_conv(
            torch.zeros(4, 3, 3, 3),
            ChannelMap.identity(5),
            ChannelMap.identity(3),
            where="stages[0][1].conv",
        )


@pytest.mark.parametrize("stride", [1, 2])
def test_padded_kernel_gives_the_same_output(stride: int) -> None:
    conv = nn.Conv2d(2, 3, 3, stride, 1, bias=False)
    x = torch.randn(1, 2, 9, 9)
    padded = pad_kernel(conv.weight.detach(), 7)
    assert padded.shape == (3, 2, 7, 7)
    got = nn.functional.conv2d(x, padded, stride=stride, padding=3)
    torch.testing.assert_close(got, conv(x).detach(), atol=1e-6, rtol=1e-5)


def test_kernel_cannot_shrink_or_change_parity() -> None:
    with pytest.raises(ConfigError, match=r"^kernel: cannot grow a 5x5 kernel to 3x3"):
        pad_kernel(torch.zeros(1, 1, 5, 5), 3)
    with pytest.raises(ConfigError, match=r"^kernel: cannot grow a 3x3 kernel to 4x4"):
        pad_kernel(torch.zeros(1, 1, 3, 3), 4)


def test_identity_conv_and_bn_pass_non_negative_inputs_through() -> None:
    conv, bn = nn.Conv2d(4, 4, 5, padding=2, bias=False), nn.BatchNorm2d(4)
    identity_conv_(conv)
    identity_bn_(bn)
    x = torch.rand(2, 4, 6, 6)
    bn.eval()
    with torch.no_grad():
        torch.testing.assert_close(torch.relu(bn(conv(x))), x, atol=1e-6, rtol=1e-6)


def test_identity_conv_needs_square_channels_and_stride_one() -> None:
    with pytest.raises(ConfigError, match=r"^conv: an identity layer needs"):
        identity_conv_(nn.Conv2d(3, 4, 3))


def test_zeroed_bn_outputs_zeros_in_both_modes() -> None:
    bn = nn.BatchNorm2d(3)
    zero_bn_(bn)
    x = torch.randn(4, 3, 2, 2)
    for train in (True, False):
        bn.train(train)
        assert torch.equal(bn(x), torch.zeros_like(x))
