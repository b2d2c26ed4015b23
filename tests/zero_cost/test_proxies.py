"""Zero-cost proxies: finite, deterministic, restoring, and right on hand-checked cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.evaluation._cost import count_macs
from archsearch.evaluation.zero_cost import (
    PROXIES,
    naswot,
    proxy_batch,
    score_proxies,
    score_proxy,
    synflow,
)


def tiny_net(width: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    b = proxy_batch("gaussian", batch_size=8, input_shape=(3, 8, 8), seed=0)
    return b.x, b.y


def seeded_net(seed: int = 0, width: int = 4) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return tiny_net(width)


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_every_proxy_is_finite_and_deterministic(name: str, batch: tuple) -> None:
    first = score_proxy(name, seeded_net(), *batch)
    second = score_proxy(name, seeded_net(), *batch)
    assert math.isfinite(first)
    assert first == second


@pytest.mark.parametrize("name", ["synflow", "snip", "grad_norm", "naswot"])
def test_other_weights_give_other_scores(name: str, batch: tuple) -> None:
    assert score_proxy(name, seeded_net(0), *batch) != score_proxy(name, seeded_net(1), *batch)


def test_unknown_proxy_names_the_allowed_ones(batch: tuple) -> None:
    with pytest.raises(ConfigError, match=r"^proxy: unknown proxy 'zen'; allowed: fisher"):
        score_proxy("zen", tiny_net(), *batch)


def test_proxies_leave_weights_grads_and_modes_alone(batch: tuple) -> None:
    net = seeded_net()
    net.train()
    net[1].eval()  # a mixed-mode network
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    for name in ["synflow", "snip", "grasp", "fisher", "grad_norm", "jacob_cov", "naswot"]:
        score_proxy(name, net, *batch)
    for key, value in net.named_parameters():
        assert torch.equal(value, params[key]), key
        assert value.grad is None
        assert value.dtype == torch.float32
    assert [m.training for m in net] == [True, False] + [True] * 7


def test_shared_backward_pass_gives_the_single_proxy_values(batch: tuple) -> None:
    names = ["grad_norm", "snip", "fisher", "params"]
    together = score_proxies(names, seeded_net(), *batch)
    alone = {name: score_proxy(name, seeded_net(), *batch) for name in names}
    assert together == pytest.approx(alone, rel=1e-6)


def test_params_and_flops_count_the_network(batch: tuple) -> None:
    net = tiny_net()
    assert score_proxy("params", net, *batch) == sum(p.numel() for p in net.parameters())
    assert score_proxy("flops", net, *batch) == count_macs(net, (1, 3, 8, 8))


# -- synflow --------------------------------------------------------------------------------


def test_synflow_of_a_linear_chain_is_depth_times_output() -> None:
    # |weights|: hidden units 2 * 0.5 = 1 each, R = 3 * 0.25 = 0.75; each layer adds R
    net = nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False))
    nn.init.constant_(net[0].weight, -0.5)
    nn.init.constant_(net[2].weight, 0.25)
    assert synflow(net, torch.zeros(1, 2), torch.zeros(1)) == pytest.approx(1.5, rel=1e-6)


def test_synflow_prefers_the_wider_network_and_drops_with_pruning(batch: tuple) -> None:
    x, y = batch
    assert synflow(seeded_net(width=8), x, y) > synflow(seeded_net(width=4), x, y)
    net = seeded_net()
    full = synflow(net, x, y)
    with torch.no_grad():
        net[3].weight[:, :2] = 0.0  # prune half the inputs of the second convolution
    assert synflow(net, x, y) < full


def test_synflow_rescaled_float32_matches_double(batch: tuple) -> None:
    x, y = batch
    net = seeded_net(width=8)
    assert synflow(net, x, y) == pytest.approx(synflow(net, x, y, double=True), rel=1e-5)


def test_synflow_falls_back_to_double_where_float32_overflows() -> None:
    # four 1x1 layers of weight 1e30: R = 1e120, far beyond float32 even rescaled
    net = nn.Sequential(*[nn.Linear(1, 1, bias=False) for _ in range(4)])
    for layer in net:
        nn.init.constant_(layer.weight, 1e30)
    assert synflow(net, torch.zeros(1, 1), torch.zeros(1)) == pytest.approx(4e120, rel=1e-6)
    assert net[0].weight.dtype == torch.float32


# -- naswot ---------------------------------------------------------------------------------


def test_naswot_on_a_hand_computed_kernel() -> None:
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    nn.init.eye_(net[0].weight)
    x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    # codes 11, 10, 00: agreements K = [[2, 1, 0], [1, 2, 1], [0, 1, 2]], det 4
    assert naswot(net, x, torch.zeros(3)) == pytest.approx(math.log(4.0))


def test_naswot_is_minus_infinity_for_identical_codes() -> None:
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    nn.init.eye_(net[0].weight)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # same code: K is singular
    assert naswot(net, x, torch.zeros(2)) == -math.inf
