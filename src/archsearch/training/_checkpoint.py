"""Checkpoints of a training run, one file per reported fidelity (epoch).

A run's folder holds ``epoch_0012.pt``, ``epoch_0036.pt``, ...: the model, the
optimizer, the step, both random-number states, the curve and the metrics reported
at that epoch. Files are written to a temporary name and renamed, so a crash never
leaves a half-written checkpoint under a valid name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from archsearch.errors import DataError

__all__ = ["checkpoint_path", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

_NAME = re.compile(r"^epoch_(\d+)\.pt$")
#: bumped when the layout of the saved dict changes
VERSION = 1


def checkpoint_path(folder: Path, epoch: int) -> Path:
    """Where the checkpoint of ``epoch`` lives in ``folder``."""
    return folder / f"epoch_{epoch:04d}.pt"


def latest_checkpoint(folder: Path | None, at_most: int) -> tuple[int, Path] | None:
    """The checkpoint with the highest epoch ``<= at_most`` in ``folder``, or None."""
    if folder is None or not folder.is_dir():
        return None
    best: tuple[int, Path] | None = None
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        epoch = int(match.group(1))
        if epoch <= at_most and (best is None or epoch > best[0]):
            best = (epoch, entry)
    return best


def save_checkpoint(folder: Path, epoch: int, state: dict[str, Any]) -> Path:
    """Write ``state`` as the checkpoint of ``epoch`` (atomically) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(folder, epoch)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"version": VERSION, "epoch": epoch, **state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors on the CPU).

    Raises:
        DataError: naming the file when it cannot be read or is of another version.
    """
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise DataError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if state.get("version") != VERSION:
        raise DataError(
            f"{path}: checkpoint version {state.get('version')!r}, expected {VERSION}; "
            "delete the folder to train from scratch"
        )
    return state
