"""Heterogeneous transformer encoders from a :mod:`~archsearch.spaces.transformer` config.

Each layer is pre-norm, as in FlexiBERT's and most small transformers::

    x = proj(x)                      # Linear when the previous layer is narrower/wider
    x = x + mix(LayerNorm(x))        # attention | depthwise-separable conv | FFT | token linear
    x = x + FF(LayerNorm(x))         # Linear(hidden, ff) -> GELU -> Linear(ff, hidden)

then a final LayerNorm, pooling (the class token, or the mean over real tokens) and a
linear classifier. :class:`TextTransformer` embeds token ids (id 0 is padding: it is
zeroed before every mixing operation, masked out of attention and of mean pooling, so it
never changes a real token); :class:`~archsearch.models.vit.VisionTransformer` embeds
image patches and runs the same :class:`Encoder`.

Attention is written with explicit matmuls (not ``scaled_dot_product_attention``) so
that ``count_macs`` counts its score and value products on every device, and the
Fourier mixing runs its FFT in float32 (cuFFT has no bfloat16). Every layer keeps the
sequence length, so ``linear`` mixing (a ``seq_len x seq_len`` map) needs the fixed
length the model is built for.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> config = {"pooling": "cls", "n_layers": 2,
    ...           "layer_0": {"op": "attention", "heads": 2, "hidden": 32, "ff": 64},
    ...           "layer_1": {"op": "conv", "kernel": 5, "hidden": 16, "ff": 32}}
    >>> model = transformer_model(config, vocab_size=100, max_len=12, n_classes=3)
    >>> model(torch.randint(0, 100, (2, 12))).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.models._ops import check_positive
from archsearch.models._registry import MODELS
from archsearch.spaces.transformer import MAX_LAYERS, MIXING_OPS, POOLINGS, layer_key

__all__ = [
    "Block",
    "Encoder",
    "FourierMixing",
    "SelfAttention",
    "SeparableConv",
    "TextTransformer",
    "TokenLinear",
    "check_layers",
    "check_pooling",
    "init_embeddings",
    "transformer_model",
]

#: the fields of a layer, by its mixing operation
LAYER_FIELDS: dict[str, tuple[str, ...]] = {
    "attention": ("op", "heads", "hidden", "ff"),
    "conv": ("op", "kernel", "hidden", "ff"),
    "fourier": ("op", "hidden", "ff"),
    "linear": ("op", "hidden", "ff"),
}
#: the token id of padding
PAD_ID = 0


class SelfAttention(nn.Module):
    """Multi-head self-attention; keys where ``mask`` is False are ignored."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)  # (B, heads, N, N)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        mixed = scores.softmax(-1).to(v.dtype) @ v
        out: torch.Tensor = self.out(mixed.transpose(1, 2).reshape(b, n, d))
        return out


class SeparableConv(nn.Module):
    """A depthwise 1-D convolution over the tokens (span ``kernel``), then a pointwise map."""

    def __init__(self, hidden: int, kernel: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2, groups=hidden)
        self.pointwise = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out: torch.Tensor = self.pointwise(self.depthwise(x.transpose(1, 2)).transpose(1, 2))
        return out


class FourierMixing(nn.Module):
    """FNet's mixing (Lee-Thorp et al., 2022): the real part of an FFT over tokens and
    features; no weights."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        mixed: torch.Tensor = torch.fft.fft2(x.float(), dim=(-2, -1)).real
        return mixed.to(x.dtype)


class TokenLinear(nn.Module):
    """A learnt linear map over the token axis (MLP-Mixer's token mixing, one layer)."""

    def __init__(self, seq_len: int) -> None:
        super().__init__()
        self.mix = nn.Linear(seq_len, seq_len)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out: torch.Tensor = self.mix(x.transpose(1, 2)).transpose(1, 2)
        return out


def init_embeddings(*tensors: torch.Tensor | None) -> None:
    """Normal(0, 0.02) in place, BERT's initialisation of embeddings (None is skipped)."""
    with torch.no_grad():
        for t in tensors:
            if t is not None:
                nn.init.normal_(t, std=0.02)


def _mixer(layer: Mapping[str, Any], seq_len: int) -> nn.Module:
    op, hidden = layer["op"], layer["hidden"]
    if op == "attention":
        return SelfAttention(hidden, layer["heads"])
    if op == "conv":
        return SeparableConv(hidden, layer["kernel"])
    if op == "fourier":
        return FourierMixing()
    return TokenLinear(seq_len)


class Block(nn.Module):
    """One encoder layer: projection (when widths differ), mixing, feed-forward.

    Args:
        d_in: width of the input.
        layer: a checked layer config (``op``, ``hidden``, ``ff``, ``heads``/``kernel``).
        seq_len: tokens per sequence (for ``linear`` mixing).
    """

    def __init__(self, d_in: int, layer: Mapping[str, Any], seq_len: int) -> None:
        super().__init__()
        hidden = layer["hidden"]
        self.proj: nn.Module = nn.Identity() if d_in == hidden else nn.Linear(d_in, hidden)
        self.norm1 = nn.LayerNorm(hidden)
        self.mix = _mixer(layer, seq_len)
        self.norm2 = nn.LayerNorm(hidden)
        self.ff = nn.Sequential(
            nn.Linear(hidden, layer["ff"]), nn.GELU(), nn.Linear(layer["ff"], hidden)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.proj(x)
        h = self.norm1(x)
        if mask is not None:  # padding contributes nothing to any mixing
            h = h * mask[..., None].to(h.dtype)
        x = x + self.mix(h, mask)
        out: torch.Tensor = x + self.ff(self.norm2(x))
        return out


class Encoder(nn.Module):
    """The layers, a final LayerNorm and the pooling; maps ``(B, N, d_in)`` to ``(B, hidden)``.

    Args:
        d_in: width of the embedded tokens.
        layers: checked layer configs.
        seq_len: tokens per sequence, the class token included.
        pooling: ``cls`` (token 0) or ``mean`` (over the tokens ``mask`` keeps).
    """

    def __init__(
        self, d_in: int, layers: Sequence[Mapping[str, Any]], seq_len: int, pooling: str
    ) -> None:
        super().__init__()
        blocks = []
        for layer in layers:
            blocks.append(Block(d_in, layer, seq_len))
            d_in = layer["hidden"]
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(d_in)
        self.pooling, self.out_dim = pooling, d_in

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        if self.pooling == "cls":
            return x[:, 0]
        if mask is None:
            return x.mean(1)
        weights = mask[..., None].to(x.dtype)
        return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class TextTransformer(nn.Module):
    """Token ids ``(B, max_len)`` -> logits: embedding, positions, :class:`Encoder`, classifier.

    With ``cls`` pooling a learnt class token is put in front of the sequence. Id 0 is
    padding; a sequence of padding only keeps its first position, so that attention
    always has a key.

    Args:
        layers: checked layer configs.
        pooling: ``cls`` or ``mean``.
        vocab_size: number of token ids.
        max_len: tokens per input sequence.
        n_classes: classifier outputs.
    """

    def __init__(
        self,
        layers: Sequence[Mapping[str, Any]],
        pooling: str,
        *,
        vocab_size: int,
        max_len: int,
        n_classes: int,
    ) -> None:
        super().__init__()
        d = layers[0]["hidden"]
        self.vocab_size, self.max_len = vocab_size, max_len
        self.n_prefix = 1 if pooling == "cls" else 0
        seq_len = max_len + self.n_prefix
        self.embed = nn.Embedding(vocab_size, d)
        self.position = nn.Parameter(torch.zeros(1, seq_len, d))
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if self.n_prefix else None
        self.encoder = Encoder(d, layers, seq_len, pooling)
        self.classifier = nn.Linear(self.encoder.out_dim, n_classes)
        init_embeddings(self.embed.weight, self.position, self.cls)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 2 or tokens.shape[1] != self.max_len:
            raise ConfigError(
                f"input: expected token ids of shape (batch, {self.max_len}), "
                f"got {tuple(tokens.shape)}"
            )
        mask = tokens != PAD_ID
        x = self.embed(tokens)
        if self.cls is not None:
            b = tokens.shape[0]
            x = torch.cat([self.cls.expand(b, -1, -1), x], 1)
            mask = torch.cat([mask.new_ones(b, 1), mask], 1)
        mask[:, 0] |= ~mask.any(1)  # nothing but padding: keep one position
        logits: torch.Tensor = self.classifier(self.encoder(x + self.position, mask))
        return logits

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """A batch of full-length sequences (no padding): what cost is measured on."""
        ids = torch.arange(self.max_len) % (self.vocab_size - 1) + 1
        return ids.repeat(batch_size, 1)


def _check_int(path: str, value: Any, *, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{path}: must be an integer >= {low}, got {value!r}")
    return value


def _check_layer(path: str, layer: Any) -> dict[str, Any]:
    op = layer.get("op") if isinstance(layer, Mapping) else None
    if op not in LAYER_FIELDS:
        raise ConfigError(f"{path}.op: unknown {op!r}; allowed: {', '.join(MIXING_OPS)}")
    fields = LAYER_FIELDS[op]
    if set(layer) != set(fields):
        raise ConfigError(
            f"{path}: a {op} layer has the fields {', '.join(fields)}, got {layer!r}"
        )
    checked = {"op": op, **{f: _check_int(f"{path}.{f}", layer[f]) for f in fields[1:]}}
    if op == "attention" and checked["hidden"] % checked["heads"]:
        raise ConfigError(
            f"{path}.heads: must divide hidden ({checked['hidden']}), got {checked['heads']}"
        )
    if op == "conv" and checked["kernel"] % 2 == 0:
        raise ConfigError(f"{path}.kernel: must be odd, got {checked['kernel']}")
    return checked


def check_pooling(config: Mapping[str, Any]) -> str:
    """The config's ``pooling``, checked."""
    pooling = config.get("pooling")
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling: unknown {pooling!r}; allowed: {', '.join(POOLINGS)}")
    return str(pooling)


def check_layers(config: Any, *, extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The layers of a transformer config, checked: ``n_layers`` in [1, :data:`MAX_LAYERS`],
    keys ``layer_0`` .. ``layer_{n-1}`` and no other (besides ``pooling`` and ``extra``).

    Any widths, heads and spans are accepted (not only the default space's), so that a
    space with other options builds too.

    Raises:
        ConfigError: naming the path of the first bad field (``layer_1.heads``).
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config: expected a mapping of layers, got {config!r}")
    n = config.get("n_layers")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_LAYERS:
        raise ConfigError(f"n_layers: must be an integer in [1, {MAX_LAYERS}], got {n!r}")
    keys = [layer_key(i) for i in range(n)]
    allowed = {"pooling", "n_layers", *keys, *extra}
    unknown = sorted(str(k) for k in config if k not in allowed)
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a key of a {n}-layer config")
    for key in keys:
        if key not in config:
            raise ConfigError(f"{key}: missing, n_layers is {n}")
    return [_check_layer(key, config[key]) for key in keys]


@MODELS.register("transformer")
def transformer_model(
    config: Mapping[str, Any],
    *,
    vocab_size: int = 4096,
    max_len: int = 64,
    n_classes: int = 10,
) -> TextTransformer:
    """The text classifier of a :func:`~archsearch.spaces.transformer.transformer_space`
    config.

    Args:
        config: ``{"pooling", "n_layers", "layer_0", ...}``.
        vocab_size: token ids (a dataset's ``model_options`` give it; ``fortunes``: 4096).
        max_len: tokens per sequence (``fortunes``: 64).
        n_classes: classifier outputs.

    Raises:
        ConfigError: for an invalid config or option, naming the field.
    """
    check_positive(max_len=max_len, n_classes=n_classes)
    if not isinstance(vocab_size, int) or vocab_size < 2:
        raise ConfigError(
            f"vocab_size: must be an integer >= 2 (pad and one more), got {vocab_size!r}"
        )
    layers = check_layers(config)
    return TextTransformer(
        layers,
        check_pooling(config),
        vocab_size=vocab_size,
        max_len=max_len,
        n_classes=n_classes,
    )
