"""Single-Path NAS and TuNAS over the elastic supernet: superkernel, gates, policy, resume."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.oneshot._elastic import ElasticMobileNet, largest, smallest
from archsearch.oneshot._specialise import ElasticLatencyTable
from archsearch.oneshot._spnas import SinglePathNAS, single_path_block
from archsearch.oneshot._tunas import TuNAS
from archsearch.store import MemoryStore


@pytest.fixture(scope="module")
def tiny(fake_fashion: Any) -> Any:
    from archsearch.data import get_dataset

    return get_dataset(
        "fashion_mnist", path=fake_fashion(size=12, n_train=160, n_test=40), n_valid=40
    )


def _net(seed: int = 0) -> ElasticMobileNet:
    torch.manual_seed(seed)
    return ElasticMobileNet(head_width=16)


class CountingTable:
    """A latency table with known entries: a block costs ``expansion * kernel**2 / 100``
    ms (a stage's first block half as much again), stem and head 0.5 ms each."""

    predict = ElasticLatencyTable.predict  # the real table's sum of its parts

    def __init__(self, net: ElasticMobileNet) -> None:
        self.entries = {"stem": 0.5, "head": 0.5}
        for i, blocks in enumerate(net.blocks()):
            for position, factor in ((0, 1.5), (1, 1.0)):
                for e in blocks[0].expansions:
                    for k in blocks[0].kernels:
                        self.entries[f"{i}/{position}/{e}/{k}"] = factor * e * k * k / 100


@pytest.fixture(scope="module")
def real_table() -> ElasticLatencyTable:
    return ElasticLatencyTable(_net(), (1, 12, 12), repeats=3)


# -- Single-Path NAS: the superkernel --------------------------------------------------
@pytest.mark.parametrize("transformed", [False, True])
@pytest.mark.parametrize(
    ("kernel_gates", "expansion_gates", "kernel", "expansion"),
    [
        ((1, 1), (1, 1), 7, 6),  # every gate open: the 7x7 kernel, all channels
        ((1, 0), (1, 1), 5, 6),  # the 7x7 ring closed: exactly the 5x5 computation
        ((0, 1), (1, 0), 3, 4),  # the 5x5 ring closed: 3x3, whatever the outer gate
        ((1, 1), (0, 1), 7, 3),  # the 4x channel group closed closes the 6x one too
    ],
)
def test_hard_gates_compute_the_chosen_block(
    kernel_gates: tuple[int, int],
    expansion_gates: tuple[int, int],
    kernel: int,
    expansion: int,
    transformed: bool,
) -> None:
    block = _net().stages[1][1]
    if transformed:  # after OFA training the smaller kernels are transformed centres
        with torch.no_grad():
            for p in block.transforms.values():
                p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    x = torch.randn(4, block.c_in, 6, 6)
    out = single_path_block(
        block,
        x,
        torch.tensor(kernel_gates, dtype=torch.float),
        torch.tensor(expansion_gates, dtype=torch.float),
    )
    assert torch.allclose(out, block(x, expansion, kernel), atol=1e-6)
    skipped = single_path_block(block, x, torch.ones(2), torch.ones(2), torch.tensor(0.0))
    assert torch.equal(skipped, x)  # a closed depth gate: the identity


def test_thresholds_get_gradients_and_the_expected_latency_is_the_decisions(
    real_table: ElasticLatencyTable,
) -> None:
    net = _net()
    spnas = SinglePathNAS(latency_weight=0.5)
    spnas.prepare(net, real_table)
    x = torch.randn(8, 1, 12, 12)
    y = torch.randint(0, 10, (8,))
    loss, _, expected = spnas.loss(net, x, y)
    torch.autograd.backward(loss)
    for name, t in spnas.arch.items():
        assert t.grad is not None and torch.all(t.grad != 0), name
    # open gates: the largest network, and the expected latency is the table's
    assert spnas.decide(net) == largest(net.space)
    assert math.isclose(
        float(expected.detach()), real_table.predict(largest(net.space)), rel_tol=1e-5
    )
    # thresholds above every norm close every gate: the smallest network
    with torch.no_grad():
        for t in spnas.arch.values():
            t.fill_(100.0)
    _, _, expected = spnas.loss(net, x, y)
    assert spnas.decide(net) == smallest(net.space)
    assert math.isclose(
        float(expected.detach()), real_table.predict(smallest(net.space)), rel_tol=1e-5
    )


@pytest.mark.parametrize(("weight", "extreme"), [(20.0, smallest), (0.0, largest)])
def test_the_latency_weight_decides_between_the_extremes(
    tiny: Any, weight: float, extreme: Any
) -> None:
    net = _net()
    # 10 steps; without a latency term the thresholds cannot climb past their norms (~1)
    spnas = SinglePathNAS(
        epochs=2, latency_weight=weight, threshold_lr=0.4 if weight else 0.05, batch_size=32
    )
    result = spnas.search(net, tiny, CountingTable(net))
    assert result.config == extreme(net.space)
    assert [row["epoch"] for row in result.history] == [1, 2]
    if weight:
        latencies = [row["expected_latency_ms"] for row in result.history]
        assert latencies[-1] < latencies[0]


def test_the_spnas_config_extracts_into_the_network_it_was_in_the_supernet(
    tiny: Any, real_table: ElasticLatencyTable
) -> None:
    net = _net()
    target = 0.5 * (
        real_table.predict(smallest(net.space)) + real_table.predict(largest(net.space))
    )
    spnas = SinglePathNAS(
        epochs=2, latency_weight=2.0, target_ms=target, threshold_lr=0.2, batch_size=32
    )
    result = spnas.search(net, tiny, real_table)
    config = net.check(result.config)
    assert result.history[-1]["predicted_latency_ms"] == real_table.predict(config)
    net.eval()
    model = net.extract(config)
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x, config), atol=1e-5)


# -- TuNAS ---------------------------------------------------------------------------
def _size(config: dict[str, Any]) -> float:
    """A known quality in [0, 1]: bigger is better (what accuracy tends to say)."""
    steps = [
        (s["kernel"] - 3) / 4 + (s["expansion"] - 3) / 3 + (s["n_layers"] - 2) / 2
        for s in config["stages"]
    ]
    return sum(steps) / (3 * len(steps))


def test_the_policy_learns_to_meet_a_tight_target(tiny: Any) -> None:
    net = _net()
    table = CountingTable(net)
    low, high = table.predict(smallest(net.space)), table.predict(largest(net.space))
    target = low + 0.2 * (high - low)
    tunas = TuNAS(
        target_ms=target,
        beta=-3.0,  # the target dominates; the quality breaks ties towards bigger
        policy_lr=0.3,
        warmup=0.1,
        quality=_size,
        epochs=8,
        batch_size=16,
    )
    result = tunas.search(net, tiny, table)
    found = table.predict(result.config)
    assert abs(found / target - 1) < 0.1, (found, target)
    assert result.history[-1]["policy_entropy"] < result.history[0]["policy_entropy"]

    # the policy's samples moved towards the target
    def near(configs: list[dict[str, Any]]) -> float:
        return sum(abs(table.predict(c) / target - 1) < 0.1 for c in configs) / len(configs)

    rng = random.Random(0)
    learnt = [tunas.config_of(net, tunas.sample()) for _ in range(200)]
    uniform = [net.sample(rng) for _ in range(200)]
    assert near(learnt) > near(uniform) + 0.2


def test_tunas_returns_a_config_of_the_space_with_the_real_table(
    tiny: Any, real_table: ElasticLatencyTable
) -> None:
    net = _net()
    target = real_table.predict(smallest(net.space)) * 1.2
    store = MemoryStore()
    tunas = TuNAS(target_ms=target, epochs=2, batch_size=32, policy_lr=0.05, store=store)
    result = tunas.search(net, tiny, real_table)
    config = net.check(result.config)
    assert net.extract(config) is not None
    record = store.find_experiment("elastic-tunas-s0")
    assert record is not None and record.status == "complete"
    trials = store.trials(record.id)
    assert [t.number for t in trials] == [0, 1]
    assert trials[-1].config == result.config
    assert all(0 <= t.metrics["valid_accuracy"] <= 100 for t in trials)
    assert "reward" in trials[-1].metrics  # the policy learnt in the second epoch


# -- both: resuming, errors ----------------------------------------------------------
def _make(method: str, **options: Any) -> Any:
    if method == "spnas":
        return SinglePathNAS(
            latency_weight=1.0, threshold_lr=0.1, epochs=2, batch_size=32, seed=2, **options
        )
    return TuNAS(target_ms=2.0, policy_lr=0.05, epochs=2, batch_size=32, seed=2, **options)


@pytest.mark.parametrize("method", ["spnas", "tunas"])
def test_a_resumed_search_ends_as_an_uninterrupted_one(
    tiny: Any, tmp_path: Path, method: str
) -> None:
    straight_net = _net()
    table = CountingTable(straight_net)
    straight = _make(method)
    expected = straight.search(straight_net, tiny, table)

    checkpoint, store = tmp_path / f"{method}.pt", MemoryStore()
    _make(method, checkpoint=checkpoint, store=store).search(_net(), tiny, table, stop_after=1)
    resumed_net = _net(seed=99)  # a fresh process: other weights, restored from the file
    again = _make(method, checkpoint=checkpoint, store=store)
    result = again.search(resumed_net, tiny, table)

    assert result.config == expected.config
    assert [row["epoch"] for row in result.history] == [1, 2]
    for a, b in zip(expected.history, result.history, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    for (name, a), b in zip(
        straight_net.state_dict().items(), resumed_net.state_dict().values(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name
    for (name, a), b in zip(straight.arch.items(), again.arch.values(), strict=True):
        assert torch.equal(a, b), name
    record = store.find_experiment(f"elastic-{method}-s2")
    assert record is not None and record.status == "complete"
    assert [t.number for t in store.trials(record.id)] == [0, 1]


def test_options_and_checkpoints_are_checked(tiny: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="beta: must be a number <= 0"):
        TuNAS(target_ms=1.0, beta=0.1)
    with pytest.raises(ConfigError, match="target_ms"):
        TuNAS(target_ms=0)
    with pytest.raises(ConfigError, match="latency_weight"):
        SinglePathNAS(latency_weight=-1)
    with pytest.raises(ConfigError, match="epochs"):
        SinglePathNAS(epochs=0)
    net = _net()
    with pytest.raises(ConfigError, match="no entry '0/0/3/3'"):
        SinglePathNAS().prepare(net, type("Empty", (), {"entries": {"stem": 1.0, "head": 1.0}})())
    checkpoint = tmp_path / "c.pt"
    table = CountingTable(net)
    TuNAS(target_ms=2.0, epochs=1, batch_size=64, checkpoint=checkpoint).search(net, tiny, table)
    with pytest.raises(ConfigError, match="not 'spnas'"):
        SinglePathNAS(checkpoint=checkpoint).search(_net(), tiny, table)


@pytest.mark.parametrize("method", ["spnas", "tunas"])
def test_archsearch_oneshot_runs_the_latency_searches(
    fake_fashion: Any, tmp_path: Path, capsys: Any, method: str
) -> None:
    from archsearch.cli import main

    path = fake_fashion(size=12, n_train=10_100, n_test=100)
    argv = ["oneshot", method, "--data-path", str(path), "--subset", "60", "--epochs", "1"]
    argv += ["--batch-size", "30", "--targets", "2", "--storage", f"sqlite:///{tmp_path}/s.db"]
    assert main(argv) == 0
    assert "target 2 ms:" in capsys.readouterr().out
    assert main([*argv[:-4], "--targets", "2,3"]) == 2
