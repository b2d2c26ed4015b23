"""Fixtures shared across the test packages."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def _idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


@pytest.fixture(scope="session")
def fake_fashion(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make(size, n_train, n_test, seed)``: a small Fashion-MNIST stand-in in IDX files.

    Images are ``size`` x ``size`` with learnable labels (brightness grows with the
    class), written in the real files' format and names, so the real loader reads them.
    """

    def make(size: int = 8, n_train: int = 96, n_test: int = 32, seed: int = 0) -> Path:
        folder = tmp_path_factory.mktemp("fashion-mnist")
        rng = np.random.default_rng(seed)
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            labels = rng.integers(0, 10, n).astype(np.uint8)
            noise = rng.integers(0, 100, (n, size, size)).astype(np.uint8)
            _idx(folder / f"{prefix}-images-idx3-ubyte.gz", noise + 15 * labels[:, None, None])
            _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        return folder

    return make
