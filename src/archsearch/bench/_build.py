"""``archsearch bench build``: train a sample of a space and write a benchmark table.

The training runs as an ordinary stored experiment (the ``sequence`` strategy over
the sampled configs, each trained once to the highest fidelity with a checkpoint and
a measurement at every fidelity on the way), so it resumes where it stopped: run the
same command again and the trials already stored are not trained again. The table is
written from the stored trials at the end (and can be written from a partial run with
``allow_partial``).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.bench._table import BenchTable, table_key
from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Space, as_rng, config_key
from archsearch.trial import TrialStatus

if TYPE_CHECKING:  # the table benchmark imports this package: no store at import time
    from archsearch.store import Store

__all__ = ["build_spec", "build_table", "sample_configs", "table_from_store"]


def sample_configs(space: Space, sample: int | None, seed: int) -> list[Any]:
    """``sample`` distinct configs drawn with ``seed`` (None: the whole finite space).

    Raises:
        ConfigError: when the space is smaller than the sample or infinite without one.
    """
    if sample is None:
        if not space.is_finite:
            raise ConfigError("sample: the space is infinite; give --sample K")
        return list(space.enumerate())
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        raise ConfigError(f"sample: must be a positive integer, got {sample!r}")
    if space.is_finite and sample > space.size:
        raise ConfigError(f"sample: {sample} exceeds the space's {int(space.size)} configs")
    rng = as_rng(seed)
    seen: dict[str, Any] = {}
    tries = 0
    while len(seen) < sample:
        config = space.sample(rng)
        seen.setdefault(config_key(config), config)
        tries += 1
        if tries > 100 * sample:
            raise ConfigError(f"sample: could not draw {sample} distinct configs")
    return list(seen.values())


def _check_fidelities(fidelities: Sequence[int]) -> list[int]:
    ok = bool(fidelities) and all(
        isinstance(f, int) and not isinstance(f, bool) and f >= 1 for f in fidelities
    )
    if not ok or list(fidelities) != sorted(set(fidelities)):
        raise ConfigError(
            f"fidelities: ascending whole numbers of epochs such as 1,4,12, got {fidelities!r}"
        )
    return list(fidelities)


def build_spec(
    space: str,
    *,
    dataset: str,
    fidelities: Sequence[int],
    configs: Sequence[Any],
    checkpoint_dir: str,
    model: Mapping[str, Any] | None = None,
    subset: int | None = None,
    recipe: str = "nb201",
    seed: int = 0,
    device: str = "auto",
    workers: int = 1,
    data_path: str | None = None,
    n_threads: int | None = None,
    n_valid: int | None = None,
) -> dict[str, Any]:
    """The experiment spec that trains ``configs`` at ``fidelities`` (see :func:`build_table`)."""
    ladder = _check_fidelities(fidelities)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers: must be an integer >= 1, got {workers!r}")
    bench: dict[str, Any] = {
        "name": "training",
        "space": space,
        "dataset": dataset,
        "epochs": ladder[-1],
        "recipe": recipe,
        "seed": seed,
        "device": device,
        "checkpoint_dir": checkpoint_dir,
        "report_test": True,
    }
    optional = {
        "subset": subset,
        "model": dict(model or {}),
        "path": data_path,
        "n_valid": n_valid,
    }
    bench.update({k: v for k, v in optional.items() if v})
    if n_threads is not None:
        bench["n_threads"] = n_threads
    executor: dict[str, Any] = {"name": "inline"}
    if workers > 1:
        executor = {"name": "processes", "workers": workers, "start_method": "spawn"}
    return {
        "space": {"name": space},
        "benchmark": bench,
        "strategy": {"name": "sequence", "configs": list(configs), "ladder": ladder},
        "objective": {"metric": "valid_accuracy", "mode": "max"},
        "budget": {"trials": len(configs) * len(ladder)},
        "executor": executor,
        "seed": seed,
    }


def table_from_store(
    store: Store, name: str, *, allow_partial: bool = False, meta: Mapping[str, Any] | None = None
) -> BenchTable:
    """The table of the experiment ``name``: one row per config trained to every fidelity.

    Raises:
        ConfigError: when the experiment is missing or (without ``allow_partial``)
            unfinished.
    """
    record = store.find_experiment(name)
    if record is None:
        raise ConfigError(f"name: no experiment {name!r} in the store")
    spec = record.spec
    strategy = spec["strategy"]
    space = spec["space"]["name"]
    ladder = [float(f) for f in strategy["ladder"]]
    by_key: dict[str, dict[float, dict[str, float]]] = {}
    params: dict[str, int] = {}
    failed: set[str] = set()  # diverged runs: NaN from their failure on
    for trial in store.trials(record.id):
        if trial.state is TrialStatus.FAILED:
            failed.add(table_key(space, trial.config))
        if trial.state is not TrialStatus.COMPLETE or trial.fidelity is None:
            continue
        key = table_key(space, trial.config)
        metrics = trial.metrics
        by_key.setdefault(key, {})[float(trial.fidelity)] = {
            "valid_accuracy": float(metrics["valid_accuracy"]),
            "test_accuracy": float(metrics.get("test_accuracy", float("nan"))),
            "train_time_s": float(metrics.get("train_time_s", trial.cost_s or float("nan"))),
        }
        if "n_params" in metrics:
            params[key] = int(metrics["n_params"])
    rows = []
    unfinished = 0
    for config in strategy["configs"]:
        key = table_key(space, config)
        measured = by_key.get(key, {})
        if any(f not in measured for f in ladder) and key not in failed:
            unfinished += 1
            if not allow_partial or not measured:
                continue
        rows.append((key, config, measured, params.get(key, -1)))
    if unfinished and not allow_partial:
        raise ConfigError(
            f"experiment {name!r}: {unfinished} of {len(strategy['configs'])} configs are not "
            "trained to every fidelity yet (run the build again to resume it)"
        )
    bench = spec["benchmark"]
    info = {
        "space": space,
        "dataset": bench["dataset"],
        "model": bench.get("model", {}),
        "subset": bench.get("subset"),
        "recipe": bench.get("recipe", "nb201"),
        "epochs": bench.get("epochs"),
        "seed": spec.get("seed"),
        "device": bench.get("device"),
        "experiment": name,
        **dict(meta or {}),
    }
    return BenchTable.from_rows(rows, ladder, info)


def build_table(
    space: str,
    *,
    dataset: str,
    fidelities: Sequence[int],
    out: str | Path,
    sample: int | None = None,
    seed: int = 0,
    storage: str | None = None,
    name: str | None = None,
    model: Mapping[str, Any] | None = None,
    subset: int | None = None,
    recipe: str = "nb201",
    device: str = "auto",
    workers: int = 1,
    data_path: str | None = None,
    n_threads: int | None = None,
    n_valid: int | None = None,
    checkpoint_dir: str | Path | None = None,
) -> BenchTable:
    """Train a sample of ``space`` on ``dataset`` and write the table to ``out``.

    Args:
        space: a registered space with a model builder (``nb201``, ``nats_size``, ...).
        dataset: a registered dataset (``fashion_mnist``, ``cifar10``, ``digits``, ...).
        fidelities: epochs at which every config is measured, ascending (the last is
            the recipe's length: its learning-rate schedule spans it).
        out: the table file (``.npz``).
        sample: how many configs to draw (None: all of a finite space).
        seed: seeds the sample, the weights, the data order and the splits' use.
        storage: the store of the experiment (default: ``OUT`` with ``.db``).
        name: the experiment's name (default ``bench-SPACE-DATASET``).
        model: model-builder options (e.g. ``{"channels": 8, "n_cells": 1}``).
        subset: images per split (None: all).
        recipe: the training recipe (``nb201`` or ``adamw``).
        device: ``auto``, ``cpu`` or ``cuda``.
        workers: trainings at once (processes).
        data_path: where the dataset's files are (None: the usual places).
        n_threads: CPU threads per training.
        n_valid: size of the validation split (None: the dataset's own).
        checkpoint_dir: where runs keep checkpoints (default: beside ``out``).

    Returns:
        The table written.
    """
    _check_fidelities(fidelities)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    space_obj = SPACES.create(space, {}, field="space")
    configs = sample_configs(space_obj, sample, seed)
    checkpoints = Path(checkpoint_dir) if checkpoint_dir else out.with_name(out.stem + "-runs")
    spec = build_spec(
        space,
        dataset=dataset,
        fidelities=fidelities,
        configs=configs,
        checkpoint_dir=str(checkpoints),
        model=model,
        subset=subset,
        recipe=recipe,
        seed=seed,
        device=device,
        workers=workers,
        data_path=data_path,
        n_threads=n_threads,
        n_valid=n_valid,
    )
    from archsearch.experiment import build_experiment, normalize_spec
    from archsearch.store import open_store

    store = open_store(storage or f"sqlite:///{out.with_suffix('.db')}")
    name = name or f"bench-{space}-{dataset}"
    experiment = build_experiment(normalize_spec(spec), store=store, name=name)
    experiment.run()
    import torch

    versions = {"torch": torch.__version__, "python": platform.python_version()}
    table = table_from_store(store, name, meta={"versions": versions})
    table.save(out)
    return table
