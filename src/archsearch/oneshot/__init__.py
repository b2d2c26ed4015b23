"""Weight-sharing (one-shot) search: supernets derived from a cell space, and the methods.

Every method is a :class:`OneShotSearch` registered in :data:`ONESHOT` by name:
``darts``, ``darts2``, ``darts-es``, ``pcdarts``, ``gdas``, ``setn``, ``enas``,
``rsps``, ``spos``, ``proxyless``. ``search(data, epochs=..., seed=..., device=...,
store=...)`` returns a :class:`OneShotResult` with a config of the space.

Example:
    >>> from archsearch.oneshot import ONESHOT
    >>> sorted(ONESHOT)[:3]
    ['darts', 'darts-es', 'darts2']
"""

from archsearch.oneshot._base import (
    ONESHOT,
    EpochStats,
    OneShotResult,
    OneShotSearch,
    SearchContext,
    darts_recipe,
)
from archsearch.oneshot._diagnose import Ranking, precision_at_k, rank_supernet, write_scores
from archsearch.oneshot._gradient import GDAS, DartsES, DartsSearch, PCDarts, cap_skips
from archsearch.oneshot._proxyless import Proxyless
from archsearch.oneshot._sampling import ENAS, RSPS, SETN, SPOS
from archsearch.oneshot._supernet import (
    CELL_SPACES,
    CellSpace,
    DartsCells,
    MixedOp,
    NB201Cells,
    Route,
    Supernet,
)

__all__ = [
    "CELL_SPACES",
    "ENAS",
    "GDAS",
    "ONESHOT",
    "RSPS",
    "SETN",
    "SPOS",
    "CellSpace",
    "DartsCells",
    "DartsES",
    "DartsSearch",
    "EpochStats",
    "MixedOp",
    "NB201Cells",
    "OneShotResult",
    "OneShotSearch",
    "PCDarts",
    "Proxyless",
    "Ranking",
    "Route",
    "SearchContext",
    "Supernet",
    "cap_skips",
    "darts_recipe",
    "precision_at_k",
    "rank_supernet",
    "write_scores",
]
