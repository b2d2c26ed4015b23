"""Search strategies: ``ask`` for candidates, ``tell`` them results.

Each strategy registers a short name in :data:`archsearch.registry.STRATEGIES`.
"""

from archsearch.strategies._base import Strategy
from archsearch.strategies._grid import GridSearch
from archsearch.strategies._random import RandomSearch
from archsearch.strategies._rea import RegularizedEvolution

__all__ = ["GridSearch", "RandomSearch", "RegularizedEvolution", "Strategy"]
