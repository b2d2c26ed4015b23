"""The search-space language: what may vary, and the operations strategies need.

Example:
    >>> from archsearch.space import Choice, Int, Space
    >>> space = Space({"kernel": Choice([3, 5, 7]), "layers": Int(1, 4)})
    >>> space.size
    12
    >>> space.genome({"kernel": 5, "layers": 2})
    [('kernel', 1, 3), ('layers', 1, 4)]
"""

from archsearch.space._nodes import Choice, Domain, Gene, Int, Real, when
from archsearch.space._space import Space, as_rng, config_key
from archsearch.space._symbolic import Symbolic, materialize, symbolic

__all__ = [
    "Choice",
    "Domain",
    "Gene",
    "Int",
    "Real",
    "Space",
    "Symbolic",
    "as_rng",
    "config_key",
    "materialize",
    "symbolic",
    "when",
]
