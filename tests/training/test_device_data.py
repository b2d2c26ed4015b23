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
