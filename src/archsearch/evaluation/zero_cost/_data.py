"""The one fixed batch that data-dependent zero-cost proxies score a network on.

No CIFAR-10 images ship with archsearch, so the stand-in for CIFAR-sized input is
Fashion-MNIST (Debian's ``dataset-fashion-mnist``, read by
:func:`archsearch.data.load_fashion_mnist`): a seeded draw of training images,
normalised, resized to the requested height and width and replicated over the
channels. Where the files are missing, Gaussian noise with labels ``i mod
n_classes`` stands in (``data="auto"`` says which it used).

Example:
    >>> batch = proxy_batch("gaussian", batch_size=4, input_shape=(3, 8, 8), seed=0)
    >>> batch.source, tuple(batch.x.shape), batch.y.tolist()
    ('gaussian', (4, 3, 8, 8), [0, 1, 2, 3])
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from archsearch.errors import ConfigError, DataError

__all__ = ["BATCH_SOURCES", "ProxyBatch", "proxy_batch"]

#: what ``data`` may name
BATCH_SOURCES = ("auto", "fashion_mnist", "gaussian")
# Fashion-MNIST training-set pixel mean and standard deviation (scaled to [0, 1])
_FMNIST_MEAN, _FMNIST_STD = 0.2860, 0.3530


_STAND_INS = {
    "fashion_mnist": "Fashion-MNIST resized and replicated",
    "gaussian": "Gaussian noise",
}


@dataclass(frozen=True, eq=False)
class ProxyBatch:
    """Images ``x`` (float32, ``(N, C, H, W)``), labels ``y`` (int64) and where they came from."""

    x: torch.Tensor
    y: torch.Tensor
    source: str

    def describe(self) -> str:
        """One line naming the batch, for tables and logs."""
        n, c, h, w = self.x.shape
        stand_in = _STAND_INS.get(self.source, self.source)
        return f"{n} images {c}x{h}x{w}: {stand_in} (seeded), not CIFAR-10"


@functools.lru_cache(maxsize=2)
def _fashion_mnist(path: str | None) -> tuple[np.ndarray, np.ndarray]:
    from archsearch.data import load_fashion_mnist

    raw = load_fashion_mnist(path)
    return raw.images, raw.labels


def _fashion_batch(
    n: int, shape: tuple[int, int, int], n_classes: int, seed: int, path: str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = _fashion_mnist(path)
    picked = np.random.default_rng(seed).choice(len(labels), size=n, replace=False)
    x = torch.from_numpy(images[picked].astype(np.float32) / 255.0)
    x = (x - _FMNIST_MEAN) / _FMNIST_STD
    c, h, w = shape
    if x.shape[2:] != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    x = x.expand(-1, c, -1, -1).contiguous()
    y = torch.from_numpy(labels[picked].astype(np.int64)) % n_classes
    return x, y


def proxy_batch(
    data: str = "auto",
    *,
    batch_size: int = 64,
    input_shape: tuple[int, int, int] = (3, 32, 32),
    n_classes: int = 10,
    seed: int = 0,
    path: str | Path | None = None,
) -> ProxyBatch:
    """A fixed, seeded batch for the data-dependent proxies.

    Args:
        data: ``fashion_mnist``, ``gaussian``, or ``auto`` (Fashion-MNIST when its files
            are found, else Gaussian noise with a warning).
        batch_size: images in the batch (64 as in Abdelfattah et al., 2021).
        input_shape: ``(channels, height, width)`` the network expects.
        n_classes: labels are taken modulo this.
        seed: picks the images (or draws the noise).
        path: where the Fashion-MNIST files are (None: the usual places).

    Raises:
        ConfigError: for an unknown ``data``.
        DataError: when ``data="fashion_mnist"`` and its files are missing.
    """
    if data not in BATCH_SOURCES:
        raise ConfigError(
            f"data: unknown batch source {data!r}; allowed: {', '.join(BATCH_SOURCES)}"
        )
    shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    if data != "gaussian":
        folder = None if path is None else str(path)
        try:
            return ProxyBatch(
                *_fashion_batch(batch_size, shape, n_classes, seed, folder), "fashion_mnist"
            )
        except DataError as exc:
            if data == "fashion_mnist":
                raise
            warnings.warn(
                f"zero-cost batch: {exc}; using Gaussian noise (pass data='gaussian' to silence)",
                stacklevel=2,
            )
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *shape), generator=generator)
    y = torch.arange(batch_size) % n_classes
    return ProxyBatch(x, y, "gaussian")
