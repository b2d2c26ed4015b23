"""Datasets for real training: tensors with fixed, seeded train/validation/test splits."""

from archsearch.data._datasets import (
    DATASETS,
    Dataset,
    RawData,
    get_dataset,
    load_cifar10,
    load_cifar100,
    load_digits,
    load_fashion_mnist,
)
from archsearch.data._files import DATA_ENV, read_cifar_batch, read_idx

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "Dataset",
    "RawData",
    "get_dataset",
    "load_cifar10",
    "load_cifar100",
    "load_digits",
    "load_fashion_mnist",
    "read_cifar_batch",
    "read_idx",
]
