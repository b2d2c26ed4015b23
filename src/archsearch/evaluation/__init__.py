"""Evaluators: tabular and surrogate benchmarks with a simulated clock, synthetic tests."""

from archsearch.evaluation._base import Benchmark, Evaluator
from archsearch.evaluation._cost import CostEvaluator, count_macs, measure_latency
from archsearch.evaluation._latency import (
    LatencyTable,
    LearnedLatencyPredictor,
    LUTPredictor,
    device_latency,
    profile_lut,
)
from archsearch.evaluation._nb201 import (
    NB201Benchmark,
    load_nb201_table,
    nb201_devices,
    training_time_s,
)
from archsearch.evaluation._proxy_scores import load_nb201_synflow
from archsearch.evaluation._synthetic import SyntheticEvaluator
from archsearch.evaluation._table import TableBenchmark
from archsearch.evaluation._yahpo import SurrogateBenchmark
from archsearch.registry import BENCHMARKS

# real training imports torch: registered by name, imported when first asked for
BENCHMARKS.register_lazy("training", "archsearch.evaluation._training")
# a user's objective (archsearch.search): its evaluator lives with the public API
BENCHMARKS.register_lazy("objective", "archsearch.api._evaluator")
# accelerator co-search (NAHAS): NB201 accuracy + accelerator cost, any builder's cost
BENCHMARKS.register_lazy("nahas", "archsearch.hardware._evaluator")
BENCHMARKS.register_lazy("accelerator_cost", "archsearch.hardware._evaluator")
# quantised accuracy and size in bits of a trained network (torch)
BENCHMARKS.register_lazy("quantisation", "archsearch.quantisation._evaluator")

__all__ = [
    "Benchmark",
    "CostEvaluator",
    "LUTPredictor",
    "LatencyTable",
    "LearnedLatencyPredictor",
    "Evaluator",
    "NB201Benchmark",
    "SurrogateBenchmark",
    "SyntheticEvaluator",
    "TableBenchmark",
    "count_macs",
    "device_latency",
    "load_nb201_synflow",
    "load_nb201_table",
    "measure_latency",
    "nb201_devices",
    "profile_lut",
    "training_time_s",
]
