"""Weight-sharing (one-shot) search: supernets derived from a cell space, and the methods.

Every method is a :class:`OneShotSearch` registered in :data:`ONESHOT` by name:
``darts``, ``darts2``, ``darts-es``, ``pcdarts``, ``gdas``, ``setn``, ``enas``,
``rsps``, ``spos``, ``proxyless``. ``search(data, epochs=..., seed=..., device=...,
store=...)`` returns a :class:`OneShotResult` with a config of the space.

Elastic supernets over the MobileNet stage space (:class:`ElasticMobileNet`) train once
and give sub-networks of any depth, expansion and kernel without retraining:
:class:`ElasticTrainer` (OFA's progressive shrinking, BigNAS' sandwich rule),
:func:`elastic_search` (train, fit the predictors, specialise per latency target),
:class:`SinglePathNAS` and :class:`TuNAS` (a latency-targeted search over the same
supernet).

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
from archsearch.oneshot._elastic import (
    ElasticMBConv,
    ElasticMobileNet,
    elastic_space,
    recalibrate_bn,
)
from archsearch.oneshot._elastic_loop import ElasticMethodResult
from archsearch.oneshot._elastic_search import ElasticSearchResult, elastic_search
from archsearch.oneshot._elastic_train import ElasticTrainer, evaluate_subnet
from archsearch.oneshot._gradient import GDAS, DartsES, DartsSearch, PCDarts, cap_skips
from archsearch.oneshot._proxyless import Proxyless
from archsearch.oneshot._sampling import ENAS, RSPS, SETN, SPOS
from archsearch.oneshot._specialise import AccuracyPredictor, ElasticLatencyTable, evolve
from archsearch.oneshot._spnas import SinglePathNAS
from archsearch.oneshot._supernet import (
    CELL_SPACES,
    CellSpace,
    DartsCells,
    MixedOp,
    NB201Cells,
    Route,
    Supernet,
)
from archsearch.oneshot._tunas import TuNAS

__all__ = [
    "CELL_SPACES",
    "AccuracyPredictor",
    "ElasticLatencyTable",
    "ElasticMBConv",
    "ElasticMethodResult",
    "ElasticMobileNet",
    "ElasticSearchResult",
    "ElasticTrainer",
    "SinglePathNAS",
    "TuNAS",
    "elastic_search",
    "elastic_space",
    "evaluate_subnet",
    "evolve",
    "recalibrate_bn",
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
