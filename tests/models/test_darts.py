"""The DARTS cell space and its network (plus NB301 configs built with it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.models import build_model, count_parameters
from archsearch.models.darts import darts_model, nb301_model, nb301_to_darts
from archsearch.registry import SPACES
from archsearch.spaces.darts import DARTS_V2, OPS, darts_space, from_genotype, to_genotype
from archsearch.spaces.nb301 import nb301_space


def test_space_counts_input_pairs_and_ops() -> None:
    space = darts_space()
    assert space.size == (1 * 3 * 6 * 10 * len(OPS) ** 8) ** 2
    assert SPACES["darts"] is darts_space
    config = space.sample(seed=0)
    # per cell: 8 ops and the input pairs of nodes 1..3 (node 0 always reads 0 and 1)
    assert space.n_decisions(config) == 2 * (8 + 3)
    for cell in ("normal", "reduce"):
        assert config[cell][0]["inputs"] == [0, 1]
        for k, node in enumerate(config[cell]):
            i, j = node["inputs"]
            assert 0 <= i < j < 2 + k


def test_darts_v2_genotype_round_trips() -> None:
    genotype = to_genotype(DARTS_V2)
    # DARTS' genotypes.py order, with each node's pair sorted by input
    assert genotype["normal"] == [
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("skip_connect", 0), ("sep_conv_3x3", 1), ("skip_connect", 0), ("dil_conv_3x3", 2),
    ]  # fmt: skip
    assert from_genotype(genotype["normal"], genotype["reduce"]) == DARTS_V2


def test_genotypes_with_a_repeated_input_are_refused() -> None:
    normal = [("sep_conv_3x3", 0), ("sep_conv_3x3", 0)] + [("skip_connect", 0), ("none", 1)] * 3
    with pytest.raises(ConfigError, match=r"normal\[0\]\.inputs: fixed at \[0, 1\]"):
        from_genotype(normal, normal)


def test_darts_v2_evaluation_network_has_3_3m_parameters() -> None:
    # DARTS (Liu et al., 2019), Table 1: 3.3 M at C=36, 20 cells (auxiliary head excluded)
    n = count_parameters(darts_model(DARTS_V2, channels=36, n_layers=20))
    assert n == 3_349_342
    assert round(n / 1e6, 1) == 3.3


def test_search_size_network_parameters(macs: Callable[..., int]) -> None:
    model = darts_model(DARTS_V2)  # C=16, 8 cells
    assert count_parameters(model) == 246_106
    assert macs(model) == 43_444_736


@pytest.mark.parametrize(
    ("shape", "in_channels"), [((2, 3, 32, 32), 3), ((2, 1, 28, 28), 1), ((2, 3, 30, 30), 3)]
)
def test_output_shape(shape: tuple[int, ...], in_channels: int) -> None:
    model = darts_model(DARTS_V2, channels=4, n_layers=3, in_channels=in_channels, n_classes=3)
    assert model(torch.randn(shape)).shape == (2, 3)


def test_one_training_step_with_drop_path(train_step: Callable[..., float]) -> None:
    model = darts_model(DARTS_V2, channels=4, n_layers=3, drop_path_prob=0.2)
    train_step(model, torch.randn(4, 3, 32, 32))


def test_drop_path_acts_in_training_only() -> None:
    model = darts_model(DARTS_V2, channels=4, n_layers=3, drop_path_prob=0.5)
    x = torch.randn(4, 3, 16, 16)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, model(x))
    with pytest.raises(ConfigError, match=r"drop_path_prob: must be in \[0, 1\)"):
        darts_model(DARTS_V2, drop_path_prob=1.0)


def test_channels_last_gives_the_same_logits() -> None:
    model = darts_model(DARTS_V2, channels=4, n_layers=3).eval()
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    model = model.to(memory_format=torch.channels_last)
    got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_sampled_configs_build_and_run(seed: int) -> None:
    config = darts_space().sample(seed=seed)
    model = build_model("darts", config, channels=4, n_layers=3)
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_nb301_configs_map_to_darts_configs_and_build() -> None:
    config = nb301_space().sample(seed=0)
    darts = nb301_to_darts(config)
    assert darts in darts_space()
    normal = config["normal"]
    assert darts["normal"][0] == {"inputs": [0, 1], "ops": [normal["edge_0"], normal["edge_1"]]}
    a, b = (int(i) for i in normal["node_5"]["inputs"].split("_"))
    node_5 = normal["node_5"]
    assert darts["normal"][3]["ops"] == [node_5[f"edge_{9 + a}"], node_5[f"edge_{9 + b}"]]
    model = nb301_model(config, channels=4, n_layers=3)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_invalid_configs_are_refused_naming_the_field() -> None:
    bad = {**DARTS_V2, "normal": [dict(n) for n in DARTS_V2["normal"]]}
    bad["normal"][3] = {"inputs": [1, 5], "ops": ["skip_connect", "none"]}
    with pytest.raises(ConfigError, match=r"normal\[3\]\.inputs: unknown value \[1, 5\]"):
        darts_model(bad)
    with pytest.raises(ConfigError, match=r"model\.layers: unknown option for model 'darts'"):
        build_model("darts", DARTS_V2, layers=20)
