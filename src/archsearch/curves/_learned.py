"""A learned curve model: a small MLP from a partial curve to a Gaussian at a later step.

Trained across many curves of a benchmark (the other tasks of LCBench, say), it
predicts the value at a target step from the shape of what was observed, where a
parametric family has to assume one. The input is a fixed-length summary of the
partial curve in relative steps (steps divided by the final step ``X``):

- the last value ``y_n / S`` (``S``: the value scale, 100 for percentages), the share
  seen ``x_n / X``, the target share ``t / X`` and ``log(t / x_n)``;
- the values at 7 fixed fractions of the observed stretch (0.1 ... 0.9 of ``x_n``;
  each the value of the last observation at or before it), less ``y_n``, over ``S``;
- the best value so far less ``y_n``, over ``S``.

So dense curves (every epoch) and sparse ones (a few rungs) give the same features.
The head gives the mean change from ``y_n`` and a log standard deviation; training
minimises the Gaussian negative log-likelihood of the true value at the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from archsearch.curves._threads import one_thread
from archsearch.errors import ConfigError

__all__ = ["FRACTIONS", "LearnedCurveModel", "curve_features", "pad"]

Curve = tuple[Sequence[float], Sequence[float]]

#: where in the observed stretch the curve is read, as fractions of the last step seen
FRACTIONS = (0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9)
N_FEATURES = 4 + len(FRACTIONS) + 1


def pad(curves: Sequence[Curve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Curves as padded ``(n, L)`` arrays: steps (padding: +inf), values, counts ``(n,)``.

    Raises:
        ConfigError: for an empty curve or mismatched steps and values.
    """
    width = max((len(v) for _, v in curves), default=1)
    steps = np.full((len(curves), width), np.inf)
    values = np.zeros((len(curves), width))
    counts = np.zeros(len(curves), dtype=int)
    for i, (s, v) in enumerate(curves):
        if len(s) != len(v) or len(v) == 0:
            raise ConfigError(
                f"curves[{i}]: need as many steps as values, at least one; "
                f"got {len(s)} steps, {len(v)} values"
            )
        steps[i, : len(s)], values[i, : len(v)], counts[i] = s, v, len(v)
    return steps, values, counts


def curve_features(
    steps: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    targets: np.ndarray,
    final_step: float,
    scale: float,
) -> np.ndarray:
    """The model's inputs (see the module docstring), ``(n, N_FEATURES)``.

    Args:
        steps, values, counts: padded curves (see :func:`pad`); steps increasing.
        targets: the step to predict for each curve, ``(n,)``.
        final_step: the last step of a full curve (52 epochs on LCBench).
        scale: the value scale.
    """
    rows = np.arange(len(counts))
    last_step = steps[rows, counts - 1]
    last = values[rows, counts - 1]
    query = last_step[:, None] * np.asarray(FRACTIONS)[None, :]  # (n, J)
    # the last observation at or before each query step (the first one before it)
    index = (steps[:, None, :] <= query[:, :, None] * (1 + 1e-9)).sum(-1) - 1
    read = values[rows[:, None], np.clip(index, 0, None)]
    valid = np.arange(steps.shape[1])[None, :] < counts[:, None]
    best = np.where(valid, values, -np.inf).max(1)
    return np.column_stack(
        [
            last / scale,
            last_step / final_step,
            targets / final_step,
            np.log(np.maximum(targets, last_step) / last_step),
            (read - last[:, None]) / scale,
            (best - last) / scale,
        ]
    )


class _Net(torch.nn.Module):
    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


class LearnedCurveModel:
    """An MLP predicting ``N(mean, std)`` of a curve's value at a later step.

    Build one with :meth:`train`; :meth:`predict_curves` answers for partial curves.

    Args:
        scale: the value scale (100 for percentages).
        hidden: width of the two hidden layers.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = np.arange(1, 21)
        >>> top = rng.uniform(50, 95, (300, 1))
        >>> curves = top - (top - 10) * x ** -rng.uniform(0.3, 1.5, (300, 1))
        >>> model = LearnedCurveModel.train(curves, scale=100, epochs=4, seed=0)
        >>> mean, std = model.predict_curves([(x[:5], curves[0, :5])], [20], final_step=20)
        >>> mean.shape, bool(std[0] > 0)
        ((1,), True)
    """

    def __init__(self, *, scale: float = 1.0, hidden: int = 64) -> None:
        if not scale > 0:
            raise ConfigError(f"scale: must be > 0, got {scale!r}")
        self.scale, self.hidden = float(scale), int(hidden)
        self.net = _Net(N_FEATURES, self.hidden).double()
        self.shift = np.zeros(N_FEATURES)
        self.spread = np.ones(N_FEATURES)

    @classmethod
    def train(
        cls,
        curves: np.ndarray,
        *,
        scale: float = 1.0,
        hidden: int = 64,
        examples_per_curve: int = 8,
        epochs: int = 12,
        batch_size: int = 512,
        learning_rate: float = 3e-3,
        seed: int = 0,
    ) -> LearnedCurveModel:
        """Train on full curves, one value per step ``1..T`` (rows of ``curves``).

        Each curve gives ``examples_per_curve`` examples: a cut ``n`` (log-uniform in
        ``1..T-1``, so that early cuts are common), a target after it (the last step
        half of the time, else uniform), and the observations before the cut: every
        step, or (a third of the time) a random sparse subset ending at the cut, as a
        ladder of rungs gives.

        Args:
            curves: ``(n_curves, T)`` finite values.
            scale: the value scale.
            hidden: see the class.
            examples_per_curve, epochs, batch_size, learning_rate: the training.
            seed: fixes the examples, the initial weights and the batches.

        Raises:
            ConfigError: for curves that are not a finite 2-D array of >= 2 steps.
        """
        curves = np.asarray(curves, dtype=float)
        if curves.ndim != 2 or curves.shape[1] < 2 or not np.all(np.isfinite(curves)):
            raise ConfigError(
                f"curves: expected a finite (n_curves, steps >= 2) array, got shape {curves.shape}"
            )
        model = cls(scale=scale, hidden=hidden)
        x, y = model.examples(curves, examples_per_curve, np.random.default_rng(seed))
        model.shift, model.spread = x.mean(0), x.std(0) + 1e-6
        with one_thread():
            model._fit(x, y, epochs, batch_size, learning_rate, seed)
        return model

    def examples(
        self, curves: np.ndarray, per_curve: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Training inputs and targets (over ``scale``) drawn from full curves."""
        n_curves, n_steps = curves.shape
        n = n_curves * per_curve
        which = np.repeat(np.arange(n_curves), per_curve)
        cut = np.floor(np.exp(rng.uniform(0, math.log(n_steps - 1), n))).astype(int)
        cut = np.clip(cut, 1, n_steps - 1)
        later = rng.integers(cut + 1, n_steps + 1)
        target = np.where(rng.random(n) < 0.5, n_steps, later)
        grid = np.arange(1, n_steps + 1, dtype=float)
        keep = (grid[None, :] <= cut[:, None]) & (
            (rng.random(n) >= 1 / 3)[:, None]
            | (rng.random((n, n_steps)) < 0.3)
            | (grid[None, :] == cut[:, None])
        )
        counts = keep.sum(1)
        order = np.argsort(~keep, axis=1, kind="stable")  # kept steps first, in order
        steps = np.where(np.arange(n_steps)[None, :] < counts[:, None], grid[order], np.inf)
        values = curves[which[:, None], order]
        x = curve_features(steps, values, counts, target.astype(float), n_steps, self.scale)
        y = curves[which, target - 1] / self.scale
        return x, y

    def _fit(
        self, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, lr: float, seed: int
    ) -> None:
        inputs = torch.from_numpy((x - self.shift) / self.spread)
        last = torch.from_numpy(x[:, 0])
        target = torch.from_numpy(y)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.net.parameters():
                bound = 1 / math.sqrt(p.shape[-1])
                p.copy_(torch.rand(p.shape, generator=generator, dtype=p.dtype) * 2 - 1)
                p.mul_(bound)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        n_batches = max(1, math.ceil(len(y) / batch_size))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * n_batches)
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator)
            for k in range(n_batches):
                batch = order[k * batch_size : (k + 1) * batch_size]
                mean, log_std = self._head(inputs[batch], last[batch])
                z = (target[batch] - mean) / log_std.exp()
                loss = (log_std + 0.5 * z**2).mean()
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                schedule.step()

    def _head(self, inputs: torch.Tensor, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(inputs)
        return last + out[:, 0], out[:, 1].clamp(-9.0, 3.0)

    def predict_curves(
        self,
        curves: Sequence[Curve],
        targets: Sequence[float] | np.ndarray,
        *,
        final_step: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of each curve's value at its target step.

        Args:
            curves: partial curves ``(steps, values)``, steps increasing and > 0.
            targets: one step per curve.
            final_step: the last step of a full curve (the features are relative to it).

        Returns:
            ``(mean, std)``, each ``(n,)``, in the curves' units.

        Raises:
            ConfigError: for mismatched lengths.
        """
        goal = np.asarray(targets, dtype=float).reshape(-1)
        if len(goal) != len(curves):
            raise ConfigError(f"targets: {len(goal)} given for {len(curves)} curves")
        if not curves:
            return np.zeros(0), np.zeros(0)
        steps, values, counts = pad(curves)
        x = curve_features(steps, values, counts, goal, float(final_step), self.scale)
        with torch.no_grad(), one_thread():
            mean, log_std = self._head(
                torch.from_numpy((x - self.shift) / self.spread), torch.from_numpy(x[:, 0])
            )
        return mean.numpy() * self.scale, log_std.exp().numpy() * self.scale

    def state_dict(self) -> dict[str, Any]:
        """The weights and input normalisation, JSON-able."""
        return {
            "scale": self.scale,
            "hidden": self.hidden,
            "shift": self.shift.tolist(),
            "spread": self.spread.tolist(),
            "net": {k: v.tolist() for k, v in self.net.state_dict().items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LearnedCurveModel:
        """Rebuild a model saved with :meth:`state_dict`."""
        model = cls(scale=float(state["scale"]), hidden=int(state["hidden"]))
        model.shift = np.asarray(state["shift"], dtype=float)
        model.spread = np.asarray(state["spread"], dtype=float)
        weights = {k: torch.tensor(v, dtype=torch.float64) for k, v in state["net"].items()}
        model.net.load_state_dict(weights)
        return model
