"""IDX and CIFAR-pickle readers, on small generated files."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from archsearch.data import read_cifar_batch, read_idx
from archsearch.errors import DataError

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` in the IDX format (gzip-compressed when ``path`` ends in .gz)."""
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_gives_the_written_uint8_images(tmp_path: Path, name: str) -> None:
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    out = read_idx(write_idx(tmp_path / name, images))
    assert out.dtype == np.uint8 and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("dtype", [np.int32, np.float32])
def test_read_idx_converts_big_endian_to_native(tmp_path: Path, dtype: type) -> None:
    values = np.array([1, -2, 300000], dtype=dtype)
    out = read_idx(write_idx(tmp_path / "labels", values))
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, values)


def test_read_idx_rejects_bad_magic(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def test_read_idx_rejects_truncated_data(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "short", np.zeros((2, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"shape \(2, 3\) needs 18 bytes, file has 17"):
        read_idx(path)


def test_read_cifar_batch_reads_rows_as_chw(tmp_path: Path) -> None:
    rows = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": rows, b"labels": [3, 7]}))
    images, labels = read_cifar_batch(path, b"labels")
    assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[1, 2].ravel(), rows[1, 2048:])
    assert labels.tolist() == [3, 7] and labels.dtype == np.int64


def test_read_cifar_batch_names_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "train"
    path.write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"coarse_labels": [0]}))
    with pytest.raises(DataError, match=r"train: expected keys b'data' and b'fine_labels'"):
        read_cifar_batch(path, b"fine_labels")
