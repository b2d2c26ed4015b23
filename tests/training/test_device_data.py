"""Data on the device: batched crop and flip against a per-image reference."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from archsearch.data import Dataset
from archsearch.training import DeviceData


def _data(n: int = 12) -> Dataset:
    x = torch.arange(n * 2 * 5 * 5, dtype=torch.int64).remainder(251).to(torch.uint8)
    x = x.reshape(n, 2, 5, 5)
    y = torch.arange(n) % 3
    return Dataset("grid", x, y, x[:4], y[:4], x[:4], y[:4], 3)


def test_crop_and_flip_match_a_per_image_reference() -> None:
    data = DeviceData(_data(), torch.device("cpu"))
    plan = data.plan_epoch(torch.Generator().manual_seed(1), augment=True, padding=2)
    assert plan.offsets is not None and plan.flips is not None
    x = data.train_x[plan.order[:8]]
    out = data._crop_flip(x, plan.offsets[:, :8], plan.flips[:8], 2)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(8):
        top, left = int(plan.offsets[0, i]), int(plan.offsets[1, i])
        expected = padded[i, :, top : top + 5, left : left + 5]
        if plan.flips[i]:
            expected = expected.flip(-1)
        assert torch.equal(out[i], expected)
    assert plan.flips.any() and not plan.flips.all()  # both cases were checked


def test_epoch_plans_are_fixed_by_the_generator_seed() -> None:
    data = DeviceData(_data(), torch.device("cpu"))
    a = data.plan_epoch(torch.Generator().manual_seed(5), augment=True, padding=4)
    b = data.plan_epoch(torch.Generator().manual_seed(5), augment=True, padding=4)
    assert torch.equal(a.order, b.order) and torch.equal(a.offsets, b.offsets)  # type: ignore[arg-type]
    assert sorted(a.order.tolist()) == list(range(12))


def test_batches_are_normalised_with_the_training_statistics() -> None:
    data = DeviceData(_data(), torch.device("cpu"))
    plan = data.plan_epoch(torch.Generator().manual_seed(0), augment=False, padding=0)
    x, y = data.batch(plan, 0, 12, 0)
    assert x.dtype == torch.float32 and y.tolist() == data.train_y[plan.order].tolist()
    per_channel = x.transpose(0, 1).reshape(2, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(2), atol=1e-5)
    assert torch.allclose(per_channel.std(1), torch.ones(2), atol=1e-5)


def _tokens(n: int = 160, seed: int = 0) -> Dataset:
    """Token-id sequences (N, 6) in 2 classes: class 1 holds token 7 somewhere."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randint(0, 7, (n, 6), generator=gen)
    x[y == 1, torch.randint(0, 6, (int((y == 1).sum()),), generator=gen)] = 7
    part = n // 4
    return Dataset(
        "tokens",
        x[2 * part :],
        y[2 * part :],
        x[:part],
        y[:part],
        x[part : 2 * part],
        y[part : 2 * part],
        2,
        model_options={"vocab_size": 8, "max_len": 6},
    )


def test_non_image_inputs_are_batched_as_they_are() -> None:
    source = _tokens()
    assert not source.is_images and source.input_shape == (6,)
    assert source.builder_options() == {"vocab_size": 8, "max_len": 6, "n_classes": 2}
    data = DeviceData(source, torch.device("cpu"))
    plan = data.plan_epoch(torch.Generator().manual_seed(0), augment=True, padding=4)
    assert plan.offsets is None and plan.flips is None  # no crop or flip of tokens
    x, y = data.batch(plan, 0, 10, 4)
    assert x.dtype == torch.int64 and torch.equal(x, source.train_x[plan.order[:10]])


def test_a_token_model_trains_on_token_data() -> None:
    from torch import nn

    from archsearch.training import Recipe, Trainer

    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(8, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.embed(x).max(dim=1).values)

    torch.manual_seed(0)
    recipe = Recipe(epochs=15, batch_size=16, learning_rate=0.1, augment=True)
    result = Trainer(recipe, seed=0).fit(Bag(), _tokens())
    assert result.metrics["valid_accuracy"] > 90.0
