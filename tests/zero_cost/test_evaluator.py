"""ZeroCostEvaluator: metrics per proxy, seeded networks, batches, process workers."""

from __future__ import annotations

import math
import os

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.evaluation.zero_cost import ZeroCostEvaluator, proxy_batch
from archsearch.spaces.nb201 import EDGES, cell_from_index

TINY = {"channels": 4, "n_cells": 1}
CONV = dict.fromkeys(EDGES, "nor_conv_3x3")


def evaluator(**options: object) -> ZeroCostEvaluator:
    defaults: dict[str, object] = {
        "space": "nb201",
        "input_shape": (3, 8, 8),
        "batch_size": 8,
        "data": "gaussian",
        "model_options": TINY,
    }
    return ZeroCostEvaluator(**{**defaults, **options})  # type: ignore[arg-type]


def test_evaluator_returns_one_metric_per_proxy() -> None:
    proxies = ["synflow", "naswot", "snip", "params"]
    result = evaluator(proxies=proxies).evaluate(CONV)
    assert list(result.metrics) == proxies
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert result.cost_s > 0


def test_scores_depend_on_the_seed_only() -> None:
    global_state = torch.get_rng_state()
    first = evaluator(proxies=["synflow", "snip"], seed=3).evaluate(CONV).metrics
    assert torch.equal(torch.get_rng_state(), global_state)  # the global RNG is untouched
    assert evaluator(proxies=["synflow", "snip"], seed=3).evaluate(CONV).metrics == first
    assert evaluator(proxies=["synflow", "snip"], seed=4).evaluate(CONV).metrics != first


def test_synflow_ranks_the_full_cell_above_a_pruned_one() -> None:
    pruned = {**dict.fromkeys(EDGES, "none"), "edge_0_3": "nor_conv_3x3"}
    zc = evaluator()
    assert zc.score(CONV) > zc.score(pruned)
    assert zc.score(dict.fromkeys(EDGES, "none")) == 0.0  # nothing reaches the output


def test_data_free_proxies_need_no_batch() -> None:
    zc = evaluator(proxies=["synflow", "flops"], data="fashion_mnist", data_path="/nonexistent")
    zc.evaluate(CONV)
    assert zc.data_source == "none"


def test_builder_callable_instead_of_a_space() -> None:
    from archsearch.models import build_model

    zc = ZeroCostEvaluator(
        build=lambda config: build_model("nb201", config, **TINY), input_shape=(3, 8, 8)
    )
    assert zc.evaluate(CONV).metrics["synflow"] == evaluator().evaluate(CONV).metrics["synflow"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proxies": ["synflow", "zen"]}, r"^proxies\[1\]: unknown proxy 'zen'"),
        ({"proxies": "synflow"}, r"^proxies: expected a non-empty list"),
        ({"input_shape": (32, 32)}, r"^input_shape: expected \(channels, height, width\)"),
        ({"build": print}, r"^space/build: give exactly one"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        evaluator(**options)


def test_workers_give_the_sequential_results() -> None:
    configs = [cell_from_index(i) for i in (0, 777, 15_624)]
    zc = evaluator(proxies=["synflow", "grad_norm"], n_threads=1)
    parallel = [r.metrics for r in zc.evaluate_many(configs, n_workers=2)]
    assert parallel == [r.metrics for r in zc.evaluate_many(configs)]


def test_gaussian_batch_is_seeded() -> None:
    a = proxy_batch("gaussian", batch_size=4, input_shape=(3, 8, 8), seed=1)
    b = proxy_batch("gaussian", batch_size=4, input_shape=(3, 8, 8), seed=1)
    assert torch.equal(a.x, b.x) and a.source == "gaussian"
    with pytest.raises(ConfigError, match=r"^data: unknown batch source 'cifar'"):
        proxy_batch("cifar")


def test_missing_fashion_mnist_falls_back_to_noise_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="using Gaussian noise"):
        batch = proxy_batch("auto", batch_size=4, input_shape=(3, 8, 8), path="/nonexistent")
    assert batch.source == "gaussian"


def test_fashion_mnist_stand_in_is_resized_and_replicated() -> None:
    from archsearch.errors import DataError

    try:
        batch = proxy_batch("fashion_mnist", batch_size=4, input_shape=(3, 32, 32), seed=0)
    except DataError:
        if os.environ.get("CI") == "true":  # CI installs the data: a missing file is a bug
            raise
        pytest.skip("Fashion-MNIST files are not installed (bash scripts/system-packages.sh)")
    assert batch.x.shape == (4, 3, 32, 32)
    assert torch.equal(batch.x[:, 0], batch.x[:, 2])
    assert batch.source == "fashion_mnist" and "not CIFAR-10" in batch.describe()
