"""``archsearch export NAME --out DIR``: the best config, its model rebuilt, its checkpoint.

Writes ``best.json`` (experiment, trial, config, value, metrics). With a builder, the
model is rebuilt from the config: a built-in space's own builder (``nb201``, ``darts``,
``mobilenet``, ...), the ``builder=`` given to :func:`archsearch.search`, or
``--builder module:function``, a function of the config returning a ``torch.nn.Module``.
The model's weights go to ``model.pt`` (a state dict) and its description to
``model.txt``. When the search kept a checkpoint of that config
(``trial.save_checkpoint``), it is copied as ``checkpoint.pt`` and its weights are
loaded into the rebuilt model first.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from archsearch.errors import ConfigError, StoreError
from archsearch.store import Store

__all__ = ["add_parser", "export"]


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    export_parser = sub.add_parser(
        "export", parents=parents, help="write the best config, model and checkpoint"
    )
    export_parser.add_argument("name")
    export_parser.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    export_parser.add_argument(
        "--builder", metavar="MODULE:FUNCTION", help="builder(config) -> torch.nn.Module"
    )


def export(store: Store, name: str, out: Path, builder: str | None = None) -> list[Path]:
    """Export experiment ``name``'s best trial to ``out``; returns the files written.

    Raises:
        StoreError: no such experiment, or no complete trial.
        ConfigError: a builder that cannot be imported or fails, naming it.
    """
    record = store.find_experiment(name)
    if record is None:
        raise StoreError(f"no experiment {name!r}; `archsearch list` shows them")
    best = store.best_trial(record.id)
    if best is None:
        raise StoreError(f"experiment {name!r} has no complete trial to export")
    spec = dict(record.spec)
    objective = spec.get("objective") or {}
    mode = objective.get("mode", "max") if "metrics" not in objective else "max"
    value = None if best.score is None else (-best.score if mode == "min" else best.score)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out: cannot create {out}: {exc.strerror}") from None
    written = [out / "best.json"]
    written[0].write_text(
        json.dumps(
            {
                "experiment": name,
                "trial": best.number,
                "config": best.config,
                "fidelity": best.fidelity,
                "value": value,
                "metrics": dict(best.metrics),
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    checkpoint = _checkpoint_of(spec, best.config)
    if checkpoint is not None:
        shutil.copyfile(checkpoint, out / "checkpoint.pt")
        written.append(out / "checkpoint.pt")
    model = _build(spec, best.config, builder)
    if model is not None:
        import torch

        if checkpoint is not None:
            _load_weights(model, torch.load(checkpoint, weights_only=True, map_location="cpu"))
        torch.save(model.state_dict(), out / "model.pt")
        n_params = sum(p.numel() for p in model.parameters())
        (out / "model.txt").write_text(f"{model}\n\n{n_params:,} parameters\n")
        written += [out / "model.pt", out / "model.txt"]
    return written


def _checkpoint_of(spec: dict[str, Any], config: Any) -> Path | None:
    bench = spec.get("benchmark") or {}
    if bench.get("name") != "objective" or not bench.get("artifacts"):
        return None
    from archsearch.api._trial import checkpoint_dir

    path = checkpoint_dir(Path(bench["artifacts"]), config) / "checkpoint.pt"
    return path if path.is_file() else None


def _build(spec: dict[str, Any], config: Any, builder: str | None) -> Any:
    from archsearch.api._evaluator import resolve

    bench = spec.get("benchmark") or {}
    path = builder or bench.get("builder")
    if path:
        function = resolve(path, "--builder")
        try:
            return function(config)
        except Exception as exc:  # noqa: BLE001 - the user's builder: name it and why
            raise ConfigError(f"--builder: {path} failed on the best config: {exc}") from None
    space = (spec.get("space") or {}).get("name")
    from archsearch.models import MODELS, build_model

    if isinstance(space, str) and space in MODELS:
        return build_model(space, config, **dict(bench.get("model") or {}))
    return None


def _load_weights(model: Any, checkpoint: Any) -> None:
    """Load the state dict found in ``checkpoint`` (itself, or one of its values)."""
    keys = set(model.state_dict())
    candidates = [checkpoint]
    if isinstance(checkpoint, dict):
        candidates += [v for v in checkpoint.values() if isinstance(v, dict)]
    for candidate in candidates:
        if isinstance(candidate, dict) and set(candidate) == keys:
            model.load_state_dict(candidate)
            return
    raise ConfigError(
        "checkpoint.pt: holds no state dict that fits the rebuilt model "
        "(save {'model': model.state_dict(), ...} with trial.save_checkpoint)"
    )
