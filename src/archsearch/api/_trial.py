"""The trial a user's objective receives: its decisions, its reports, its checkpoint."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archsearch.errors import ConfigError
from archsearch.space import Choice, Int, Real, config_key, materialize
from archsearch.space._nodes import Node, compile_spec

__all__ = ["Trial", "TrialPruned", "checkpoint_dir"]


class TrialPruned(Exception):  # noqa: N818 - the name users know from other tools
    """Raised by :meth:`Trial.report` when the pruner stops the trial.

    Let it propagate out of the objective (or catch it to clean up and raise it
    again): the trial is then stored as pruned with the values it reported.
    """


class _Draws:
    """``choice``/``int``/``real``/``build``: the define-by-run vocabulary, on top of
    one method, :meth:`draw`, that subclasses answer."""

    def draw(self, name: str, spec: Any) -> Any:
        """The value of decision ``name`` over ``spec`` (any space spec: a
        :class:`Choice`, :class:`Int`, :class:`Real`, a dict of them, a
        :func:`symbolic` call)."""
        raise NotImplementedError

    def choice(self, name: str, options: Sequence[Any]) -> Any:
        """One of ``options``."""
        return self.draw(name, Choice(list(options)))

    def int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        """An integer in ``[low, high]`` (both included)."""
        value: int = self.draw(name, Int(low, high, log=log))
        return value

    def real(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        """A real number in ``[low, high]``; ``log=True`` for a log-uniform scale."""
        value: float = self.draw(name, Real(low, high, log=log))
        return value

    def build(self, name: str, hyper: Any) -> Any:
        """Draw the decisions of an inline space (a :func:`symbolic` call) and make it."""
        return materialize(hyper, self.draw(name, hyper))


class Trial(_Draws):
    """One evaluation of the user's objective.

    Attributes:
        number: the trial's number in the experiment (unique, from 0).
        config: the decisions of this trial, a plain dict (as stored).
        fidelity: how far to train (e.g. epochs) when the search is multi-fidelity or
            a maximum fidelity was given; else None.
    """

    def __init__(
        self,
        number: int,
        config: Mapping[str, Any],
        fidelity: float | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        checkpoints: Path | None = None,
    ) -> None:
        self.number = number
        self.config = dict(config)
        self.fidelity: int | float | None = _natural(fidelity)
        self.steps: list[float] = []
        self.values: list[float] = []
        self.pruned_reason: str | None = None
        self._context = context or {}
        self._checkpoints = checkpoints
        self._nodes: dict[str, Node] = {}

    @property
    def parent(self) -> Any:
        """The config this trial's config was derived from, when the strategy says so
        (network morphism: a child inherits its parent's weights), else None."""
        return self._context.get("parent")

    @property
    def params(self) -> dict[str, Any]:
        """The decisions of this trial (the same as :attr:`config`)."""
        return self.config

    def draw(self, name: str, spec: Any) -> Any:
        if name not in self.config:
            raise ConfigError(
                f"trial.{name}: this trial's config has no decision {name!r} "
                f"(it has: {', '.join(self.config) or 'none'}); draws must depend only on "
                "earlier draws"
            )
        node = self._nodes.get(name)
        if node is None:
            node = self._nodes[name] = compile_spec(spec)
        return node.validate(self.config[name], name)

    # -- intermediate values ---------------------------------------------------------------
    def report(self, value: float, step: float) -> None:
        """Record an intermediate value (e.g. validation accuracy after epoch ``step``).

        The values are stored with the trial (its learning curve). With a pruner, the
        trial is stopped here by raising :class:`TrialPruned` when ``value`` is worse
        than the pruner's threshold at ``step``.
        """
        value, step = float(value), float(step)
        if self.steps and step <= self.steps[-1]:
            raise ConfigError(
                f"trial.report: steps must increase, got {step:g} after {self.steps[-1]:g}"
            )
        self.steps.append(step)
        self.values.append(value)
        curve = self._context.get("curve")
        if curve is not None:
            self._judge_curve(curve)
            return
        thresholds = self._context.get("thresholds")
        if not thresholds:
            return
        threshold = thresholds.get(_step_key(step))
        if threshold is None:
            return
        maximize = self._context.get("mode", "max") == "max"
        worse = value < threshold if maximize else value > threshold
        if worse or math.isnan(value):
            self.pruned_reason = (
                f"pruned at step {step:g}: {value:.6g} is worse than the threshold "
                f"{threshold:.6g} of the other trials"
            )
            raise TrialPruned(self.pruned_reason)

    def _judge_curve(self, curve: Mapping[str, Any]) -> None:
        """Stop when the extrapolated curve is unlikely to beat the incumbent."""
        stopper = _stopper(curve["stopper"])
        incumbent, final_step = float(curve["incumbent"]), float(curve["final_step"])
        if self.steps[-1] >= final_step or len(self.steps) < stopper.min_points:
            return
        probability = stopper.probability(self.steps, self.values, incumbent, final_step)
        if probability < stopper.threshold:
            self.pruned_reason = (
                f"pruned at step {self.steps[-1]:g}: P(value at step {final_step:g} > "
                f"{incumbent:.6g}) = {probability:.3f} < {stopper.threshold:g}"
            )
            raise TrialPruned(self.pruned_reason)

    def should_prune(self) -> bool:
        """Whether the last reported value was below the pruner's threshold.

        :meth:`report` already raises :class:`TrialPruned`; this is for code that
        catches it and wants to ask again.
        """
        return self.pruned_reason is not None

    # -- checkpoints ------------------------------------------------------------------
    def save_checkpoint(self, obj: Any) -> Path:
        """Keep ``obj`` (tensors, dicts, lists, numbers: e.g. a model's and optimizer's
        state dicts and the epoch) for later trials of the same config.

        A config promoted to a higher fidelity (ASHA, Hyperband, BOHB) finds it with
        :meth:`load_checkpoint` and trains only the epochs it adds. The file is
        written whole or not at all.
        """
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "checkpoint.pt"
        handle, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(handle)
        try:
            _save(obj, Path(tmp))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        meta = {"trial": self.number, "fidelity": self.fidelity, "config": self.config}
        (folder / "checkpoint.json").write_text(json.dumps(meta, default=str))
        return target

    def load_checkpoint(self, config: Any = None) -> Any:
        """The last object saved by a trial of this config (or of ``config``, e.g.
        :attr:`parent`), or None.

        Loaded with ``torch.load(..., weights_only=True)``: tensors and plain
        containers only, never arbitrary code.
        """
        path = self._folder(config) / "checkpoint.pt"
        if not path.is_file():
            return None
        return _load(path)

    def _folder(self, config: Any = None) -> Path:
        if self._checkpoints is None:
            raise ConfigError("trial: no checkpoint folder (give search(..., artifacts=DIR))")
        return checkpoint_dir(self._checkpoints, self.config if config is None else config)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, config={self.config}, fidelity={self.fidelity})"


def checkpoint_dir(root: Path, config: Any) -> Path:
    """The folder holding the checkpoint of ``config`` under an experiment's ``root``."""
    digest = hashlib.sha1(config_key(config).encode()).hexdigest()[:16]
    return root / "checkpoints" / digest


_STOPPERS: dict[str, Any] = {}  # one per spec in a worker: models are built once


def _stopper(spec: Mapping[str, Any]) -> Any:
    key = json.dumps(spec, sort_keys=True)
    if key not in _STOPPERS:
        from archsearch.curves import CurveStopper

        _STOPPERS[key] = CurveStopper(**spec)
    return _STOPPERS[key]


def _step_key(step: float) -> str:
    return f"{step:g}"


def _natural(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _save(obj: Any, path: Path) -> None:
    import torch

    torch.save(obj, path)


def _load(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - name the file, whatever went wrong
        raise ConfigError(f"checkpoint {path}: cannot be loaded ({exc})") from None
