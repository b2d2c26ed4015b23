"""The trainer on the CPU: determinism, exact resumption, divergence, dropout."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from archsearch.data import Dataset, get_dataset
from archsearch.errors import ConfigError, DataError
from archsearch.training import Recipe, Trainer, add_dropout
from archsearch.trial import FailureKind, TrialStatus

RECIPE = Recipe(batch_size=32, epochs=4, learning_rate=0.05)
FASHION = Path("/usr/share/datasets/fashion-mnist")


MakeModel = Callable[..., nn.Module]


def _timeless(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k != "train_time_s"}


def test_result_reports_the_metrics_curve_and_cost(data: Dataset, model: nn.Module) -> None:
    result = Trainer(RECIPE, device="cpu", n_threads=1).fit(model, data, epochs=3, test=True)
    assert result.status is TrialStatus.COMPLETE and len(result.curve or []) == 3
    expected = {"valid_accuracy", "valid_loss", "train_loss", "train_accuracy", "test_accuracy"}
    assert expected | {"n_params", "train_time_s", "epochs"} == set(result.metrics)
    assert result.metrics["n_params"] == sum(p.numel() for p in model.parameters())
    assert result.metrics["valid_accuracy"] == result.curve[-1]  # type: ignore[index]
    assert result.cost_s > 0 and result.metrics["train_time_s"] == result.cost_s


def test_same_seed_gives_identical_metrics_and_weights(
    data: Dataset, make_model: MakeModel
) -> None:
    recipe = Recipe(batch_size=32, epochs=3, dropout=0.3)
    a, b, c = make_model(), make_model(), make_model()
    first = Trainer(recipe, device="cpu", seed=7, n_threads=1).fit(a, data)
    again = Trainer(recipe, device="cpu", seed=7, n_threads=1).fit(b, data)
    other = Trainer(recipe, device="cpu", seed=8, n_threads=1).fit(c, data)
    assert _timeless(first.metrics) == _timeless(again.metrics) and first.curve == again.curve
    weights = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(p, q) for p, q in weights)
    assert _timeless(first.metrics) != _timeless(other.metrics)


def test_resuming_from_a_checkpoint_equals_training_straight(
    data: Dataset, tmp_path: Path, make_model: MakeModel
) -> None:
    recipe = Recipe(batch_size=32, epochs=4, dropout=0.2)
    straight_model = make_model()
    straight = Trainer(recipe, device="cpu", n_threads=1).fit(
        straight_model, data, checkpoint_dir=None
    )
    trainer = Trainer(recipe, device="cpu", n_threads=1)
    early = trainer.fit(make_model(), data, epochs=2, checkpoint_dir=tmp_path)
    resumed_model = make_model()
    resumed = trainer.fit(resumed_model, data, epochs=4, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0002.pt", "epoch_0004.pt"]
    assert _timeless(resumed.metrics) == _timeless(straight.metrics)
    assert resumed.curve == straight.curve and early.curve == straight.curve[:2]  # type: ignore[index]
    for key, value in straight_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key
    # the resumed call costs only its own epochs; the run's total includes the first
    assert resumed.metrics["train_time_s"] == pytest.approx(early.cost_s + resumed.cost_s)


def test_a_checkpoint_at_the_fidelity_is_answered_without_training(
    data: Dataset, tmp_path: Path, make_model: MakeModel
) -> None:
    trainer = Trainer(RECIPE, device="cpu", n_threads=1)
    first = trainer.fit(make_model(), data, epochs=2, checkpoint_dir=tmp_path)
    again = trainer.fit(make_model(), data, epochs=2, checkpoint_dir=tmp_path)
    assert again.metrics == first.metrics and again.curve == first.curve


def test_a_test_accuracy_from_an_earlier_epoch_is_not_reported(
    data: Dataset, tmp_path: Path, make_model: MakeModel
) -> None:
    trainer = Trainer(RECIPE, device="cpu", n_threads=1)
    trainer.fit(make_model(), data, epochs=1, checkpoint_dir=tmp_path, test=True)
    later = trainer.fit(make_model(), data, epochs=2, checkpoint_dir=tmp_path)
    assert "test_accuracy" not in later.metrics


def test_a_checkpoint_of_another_recipe_is_refused(
    data: Dataset, tmp_path: Path, make_model: MakeModel
) -> None:
    Trainer(RECIPE, device="cpu", n_threads=1).fit(
        make_model(), data, epochs=1, checkpoint_dir=tmp_path
    )
    other = Trainer(Recipe(batch_size=32, epochs=4, learning_rate=0.01), device="cpu", n_threads=1)
    with pytest.raises(DataError, match=r"epoch_0001.pt: saved by a run with another recipe"):
        other.fit(make_model(), data, epochs=2, checkpoint_dir=tmp_path)


def test_a_diverging_run_fails_with_kind_nan(data: Dataset, model: nn.Module) -> None:
    result = Trainer(
        Recipe(batch_size=32, epochs=3, learning_rate=1e6), device="cpu", n_threads=1
    ).fit(model, data)
    assert result.status is TrialStatus.FAILED and result.failure is FailureKind.NAN
    assert re.fullmatch(r"(nan|inf) loss at epoch [1-3] step [1-3]", result.error or "")


def test_fit_many_equals_fit_with_consecutive_seeds(data: Dataset, make_model: MakeModel) -> None:
    trainer = Trainer(Recipe(batch_size=32, epochs=2), device="cpu", seed=3, n_threads=1)
    both = trainer.fit_many([make_model(), make_model()], data)
    alone = Trainer(Recipe(batch_size=32, epochs=2), device="cpu", seed=4, n_threads=1).fit(
        make_model(), data
    )
    assert _timeless(both[1].metrics) == _timeless(alone.metrics)
    assert _timeless(both[0].metrics) != _timeless(both[1].metrics)


def test_epochs_beyond_the_schedule_are_refused(data: Dataset, model: nn.Module) -> None:
    with pytest.raises(ConfigError, match=r"epochs: must be an integer in \[1, 4\] .* got 5"):
        Trainer(RECIPE, device="cpu", n_threads=1).fit(model, data, epochs=5)


def test_a_model_with_the_wrong_number_of_classes_is_refused(
    data: Dataset, make_model: MakeModel
) -> None:
    with pytest.raises(ConfigError, match="model: outputs 3 classes, the dataset has 2"):
        Trainer(RECIPE, device="cpu", n_threads=1).fit(make_model(classes=3), data, epochs=1)


def test_settings_are_restored_after_fitting(data: Dataset, model: nn.Module) -> None:
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    Trainer(RECIPE, device="cpu", n_threads=1).fit(model, data, epochs=1)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_dropout_goes_before_the_last_linear_once(make_model: MakeModel) -> None:
    model = add_dropout(add_dropout(make_model(), 0.5), 0.25)
    classifier = model[-1]
    assert len(classifier._forward_pre_hooks) == 1 and classifier._archsearch_dropout.p == 0.25
    model.eval()
    x = torch.randn(4, 3, 8, 8)
    assert torch.equal(model(x), model(x))  # no dropout in eval mode
    own = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(192, 2))
    assert not add_dropout(own, 0.5)[-1]._forward_pre_hooks
    with pytest.raises(ConfigError, match="recipe.dropout: 0.5 asked for, but the model has no"):
        add_dropout(nn.Sequential(nn.Conv2d(3, 2, 1)), 0.5)


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown recipe 'sgdw'; allowed: adamw, nb201"):
        Trainer("sgdw", device="cpu", n_threads=1)
    with pytest.raises(ConfigError, match="device: expected auto, cpu, cuda or cuda:N, got 'tpu'"):
        Trainer(device="tpu")
    with pytest.raises(ConfigError, match="n_threads: must be an integer >= 1 or None, got 0"):
        Trainer(device="cpu", n_threads=0)


def test_adamw_trains_above_chance(data: Dataset, model: nn.Module) -> None:
    recipe = Recipe("adamw", 1e-2, 0.05, batch_size=32, epochs=6, augment=False)
    result = Trainer(recipe, device="cpu", n_threads=1).fit(model, data)
    assert result.metrics["train_accuracy"] > 60.0


@pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
def test_an_epoch_on_real_fashion_mnist() -> None:
    data = get_dataset("fashion_mnist", path=FASHION, subset=256)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    result = Trainer(Recipe(batch_size=64, epochs=2), device="cpu", n_threads=1).fit(
        model, data, test=True
    )
    assert result.status is TrialStatus.COMPLETE and len(result.curve or []) == 2
    assert 0.0 <= result.metrics["test_accuracy"] <= 100.0 and result.metrics["train_loss"] < 3.0
