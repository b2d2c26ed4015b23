"""Every one-shot method end to end on real Fashion-MNIST (tiny supernet, one epoch)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from archsearch.data import Dataset
from archsearch.errors import ConfigError
from archsearch.oneshot import (
    GDAS,
    ONESHOT,
    DartsES,
    NB201Cells,
    OneShotSearch,
    PCDarts,
    Proxyless,
    cap_skips,
)
from archsearch.oneshot._base import SearchContext
from archsearch.spaces.darts import darts_space
from archsearch.spaces.nb201 import OPS, nb201_space
from archsearch.store import MemoryStore

from .conftest import DARTS_TINY, NB201_TINY, tiny

METHODS = ["darts", "darts2", "darts-es", "pcdarts", "gdas", "setn", "enas", "rsps", "spos"]
FEW = {"n_candidates": 4, "n_probe": 2}
OPTIONS: dict[str, dict[str, Any]] = {
    "rsps": FEW,
    "spos": {**FEW, "population_size": 2, "sample_size": 1},
    "setn": FEW,
    "enas": {**FEW, "controller_steps": 2},
    "pcdarts": {"k": 2},
}


def _method(name: str, space: str = "nb201", epochs: int = 1, **extra: Any) -> OneShotSearch:
    model = NB201_TINY if space == "nb201" else DARTS_TINY
    options = {**tiny(epochs), **OPTIONS.get(name, {}), **extra}
    method: OneShotSearch = ONESHOT[name](space, model=model, **options)
    return method


@pytest.mark.parametrize("name", [*METHODS, "proxyless"])
def test_method_returns_a_config_of_nb201_and_stores_its_epochs(
    name: str, fmnist: Dataset
) -> None:
    store = MemoryStore()
    result = _method(name).search(fmnist, seed=0, device="cpu", store=store, name=name)
    assert result.config in nb201_space()
    assert result.history[0]["epoch"] == 1
    record = store.find_experiment(name)
    assert record is not None and record.status == "complete"
    assert record.summary["best"]["arch"] == result.arch
    trials = store.trials(record.id)
    assert [t.number for t in trials] == [0]
    assert {"train_loss", "valid_accuracy", "skip_count"} <= set(trials[0].metrics)
    assert result.estimator is not None and 0 <= result.estimator(result.config) <= 100


@pytest.mark.parametrize("name", ["darts", "pcdarts", "gdas", "spos"])
def test_method_returns_a_config_of_the_darts_space(name: str, fmnist: Dataset) -> None:
    result = _method(name, "darts").search(fmnist, seed=0, device="cpu")
    assert result.config in darts_space()


@pytest.mark.parametrize("name", ["darts", "darts2", "pcdarts", "gdas", "setn", "proxyless"])
def test_architecture_weights_move(name: str, fmnist: Dataset) -> None:
    method: Any = _method(name)
    ctx = method.prepare(fmnist, device="cpu")
    before = [a.detach().clone() for a in method.arch_parameters()]
    method.train_epoch(ctx, 0, 1)
    for old, new in zip(before, method.arch_parameters(), strict=True):
        assert not torch.equal(old, new.detach())


def test_the_same_seed_gives_the_same_search(fmnist: Dataset) -> None:
    first = _method("gdas").search(fmnist, seed=3, device="cpu")
    second = _method("gdas").search(fmnist, seed=3, device="cpu")
    assert first.config == second.config
    assert first.history[0]["train_loss"] == second.history[0]["train_loss"]


def _context(method: OneShotSearch, data: Dataset) -> SearchContext:
    return method.prepare(data, device="cpu")


def test_gdas_forward_runs_exactly_one_op_per_edge(fmnist: Dataset) -> None:
    method = GDAS("nb201", model=NB201_TINY, **tiny())
    ctx = _context(method, fmnist)
    x, y = next(ctx.train_batches())
    loss, _ = ctx.loss(x, y, method.route())
    assert all(sum(m.n_runs) == 1 for m in ctx.net.mixed_ops())
    torch.autograd.backward(loss)
    assert method.alpha.grad is not None
    assert bool((method.alpha.grad != 0).all())  # every op's weight gets a gradient


def test_pcdarts_mixes_one_kth_of_the_channels(fmnist: Dataset) -> None:
    method = PCDarts("nb201", k=4, model={"channels": 8, "n_cells": 1}, **tiny())
    ctx = _context(method, fmnist)
    conv = ctx.net.mixed_ops()[0].ops[OPS.index("nor_conv_1x1")]
    assert conv[1].in_channels == 2  # ReLU, Conv2d(8 / 4 channels), BN
    edge_weights = method.edge_weights()
    for edges in method.cells.node_edges:  # edge normalisation: a softmax per node
        assert float(edge_weights[edges].sum().detach()) == pytest.approx(1.0)


def test_proxyless_holds_at_most_two_paths_one_with_activations(fmnist: Dataset) -> None:
    method = Proxyless("nb201", model=NB201_TINY, latency_weight=0.5, **tiny())
    ctx = _context(method, fmnist)
    graded: list[bool] = []
    for mixed in ctx.net.mixed_ops():
        for op in mixed.ops:
            op.register_forward_pre_hook(lambda m, a: graded.append(torch.is_grad_enabled()))
    x, y = next(ctx.train_batches())
    ctx.loss(x, y, method.one_path())
    n_edges = len(ctx.net.mixed_ops())
    assert all(sum(m.n_runs) == 1 for m in ctx.net.mixed_ops())
    weight_calls, graded = len(graded), []
    ctx.loss(x, y, method.two_paths())
    assert all(sum(m.n_runs) == 3 for m in ctx.net.mixed_ops())  # 1, then 2 per edge
    assert sum(graded) == n_edges and len(graded) == 2 * n_edges <= 2 * weight_calls


def test_proxyless_latency_term_prefers_cheap_ops(fmnist: Dataset) -> None:
    method = Proxyless("nb201", model=NB201_TINY, latency_weight=1.0, **tiny())
    _context(method, fmnist)
    conv = torch.zeros(6, len(OPS))
    conv[:, OPS.index("nor_conv_3x3")] = 1.0
    skip = torch.zeros(6, len(OPS))
    skip[:, OPS.index("skip_connect")] = 1.0
    assert float(method.expected_latency_ms(conv)) > float(method.expected_latency_ms(skip))


def test_darts_es_stops_at_the_skip_count_and_returns_the_cell_before(fmnist: Dataset) -> None:
    method = DartsES("nb201", max_skips=2, model=NB201_TINY, **tiny())
    history = [
        {"skip_count": 1, "config": "before"},
        {"skip_count": 3, "config": "collapsed"},
    ]
    assert not method.should_stop(history[:1])
    assert method.should_stop(history)
    assert method.select(_context(method, fmnist), history) == "before"


def test_darts_es_stops_a_search_early_with_max_skips_zero(fmnist: Dataset) -> None:
    method = _method("darts-es", epochs=3, max_skips=0)
    result = method.search(fmnist, seed=1, device="cpu")
    skips = [row["skip_count"] for row in result.history]
    assert NB201Cells().skip_count(result.config) == 0
    if skips[0] > 0:  # the remedy fired: stopped after the first collapsed epoch
        assert result.stopped_early and len(result.history) == 1


def test_cap_skips_bounds_the_skip_connections() -> None:
    cells = NB201Cells()
    weights = torch.full((6, len(OPS)), 0.1)
    weights[:, OPS.index("skip_connect")] = torch.linspace(0.5, 0.9, 6)
    assert cells.skip_count(cells.derive(weights)) == 6
    capped = cap_skips(cells, weights, 2)
    assert cells.skip_count(capped) == 2
    assert capped["edge_2_3"] == "skip_connect"  # the strongest skips are kept


def test_unknown_space_and_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="space: unknown cell space"):
        ONESHOT["darts"]("nb301")
    with pytest.raises(ConfigError, match="max_skips"):
        DartsES("nb201", max_skips=-1)
    with pytest.raises(ConfigError, match="proxyless needs a latency table"):
        Proxyless("darts")
