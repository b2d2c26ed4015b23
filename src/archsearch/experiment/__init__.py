"""Experiments: the search loop, executors, budgets, and configs."""

from archsearch.experiment._budget import Budget, RetryPolicy
from archsearch.experiment._compare import (
    DEFAULT_BUDGETS,
    PUBLISHED,
    compare,
    protocol_options,
    published,
)
from archsearch.experiment._executors import Executor, InlineExecutor, SimulatedExecutor
from archsearch.experiment._loop import Experiment, Summary
from archsearch.experiment._processes import ProcessExecutor
from archsearch.experiment._progress import Progress
from archsearch.experiment._spec import DEFAULT_SPEC, build_experiment, load_spec, normalize_spec

__all__ = [
    "DEFAULT_BUDGETS",
    "DEFAULT_SPEC",
    "PUBLISHED",
    "Budget",
    "Executor",
    "Experiment",
    "InlineExecutor",
    "ProcessExecutor",
    "Progress",
    "RetryPolicy",
    "SimulatedExecutor",
    "Summary",
    "build_experiment",
    "compare",
    "load_spec",
    "normalize_spec",
    "protocol_options",
    "published",
]
