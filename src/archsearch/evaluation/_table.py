"""A benchmark table built with ``archsearch bench build``, replayed with a simulated clock.

Every strategy and ``archsearch compare`` can search it like the shipped NB201 table:
the search space is the table's own architectures (the ``table`` space), the reward
the validation accuracy at a fidelity the table measured, the cost the training time
that was measured to that fidelity, and the ground truth the test accuracy at the
highest fidelity.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from archsearch.bench._table import BenchTable
from archsearch.errors import ConfigError
from archsearch.evaluation._base import Benchmark
from archsearch.registry import BENCHMARKS, SPACES
from archsearch.space import Choice, Space
from archsearch.trial import Result

__all__ = ["TableBenchmark", "load_table", "table_space"]


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> BenchTable:
    return BenchTable.load(path)


def load_table(path: str) -> BenchTable:
    """A table file, loaded once per process (reloaded when the file changes)."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = -1
    return _load(str(path), mtime)


@SPACES.register("table")
def table_space(path: str) -> Space:
    """The architectures of a built table: one choice among its rows' configs.

    Raises:
        DataError: naming the file when it is not a readable table.
    """
    table = load_table(path)
    if len(table) < 2:
        raise ConfigError(f"space: the table {path} has {len(table)} architecture(s); need 2+")
    return Space(Choice(list(table.configs)))


@BENCHMARKS.register("table")
class TableBenchmark(Benchmark):
    """Replays a table from ``archsearch bench build`` (see :mod:`archsearch.bench`).

    Metrics at a fidelity (epochs): ``valid_accuracy``, ``test_accuracy`` (percent) and
    ``params``; the cost is the measured wall time to train to that fidelity. Fidelities
    are epochs of one run (a promoted config resumes: costs are cumulative).

    Args:
        path: the table file.
        fidelity: the default epochs (None: the highest the table has).
    """

    resumable = True

    def __init__(self, *, path: str, fidelity: float | None = None) -> None:
        if not isinstance(path, str) or not path:
            raise ConfigError("benchmark.path: give the table file of `archsearch bench build`")
        self.path = path
        self.table = load_table(path)
        self.fidelities = self.table.fidelities
        self.default_fidelity = self.fidelities[self.table.fidelity_position(fidelity)]
        self._valid = self.table.columns["valid_accuracy"]
        self._test = self.table.columns["test_accuracy"]
        self._time = self.table.columns["train_time_s"]
        self._final = self._test[:, -1]
        self.n_archs = len(self.table)
        self.truth_label = f"test split after {self.fidelities[-1]:g} epochs"

        order = np.argsort(-np.nan_to_num(self._final, nan=-np.inf), kind="stable")
        self._rank = np.empty(len(order), dtype=np.int64)
        self._rank[order] = np.arange(1, len(order) + 1)

    @staticmethod
    def space_spec(options: Mapping[str, Any]) -> dict[str, Any]:
        """The space searched on this benchmark: the table's own architectures."""
        return {"name": "table", "path": options.get("path")}

    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        i = self.table.row(config)
        j = self.table.fidelity_position(self.default_fidelity if fidelity is None else fidelity)
        valid, test, cost = self._valid[i, j], self._test[i, j], self._time[i, j]
        if not (np.isfinite(valid) and np.isfinite(test)):
            return Result.failed(
                "the table records no result for this architecture (its training failed)",
                cost_s=float(cost) if np.isfinite(cost) else 0.0,
            )
        metrics = {
            "valid_accuracy": float(valid),
            "test_accuracy": float(test),
            "params": float(self.table.params[i]),
        }
        return Result(metrics, float(cost))

    def estimate(self, config: Any) -> dict[str, float]:
        """Known without training: the parameter count."""
        return {"params": float(self.table.params[self.table.row(config)])}

    def truth(self, config: Any) -> dict[str, float]:
        """Test accuracy at the highest fidelity (``final_accuracy``) and its rank."""
        i = self.table.row(config)
        return {"final_accuracy": float(self._final[i]), "rank": float(self._rank[i])}

    def describe(self, config: Any) -> str:
        key = self.table.keys[self.table.row(config)]
        return key
