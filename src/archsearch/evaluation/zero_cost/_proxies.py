"""Zero-cost proxies: scores of an untrained network from at most one batch.

Every proxy is a function ``proxy(model, x, y) -> float`` (higher should mean a
better network) registered in :data:`PROXIES` (SynFlow's module, ``_synflow``, adds
itself). The gradient-based ones follow the reference code of Abdelfattah et al.,
"Zero-Cost Proxies for Lightweight NAS" (ICLR 2021): they sum a per-weight saliency
over the weights of the ``Conv2d`` and ``Linear`` layers, with the network in
training mode (BatchNorm on batch statistics) and a cross-entropy loss. Gradients
are taken with :func:`torch.autograd.grad`, so parameters' ``.grad`` are never
touched, and the training/eval mode is restored afterwards (BatchNorm running
statistics do move in the training-mode passes).

Example:
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 2))
    >>> x, y = torch.randn(8, 3, 6, 6), torch.arange(8) % 2
    >>> sorted(PROXIES)[:4]
    ['fisher', 'flops', 'grad_norm', 'grasp']
    >>> score_proxy("params", net, x, y)
    242.0
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archsearch.evaluation._cost import count_macs
from archsearch.registry import Registry

__all__ = [
    "DATA_FREE_PROXIES",
    "PROXIES",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacob_cov",
    "naswot",
    "params",
    "score_proxies",
    "score_proxy",
    "snip",
]

#: proxies ``f(model, x, y) -> float`` by name (higher should be better)
PROXIES = Registry("proxy")
#: proxies that use only the shape of ``x`` (no images, no labels)
DATA_FREE_PROXIES = frozenset({"synflow", "params", "flops"})


def score_proxy(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Score ``model`` with the proxy registered as ``name``.

    Raises:
        ConfigError: for an unknown proxy, listing the known ones.
    """
    return float(PROXIES.get_factory(name, field="proxy")(model, x, y))


# -- helpers ----------------------------------------------------------------------------
def _layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """The layers whose weights the saliency proxies score: convolutions and linear maps."""
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in _layers(model)]


def _grads(
    output: torch.Tensor, inputs: Sequence[torch.Tensor], *, create_graph: bool = False
) -> tuple[torch.Tensor, ...]:
    """Gradients of ``output``; zeros for inputs it does not depend on (cut-off edges)."""
    return torch.autograd.grad(
        output, list(inputs), create_graph=create_graph, materialize_grads=True
    )


@contextlib.contextmanager
def _mode(model: nn.Module, *, training: bool) -> Iterator[None]:
    """Put the model in training (or eval) mode for the block, then restore each module's."""
    modes = {m: m.training for m in model.modules()}
    model.train(training)
    try:
        yield
    finally:
        for module, was_training in modes.items():
            module.training = was_training


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


# -- saliency proxies -------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Backward:
    """One training-mode forward and backward of the loss: what grad_norm, snip and fisher need."""

    weights: list[torch.Tensor]
    weight_grads: tuple[torch.Tensor, ...]
    outputs: list[torch.Tensor]  # each conv / linear layer's output
    output_grads: tuple[torch.Tensor, ...]


def _backward(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> _Backward:
    outputs: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        outputs.append(output)

    layers = _layers(model)
    handles = [layer.register_forward_hook(keep) for layer in layers]
    try:
        with _mode(model, training=True):
            loss = _loss(model, x, y)
    finally:
        for handle in handles:
            handle.remove()
    weights = [m.weight for m in layers]
    grads = _grads(loss, [*weights, *outputs])
    detached = [w.detach() for w in weights]
    return _Backward(detached, grads[: len(weights)], outputs, grads[len(weights) :])


def _grad_norm_of(b: _Backward) -> float:
    return float(sum(float(g.norm()) for g in b.weight_grads))


def _snip_of(b: _Backward) -> float:
    pairs = zip(b.weights, b.weight_grads, strict=True)
    return float(sum(float((w * g).abs().sum()) for w, g in pairs))


def _fisher_of(b: _Backward) -> float:
    total = 0.0
    for act, grad in zip(b.outputs, b.output_grads, strict=True):
        per_channel = act.detach() * grad
        if per_channel.dim() == 4:
            per_channel = per_channel.sum(dim=(2, 3))
        total += float(0.5 * per_channel.pow(2).mean(0).sum())
    return total


#: proxies computed from one shared :func:`_backward` pass by :func:`score_proxies`
_FROM_BACKWARD: dict[str, Callable[[_Backward], float]] = {
    "grad_norm": _grad_norm_of,
    "snip": _snip_of,
    "fisher": _fisher_of,
}


@PROXIES.register("grad_norm")
def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum over layers of the L2 norm of the loss gradient of the layer's weight."""
    return _grad_norm_of(_backward(model, x, y))


@PROXIES.register("snip")
def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """SNIP (Lee et al., 2019): ``sum |theta * dL/dtheta|`` (connection sensitivity)."""
    return _snip_of(_backward(model, x, y))


@PROXIES.register("fisher")
def fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fisher (Turner et al., 2020): per channel ``0.5 * mean_n (sum_hw a * dL/da)^2``.

    ``a`` is the output of each convolution and linear layer; summed over channels
    and layers.
    """
    return _fisher_of(_backward(model, x, y))


@PROXIES.register("grasp")
def grasp(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """GraSP (Wang et al., 2020): ``sum -theta * (H g)``, a Hessian-gradient product.

    ``H g`` is the gradient of ``g . stop_gradient(g)``, so one forward pass and a
    double backward suffice.
    """
    with _mode(model, training=True):
        weights = _weights(model)
        grads = _grads(_loss(model, x, y), weights, create_graph=True)
        inner = sum((g * g.detach()).sum() for g in grads)
        if not isinstance(inner, torch.Tensor) or not inner.requires_grad:
            return 0.0  # no weight reaches the loss
        hessian_grads = _grads(inner, weights)
    pairs = zip(weights, hessian_grads, strict=True)
    return float(sum(float((-w.detach() * h).sum()) for w, h in pairs))


def score_proxies(
    names: Sequence[str], model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> dict[str, float]:
    """Several proxies on one network; grad_norm, snip and fisher share one backward pass.

    Raises:
        ConfigError: for an unknown proxy, listing the known ones.
    """
    shared = [name for name in names if name in _FROM_BACKWARD]
    backward = _backward(model, x, y) if len(shared) > 1 else None
    scores = {}
    for name in names:
        if backward is not None and name in _FROM_BACKWARD:
            scores[name] = _FROM_BACKWARD[name](backward)
        else:
            scores[name] = score_proxy(name, model, x, y)
    return scores


# -- data-free proxies ------------------------------------------------------------------
@PROXIES.register("params")
def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Number of parameters (a strong baseline on NB201, Ning et al. 2021)."""
    return float(sum(p.numel() for p in model.parameters()))


@PROXIES.register("flops")
def flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Multiply-accumulates of one image of ``x``'s shape (NAS-Bench's "FLOPs")."""
    return float(count_macs(model, (1, *x.shape[1:])))


# -- activation / Jacobian proxies ------------------------------------------------------
@PROXIES.register("jacob_cov")
def jacob_cov(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Jacobian covariance (Mellor et al., 2020, v1): ``-sum log(v + k) + 1 / (v + k)``.

    ``v`` are the eigenvalues of the correlation matrix of the per-image input
    Jacobians of the summed outputs, ``k = 1e-5``. NaN when a Jacobian is constant.
    """
    x = x.detach().clone().requires_grad_(True)
    with _mode(model, training=True):
        (jacobian,) = _grads(model(x).sum(), [x])
    rows = jacobian.reshape(len(x), -1).double().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(rows)
    if not np.all(np.isfinite(corr)):
        return float("nan")
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


@PROXIES.register("naswot")
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """NASWOT (Mellor et al., ICML 2021): ``log |det K|`` of the ReLU-code kernel.

    Each image's binary code is which inputs of every ``nn.ReLU`` are positive;
    ``K[i, j]`` sums over ReLUs the number of units where images ``i`` and ``j``
    agree (units minus Hamming distance). Labels are not used.
    """
    n = len(x)
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def add_codes(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal kernel
        codes = (inputs[0].detach().reshape(n, -1) > 0).float()
        active = codes.sum(1, keepdim=True)
        agree = 2 * codes @ codes.T - active - active.T + codes.shape[1]
        kernel = kernel + agree.double()  # 0/1 products: exact in float32 below 2**24 units

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [m.register_forward_hook(add_codes) for m in relus]
    try:
        with torch.no_grad(), _mode(model, training=True):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    _, logdet = np.linalg.slogdet(kernel.numpy())
    return float(logdet)
