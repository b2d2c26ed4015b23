"""Classification datasets as tensors, with fixed seeded train/validation/test splits.

Inputs are images ``(N, C, H, W)`` for most datasets; other kinds (token ids
``(N, L)``, dense graphs) are tensors with a leading sample axis too, and say in
``model_options`` which skeleton options a builder needs for them (vocabulary size,
sequence length, node features), so that a builder is matched to the data as
``in_channels`` matches it to images.

Every dataset is registered in :data:`DATASETS` under a short name with a loader
``f(path) -> RawData``; :func:`get_dataset` turns the raw arrays into a
:class:`Dataset` whose validation split is carved from the training images with a
seeded permutation, so that the same ``split_seed`` always gives the same splits.

Example:
    >>> "fashion_mnist" in DATASETS
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archsearch.data._files import DATA_ENV, find_file, read_cifar_batch, read_idx, search_places
from archsearch.errors import ConfigError, DataError
from archsearch.registry import Registry

__all__ = ["DATASETS", "Dataset", "RawData", "get_dataset"]

#: loaders ``f(path: str | Path | None) -> RawData``, by dataset name
DATASETS = Registry("dataset")


@dataclass(frozen=True, eq=False)
class RawData:
    """What a loader reads: the official train and test parts, before splitting.

    Attributes:
        images: training images ``(N, C, H, W)``, uint8 (0..255) or float32 (0..1).
        labels: int64 ``(N,)``.
        test_images: the official test images, or None to carve ``n_test`` from the rest.
        test_labels: their labels, or None.
        num_classes: number of classes.
        n_valid: default size of the validation split carved from ``images``.
        n_test: size of the test split when there is no official one.
        model_options: builder options the data imply besides ``n_classes``; None
            for images (``in_channels`` is then the images' channels).
        fit_encoder: for raw inputs that need an encoding learnt from data (texts ->
            token ids): called after the split with the training inputs only, it returns
            the function that encodes each split; None: the inputs are used as they are.
    """

    images: np.ndarray
    labels: np.ndarray
    test_images: np.ndarray | None
    test_labels: np.ndarray | None
    num_classes: int
    n_valid: int
    n_test: int = 0
    model_options: Mapping[str, Any] | None = None
    fit_encoder: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]] | None = None


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/validation/test tensors of a classification task.

    Images are ``(N, C, H, W)`` uint8 (0..255) or float32 (0..1); other inputs are
    any tensor with the samples first (token ids ``(N, L)`` int64, ...), with their
    builder options in ``model_options``. Labels are int64.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    model_options: Mapping[str, Any] | None = None

    @property
    def is_images(self) -> bool:
        """Whether the inputs are images ``(N, C, H, W)`` (normalised, augmentable)."""
        return self.train_x.ndim == 4 and self.model_options is None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input: ``(channels, height, width)`` for images."""
        return tuple(int(v) for v in self.train_x.shape[1:])

    def builder_options(self) -> dict[str, Any]:
        """The skeleton options a builder needs for this data, ``n_classes`` included.

        Images: ``in_channels`` and ``n_classes``; other data: their ``model_options``
        and ``n_classes``.
        """
        if self.model_options is None:
            return {"in_channels": self.input_shape[0], "n_classes": self.num_classes}
        return {**self.model_options, "n_classes": self.num_classes}

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.train_y)}, valid={len(self.valid_y)}, "
            f"test={len(self.test_y)}, classes={self.num_classes}, shape={self.input_shape})"
        )


def get_dataset(
    name: str,
    *,
    path: str | Path | None = None,
    split_seed: int = 0,
    subset: int | None = None,
    n_valid: int | None = None,
) -> Dataset:
    """Load dataset ``name`` and split it.

    Args:
        name: a registered name (``fashion_mnist``, ``cifar10``, ``cifar100``, ``digits``,
            ``fortunes``, ...).
        path: where the files are (see each loader); None searches the usual places.
        split_seed: seeds the permutation that carves the validation (and, without an
            official test set, the test) split; the same seed gives the same splits.
        subset: keep only the first ``subset`` images of each split (after the seeded
            shuffle), for quick tests and examples.
        n_valid: size of the validation split (default: the dataset's own).

    Returns:
        The :class:`Dataset`.

    Raises:
        ConfigError: for an unknown name or bad sizes.
        DataError: when files are missing or malformed.
    """
    loader = DATASETS.get_factory(name, field="dataset")
    if subset is not None and (not isinstance(subset, int) or subset < 1):
        raise ConfigError(f"subset: must be an integer >= 1 or None, got {subset!r}")
    raw: RawData = loader(path)
    return _split(name, raw, split_seed, subset, raw.n_valid if n_valid is None else n_valid)


def _split(name: str, raw: RawData, seed: int, subset: int | None, n_valid: int) -> Dataset:
    rng = np.random.default_rng(seed)
    images, labels = raw.images, raw.labels
    if raw.test_images is None or raw.test_labels is None:
        order = rng.permutation(len(labels))
        test_idx, rest = order[: raw.n_test], order[raw.n_test :]
        test_x, test_y, images, labels = (
            images[test_idx],
            labels[test_idx],
            images[rest],
            labels[rest],
        )
    else:
        order = rng.permutation(len(raw.test_labels))
        test_x, test_y = raw.test_images[order], raw.test_labels[order]
    if not isinstance(n_valid, int) or not 0 < n_valid < len(labels):
        raise ConfigError(
            f"n_valid: must be an integer in [1, {len(labels) - 1}], got {n_valid!r}"
        )
    order = rng.permutation(len(labels))
    valid_idx, train_idx = order[:n_valid], order[n_valid:]
    train_idx, valid_idx = train_idx[:subset], valid_idx[:subset]
    parts = [
        images[train_idx],
        labels[train_idx],
        images[valid_idx],
        labels[valid_idx],
        test_x[:subset],
        test_y[:subset],
    ]
    if raw.fit_encoder is not None:  # e.g. a vocabulary: learnt from the training split only
        encode = raw.fit_encoder(parts[0])
        parts[0], parts[2], parts[4] = encode(parts[0]), encode(parts[2]), encode(parts[4])
    tx, ty, vx, vy, sx, sy = (torch.from_numpy(np.ascontiguousarray(p)) for p in parts)
    options = None if raw.model_options is None else dict(raw.model_options)
    return Dataset(
        name, tx, ty, vx, vy, sx, sy, num_classes=raw.num_classes, model_options=options
    )


# -- loaders --------------------------------------------------------------------------
_FASHION_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(path: str | Path | None = None) -> RawData:
    """Fashion-MNIST from its four IDX files (gzip-compressed or not).

    Looked for in ``path`` (or ``path/fashion-mnist``), else ``$ARCHSEARCH_DATA``
    (with or without ``fashion-mnist/``), else ``/usr/share/datasets/fashion-mnist``
    where Debian's ``dataset-fashion-mnist`` package installs it. 10,000 of the 60,000
    training images form the validation split.

    Raises:
        DataError: one line naming the file, the places looked in and how to install.
    """
    places = search_places("fashion-mnist", path)
    arrays = {}
    for part, stem in _FASHION_FILES.items():
        found = find_file([stem + ".gz", stem], places)
        if found is None:
            looked = ", ".join(str(p) for p in places)
            raise DataError(
                f"fashion_mnist: {stem}[.gz] not found in {looked}; install it with "
                f"`apt-get install dataset-fashion-mnist` or set {DATA_ENV} to a folder "
                "holding fashion-mnist/"
            )
        arrays[part] = read_idx(found)
    train_x, test_x = arrays["train_x"][:, None], arrays["test_x"][:, None]
    return RawData(
        train_x.astype(np.uint8),
        arrays["train_y"].astype(np.int64),
        test_x.astype(np.uint8),
        arrays["test_y"].astype(np.int64),
        num_classes=10,
        n_valid=10_000,
    )


def _load_cifar(
    name: str, path: str | Path | None, train: list[str], test: str, label_key: bytes
) -> tuple[np.ndarray, ...]:
    folder = _CIFAR_FOLDERS[name]
    places = search_places(folder, path)
    parts = []
    for part in [*train, test]:
        found = find_file([part], places)
        if found is None:
            looked = ", ".join(str(p) for p in places)
            raise DataError(
                f"{name}: batch {part!r} not found in {looked}; download the python "
                "version from https://www.cs.toronto.edu/~kriz/cifar.html, extract it and "
                f"pass its folder as path or set {DATA_ENV} to the folder holding {folder}/"
            )
        parts.append(read_cifar_batch(found, label_key))
    train_x = np.concatenate([p[0] for p in parts[:-1]])
    train_y = np.concatenate([p[1] for p in parts[:-1]])
    return train_x, train_y, parts[-1][0], parts[-1][1]


_CIFAR_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


@DATASETS.register("cifar10")
def load_cifar10(path: str | Path | None = None) -> RawData:
    """CIFAR-10 from the python batches ``data_batch_1..5`` and ``test_batch``.

    Looked for in ``path`` or ``path/cifar-10-batches-py`` (else under
    ``$ARCHSEARCH_DATA``). 25,000 training images form the validation split, as in
    NAS-Bench-201's ``cifar10-valid``.
    """
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    x, y, tx, ty = _load_cifar("cifar10", path, batches, "test_batch", b"labels")
    return RawData(x, y, tx, ty, num_classes=10, n_valid=25_000)


@DATASETS.register("cifar100")
def load_cifar100(path: str | Path | None = None) -> RawData:
    """CIFAR-100 (fine labels) from the python files ``train`` and ``test``.

    Looked for in ``path`` or ``path/cifar-100-python`` (else under
    ``$ARCHSEARCH_DATA``). 10,000 training images form the validation split.
    """
    x, y, tx, ty = _load_cifar("cifar100", path, ["train"], "test", b"fine_labels")
    return RawData(x, y, tx, ty, num_classes=100, n_valid=10_000)


@DATASETS.register("digits")
def load_digits(path: str | Path | None = None) -> RawData:
    """scikit-learn's 8x8 digits (1,797 images, 10 classes), as float32 in [0, 1].

    Needs the optional dependency scikit-learn, which ships the data; ``path`` is
    ignored. 360 images form the test split and 360 the validation split.

    Raises:
        DataError: when scikit-learn is not installed, saying how to install it.
    """
    try:
        sklearn_datasets = importlib.import_module("sklearn.datasets")  # optional dependency
    except ImportError:
        raise DataError(
            "digits: needs scikit-learn, which is not installed; install it with "
            "`pip install scikit-learn` (or `pip install archsearch[digits]`)"
        ) from None
    bunch = sklearn_datasets.load_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / 16.0)[:, None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    return RawData(images, labels, None, None, num_classes=10, n_valid=360, n_test=360)
