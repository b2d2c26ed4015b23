"""Benchmark tables made by training: ``archsearch bench build`` and their file format.

The project ships one, built with ``archsearch bench build nb201 --dataset fashion_mnist
--fidelities 1,2,4 --sample 120 --subset 2000`` in a reduced skeleton:

>>> from importlib import resources
>>> from archsearch.bench import BenchTable
>>> table = BenchTable.load(resources.files("archsearch.evaluation") / "tables"
...                         / "nb201_fashion_mnist.npz")
>>> len(table), table.fidelities, table.meta["dataset"]
(120, (1.0, 2.0, 4.0), 'fashion_mnist')
>>> table.column("valid_accuracy", 4).shape
(120,)
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
