"""Readers of the standard dataset file formats: IDX (MNIST family), CIFAR pickles.

Both are parsed with NumPy alone (no torchvision), so that the formats are checked
here and a malformed file raises a :class:`DataError` naming it.
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import DataError

__all__ = ["DATA_ENV", "SYSTEM_DATA", "find_file", "read_cifar_batch", "read_idx", "search_places"]

#: environment variable naming a folder that holds the datasets (or one dataset's files)
DATA_ENV = "ARCHSEARCH_DATA"
#: where Debian's dataset packages (``dataset-fashion-mnist``) install their files
SYSTEM_DATA = Path("/usr/share/datasets")

# IDX type codes (third byte of the magic number) -> NumPy big-endian dtypes
_IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed when its name ends in ``.gz``).

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        The array with the shape the header gives, in native byte order.

    Raises:
        DataError: naming the file when the header or the size is wrong.
    """
    path = Path(path)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'})")
    dtype, n_dims = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DataError(f"{path}: IDX header needs {header} bytes, file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", n_dims, 4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: IDX shape {shape} needs {expected} bytes, file has {len(raw)}")
    data: np.ndarray = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def search_places(folder: str, path: str | Path | None) -> list[Path]:
    """The folders a dataset is looked for in, in order.

    An explicit ``path`` is the only place (itself and ``path/folder``); otherwise
    ``$ARCHSEARCH_DATA/folder`` and ``$ARCHSEARCH_DATA``, then Debian's
    ``/usr/share/datasets/folder``.
    """
    if path is not None:
        return [Path(path), Path(path) / folder]
    places = []
    env = os.environ.get(DATA_ENV)
    if env:
        places += [Path(env) / folder, Path(env)]
    places.append(SYSTEM_DATA / folder)
    return places


def find_file(names: Sequence[str], places: Sequence[Path]) -> Path | None:
    """The first existing ``place/name``, trying every name in each place in turn."""
    for place in places:
        for name in names:
            candidate = place / name
            if candidate.is_file():
                return candidate
    return None


def read_cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR python batch: ``b'data'`` rows of 3072 bytes and labels.

    Returns:
        Images as uint8 ``(N, 3, 32, 32)`` and labels as int64 ``(N,)``.

    Raises:
        DataError: naming the file when it is not a CIFAR batch.
    """
    try:
        with open(path, "rb") as f:
            # the official CIFAR format is a pickle; only read files the user points to
            batch = pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise DataError(f"{path}: cannot read CIFAR batch ({exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DataError(f"{path}: expected keys b'data' and {label_key!r}, got {keys}")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(
            f"{path}: expected {len(labels)} rows of 3072 bytes, got data of shape {data.shape}"
        )
    return data.reshape(-1, 3, 32, 32), labels
