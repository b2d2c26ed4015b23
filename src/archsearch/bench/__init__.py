"""Benchmark tables made by training: ``archsearch bench build`` and their file format.

>>> from archsearch.bench import BenchTable  # doctest: +SKIP
>>> table = BenchTable.load("nb201_fashion_mnist.npz")  # doctest: +SKIP
>>> table.column("valid_accuracy", 4)  # doctest: +SKIP
"""

from archsearch.bench._build import build_spec, build_table, sample_configs, table_from_store
from archsearch.bench._table import METRICS, BenchTable, table_key

__all__ = [
    "METRICS",
    "BenchTable",
    "build_spec",
    "build_table",
    "sample_configs",
    "table_from_store",
    "table_key",
]
