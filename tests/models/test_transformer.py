"""Transformer and ViT builders: every mixing op trains, widths change, padding is inert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models import MODELS, build_model
from archsearch.models.transformer import SelfAttention, TextTransformer
from archsearch.spaces.transformer import transformer_space
from archsearch.spaces.vit import vit_space

VOCAB, MAX_LEN = 50, 10

LAYERS = {
    "attention": {"op": "attention", "heads": 2, "hidden": 16, "ff": 32},
    "conv": {"op": "conv", "kernel": 3, "hidden": 16, "ff": 32},
    "fourier": {"op": "fourier", "hidden": 16, "ff": 32},
    "linear": {"op": "linear", "hidden": 16, "ff": 32},
}


def _config(*layers: dict[str, Any], pooling: str = "cls", **extra: Any) -> dict[str, Any]:
    config = {"pooling": pooling, "n_layers": len(layers), **extra}
    config.update({f"layer_{i}": layer for i, layer in enumerate(layers)})
    return config


def _tokens(batch: int = 4) -> torch.Tensor:
    x = torch.randint(2, VOCAB, (batch, MAX_LEN))
    x[0, 6:] = 0  # padding at the end of two sequences
    x[1, 3:] = 0
    return x


def _text(config: dict[str, Any], n_classes: int = 3) -> nn.Module:
    return build_model(
        "transformer", config, vocab_size=VOCAB, max_len=MAX_LEN, n_classes=n_classes
    )


def test_builders_are_registered() -> None:
    assert {"transformer", "vit"} <= set(MODELS)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("op", sorted(LAYERS))
def test_every_mixing_op_trains(op: str, pooling: str, train_step: Callable[..., float]) -> None:
    model = _text(_config(LAYERS[op], pooling=pooling))
    x = _tokens()
    assert model(x).shape == (4, 3)
    train_step(model, x, n_classes=3)  # asserts that parameters moved and the loss is finite
    for name, p in model.named_parameters():  # every tensor gets a gradient
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("op", sorted(LAYERS))
def test_vit_runs_every_op_with_both_patch_sizes(
    op: str, train_step: Callable[..., float]
) -> None:
    for patch, pooling in ((4, "cls"), (7, "mean")):
        model = build_model("vit", _config(LAYERS[op], pooling=pooling, patch=patch))
        x = torch.randn(3, 1, 28, 28)
        assert model(x).shape == (3, 10)
        train_step(model, x)


def test_hidden_sizes_may_change_between_layers() -> None:
    layers = [
        {"op": "attention", "heads": 4, "hidden": 32, "ff": 16},
        {"op": "conv", "kernel": 5, "hidden": 8, "ff": 64},
        {"op": "linear", "hidden": 8, "ff": 8},
        {"op": "fourier", "hidden": 24, "ff": 48},
    ]
    model = _text(_config(*layers))
    assert isinstance(model, TextTransformer)
    blocks = model.encoder.blocks
    assert isinstance(blocks[0].proj, nn.Identity) and isinstance(blocks[2].proj, nn.Identity)
    assert (blocks[1].proj.in_features, blocks[1].proj.out_features) == (32, 8)
    assert (blocks[3].proj.in_features, blocks[3].proj.out_features) == (8, 24)
    assert model.embed.embedding_dim == 32 and model.classifier.in_features == 24
    out = model(_tokens())
    out.sum().backward()
    assert out.shape == (4, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("op", sorted(LAYERS))
def test_padding_never_changes_the_output(op: str, pooling: str) -> None:
    """Padding is zeroed before mixing, masked in attention and pooling: its embedding
    and its position embeddings do not matter."""
    model = _text(_config(LAYERS[op], LAYERS["attention"], pooling=pooling)).eval()
    x = _tokens()
    before = model(x)
    with torch.no_grad():
        model.embed.weight[0].normal_(0, 5.0)
        model.position[:, -4:].normal_(0, 5.0)  # positions 6..9 are padding in row 0
    after = model(x)
    assert torch.allclose(before[:2], after[:2], atol=1e-5)
    assert not torch.allclose(before[2:], after[2:], atol=1e-3)  # rows without padding do change


def test_attention_ignores_masked_keys() -> None:
    attention = SelfAttention(8, 2)
    x = torch.randn(1, 5, 8)
    mask = torch.tensor([[True, True, True, False, False]])
    changed = x.clone()
    changed[:, 3:] = torch.randn(1, 2, 8)
    a, b = attention(x, mask), attention(changed, mask)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)


def test_a_sequence_of_padding_only_stays_finite() -> None:
    model = _text(_config(LAYERS["attention"], pooling="mean"))
    assert torch.isfinite(model(torch.zeros(2, MAX_LEN, dtype=torch.int64))).all()


def test_sampled_configs_build_and_run() -> None:
    for seed in range(6):
        config = transformer_space(hidden_sizes=[8, 16], ff_sizes=[16]).sample(seed=seed)
        assert _text(config)(_tokens(2)).shape == (2, 3)
        config = vit_space(hidden_sizes=[8, 16], ff_sizes=[16]).sample(seed=seed)
        assert build_model("vit", config)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_initial_weights_depend_only_on_the_torch_seed() -> None:
    config = _config(LAYERS["attention"], LAYERS["linear"])
    states = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        states.append(_text(config).state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (_config({"op": "attention", "heads": 3, "hidden": 16, "ff": 8}),
         r"layer_0\.heads: must divide hidden \(16\), got 3"),
        (_config({"op": "conv", "kernel": 4, "hidden": 16, "ff": 8}),
         r"layer_0\.kernel: must be odd"),
        (_config({"op": "mlp", "hidden": 16, "ff": 8}), r"layer_0\.op: unknown 'mlp'"),
        (_config({"op": "fourier", "hidden": 16, "ff": 8, "heads": 2}),
         r"layer_0: a fourier layer has the fields op, hidden, ff"),
        (_config({"op": "linear", "hidden": 0, "ff": 8}),
         r"layer_0\.hidden: must be an integer >= 1"),
        ({"pooling": "cls", "n_layers": 2, "layer_0": LAYERS["conv"]}, "layer_1: missing"),
        ({**_config(LAYERS["conv"]), "layer_1": LAYERS["conv"]}, "layer_1: not a key"),
        ({"pooling": "cls", "n_layers": 0}, r"n_layers: must be an integer in \[1, 12\]"),
        (_config(LAYERS["conv"], pooling="max"), "pooling: unknown 'max'"),
    ],
)  # fmt: skip
def test_bad_configs_name_the_field(config: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _text(config)


def test_bad_options_and_inputs_are_config_errors() -> None:
    config = _config(LAYERS["conv"])
    with pytest.raises(ConfigError, match="vocab_size: must be an integer >= 2"):
        build_model("transformer", config, vocab_size=1)
    with pytest.raises(ConfigError, match=r"input: expected token ids of shape \(batch, 10\)"):
        _text(config)(torch.ones(2, 12, dtype=torch.int64))
    with pytest.raises(
        ConfigError, match=r"patch: must be a positive integer dividing image_size \(28\)"
    ):
        build_model("vit", {**config, "patch": 5})
    with pytest.raises(ConfigError, match="patch"):
        build_model("vit", config)
