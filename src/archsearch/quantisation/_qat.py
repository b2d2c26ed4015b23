"""Quantisation-aware fine-tuning: a few hundred steps through the fake-quantised model.

The rounding passes gradients straight through (the straight-through estimator of the
fake-quantise operators), so the float weights under the wrappers learn to sit well
on the grid. Batch norm stays in eval mode (its statistics frozen, as is usual late in
QAT) and the activation ranges stay those of calibration; the weight scales follow
the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from archsearch.errors import ConfigError
from archsearch.training import DeviceData

__all__ = ["fine_tune"]


def fine_tune(
    model: nn.Module,
    data: DeviceData,
    *,
    steps: int,
    learning_rate: float = 0.002,
    batch_size: int = 128,
    seed: int = 0,
) -> list[float]:
    """Train a quantised model (in place) for ``steps`` SGD steps on the training split.

    SGD with momentum 0.9 and a cosine schedule from ``learning_rate`` to 0; batches
    are drawn without augmentation from a generator seeded with ``seed``.

    Args:
        model: a model from :func:`~archsearch.quantisation.quantise_model`.
        data: the dataset on its device (normalised per batch).
        steps: optimizer steps (0: nothing is done).
        learning_rate: the peak learning rate.
        batch_size: images per step.
        seed: seeds the batch draws.

    Returns:
        The training loss of each step.

    Raises:
        ConfigError: for a bad option.
    """
    for name, value in (("qat_steps", steps), ("qat_batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name}: must be an integer >= 0, got {value!r}")
    if not isinstance(learning_rate, int | float) or not learning_rate > 0:
        raise ConfigError(f"qat_learning_rate: must be a number > 0, got {learning_rate!r}")
    if steps == 0:
        return []
    generator = torch.Generator(device="cpu").manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
    model.eval()  # batch norm frozen; the wrappers round the same way in either mode
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = 0.5 * learning_rate * (1 + math.cos(math.pi * step / steps))
        index = torch.randint(data.n_train, (batch_size,), generator=generator)
        index = index.to(data.device)
        x, y = data.normalise(data.train_x[index]), data.train_y[index]
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
