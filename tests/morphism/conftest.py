"""Shared checks for morphism tests: non-trivial BN statistics, output equality, shapes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn


def _perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN non-trivial affine parameters and running statistics, and the
    classifier unit-scale weights, as if trained (fresh ones would hide mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=g))
                module.bias.copy_(torch.rand(n, generator=g) - 0.5)
                module.running_mean.copy_(torch.rand(n, generator=g) - 0.5)  # type: ignore[union-attr]
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))  # type: ignore[union-attr]
            elif isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=g))
    return model


def _assert_same_function(parent: nn.Module, child: nn.Module, x: torch.Tensor) -> None:
    parent.eval()
    child.eval()
    with torch.no_grad():
        expected, got = parent(x), child(x)
    assert expected.abs().max() > 0.1  # a meaningful scale for atol
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def _assert_shapes_of(child: nn.Module, built: nn.Module) -> None:
    want = {k: v.shape for k, v in built.state_dict().items()}
    got = {k: v.shape for k, v in child.state_dict().items()}
    assert got == want


@pytest.fixture
def perturb() -> Callable[..., nn.Module]:
    return _perturb


@pytest.fixture
def same_function() -> Callable[[nn.Module, nn.Module, torch.Tensor], None]:
    return _assert_same_function


@pytest.fixture
def shapes_of() -> Callable[[nn.Module, nn.Module], None]:
    return _assert_shapes_of


@pytest.fixture(autouse=True)
def _seeded_single_thread() -> Iterator[None]:
    """Seeded, on one thread: these networks are tiny, and on a busy machine torch's
    thread pool costs seconds per forward pass where one thread takes milliseconds."""
    torch.manual_seed(0)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
