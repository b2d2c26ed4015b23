"""A toy dataset and a tiny model, small enough for a training run in well under a second."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from archsearch.data import Dataset


def toy_data(n: int = 96, seed: int = 0) -> Dataset:
    """3x8x8 uint8 images in 2 classes: class 1 is brighter in the red channel."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n + 64,), generator=gen)
    x = torch.randint(0, 160, (n + 64, 3, 8, 8), generator=gen, dtype=torch.int64)
    x[:, 0] += 90 * y[:, None, None]
    x = x.to(torch.uint8)
    return Dataset("toy", x[:n], y[:n], x[n : n + 32], y[n : n + 32], x[n + 32 :], y[n + 32 :], 2)


def tiny_model(classes: int = 2) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, classes),
    )


@pytest.fixture
def data() -> Dataset:
    return toy_data()


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return tiny_model()


@pytest.fixture
def make_model() -> Callable[..., nn.Module]:
    """``make_model(classes=2, seed=0)``: the tiny model with seeded initial weights."""

    def make(classes: int = 2, seed: int = 0) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return tiny_model(classes)

    return make
