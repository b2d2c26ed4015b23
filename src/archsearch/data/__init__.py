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
from archsearch.data._graphs import (
    load_fashion_mnist_superpixels,
    pack_graphs,
    slic_superpixels,
    superpixel_graphs,
)
from archsearch.data._text import WordTokenizer, load_fortunes, read_fortunes

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "Dataset",
    "RawData",
    "WordTokenizer",
    "get_dataset",
    "load_cifar10",
    "load_cifar100",
    "load_digits",
    "load_fashion_mnist",
    "load_fashion_mnist_superpixels",
    "load_fortunes",
    "pack_graphs",
    "read_cifar_batch",
    "read_fortunes",
    "read_idx",
    "slic_superpixels",
    "superpixel_graphs",
]
