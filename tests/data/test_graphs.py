"""Superpixel graphs: SLIC, packing into dense padded graphs, the cached loader."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.data import DATA_ENV, get_dataset, pack_graphs, slic_superpixels
from archsearch.data import _files as files
from archsearch.data import _graphs as graphs
from archsearch.errors import ConfigError, DataError


def _idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def bars(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images of one bright bar: horizontal (label 0) or vertical (label 1)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    labels = np.arange(n) % 2
    for i in range(n):
        a, b = rng.integers(2, 18, size=2)
        if labels[i] == 0:
            images[i, a : a + 5, b - 2 : b + 10] = rng.integers(120, 255)
        else:
            images[i, b - 2 : b + 10, a : a + 5] = rng.integers(120, 255)
    return images, labels


def fake_bars(folder: Path, n_train: int = 48, n_test: int = 16) -> Path:
    """Fashion-MNIST's four IDX files holding bar images (see :func:`bars`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = bars(n, seed)
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    return folder


def test_slic_finds_two_separate_blobs_and_keeps_every_pixel() -> None:
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 2:8, 2:8] = 250  # top left
    image[0, 20:26, 18:26] = 180  # bottom right
    sp = slic_superpixels(image)
    assert sp.shape == (1, 49, 4) and sp[0, :, 3].sum() == 28 * 28
    bright = sp[0, sp[0, :, 0] > 0.5]
    assert len(bright) >= 2
    rows, cols = bright[:, 1], bright[:, 2]
    assert ((rows < 8) & (cols < 8)).any() and ((rows > 19) & (cols > 17)).any()
    # a superpixel never mixes the blob and the background: intensities are pure
    assert np.all((sp[0, :, 0] < 0.05) | (sp[0, :, 0] > 0.6) | (sp[0, :, 3] == 0))


def test_packed_graphs_are_symmetric_knn_graphs_with_real_nodes_first() -> None:
    images, _ = bars(12)
    dense = pack_graphs(slic_superpixels(images), k=3)
    assert dense.shape == (12, 49, 53) and dense.dtype == np.uint8
    adj, mask, feats = dense[:, :, :49] > 0, dense[:, :, 49] > 0, dense[:, :, 50:] / 255
    for g in range(12):
        n = int(mask[g].sum())
        assert 1 <= n < 49 and mask[g, :n].all() and not mask[g, n:].any()
        assert (adj[g] == adj[g].T).all() and not adj[g].diagonal().any()
        assert not adj[g, n:].any() and not (dense[g, n:] > 0).any()  # padding rows are zero
        assert (adj[g, :n, :n].sum(1) >= min(3, n - 1)).all()  # k nearest, at least
        assert (feats[g, :n, 0] > graphs.MIN_INTENSITY).all()  # bright superpixels only


def test_an_all_dark_image_keeps_its_brightest_superpixel() -> None:
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 10, 10] = 3  # well under the node threshold
    dense = pack_graphs(slic_superpixels(image))
    assert int((dense[0, :, 49] > 0).sum()) == 1 and not (dense[0, :, :49] > 0).any()


def test_bad_shapes_and_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"images: expected \(N, H, W\)"):
        slic_superpixels(np.zeros((2, 27, 27), np.uint8))
    with pytest.raises(ConfigError, match="iterations"):
        slic_superpixels(np.zeros((1, 28, 28), np.uint8), iterations=0)
    with pytest.raises(ConfigError, match="k: must be an integer >= 1"):
        pack_graphs(np.zeros((1, 49, 4), np.float32), k=0)


def test_loader_splits_caches_and_reads_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(graphs.CACHE_ENV, str(tmp_path / "cache"))
    path = fake_bars(tmp_path / "fashion")
    data = get_dataset("fashion_mnist_superpixels", path=path, n_valid=8)
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (40, 8, 16)
    assert data.input_shape == (49, 53) and data.train_x.dtype == torch.uint8
    assert not data.is_images
    assert data.builder_options() == {"n_nodes": 49, "n_features": 3, "n_classes": 10}
    assert len(list((tmp_path / "cache").glob("fashion_mnist_superpixels-*.npy"))) == 1

    def no_slic(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(graphs, "slic_superpixels", no_slic)
    again = get_dataset("fashion_mnist_superpixels", path=path, n_valid=8)
    assert torch.equal(again.train_x, data.train_x) and torch.equal(again.test_y, data.test_y)


def test_an_unwritable_cache_warns_how_to_silence_it_and_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv(graphs.CACHE_ENV, str(tmp_path / "file" / "cache"))
    with pytest.warns(UserWarning, match=f"Set {graphs.CACHE_ENV} to a writable folder"):
        data = get_dataset("fashion_mnist_superpixels", path=fake_bars(tmp_path / "f"), n_valid=8)
    assert len(data.train_y) == 40


def test_a_corrupt_cache_file_is_a_data_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(graphs.CACHE_ENV, str(tmp_path / "cache"))
    path = fake_bars(tmp_path / "fashion")
    get_dataset("fashion_mnist_superpixels", path=path, n_valid=8)
    (cached,) = (tmp_path / "cache").glob("*.npy")
    cached.write_bytes(b"garbage")
    with pytest.raises(DataError, match=f"{cached.name}: unreadable graph cache"):
        get_dataset("fashion_mnist_superpixels", path=path, n_valid=8)


def test_missing_fashion_mnist_names_the_file_and_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    monkeypatch.setattr(files, "SYSTEM_DATA", tmp_path / "system")
    with pytest.raises(DataError, match="train-images-idx3-ubyte") as info:
        get_dataset("fashion_mnist_superpixels")
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
