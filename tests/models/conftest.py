"""Shared checks for the model builders: a training step and a MACs count."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def _train_step(model: nn.Module, x: torch.Tensor, n_classes: int = 10) -> float:
    """One SGD step on random labels; asserts that every trainable tensor moved."""
    model.train()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    targets = torch.arange(x.shape[0]) % n_classes
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.functional.cross_entropy(model(x), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    changed = [k for k, p in model.named_parameters() if not torch.equal(p, before[k])]
    assert changed, "no parameter changed"
    assert torch.isfinite(loss)
    return float(loss.detach())


def _macs(model: nn.Module, shape: tuple[int, ...] = (1, 3, 32, 32)) -> int:
    """Multiply-adds of one forward pass (FlopCounterMode counts 2 FLOPs per MAC)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(shape))
    return counter.get_total_flops() // 2


@pytest.fixture
def train_step() -> Callable[..., float]:
    return _train_step


@pytest.fixture
def macs() -> Callable[..., int]:
    return _macs


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
