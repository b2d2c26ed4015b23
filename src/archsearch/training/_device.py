"""Data held on the training device: seeded shuffling, batched augmentation, normalisation.

Everything happens with tensor ops on the device that trains (no DataLoader, no
per-batch copies from the host): one permutation and one draw of crop offsets and
flips per epoch from the run's own ``torch.Generator``, then per batch one gather
that crops and flips at once, and one fused multiply-add that normalises.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from archsearch.data import Dataset
from archsearch.errors import ConfigError

__all__ = ["DeviceData", "EpochPlan", "resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a device.

    Raises:
        ConfigError: for an unknown name, or CUDA asked for where there is none.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {device!r}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {device!r}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} asked for, but torch sees no CUDA device")
    return resolved


@dataclass(frozen=True, eq=False)
class EpochPlan:
    """The random draws of one epoch: image order, crop offsets and flips."""

    order: torch.Tensor  # (N,) int64
    offsets: torch.Tensor | None  # (2, N) int64 row/column offsets into the padded image
    flips: torch.Tensor | None  # (N,) bool


class DeviceData:
    """A :class:`Dataset` moved to ``device``, with its normalisation.

    Images keep their dtype (uint8 stays uint8: a quarter of the memory); each batch
    is cropped in that form, as torchvision pads with zeros before normalising, then
    normalised with the training split's per-channel mean and standard deviation.
    Other inputs (token ids, graphs) are batched as they are: no normalisation, and
    crop-and-flip augmentation applies to images only.
    """

    def __init__(self, data: Dataset, device: torch.device) -> None:
        self.source = data
        self.device = device
        self.num_classes = data.num_classes
        self.train_x, self.train_y = data.train_x.to(device), data.train_y.to(device)
        self.valid_x, self.valid_y = data.valid_x.to(device), data.valid_y.to(device)
        self.test_x, self.test_y = data.test_x.to(device), data.test_y.to(device)
        self.is_images = data.is_images
        if not self.is_images:
            if self.n_train == 0:
                raise ConfigError("dataset: the training split is empty")
            return
        self.scale, self.shift = _normalisation(self.train_x)
        _, _, h, w = self.train_x.shape
        self._rows = torch.arange(h, device=device)
        self._cols = torch.arange(w, device=device)
        self._flipped_cols = torch.arange(w - 1, -1, -1, device=device)

    @property
    def n_train(self) -> int:
        return int(self.train_y.shape[0])

    def plan_epoch(self, generator: torch.Generator, *, augment: bool, padding: int) -> EpochPlan:
        """Draw the epoch's order (and crop offsets and flips when ``augment``)."""
        n = self.n_train
        order = torch.randperm(n, generator=generator, device=self.device)
        if not augment or not self.is_images:
            return EpochPlan(order, None, None)
        offsets = torch.randint(
            0, 2 * padding + 1, (2, n), generator=generator, device=self.device
        )
        flips = torch.randint(0, 2, (n,), generator=generator, device=self.device).bool()
        return EpochPlan(order, offsets, flips)

    def batch(
        self, plan: EpochPlan, start: int, stop: int, padding: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``plan.order[start:stop]``, augmented as planned and normalised."""
        index = plan.order[start:stop]
        x, y = self.train_x[index], self.train_y[index]
        if plan.offsets is not None and plan.flips is not None:
            x = self._crop_flip(x, plan.offsets[:, start:stop], plan.flips[start:stop], padding)
        return self.normalise(x), y

    def _crop_flip(
        self, x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int
    ) -> torch.Tensor:
        """Random crop of the zero-padded images and horizontal flip, as one gather."""
        if padding:
            x = F.pad(x, (padding, padding, padding, padding))
        b, c = x.shape[:2]
        rows = offsets[0, :, None] + self._rows  # (B, H)
        cols = offsets[1, :, None] + torch.where(
            flips[:, None], self._flipped_cols, self._cols
        )  # (B, W): a flipped crop reads its columns backwards
        batch_index = torch.arange(b, device=x.device)[:, None, None, None]
        channel_index = torch.arange(c, device=x.device)[None, :, None, None]
        return x[batch_index, channel_index, rows[:, None, :, None], cols[:, None, None, :]]

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Float images with zero mean and unit deviation per channel (training split).

        Inputs that are not images are returned as they are.
        """
        if not self.is_images:
            return x
        return torch.addcmul(self.shift, x.float(), self.scale)


def _normalisation(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``scale, shift`` with ``x * scale + shift`` standardised per channel."""
    if images.shape[0] == 0:
        raise ConfigError("dataset: the training split is empty")
    unit = 1 / 255.0 if images.dtype == torch.uint8 else 1.0
    x = images.float() * unit
    dims = (0, 2, 3)
    mean = x.mean(dim=dims)
    std = x.std(dim=dims).clamp_min(1e-6)
    scale = (unit / std)[None, :, None, None]
    shift = (-mean / std)[None, :, None, None]
    return scale, shift
