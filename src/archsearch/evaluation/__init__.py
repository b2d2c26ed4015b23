"""Evaluators: tabular and surrogate benchmarks with a simulated clock, synthetic tests."""

from archsearch.evaluation._base import Benchmark, Evaluator
from archsearch.evaluation._cost import CostEvaluator, count_macs, measure_latency
from archsearch.evaluation._nb201 import NB201Benchmark, load_nb201_table, training_time_s
from archsearch.evaluation._synthetic import SyntheticEvaluator
from archsearch.evaluation._yahpo import SurrogateBenchmark

__all__ = [
    "Benchmark",
    "CostEvaluator",
    "Evaluator",
    "NB201Benchmark",
    "SurrogateBenchmark",
    "SyntheticEvaluator",
    "count_macs",
    "load_nb201_table",
    "measure_latency",
    "training_time_s",
]
