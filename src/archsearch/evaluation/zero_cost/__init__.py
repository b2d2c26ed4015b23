"""Zero-cost proxies: rank untrained networks from one batch (or none) in milliseconds.

:data:`PROXIES` holds ``synflow``, ``snip``, ``grasp``, ``fisher``, ``grad_norm``,
``jacob_cov``, ``naswot``, ``params`` and ``flops``, each ``f(model, x, y) -> float``;
:class:`ZeroCostEvaluator` builds a config's network and reports the proxies as
metrics. This package imports torch; the registry entry ``zero_cost`` is meant to be
declared lazily.
"""

from archsearch.evaluation.zero_cost._data import BATCH_SOURCES, ProxyBatch, proxy_batch
from archsearch.evaluation.zero_cost._evaluator import ZeroCostEvaluator
from archsearch.evaluation.zero_cost._proxies import (
    DATA_FREE_PROXIES,
    PROXIES,
    fisher,
    flops,
    grad_norm,
    grasp,
    jacob_cov,
    naswot,
    params,
    score_proxies,
    score_proxy,
    snip,
)
from archsearch.evaluation.zero_cost._synflow import synflow

__all__ = [
    "BATCH_SOURCES",
    "DATA_FREE_PROXIES",
    "PROXIES",
    "ProxyBatch",
    "ZeroCostEvaluator",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacob_cov",
    "naswot",
    "params",
    "proxy_batch",
    "score_proxies",
    "score_proxy",
    "snip",
    "synflow",
]
