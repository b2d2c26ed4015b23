"""Quantisation-aware search: per-layer bit policies, fake-quantised inference, size in bits.

:func:`quantise_model` applies a per-layer bit policy (``Conv2d``/``Linear`` layers in
module order) to a built network with PyTorch's fake-quantise operators, calibrating
activation ranges on a few batches; :func:`model_size_bits` counts its storage;
:func:`fine_tune` is a short quantisation-aware fine-tune. The ``quantisation``
benchmark (:class:`QuantisationEvaluator`) trains an architecture once, applies each
trial's policy and reports the quantised accuracy with the size; the spaces
``quantisation`` and ``quantised_cnn`` live in :mod:`archsearch.spaces.quantisation`.
"""

from archsearch.quantisation._evaluator import QuantisationEvaluator, accuracy
from archsearch.quantisation._fake import (
    FakeQuantLayer,
    calibrate,
    fake_quant_layers,
    fake_quantise_weight,
    model_size_bits,
    quantisable_layers,
    quantise_model,
)
from archsearch.quantisation._policy import (
    FLOAT_BITS,
    LayerBits,
    check_bits,
    expand_stage_bits,
    parse_policy,
)
from archsearch.quantisation._qat import fine_tune

__all__ = [
    "FLOAT_BITS",
    "FakeQuantLayer",
    "LayerBits",
    "QuantisationEvaluator",
    "accuracy",
    "calibrate",
    "check_bits",
    "expand_stage_bits",
    "fake_quant_layers",
    "fake_quantise_weight",
    "fine_tune",
    "model_size_bits",
    "parse_policy",
    "quantisable_layers",
    "quantise_model",
]
