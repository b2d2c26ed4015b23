"""Fake quantisation of a built network, layer by layer, and its size in bits.

Each ``Conv2d``/``Linear`` layer is wrapped in a :class:`FakeQuantLayer` that rounds
its weights and its input to the policy's bit widths and computes in float, which is
what integer inference computes up to the accumulator's rounding. The rounding is done
by PyTorch's ``torch.fake_quantize_per_channel_affine`` and
``torch.fake_quantize_per_tensor_affine`` (core operators since torch 1.x, unchanged in
2.11 and 2.13; the ``torch.ao.quantization`` module classes are left alone because they
are being moved out of torch). Both pass gradients straight through inside the range
(the straight-through estimator), so a wrapped model can be fine-tuned (QAT).

- Weights: symmetric, per output channel, range ``[-(2^(b-1) - 1), 2^(b-1) - 1]``, the
  scale from the channel's largest magnitude, recomputed at each forward (so that it
  follows the weights during fine-tuning). Per-channel symmetric rounding commutes
  with folding a following batch norm into the conv (folding scales each output
  channel), so quantising the unfolded conv gives the folded network's numbers.
- Activations (a layer's input): asymmetric, per tensor, ``[0, 2^b - 1]`` with a zero
  point, over the min/max range seen on calibration batches (always including 0).

Example:
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> x = torch.randn(16, 4)
    >>> q = quantise_model(net, [8, 4], calibration=[x])
    >>> [layer.bits.weight for layer in fake_quant_layers(q)]
    [8, 4]
    >>> model_size_bits(net, [8, 4])  # 32*8 + 16*4 weight bits; 10 scales, 10 biases at 32
    960
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError
from archsearch.quantisation._policy import FLOAT_BITS, LayerBits, parse_policy

__all__ = [
    "FakeQuantLayer",
    "calibrate",
    "fake_quant_layers",
    "fake_quantise_weight",
    "model_size_bits",
    "quantisable_layers",
    "quantise_model",
]

#: the layer types a policy assigns bits to
QUANTISABLE = (nn.Conv2d, nn.Linear)


def quantisable_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
    """``(name, layer)`` of every ``Conv2d``/``Linear`` of a float model, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, QUANTISABLE)]


def fake_quant_layers(model: nn.Module) -> list[FakeQuantLayer]:
    """The :class:`FakeQuantLayer` wrappers of a quantised model, in module order."""
    return [m for m in model.modules() if isinstance(m, FakeQuantLayer)]


def fake_quantise_weight(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """``weight`` rounded symmetrically per output channel (dim 0) to ``bits`` bits."""
    if bits >= FLOAT_BITS:
        return weight
    q_max = 2 ** (bits - 1) - 1
    amax = weight.detach().abs().flatten(1).amax(1)
    scale = (amax / q_max).clamp_min(torch.finfo(torch.float32).tiny).float()
    zero_point = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero_point, 0, -q_max, q_max)


class FakeQuantLayer(nn.Module):
    """A ``Conv2d``/``Linear`` whose weights and input are rounded to ``bits``.

    While ``calibrating`` is set, the forward records the range of its input and does
    not round it; :meth:`freeze_range` then fixes the activation scale and zero point.

    Args:
        layer: the float layer (kept, with its parameters, as ``self.layer``).
        bits: its weight and input bit widths.
    """

    observed: torch.Tensor
    act_scale: torch.Tensor
    act_zero_point: torch.Tensor

    def __init__(self, layer: nn.Conv2d | nn.Linear, bits: LayerBits) -> None:
        super().__init__()
        self.layer: nn.Conv2d | nn.Linear = layer
        self.bits = bits
        self.calibrating = False
        inf, device = float("inf"), layer.weight.device
        # min and max of the input seen while calibrating, then its scale and zero point
        self.register_buffer("observed", torch.tensor([inf, -inf], device=device))
        self.register_buffer("act_scale", torch.ones((), device=device))
        self.register_buffer("act_zero_point", torch.zeros((), dtype=torch.int32, device=device))

    @property
    def quantises_input(self) -> bool:
        return self.bits.activation < FLOAT_BITS

    def freeze_range(self) -> None:
        """Fix the input's scale and zero point from the observed range (with 0 in it).

        Raises:
            ConfigError: when the layer saw no input while calibrating.
        """
        if not self.quantises_input:
            return
        low, high = (float(v) for v in self.observed)
        if low > high:
            raise ConfigError(
                "calibration: a layer saw no input while calibrating; give at least one batch"
            )
        low, high = min(low, 0.0), max(high, 0.0)
        q_max = 2**self.bits.activation - 1
        scale = max((high - low) / q_max, torch.finfo(torch.float32).tiny)
        zero_point = min(max(round(-low / scale), 0), q_max)
        self.act_scale.fill_(scale)
        self.act_zero_point.fill_(zero_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantises_input:
            if self.calibrating:
                lo, hi = torch.aminmax(x.detach())
                self.observed[0] = torch.minimum(self.observed[0], lo)
                self.observed[1] = torch.maximum(self.observed[1], hi)
            else:
                x = torch.fake_quantize_per_tensor_affine(
                    x, self.act_scale, self.act_zero_point, 0, 2**self.bits.activation - 1
                )
        weight = fake_quantise_weight(self.layer.weight, self.bits.weight)
        if isinstance(self.layer, nn.Conv2d):
            out: torch.Tensor = self.layer._conv_forward(x, weight, self.layer.bias)
            return out
        return F.linear(x, weight, self.layer.bias)

    def extra_repr(self) -> str:
        return f"weight_bits={self.bits.weight}, activation_bits={self.bits.activation}"


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """Record each wrapped layer's input range on ``batches`` (eval mode), then fix it."""
    layers = fake_quant_layers(model)
    was_training = model.training
    model.eval()
    for layer in layers:
        layer.calibrating = True
        layer.observed.copy_(torch.tensor([float("inf"), -float("inf")]))  # to its device
    try:
        for batch in batches:
            model(batch)
    finally:
        for layer in layers:
            layer.calibrating = False
        model.train(was_training)
    for layer in layers:
        layer.freeze_range()
    return model


def quantise_model(
    model: nn.Module,
    policy: Sequence[Any],
    *,
    calibration: Iterable[torch.Tensor] | None = None,
    activation_bits: int | None = None,
) -> nn.Module:
    """A copy of ``model`` with every ``Conv2d``/``Linear`` fake-quantised by ``policy``.

    Args:
        model: a float model (left unchanged).
        policy: one entry per ``Conv2d``/``Linear`` in module order (see
            :func:`~archsearch.quantisation.parse_policy`).
        calibration: input batches (already normalised) that set the activation
            ranges; needed when any activation is quantised.
        activation_bits: input bits of layers whose entry is an integer (None: their
            weight bits; 32: float inputs).

    Returns:
        The quantised copy, in eval mode.

    Raises:
        ConfigError: for a policy that does not fit the model (naming ``bits``), an
            already quantised model, or missing calibration data.
    """
    if fake_quant_layers(model):
        raise ConfigError("model: already fake-quantised; quantise the float model")
    layers = parse_policy(policy, len(quantisable_layers(model)), activation_bits=activation_bits)
    quantised = copy.deepcopy(model)
    for (name, layer), bits in zip(quantisable_layers(quantised), layers, strict=True):
        parent_name, _, child = name.rpartition(".")
        parent = quantised.get_submodule(parent_name) if parent_name else quantised
        setattr(parent, child, FakeQuantLayer(layer, bits))
    if any(b.activation < FLOAT_BITS for b in layers):
        if calibration is None:
            raise ConfigError(
                "calibration: input batches are needed to set the activation ranges "
                "(or set activation_bits to 32)"
            )
        calibrate(quantised, calibration)
    return quantised.eval()


def model_size_bits(model: nn.Module, policy: Sequence[Any] | None = None) -> int:
    """Storage of a model's parameters in bits under ``policy``.

    A quantised layer's weights count ``bits`` each plus one 32-bit scale per output
    channel (the zero point is 0); every other parameter (biases, batch norm's weight
    and bias) counts 32 bits. Buffers are not counted: batch norm's running statistics
    fold into the preceding conv's scale and bias at deployment.

    Args:
        model: a float model, or a quantised one (then ``policy`` may be None and the
            wrappers' weight bits are used).
        policy: weight bits per ``Conv2d``/``Linear`` in module order (as for
            :func:`quantise_model`; activation bits do not count).

    Raises:
        ConfigError: for a policy that does not fit the model, naming ``bits``.
    """
    if policy is None:
        wrapped = fake_quant_layers(model)
        weights = [(w.layer.weight, w.bits.weight) for w in wrapped]
    else:
        layers = quantisable_layers(model)
        parsed = parse_policy(policy, len(layers))
        weights = [(m.weight, b.weight) for (_, m), b in zip(layers, parsed, strict=True)]
    quantised_ids = {id(w) for w, _ in weights}
    total = sum(32 * p.numel() for p in model.parameters() if id(p) not in quantised_ids)
    for weight, bits in weights:
        scales = 32 * weight.shape[0] if bits < FLOAT_BITS else 0
        total += bits * weight.numel() + scales
    return int(total)
