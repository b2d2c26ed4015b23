"""SynFlow (Tanaka et al., NeurIPS 2020) computed fast: float32 on a rescaled input."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from archsearch.evaluation.zero_cost._proxies import PROXIES

__all__ = ["synflow"]


@dataclass(frozen=True, eq=False)
class _Parts:
    """A network's modules, named parameters and buffers, gathered in one pass each.

    SynFlow touches all of them several times; walking the module tree once
    instead of at every step halves its cost on NB201 networks.
    """

    modules: list[nn.Module]
    params: list[tuple[str, torch.Tensor]]
    buffers: list[torch.Tensor]

    @classmethod
    def of(cls, model: nn.Module) -> _Parts:
        return cls(list(model.modules()), list(model.named_parameters()), list(model.buffers()))

    def tensors(self) -> list[torch.Tensor]:
        return [p for _, p in self.params] + self.buffers

    def weights(self) -> list[torch.Tensor]:
        return [m.weight for m in self.modules if isinstance(m, nn.Conv2d | nn.Linear)]


def _linearise(parts: _Parts, scale: float) -> None:
    """|weights|, |buffers|, biases times ``scale``, and BN as ``|gamma| x + |beta| scale``.

    With every weight positive and an all-ones input, ReLUs pass everything: the
    network becomes the positive multilinear map SynFlow measures. Resetting the
    BatchNorm statistics reproduces the zero-cost proxies' SynFlow on NB201, computed
    without BatchNorm (Abdelfattah et al., 2021; a fresh network's BN is that already).
    """
    with torch.no_grad():
        for tensor in parts.tensors():
            if tensor.is_floating_point():
                tensor.abs_()
        for name, param in parts.params:
            if name.rsplit(".", 1)[-1] == "bias":
                param.mul_(scale)
        for module in parts.modules:
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
                module.running_mean.zero_()  # type: ignore[union-attr]
                module.running_var.fill_(1.0)  # type: ignore[union-attr]


# float32 holds activations up to 3.4e38; NB201's all-nor_conv_3x3 network reaches ~1e50
# from an all-ones input. Starting from 2**-100 instead leaves room for gains up to ~1e68.
_INPUT_SCALE = 2.0**-100


def _synflow_pass(
    model: nn.Module, parts: _Parts, shape: tuple[int, ...], scale: float
) -> float | None:
    """``sum theta * dR/dtheta`` at the model's dtype, computed at a scale, then unscaled.

    The linearised network is positively homogeneous: with the input and every bias
    multiplied by ``scale`` its output is multiplied by ``scale``, and so is every
    weight gradient. Seeding the backward pass with ``2**-k`` near ``1 / R`` keeps the
    backward signals in range too. Both scales are powers of two, so the rescaling is
    exact; None when the pass still overflows.
    """
    _linearise(parts, scale)
    weights = parts.weights()
    first = parts.params[0][1]
    out = model(torch.full((1, *shape), scale, dtype=first.dtype, device=first.device))
    total = float(out.detach().double().sum())
    if not math.isfinite(total) or total <= 0.0:
        return None
    out_scale = math.ldexp(1.0, -math.frexp(total)[1])
    seed = torch.full_like(out, out_scale)
    grads = torch.autograd.grad(out, weights, grad_outputs=seed, materialize_grads=True)
    # every factor is non-negative, so |theta * g| is theta * g
    pairs = zip(weights, grads, strict=True)
    score = sum(float((w.detach() * g).sum(dtype=torch.float64)) for w, g in pairs)
    score /= scale * out_scale
    return score if math.isfinite(score) else None


@PROXIES.register("synflow")
def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, double: bool = False) -> float:
    """SynFlow (Tanaka et al., 2020): ``sum |theta * dR/dtheta|``, ``R = sum f(1)``.

    ``f`` is the network with absolute weights and buffers in eval mode, fed one
    all-ones image of ``x``'s shape; only ``x``'s shape is used. Computed in the
    model's precision on a rescaled input (see :func:`_synflow_pass`; exact for
    networks of convolutions, linear maps, BatchNorm, ReLU and pooling) and, if that
    overflows or ``double`` is set, again in float64. The model's weights, buffers,
    dtype and modes are restored afterwards.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> for layer in (net[0], net[2]):
        ...     _ = nn.init.constant_(layer.weight, -0.5), nn.init.zeros_(layer.bias)
        >>> synflow(net, torch.zeros(1, 2), torch.zeros(1))  # R = 1.5; 2 layers x R
        3.0
    """
    parts = _Parts.of(model)
    saved = [tensor.detach().clone() for tensor in parts.tensors()]
    modes = [m.training for m in parts.modules]
    dtype = saved[0].dtype
    shape = tuple(x.shape[1:])
    try:
        for module in parts.modules:
            module.training = False
        score = None if double else _synflow_pass(model, parts, shape, _INPUT_SCALE)
        if score is None:
            model.double()  # buffers become new tensors: gather again
            score = _synflow_pass(model, _Parts.of(model), shape, 1.0)
            model.to(dtype)
            parts = _Parts.of(model)
    finally:
        with torch.no_grad():
            for tensor, value in zip(parts.tensors(), saved, strict=True):
                tensor.copy_(value)
        for module, mode in zip(parts.modules, modes, strict=True):
            module.training = mode
    return float("inf") if score is None else score
