"""Real Fashion-MNIST, a few dozen images shrunk to 16x16, and tiny supernet settings."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from archsearch.data import Dataset, get_dataset
from archsearch.training import Recipe

#: one cell per stage, 4 channels: a supernet step takes milliseconds
NB201_TINY: dict[str, int] = {"channels": 4, "n_cells": 1}
DARTS_TINY: dict[str, int] = {"channels": 4, "n_layers": 3}


def shrink(data: Dataset, size: int) -> Dataset:
    """The dataset with images area-averaged to ``size`` x ``size`` (still uint8)."""

    def resize(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x.float(), size=size, mode="area").round().to(torch.uint8)

    return Dataset(
        data.name,
        resize(data.train_x),
        data.train_y,
        resize(data.valid_x),
        data.valid_y,
        resize(data.test_x),
        data.test_y,
        data.num_classes,
    )


@pytest.fixture(scope="session")
def fmnist() -> Dataset:
    """48 images per split of Fashion-MNIST at 16x16."""
    return shrink(get_dataset("fashion_mnist", subset=48), 16)


def tiny(epochs: int = 1, batch_size: int = 24) -> dict[str, Any]:
    """Options of a method for a one- or two-step search."""
    return {
        "recipe": Recipe("sgd", 0.05, 3e-4, batch_size, epochs, nesterov=False, augment=False),
        "eval_images": 48,
    }


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """One torch thread: tiny convolutions only lose time to thread hand-offs (2 shared cores)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
