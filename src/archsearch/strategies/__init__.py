"""Search strategies: ``ask`` for candidates, ``tell`` them results.

Each strategy registers a short name in :data:`archsearch.registry.STRATEGIES`. The
LSTM controller (``lstm``), predictor-based search (``predictor``) and the strategies on
extrapolated learning curves (``curve_stop``, ``freeze_thaw``) need torch and are
imported only when asked for, so that tabular searches start without it.
"""

from archsearch.registry import STRATEGIES
from archsearch.strategies._base import Strategy
from archsearch.strategies._bohb import BOHB
from archsearch.strategies._grid import GridSearch
from archsearch.strategies._hyperband import ASHA, Hyperband, SuccessiveHalving
from archsearch.strategies._local import LocalSearch
from archsearch.strategies._mcts import MonteCarloTreeSearch
from archsearch.strategies._morph import MorphEvolution
from archsearch.strategies._nsga2 import NSGA2
from archsearch.strategies._random import RandomSearch
from archsearch.strategies._rea import RegularizedEvolution
from archsearch.strategies._reinforce import Reinforce
from archsearch.strategies._sequence import SequenceStrategy
from archsearch.strategies._tpe import TPE

STRATEGIES.register_lazy("lstm", "archsearch.strategies._controller")
STRATEGIES.register_lazy("predictor", "archsearch.strategies._predictor")
STRATEGIES.register_lazy("curve_stop", "archsearch.strategies._freeze_thaw")
STRATEGIES.register_lazy("freeze_thaw", "archsearch.strategies._freeze_thaw")

__all__ = [
    "ASHA",
    "BOHB",
    "TPE",
    "GridSearch",
    "Hyperband",
    "LocalSearch",
    "MonteCarloTreeSearch",
    "MorphEvolution",
    "NSGA2",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "SequenceStrategy",
    "Strategy",
    "SuccessiveHalving",
]
