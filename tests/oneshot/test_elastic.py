"""The elastic MobileNet supernet: sub-networks, extraction, channel sorting."""

from __future__ import annotations

import copy
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

from archsearch.errors import ConfigError
from archsearch.models.mobilenet import MobileNet
from archsearch.oneshot._elastic import (
    ElasticMobileNet,
    elastic_space,
    largest,
    recalibrate_bn,
    smallest,
)


def _trained_like(net: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial weights and statistics everywhere (the kernel transforms included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "transforms" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=generator))
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.normal_(0, 0.1, generator=generator)


@pytest.fixture(scope="module")
def net() -> ElasticMobileNet:
    torch.manual_seed(0)
    model = ElasticMobileNet(head_width=32)
    _trained_like(model)
    return model.eval()


def test_the_space_and_its_extremes() -> None:
    space = elastic_space()
    assert space.size == 27**3
    top, bottom = largest(space), smallest(space)
    assert {s["kernel"] for s in top["stages"]} == {7} and bottom["stages"][0]["n_layers"] == 2
    assert all(s["expansion"] == 6 and s["n_layers"] == 4 for s in top["stages"])


@pytest.mark.parametrize("seed", range(6))
def test_extracted_subnetwork_computes_what_the_supernet_computes(
    net: ElasticMobileNet, seed: int
) -> None:
    config = net.sample(random.Random(seed)) if seed > 1 else [largest, smallest][seed](net.space)
    model = net.extract(config)
    assert isinstance(model, MobileNet) and not model.training
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x, config), atol=1e-5)
    # the extracted model has exactly the sub-network's size
    hidden = sum(s["n_layers"] for s in config["stages"])  # one depthwise conv per block
    depthwise = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == hidden + 1  # + the stem's fixed block
    kernels = [m.kernel_size[0] for m in depthwise[1:]]
    assert kernels == [s["kernel"] for s in config["stages"] for _ in range(s["n_layers"])]


def test_recalibrated_statistics_carry_over_to_the_extracted_model(net: ElasticMobileNet) -> None:
    config = net.sample(random.Random(7))
    batches = [torch.randn(16, 1, 28, 28) for _ in range(3)]
    recalibrate_bn(net, batches, config)
    model = net.extract(config)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x, config), atol=1e-5)
    # the standalone model recalibrated on the same batches has the same statistics
    recalibrate_bn(model, batches)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x, config), atol=1e-4)


def test_channel_sorting_keeps_the_full_network_and_orders_importance() -> None:
    torch.manual_seed(1)
    net = ElasticMobileNet(head_width=32)
    _trained_like(net, seed=1)
    net.eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        before = net(x)
        net.sort_channels()
        after = net(x)
    assert torch.allclose(before, after, atol=1e-5)
    block = net.stages[0][0]
    importance = block.project.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(importance[:-1] >= importance[1:])


def test_a_config_outside_the_space_names_the_field(net: ElasticMobileNet) -> None:
    config = largest(net.space)
    config["stages"][1]["kernel"] = 9
    with pytest.raises(ConfigError, match=r"stages\[1\].kernel"):
        net.extract(config)


# -- training ------------------------------------------------------------------------
from archsearch.oneshot._elastic_train import ElasticTrainer, ofa_phases  # noqa: E402
from archsearch.store import MemoryStore  # noqa: E402


@pytest.fixture(scope="module")
def tiny(fake_fashion: Any) -> Any:
    from archsearch.data import get_dataset

    return get_dataset(
        "fashion_mnist", path=fake_fashion(size=12, n_train=160, n_test=40), n_valid=40
    )


def _net(seed: int = 0) -> ElasticMobileNet:
    torch.manual_seed(seed)
    return ElasticMobileNet(head_width=16)


def test_ofa_phases_cover_the_epochs() -> None:
    assert ofa_phases(4) == ["full", "kernel", "depth", "expand"]
    assert ofa_phases(9).count("full") == 3 and ofa_phases(9)[-1] == "expand"
    with pytest.raises(ConfigError, match="epochs"):
        ofa_phases(3)


@pytest.mark.parametrize("method", ["ofa", "bignas"])
def test_training_stores_every_epoch_and_resumes_mid_training(
    tiny: Any, tmp_path: Path, method: str
) -> None:
    store = MemoryStore()
    straight = _net()
    ElasticTrainer(method, epochs=4, batch_size=32, seed=3).train(straight, tiny)

    stopped = _net()
    checkpoint = tmp_path / f"{method}.pt"
    first = ElasticTrainer(
        method, epochs=4, batch_size=32, seed=3, checkpoint=checkpoint, store=store, name="e"
    )
    first.train(stopped, tiny, stop_after=2)  # as if killed after epoch 2
    resumed = _net(seed=99)  # a fresh process: other initial weights, restored from the file
    again = ElasticTrainer(
        method, epochs=4, batch_size=32, seed=3, checkpoint=checkpoint, store=store, name="e"
    )
    run = again.train(resumed, tiny)
    assert [row["epoch"] for row in run.history] == [1, 2, 3, 4]
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name
    record = store.find_experiment("e")
    assert record is not None and record.status == "complete"
    trials = store.trials(record.id)
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(0 <= t.metrics["valid_accuracy_smallest"] <= 100 for t in trials)
    if method == "ofa":
        assert [t.metrics["epoch"] for t in trials] == [1, 2, 3, 4]


def test_the_ofa_teacher_has_the_largest_networks_statistics(tiny: Any, tmp_path: Path) -> None:
    """The teacher runs in eval mode, so its batch-norm statistics must be the largest
    network's, not those the last per-epoch evaluation (the smallest) left behind."""
    from archsearch.oneshot._elastic_train import _batches
    from archsearch.training import DeviceData

    trainer = ElasticTrainer("ofa", epochs=4, batch_size=32, seed=3, checkpoint=tmp_path / "t")
    net = _net()
    trainer.train(net, tiny, stop_after=1)  # the full phase, evaluated last on the smallest
    data = DeviceData(tiny, torch.device("cpu"))
    expected = copy.deepcopy(net)
    recalibrate_bn(expected, _batches(data, trainer.teacher_images, 500))
    trainer.train(net, tiny, stop_after=1)  # the kernel phase: the teacher is made
    assert trainer.teacher is not None and not trainer.teacher.training
    x = data.normalise(data.valid_x[:16])
    with torch.no_grad():
        assert torch.allclose(trainer.teacher(x), expected(x), atol=1e-5)
        unused = net.blocks()[0][-1].bn1  # a block the smallest network does not have
        assert not torch.equal(trainer.teacher.blocks()[0][-1].bn1.running_var, unused.running_var)


def test_ofa_trains_several_subnetworks_per_step_in_the_later_phases(tiny: Any) -> None:
    trainer = ElasticTrainer("ofa", epochs=4, batch_size=64, seed=0, ofa_subnets={"depth": 3})
    phases: list[str] = []
    original = trainer._config

    def spy(net: ElasticMobileNet, phase: str, rng: random.Random) -> dict[str, Any]:
        phases.append(phase)
        return original(net, phase, rng)

    trainer._config = spy  # type: ignore[method-assign]
    trainer.train(_net(), tiny)
    steps = -(-len(tiny.train_y) // 64)
    assert Counter(phases) == {
        "full": steps,
        "kernel": steps,
        "depth": 3 * steps,
        "expand": 4 * steps,
    }


def test_ofa_phase_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="ofa_subnets: unknown phase 'shrink'"):
        ElasticTrainer("ofa", ofa_subnets={"shrink": 2})
    with pytest.raises(ConfigError, match="ofa_subnets.depth: must be an integer"):
        ElasticTrainer("ofa", ofa_subnets={"depth": 1.5})
    with pytest.raises(ConfigError, match="ofa_rates.kernel: must be a positive"):
        ElasticTrainer("ofa", ofa_rates={"kernel": -0.1})
    with pytest.raises(ConfigError, match="teacher_images"):
        ElasticTrainer("ofa", teacher_images=0)
    trainer = ElasticTrainer("ofa", epochs=4, learning_rate=0.1, ofa_rates={"expand": 0.5})
    assert trainer._lr(3, 0, 10) == pytest.approx(0.05)  # the expand phase's first step
    assert trainer._lr(1, 0, 10) == pytest.approx(0.02)  # the kernel phase: the default 1/5


def test_a_checkpoint_of_another_method_is_refused(tiny: Any, tmp_path: Path) -> None:
    checkpoint = tmp_path / "c.pt"
    ElasticTrainer("bignas", epochs=1, batch_size=64, checkpoint=checkpoint).train(_net(), tiny)
    with pytest.raises(ConfigError, match="not 'ofa'"):
        ElasticTrainer("ofa", epochs=4, checkpoint=checkpoint).train(_net(), tiny)


# -- specialisation ------------------------------------------------------------------
from archsearch.oneshot._specialise import (  # noqa: E402
    AccuracyPredictor,
    ElasticLatencyTable,
    encode,
    evolve,
)


def test_latency_table_adds_up_and_orders_networks(net: ElasticMobileNet) -> None:
    table = ElasticLatencyTable(net, repeats=5)
    assert len(table.entries) == 2 + 3 * 2 * 9
    small, big = table.predict(smallest(net.space)), table.predict(largest(net.space))
    assert 0 < small < big
    with pytest.raises(ConfigError, match=r"stages\[0\]"):
        table.predict({"stages": [{"expansion": 5, "kernel": 3, "n_layers": 2}] * 3})


def test_evolution_meets_the_target_and_prefers_what_the_predictor_likes(
    net: ElasticMobileNet,
) -> None:
    # a known accuracy: bigger kernels and more layers are better; latency: a count
    def cost(config: dict[str, Any]) -> float:
        return sum(s["n_layers"] * s["expansion"] for s in config["stages"])

    def accuracy(configs: Any) -> Any:
        import numpy as np

        return np.array([sum(s["kernel"] + s["n_layers"] for s in c["stages"]) for c in configs])

    found = evolve(net, accuracy, cost, target_ms=30, population=40, generations=15, seed=1)
    assert found.predicted_ms <= 30 and found.search_s < 10
    assert all(s["kernel"] == 7 for s in found.config["stages"])
    with pytest.raises(ConfigError, match="below the smallest"):
        evolve(net, accuracy, cost, target_ms=1)


def test_the_accuracy_predictor_fits_a_learnable_target(net: ElasticMobileNet) -> None:
    rng = random.Random(0)
    configs = [net.sample(rng) for _ in range(80)]
    truth = [sum(s["kernel"] * s["n_layers"] for s in c["stages"]) for c in configs]
    predictor = AccuracyPredictor(net, epochs=300).fit(configs[:60], truth[:60])
    import numpy as np

    predicted = predictor.predict(configs[60:])
    assert np.corrcoef(predicted, truth[60:])[0, 1] > 0.9
    assert encode(net, configs[0]).shape == (27,)


def test_archsearch_oneshot_ofa_specialises_to_each_target(
    fake_fashion: Any, tmp_path: Path, capsys: Any
) -> None:
    from archsearch.cli import main

    path = fake_fashion(size=12, n_train=10_100, n_test=100)
    url = f"sqlite:///{tmp_path / 'o.db'}"
    argv = ["oneshot", "ofa", "--data-path", str(path), "--subset", "80", "--epochs", "4"]
    argv += ["--batch-size", "40"]
    argv += ["--targets", "50,100", "--samples", "6", "--storage", url, "--name", "ofa"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("target ") == 2 and "epoch 4 (expand)" in out
    from archsearch.store import open_store

    store = open_store(url)
    record = store.find_experiment("ofa")
    assert record is not None and len(store.trials(record.id)) == 4
    assert main([*argv[:-4], "--targets", "5,-1"]) == 2
