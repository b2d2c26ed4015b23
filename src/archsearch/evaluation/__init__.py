"""Evaluators: tabular benchmarks with a simulated clock (later: training, proxies)."""

from archsearch.evaluation._base import Benchmark, Evaluator
from archsearch.evaluation._nb201 import NB201Benchmark, load_nb201_table, training_time_s
from archsearch.evaluation._synthetic import SyntheticEvaluator

__all__ = [
    "Benchmark",
    "Evaluator",
    "NB201Benchmark",
    "SyntheticEvaluator",
    "load_nb201_table",
    "training_time_s",
]
