"""Search your own model: a user's objective, trial API, pruning, checkpoints, results.

Example:
    >>> import archsearch
    >>> def objective(trial):
    ...     x = trial.real("x", -3.0, 3.0)
    ...     kind = trial.choice("kind", ["square", "abs"])
    ...     return -(x * x) if kind == "square" else -abs(x)
    >>> result = archsearch.search(objective, budget=30, storage="memory://", seed=1)
    >>> result.n_trials, result.best_value > -0.5
    (30, True)
"""

from archsearch.api._evaluator import ObjectiveEvaluator
from archsearch.api._pruners import PercentilePruner
from archsearch.api._search import SearchResult, TrialTable, load, search
from archsearch.api._trace import trace_space
from archsearch.api._trial import Trial, TrialPruned

__all__ = [
    "ObjectiveEvaluator",
    "PercentilePruner",
    "SearchResult",
    "Trial",
    "TrialPruned",
    "TrialTable",
    "load",
    "search",
    "trace_space",
]
