"""GNN builder: every option trains, padding and node order never change the logits."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.evaluation import CostEvaluator
from archsearch.evaluation._cost import count_macs
from archsearch.models import build_model, count_parameters
from archsearch.models.gnn import gnn_model
from archsearch.spaces.gnn import (
    GNN_ACTIVATIONS,
    GNN_AGGREGATIONS,
    GNN_ATTENTIONS,
    GNN_READOUTS,
    GNN_SKIPS,
    gnn_space,
)

F = 3  # node features


def config(
    attention: str = "gat",
    aggregation: str = "sum",
    *,
    activation: str = "elu",
    n_layers: int = 2,
    skip: str = "residual",
    norm: str = "none",
    readout: str = "mean",
    heads: int = 2,
) -> dict[str, Any]:
    layer = {"attention": attention, "aggregation": aggregation, "heads": heads, "hidden": 4,
             "activation": activation}  # fmt: skip
    layers = {f"layer_{i}": dict(layer) for i in range(1, n_layers + 1)}
    return {"n_layers": n_layers, **layers, "skip": skip, "norm": norm, "readout": readout}


def pack(adj: torch.Tensor, feats: torch.Tensor, slots: list[int], n_nodes: int) -> torch.Tensor:
    """One graph (dense ``adj``, ``feats``) put into ``n_nodes`` slots at ``slots``,
    with garbage in every padding slot: features and edges to and from real nodes."""
    g = torch.Generator().manual_seed(len(slots) + n_nodes)
    x = torch.rand(n_nodes, n_nodes + 1 + F, generator=g, dtype=torch.float64)
    x[:, n_nodes] = 0.0  # padding: only the mask says so
    idx = torch.tensor(slots)
    x[idx[:, None], idx[None, :]] = adj
    x[idx, n_nodes] = 1.0
    x[idx, n_nodes + 1 :] = feats
    return x


def random_graph(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    adj = (torch.rand(n, n, generator=g) < 0.4).double()
    adj = torch.triu(adj, 1)
    return adj + adj.T, torch.rand(n, F, generator=g, dtype=torch.float64)


def batch(n_nodes: int, b: int = 3, seed: int = 0) -> torch.Tensor:
    graphs = []
    for i in range(b):
        n = 1 + (seed + i) % (n_nodes - 1)
        adj, feats = random_graph(n, seed + i)
        graphs.append(pack(adj, feats, list(range(n)), n_nodes).float())
    return torch.stack(graphs)


@pytest.mark.parametrize(
    ("attention", "aggregation"), list(itertools.product(GNN_ATTENTIONS, GNN_AGGREGATIONS))
)
def test_every_attention_and_aggregation_trains(
    attention: str, aggregation: str, train_step: Callable[..., float]
) -> None:
    model = gnn_model(config(attention, aggregation), n_nodes=6, n_features=F)
    for p in model.parameters():
        p.grad = None
    loss = torch.nn.functional.cross_entropy(model(batch(6, 4)), torch.arange(4) % 10)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    train_step(model, batch(6, 4))


@pytest.mark.parametrize("activation", GNN_ACTIVATIONS)
def test_every_activation_builds_and_trains(
    activation: str, train_step: Callable[..., float]
) -> None:
    model = gnn_model(config("const", "mean", activation=activation), n_nodes=5, n_features=F)
    train_step(model, batch(5))


@pytest.mark.parametrize(("skip", "readout"), list(itertools.product(GNN_SKIPS, GNN_READOUTS)))
def test_every_skip_norm_and_readout_trains(
    skip: str, readout: str, train_step: Callable[..., float]
) -> None:
    for norm in ("none", "layer"):
        model = gnn_model(
            config("gcn", "sum", skip=skip, norm=norm, readout=readout), n_nodes=5, n_features=F
        )
        train_step(model, batch(5))


INVARIANCE = [
    *[(a, g, "mean", "residual") for a in GNN_ATTENTIONS for g in GNN_AGGREGATIONS],
    *[("gat", "max", r, s) for r in GNN_READOUTS for s in GNN_SKIPS],
]


@pytest.mark.parametrize(("attention", "aggregation", "readout", "skip"), INVARIANCE)
def test_node_order_and_padding_do_not_change_the_logits(
    attention: str, aggregation: str, readout: str, skip: str
) -> None:
    cfg = config(attention, aggregation, readout=readout, skip=skip, norm="layer", n_layers=3)
    small = gnn_model(cfg, n_nodes=7, n_features=F).double().eval()
    large = gnn_model(cfg, n_nodes=12, n_features=F).double().eval()
    large.load_state_dict(small.state_dict())  # the weights do not depend on n_nodes
    adj, feats = random_graph(7, seed=3)
    reference = small(pack(adj, feats, list(range(7)), 7)[None])
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(1))
    # the same graph, nodes permuted, scattered among 5 garbage-filled padding slots
    shuffled = pack(adj[perm][:, perm], feats[perm], [0, 2, 3, 5, 8, 10, 11], 12)
    assert torch.allclose(large(shuffled[None]), reference, atol=1e-10, rtol=1e-9)
    # and a different graph gives different logits (the check can fail)
    other = pack(*random_graph(7, seed=4), list(range(7)), 7)
    assert not torch.allclose(small(other[None]), reference, atol=1e-6)


def test_empty_graphs_and_bf16_autocast_stay_finite() -> None:
    for attention, aggregation in itertools.product(GNN_ATTENTIONS, GNN_AGGREGATIONS):
        model = gnn_model(config(attention, aggregation, readout="max"), n_nodes=5, n_features=F)
        x = batch(5)
        x[0] = 0.0  # a graph without a node
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
        logits.float().sum().backward()
        assert torch.isfinite(logits).all(), (attention, aggregation)
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_uint8_graphs_read_as_fixed_point_like_float_ones() -> None:
    model = gnn_model(config("cos", "mean"), n_nodes=6, n_features=F).eval()
    x = torch.round(batch(6) * 255) / 255
    fixed = torch.round(x * 255).to(torch.uint8)
    assert torch.allclose(model(fixed), model(x), atol=1e-6)


def test_every_sampled_config_builds_through_the_registry() -> None:
    space = gnn_space()
    for seed in range(20):
        model = build_model("gnn", space.sample(seed=seed), n_nodes=4, n_features=F)
        assert model(batch(4, 2)).shape == (2, 10)


def test_parameters_and_macs_can_be_counted() -> None:
    narrow = gnn_model(config("gat", "sum", heads=1), n_nodes=10, n_features=F)
    wide = gnn_model(config("gat", "sum", heads=2), n_nodes=10, n_features=F)
    # layer 1: W 3x4, bias 4, a_l and a_r 4 each; layer 2: W 4x4, bias, a_l, a_r;
    # the residual projection of layer 1 (3 -> 4, no bias); the classifier 4 -> 10
    assert count_parameters(narrow) == (12 + 4 + 8) + (16 + 4 + 8) + 12 + 50
    assert count_macs(wide, (1, 10, 10 + 1 + F)) > count_macs(narrow, (1, 10, 10 + 1 + F)) > 0


def test_cost_evaluator_measures_a_gnn_on_its_example_input() -> None:
    cfg = config("gat", "sum", heads=2)
    evaluator = CostEvaluator(
        space="gnn",
        input_shape=None,
        model_options={"n_nodes": 10, "n_features": F},
        measure=True,
        repeats=2,
    )
    metrics = evaluator.evaluate(cfg).metrics
    model = gnn_model(cfg, n_nodes=10, n_features=F)
    assert metrics["params_m"] * 1e6 == count_parameters(model)
    # the example batch is the dense cost: the same MACs as any input of that shape
    assert metrics["flops_m"] * 1e6 == pytest.approx(count_macs(model, (1, 10, 10 + 1 + F)))
    assert metrics["latency_ms"] > 0
    assert model.example_input(3).shape == (3, 10, 10 + 1 + F)


def test_bad_configs_and_inputs_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"layer_2\.attention: unknown 'gin'"):
        cfg = config()
        cfg["layer_2"]["attention"] = "gin"
        gnn_model(cfg, n_nodes=4, n_features=F)
    with pytest.raises(ConfigError, match=r"layer_3: unexpected key \(n_layers is 2\)"):
        gnn_model({**config(), "layer_3": config()["layer_1"]}, n_nodes=4, n_features=F)
    with pytest.raises(ConfigError, match=r"layer_2: expected the fields"):
        gnn_model({**config(), "n_layers": 3, "layer_3": {}} | {"layer_2": {}}, n_nodes=4,
                  n_features=F)  # fmt: skip
    with pytest.raises(ConfigError, match=r"layer_1\.hidden: must be an integer >= 1"):
        cfg = config()
        cfg["layer_1"]["hidden"] = 0
        gnn_model(cfg, n_nodes=4, n_features=F)
    with pytest.raises(ConfigError, match="readout: unknown 'sort'"):
        gnn_model({**config(), "readout": "sort"}, n_nodes=4, n_features=F)
    with pytest.raises(ConfigError, match="model: .*n_nodes"):
        build_model("gnn", config())
    with pytest.raises(ConfigError, match=r"input: expected packed graphs \(B, 4, 8\)"):
        gnn_model(config(), n_nodes=4, n_features=F)(torch.zeros(2, 4, 9))
