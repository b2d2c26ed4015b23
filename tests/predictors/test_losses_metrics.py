"""Ranking and regression losses, and the rank correlations."""

from __future__ import annotations

import math

import pytest
import torch

from archsearch.predictors import LOSSES, kendall_tau, listmle_loss, rankdata, spearman_rho


def test_pairwise_losses_are_zero_or_small_when_the_order_is_right() -> None:
    target = torch.tensor([3.0, 2.0, 1.0])
    assert float(LOSSES["hinge"](torch.tensor([1.0, 0.5, 0.0]), target)) == 0.0
    right = float(LOSSES["bce"](torch.tensor([10.0, 5.0, 0.0]), target))
    wrong = float(LOSSES["bce"](torch.tensor([0.0, 5.0, 10.0]), target))
    assert right < 0.01 < 4.0 < wrong


def test_ties_make_no_pairs() -> None:
    predicted = torch.tensor([0.0, 1.0], requires_grad=True)
    loss = LOSSES["hinge"](predicted, torch.tensor([1.0, 1.0]))
    assert float(loss.detach()) == 0.0
    loss.backward()  # still differentiable


def test_listmle_of_two_items() -> None:
    a, b = 0.3, 1.2
    expected = (math.log(math.exp(a) + math.exp(b)) - a) / 2  # the last term is 0
    value = listmle_loss(torch.tensor([a, b]), torch.tensor([1.0, 0.0]))
    assert float(value) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["mse", "hinge", "bce", "listmle"])
def test_training_decreases_each_loss(name: str) -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=generator)
    target = x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    weight = torch.zeros(5, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.5)
    losses = []
    for _ in range(30):
        loss = LOSSES[name](x @ weight, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0]
    assert all(b <= a + 1e-6 for a, b in zip(losses[-10:], losses[-9:], strict=False))


def test_rankdata_averages_ties() -> None:
    assert rankdata([10, 20, 10, 30]).tolist() == [1.5, 3.0, 1.5, 4.0]


def test_kendall_tau_b_with_ties_matches_hand_count() -> None:
    # pairs: 5 concordant, 0 discordant; x ties 1 pair, y ties none -> 5 / sqrt(5 * 6)
    assert kendall_tau([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0


def test_correlations_on_a_hand_checked_case_with_ties() -> None:
    x, y = [1, 2, 2, 3, 4], [2, 1, 3, 3, 5]
    # ranks x: 1, 2.5, 2.5, 4, 5; y: 2, 1, 3.5, 3.5, 5 -> Pearson of the ranks
    assert spearman_rho(x, y) == pytest.approx(0.763157894736842)
    # 7 concordant, 1 discordant; 1 tie in x, 1 in y: 6 / sqrt(9 * 9)
    assert kendall_tau(x, y, chunk=2) == pytest.approx(6 / 9)


def test_non_finite_pairs_are_dropped() -> None:
    assert spearman_rho([1.0, 2.0, math.nan, 3.0], [1.0, 2.0, 9.0, 3.0]) == pytest.approx(1.0)
