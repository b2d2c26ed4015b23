"""Supernets derived from the NB201 and DARTS cell spaces."""

from __future__ import annotations

import random

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot import DartsCells, MixedOp, NB201Cells
from archsearch.spaces.darts import DARTS_V2, darts_space
from archsearch.spaces.nb201 import OPS, from_arch_str, nb201_space

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def test_nb201_supernet_has_every_op_of_the_space_on_every_edge() -> None:
    net = NB201Cells().build(channels=4, n_cells=2, in_channels=1)
    mixed = net.mixed_ops()
    assert len(mixed) == 6 * 3 * 2  # 6 edges, 3 stages, 2 cells each
    assert all(len(m.ops) == len(OPS) for m in mixed)


def test_single_route_runs_exactly_the_config_ops() -> None:
    cells = NB201Cells()
    torch.manual_seed(0)
    net = cells.build(channels=4, n_cells=1, in_channels=1)
    chosen = cells.indices(from_arch_str(ARCH))
    net(torch.randn(2, 1, 8, 8), lambda e, op, x: op.single(x, chosen[e]))
    for m in net.mixed_ops():
        assert sum(m.n_runs) == 1
    first = net.mixed_ops()[0]
    assert first.n_runs[OPS.index("nor_conv_3x3")] == 1


def test_nb201_derive_reads_the_argmax_of_every_edge() -> None:
    cells = NB201Cells()
    config = from_arch_str(ARCH)
    weights = torch.nn.functional.one_hot(torch.tensor(cells.indices(config)), len(OPS)).float()
    assert cells.derive(weights) == config
    assert cells.skip_count(config) == 1


def test_darts_derive_keeps_two_inputs_per_node_and_round_trips() -> None:
    cells = DartsCells()
    chosen = torch.tensor(cells.indices(DARTS_V2))
    weights = torch.nn.functional.one_hot(chosen, len(cells.ops)).float()
    assert cells.derive(weights) == darts_space().validate(DARTS_V2)
    random_weights = torch.rand(len(cells.edges), len(cells.ops))
    assert cells.derive(random_weights) in darts_space()
    assert cells.skip_count(DARTS_V2) == 2


def test_darts_supernet_runs_a_sampled_config() -> None:
    cells = DartsCells()
    net = cells.build(channels=4, n_layers=3, in_channels=1)
    config = cells.sample(random.Random(0))
    chosen = cells.indices(config)
    out = net(torch.randn(2, 1, 8, 8), lambda e, op, x: op.single(x, chosen[e]))
    assert out.shape == (2, 10)


def test_partial_channels_send_one_kth_of_the_channels_through_the_ops() -> None:
    net = NB201Cells().build(channels=8, n_cells=1, in_channels=1, partial=4)
    seen: list[int] = []
    mixed: MixedOp = net.mixed_ops()[0]  # stage 0: 8 channels
    conv = mixed.ops[OPS.index("nor_conv_3x3")]
    conv.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    weights = torch.full((6, len(OPS)), 1.0 / len(OPS))
    out = net(torch.randn(2, 1, 8, 8), lambda e, op, x: op.mix(x, weights[e]))
    assert seen == [2]  # 8 channels / K=4
    assert out.shape == (2, 10)


def test_partial_must_divide_the_channels() -> None:
    with pytest.raises(ConfigError, match="partial: must divide channels"):
        NB201Cells().build(channels=6, n_cells=1, partial=4)


def test_indices_reject_an_invalid_config() -> None:
    with pytest.raises(ConfigError, match="edge_0_1"):
        NB201Cells().indices({**nb201_space().sample(random.Random(0)), "edge_0_1": "conv9"})
