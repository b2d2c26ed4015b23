"""Fake quantisation of built networks: rounding, policies, size in bits, QAT."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.models.cnn import cnn_model
from archsearch.quantisation import (
    FakeQuantLayer,
    LayerBits,
    expand_stage_bits,
    fake_quant_layers,
    fake_quantise_weight,
    fine_tune,
    model_size_bits,
    parse_policy,
    quantisable_layers,
    quantise_model,
)
from archsearch.training import DeviceData

TINY: dict[str, Any] = {
    "stages": [
        {"n_layers": 2, "width": 8, "kernel": 3},
        {"n_layers": 1, "width": 16, "kernel": 3},
    ]
}


def tiny_model(config: dict[str, Any] = TINY, n_classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    model = cnn_model(config, in_channels=1, n_classes=n_classes)
    with torch.no_grad():  # BN statistics that are not the identity
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_16_bits_is_close_to_float_and_4_bits_is_not() -> None:
    model = tiny_model()
    x = torch.randn(32, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = model(x)
        at_16 = quantise_model(model, [16] * 4, calibration=[x])(x)
        at_4 = quantise_model(model, [4] * 4, calibration=[x])(x)
    assert relative_error(at_16, reference) < 1e-3
    assert relative_error(at_4, reference) > 1e-2
    assert not torch.equal(at_16, reference)  # 16 bits still rounds


def test_weights_take_at_most_2_to_the_bits_minus_1_values_per_channel() -> None:
    model = tiny_model()
    for (_, layer), bits in zip(quantisable_layers(model), (4, 3, 8, 2), strict=True):
        rounded = fake_quantise_weight(layer.weight.detach(), bits)
        for channel, original in zip(rounded, layer.weight.detach(), strict=True):
            assert len(torch.unique(channel)) <= 2**bits - 1
            assert float(channel.abs().max()) == pytest.approx(float(original.abs().max()))
    weight = quantisable_layers(model)[0][1].weight
    assert fake_quantise_weight(weight, 32) is weight  # 32 bits: float, untouched


def test_the_float_model_is_left_unchanged_and_layers_are_wrapped_in_order() -> None:
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(8, 1, 16, 16)
    quantised = quantise_model(model, [8, 4, 6, 2], calibration=[x])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not fake_quant_layers(model)
    assert [w.bits for w in fake_quant_layers(quantised)] == [
        LayerBits(8, 8),
        LayerBits(4, 4),
        LayerBits(6, 6),
        LayerBits(2, 2),
    ]
    assert isinstance(quantised.classifier, FakeQuantLayer)
    with pytest.raises(ConfigError, match="already fake-quantised"):
        quantise_model(quantised, [8] * 4, calibration=[x])


def test_a_policy_of_the_wrong_length_names_the_field() -> None:
    model = tiny_model()
    with pytest.raises(ConfigError, match=r"bits: expected 4 entries, one per Conv2d/Linear"):
        quantise_model(model, [8, 8, 8], activation_bits=32)
    with pytest.raises(ConfigError, match=r"bits: expected 4 entries"):
        model_size_bits(model, [8] * 5)
    with pytest.raises(ConfigError, match=r"bits\[1\]: bit width must be an integer in 2..16"):
        quantise_model(model, [8, 1, 8, 8], activation_bits=32)
    with pytest.raises(ConfigError, match=r"bits\[2\].activation: bit width"):
        parse_policy([8, 8, {"weight": 4, "activation": 64}, 8], 4)
    with pytest.raises(ConfigError, match=r"activation_bits: bit width"):
        parse_policy([8] * 4, 4, activation_bits=0)
    with pytest.raises(ConfigError, match="calibration: input batches are needed"):
        quantise_model(model, [8] * 4)


def test_activation_bits_follow_the_weights_unless_given() -> None:
    assert parse_policy([4, 8], 2) == [LayerBits(4, 4), LayerBits(8, 8)]
    assert parse_policy([4, 8], 2, activation_bits=32) == [LayerBits(4, 32), LayerBits(8, 32)]
    mixed = parse_policy([{"weight": 2, "activation": 6}, 8], 2, activation_bits=16)
    assert mixed == [LayerBits(2, 6), LayerBits(8, 16)]


def test_activations_are_rounded_to_the_calibrated_grid() -> None:
    layer = nn.Linear(3, 2)
    x = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.5, 0.25]])
    quantised = quantise_model(
        nn.Sequential(layer), [{"weight": 32, "activation": 2}], calibration=[x]
    )
    wrapper = fake_quant_layers(quantised)[0]
    assert float(wrapper.act_scale) == pytest.approx(1.0)  # [0, 3] over 2**2 - 1 steps
    with torch.no_grad():
        out = quantised(torch.tensor([[0.4, 1.6, 9.0]]))
        expected = layer(torch.tensor([[0.0, 2.0, 3.0]]))  # rounded, clipped at the range
    assert torch.allclose(out, expected)


def test_size_in_bits_by_hand() -> None:
    # conv 4x1x3x3 (no bias), BN 4 (gamma, beta), linear 3x4 with bias
    model = cnn_model({"stages": [{"n_layers": 1, "width": 4, "kernel": 3}]}, in_channels=1,
                      n_classes=3)  # fmt: skip
    conv, linear = 36 * 4 + 4 * 32, 12 * 8 + 3 * 32  # weights at 4 and 8 bits, a scale each
    others = (8 + 3) * 32  # BN gamma and beta, the classifier's bias
    assert model_size_bits(model, [4, 8]) == conv + linear + others == 816
    assert model_size_bits(model, [32, 32]) == 32 * sum(p.numel() for p in model.parameters())
    quantised = quantise_model(model, [4, 8], activation_bits=32)
    assert model_size_bits(quantised) == 816  # read from the wrappers
    assert model_size_bits(quantised, [16, 16]) == 36 * 16 + 12 * 16 + (4 + 3) * 32 + others


def test_stage_bits_expand_over_each_stages_layers() -> None:
    assert expand_stage_bits(TINY, [4, 8, 16]) == [4, 4, 8, 16]
    with pytest.raises(ConfigError, match=r"stage_bits: expected 3 entries \(one per stage"):
        expand_stage_bits(TINY, [4, 8])
    with pytest.raises(ConfigError, match="arch: stage_bits needs a stage config"):
        expand_stage_bits({"cells": []}, [4])


def test_quantisation_aware_fine_tuning_trains_through_the_rounding() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (64,), generator=g)
    x = (torch.rand(64, 1, 8, 8, generator=g) * 60 + 40 * y[:, None, None, None]).to(torch.uint8)
    data = DeviceData(Dataset("toy", x, y, x, y, x, y, num_classes=4), torch.device("cpu"))
    model = tiny_model(n_classes=4)
    quantised = quantise_model(model, [3] * 4, calibration=[data.normalise(x)])
    before = [layer.layer.weight.detach().clone() for layer in fake_quant_layers(quantised)]
    losses = fine_tune(quantised, data, steps=30, learning_rate=0.05, batch_size=32)
    after = [layer.layer.weight for layer in fake_quant_layers(quantised)]
    assert len(losses) == 30
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert sum(losses[-5:]) < sum(losses[:5])
    assert len(quantisable_layers(model)) == 4  # the float model keeps plain layers
    with pytest.raises(ConfigError, match="qat_steps: must be an integer >= 0"):
        fine_tune(quantised, data, steps=-1)
