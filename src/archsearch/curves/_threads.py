"""Run small torch work on one thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["one_thread"]


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one intra-op thread inside the block, as before it after.

    Curve fits and the curve MLP run many small operations: more threads only wait on
    each other (on a 2-core machine, training the MLP took 3 s on two threads and
    0.04 s on one), and searches run several processes side by side anyway.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
