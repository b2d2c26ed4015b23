"""A tabular benchmark built by training: one row per architecture, columns per fidelity.

The file is a NumPy ``.npz`` in the layout of the shipped NB201 table
(``"{dataset}/valid_{epochs}"`` columns, one value per architecture):

- ``keys``: one string per row, the architecture's key (the NB201 string for NB201
  cells, else the canonical JSON of the config, see :func:`archsearch.space.config_key`);
- ``configs``: the config of each row as JSON;
- ``fidelities``: the epochs at which every row was measured (ascending);
- ``{dataset}/valid_{f}``, ``{dataset}/test_{f}``: accuracies (percent) after ``f``
  epochs, on the fixed validation and test splits;
- ``{dataset}/time_{f}``: measured wall seconds to train (and evaluate) to ``f`` epochs
  from scratch (cumulative);
- ``params``: parameter counts;
- ``meta``: JSON (the space, the dataset, the model options, the recipe, the subset,
  the seed, the device, the software versions: what it takes to rebuild the table).

Missing values (a diverged training) are NaN.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError, DataError
from archsearch.space import config_key

__all__ = ["METRICS", "BenchTable", "table_key"]

#: the per-fidelity columns of a table
METRICS = ("valid_accuracy", "test_accuracy", "train_time_s")
_COLUMN = {"valid_accuracy": "valid", "test_accuracy": "test", "train_time_s": "time"}


def table_key(space: str, config: Any) -> str:
    """The row key of ``config`` in a table of ``space``: NB201 strings for NB201."""
    if space == "nb201" and isinstance(config, Mapping):
        from archsearch.spaces.nb201 import to_arch_str

        return to_arch_str(config)
    return config_key(config)


def _fidelity_name(fidelity: float) -> str:
    return str(int(fidelity)) if float(fidelity).is_integer() else repr(float(fidelity))


@dataclass
class BenchTable:
    """A built benchmark table in memory (see the module docstring for the file).

    Attributes:
        keys: the architectures' keys, one per row.
        configs: their configs.
        fidelities: the measured epochs, ascending.
        columns: ``{"valid_accuracy": array[rows, fidelities], ...}`` for :data:`METRICS`.
        params: parameter counts.
        meta: how the table was made; ``meta["dataset"]`` names the columns' dataset.
    """

    keys: list[str]
    configs: list[Any]
    fidelities: tuple[float, ...]
    columns: dict[str, np.ndarray]
    params: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rows = {key: i for i, key in enumerate(self.keys)}
        if len(self._rows) != len(self.keys):
            raise DataError("table: duplicate architecture keys")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def dataset(self) -> str:
        return str(self.meta.get("dataset", "data"))

    @property
    def space(self) -> str:
        return str(self.meta.get("space", ""))

    @property
    def arch_strs(self) -> list[str]:
        """The keys: NB201 strings for a table of NB201 cells."""
        return list(self.keys)

    def row(self, config: Any) -> int:
        """The row of ``config`` (a config of the table's space, or a row key).

        Raises:
            ConfigError: when the architecture is not in the table.
        """
        key = config if isinstance(config, str) else table_key(self.space, config)
        try:
            return self._rows[key]
        except KeyError:
            raise ConfigError(
                f"config: {key[:80]!r} is not in this table of {len(self)} architectures"
            ) from None

    def column(self, metric: str, fidelity: float | None = None) -> np.ndarray:
        """One metric at one fidelity (default: the highest) for every row.

        Raises:
            ConfigError: for an unknown metric or fidelity.
        """
        if metric not in self.columns:
            raise ConfigError(f"metric: unknown {metric!r}; allowed: {', '.join(self.columns)}")
        return self.columns[metric][:, self.fidelity_position(fidelity)]

    def fidelity_position(self, fidelity: float | None) -> int:
        """The column position of ``fidelity`` (None: the highest)."""
        if fidelity is None:
            return len(self.fidelities) - 1
        for i, f in enumerate(self.fidelities):
            if float(fidelity) == f:
                return i
        allowed = ", ".join(_fidelity_name(f) for f in self.fidelities)
        raise ConfigError(f"fidelity: the table has epochs {allowed}, got {fidelity!r}")

    # -- files ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the table atomically (a temporary file renamed over ``path``)."""
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "keys": np.array(self.keys, dtype=str),
            "configs": np.array([json.dumps(c, sort_keys=True) for c in self.configs], dtype=str),
            "fidelities": np.array(self.fidelities, dtype=np.float64),
            "params": np.asarray(self.params, dtype=np.int64),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        }
        for metric, values in self.columns.items():
            for j, f in enumerate(self.fidelities):
                name = f"{self.dataset}/{_COLUMN[metric]}_{_fidelity_name(f)}"
                arrays[name] = np.asarray(values[:, j], dtype=np.float32)
        handle, tmp = tempfile.mkstemp(dir=file.parent, suffix=".npz.tmp")
        os.close(handle)
        try:
            with open(tmp, "wb") as out:
                np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, file)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return file

    @classmethod
    def load(cls, path: str | Path) -> BenchTable:
        """Read a table written by :meth:`save` (``archsearch bench build``).

        Raises:
            DataError: naming the file when it is missing or not such a table.
        """
        file = Path(path)
        if not file.is_file():
            raise DataError(
                f"{file}: no such benchmark table; make one with `archsearch bench build`"
            )
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{file}: not a readable benchmark table ({exc})") from None
        missing = [
            k for k in ("keys", "configs", "fidelities", "params", "meta") if k not in arrays
        ]
        if missing:
            raise DataError(f"{file}: not a benchmark table (missing {', '.join(missing)})")
        meta = json.loads(str(arrays["meta"]))
        fidelities = tuple(float(f) for f in arrays["fidelities"])
        dataset = str(meta.get("dataset", "data"))
        columns: dict[str, np.ndarray] = {}
        for metric in METRICS:
            names = [f"{dataset}/{_COLUMN[metric]}_{_fidelity_name(f)}" for f in fidelities]
            absent = [n for n in names if n not in arrays]
            if absent:
                raise DataError(f"{file}: column {absent[0]!r} is missing")
            columns[metric] = np.stack([arrays[n].astype(np.float64) for n in names], axis=1)
        return cls(
            keys=[str(k) for k in arrays["keys"]],
            configs=[json.loads(str(c)) for c in arrays["configs"]],
            fidelities=fidelities,
            columns=columns,
            params=arrays["params"].astype(np.int64),
            meta=meta,
        )

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[tuple[str, Any, Mapping[float, Mapping[str, float]], int]],
        fidelities: Sequence[float],
        meta: Mapping[str, Any],
    ) -> BenchTable:
        """A table from ``(key, config, {fidelity: {metric: value}}, params)`` rows."""
        fids = tuple(sorted(float(f) for f in fidelities))
        columns = {m: np.full((len(rows), len(fids)), np.nan) for m in METRICS}
        for i, (_, _, by_fidelity, _) in enumerate(rows):
            for j, f in enumerate(fids):
                for metric in METRICS:
                    value = by_fidelity.get(f, {}).get(metric)
                    if value is not None:
                        columns[metric][i, j] = float(value)
        return cls(
            keys=[r[0] for r in rows],
            configs=[r[1] for r in rows],
            fidelities=fids,
            columns=columns,
            params=np.array([r[3] for r in rows], dtype=np.int64),
            meta=dict(meta),
        )
