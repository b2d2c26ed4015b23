"""The Evaluator contract: a config (at a fidelity) in, a Result out."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from archsearch.trial import Result

__all__ = ["Benchmark", "Evaluator"]


class Evaluator(abc.ABC):
    """Judges a candidate. Evaluators never know which strategy asked.

    Subclasses implement :meth:`evaluate`; ``default_fidelity`` is used when a
    candidate carries none, and ``fidelities`` lists the ones it can answer
    (empty when any value goes, as for training epochs).
    """

    default_fidelity: float | None = None
    fidelities: tuple[float, ...] = ()

    @abc.abstractmethod
    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        """Evaluate ``config`` at ``fidelity`` (None: ``default_fidelity``).

        Returns:
            A Result with the metrics and the cost in seconds (real or simulated).
            Failures are returned as ``Result.failed(reason)`` or raised; the
            experiment stores either as a failed trial.
        """


class Benchmark(Evaluator):
    """A tabular or surrogate benchmark: every answer is a look-up, the clock simulated.

    Besides :meth:`evaluate`, a benchmark knows the ground truth that searches are
    judged by (for NB201, the 200-epoch accuracy) through :meth:`truth`.
    """

    #: the metric a search on this benchmark is rewarded with by default
    default_metric: str = "valid_accuracy"
    #: True when fidelities are epochs of one training run and ``cost_s`` is cumulative,
    #: so that a promoted config can resume from its last evaluation
    resumable: bool = False

    @abc.abstractmethod
    def truth(self, config: Any) -> Mapping[str, float]:
        """Ground-truth figures of ``config``: at least ``final_accuracy``."""

    def describe(self, config: Any) -> str:
        """A short human-readable form of a config (e.g. an NB201 string)."""
        return str(config)
