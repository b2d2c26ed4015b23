"""Datasets: where files are looked for, the error when they are missing, fixed splits."""

from __future__ import annotations

import gzip
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.data import DATA_ENV, get_dataset
from archsearch.data import _files as files
from archsearch.errors import ConfigError, DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _idx(path: Path, array: np.ndarray) -> None:
    code = 0x08 if array.dtype == np.uint8 else 0x0C
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(array.dtype.newbyteorder(">")).tobytes()))


def fake_fashion(folder: Path, n_train: int = 40, n_test: int = 10) -> Path:
    """Fashion-MNIST's four gz IDX files, 6x6 images whose first pixel is their index."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.zeros((n, 6, 6), dtype=np.uint8)
        images[:, 0, 0] = np.arange(n)
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return folder


def fake_cifar(folder: Path, *, hundred: bool = False, per_batch: int = 8) -> Path:
    """CIFAR python batches in the official format, ``per_batch`` rows each."""
    folder.mkdir(parents=True, exist_ok=True)
    key = b"fine_labels" if hundred else b"labels"
    names = (
        ["train", "test"] if hundred else [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    )
    for i, name in enumerate(names):
        rows = np.full((per_batch, 3072), i, dtype=np.uint8)
        labels = [(i + j) % (100 if hundred else 10) for j in range(per_batch)]
        (folder / name).write_bytes(
            pickle.dumps({b"data": rows, key: labels, b"batch_label": b"x"})
        )
    return folder


def test_fashion_mnist_from_an_explicit_path(tmp_path: Path) -> None:
    data = get_dataset("fashion_mnist", path=fake_fashion(tmp_path), n_valid=8)
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (32, 8, 10)
    assert data.input_shape == (1, 6, 6) and data.num_classes == 10
    assert data.train_x.dtype == torch.uint8 and data.train_y.dtype == torch.int64


def test_fashion_mnist_from_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_fashion(tmp_path / "fashion-mnist")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert len(get_dataset("fashion_mnist", n_valid=8).train_y) == 32


def test_missing_fashion_mnist_names_the_places_and_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    monkeypatch.setattr(files, "SYSTEM_DATA", tmp_path / "system")
    with pytest.raises(DataError, match="train-images-idx3-ubyte") as info:
        get_dataset("fashion_mnist")
    message = str(info.value)
    assert "\n" not in message
    for place in ("env/fashion-mnist", "env,", "system/fashion-mnist"):
        assert place in message
    assert "apt-get install dataset-fashion-mnist" in message and DATA_ENV in message


def test_missing_file_under_an_explicit_path_names_only_that_path(tmp_path: Path) -> None:
    fake_fashion(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\[\.gz\] not found") as info:
        get_dataset("fashion_mnist", path=tmp_path, n_valid=8)
    looked = str(info.value).split(" not found in ")[1].split(";")[0]
    assert looked == f"{tmp_path}, {tmp_path / 'fashion-mnist'}"


def test_splits_are_fixed_by_the_seed_and_disjoint(tmp_path: Path) -> None:
    path = fake_fashion(tmp_path)
    first = get_dataset("fashion_mnist", path=path, n_valid=8, split_seed=3)
    again = get_dataset("fashion_mnist", path=path, n_valid=8, split_seed=3)
    other = get_dataset("fashion_mnist", path=path, n_valid=8, split_seed=4)
    ids = {name: set(getattr(first, name)[:, 0, 0, 0].tolist()) for name in ("train_x", "valid_x")}
    assert ids["train_x"].isdisjoint(ids["valid_x"])
    assert ids["train_x"] | ids["valid_x"] == set(range(40))
    assert torch.equal(first.valid_x, again.valid_x) and torch.equal(first.train_y, again.train_y)
    assert not torch.equal(first.valid_x, other.valid_x)


def test_subset_keeps_the_first_images_of_each_shuffled_split(tmp_path: Path) -> None:
    path = fake_fashion(tmp_path)
    full = get_dataset("fashion_mnist", path=path, n_valid=8)
    small = get_dataset("fashion_mnist", path=path, n_valid=8, subset=5)
    assert (len(small.train_y), len(small.valid_y), len(small.test_y)) == (5, 5, 5)
    assert torch.equal(small.train_x, full.train_x[:5]) and torch.equal(
        small.test_y, full.test_y[:5]
    )


def test_bad_subset_and_unknown_name_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="subset: must be an integer >= 1"):
        get_dataset("fashion_mnist", path=tmp_path, subset=0)
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'; allowed: .*fashion_mnist"):
        get_dataset("mnist")


def test_cifar10_from_generated_batches(tmp_path: Path) -> None:
    fake_cifar(tmp_path / "cifar-10-batches-py")
    data = get_dataset("cifar10", path=tmp_path, n_valid=10)
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (30, 10, 8)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert set(data.test_x[:, 0, 0, 0].tolist()) == {5}  # test_batch is the sixth file


def test_cifar100_reads_fine_labels(tmp_path: Path) -> None:
    data = get_dataset("cifar100", path=fake_cifar(tmp_path, hundred=True), n_valid=2)
    assert data.num_classes == 100 and len(data.train_y) == 6
    assert sorted(data.test_y.tolist()) == list(range(1, 9))


def test_missing_cifar_batch_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"cifar10: batch 'data_batch_1' not found in .*kriz/cifar"
    ):
        get_dataset("cifar10", path=tmp_path)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match=r"digits: needs scikit-learn.*pip install scikit-learn"):
        get_dataset("digits")


def test_digits_splits_its_1797_images() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is an optional dependency")
    data = get_dataset("digits")
    assert len(data.train_y) + len(data.valid_y) + len(data.test_y) == 1797
    assert data.input_shape == (1, 8, 8) and float(data.train_x.max()) <= 1.0


@pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_has_the_official_sizes() -> None:
    data = get_dataset("fashion_mnist", path=FASHION)
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (50_000, 10_000, 10_000)
    assert data.input_shape == (1, 28, 28)
    assert torch.bincount(data.test_y).tolist() == [1000] * 10
