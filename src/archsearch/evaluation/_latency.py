"""Latency prediction: a profiled per-operation look-up table, a learned model, device tables.

:func:`profile_lut` times every building block of a space's network in isolation, at
each shape where the skeleton uses it, and returns a :class:`LatencyTable` (saved as
JSON). :class:`LUTPredictor` adds the table's entries up for a config, which costs a few
dict reads and no torch; :class:`LearnedLatencyPredictor` fits a ridge regression on an
architecture encoding from measured samples, alone or on the table's residual.
:func:`device_latency` reads the 27 hardware targets shipped with NB201 (HELP's tables).

NB201 table keys (milliseconds, medians):

- ``stem``, ``reduction_1``, ``reduction_2``, ``head`` (BN, ReLU, pooling, classifier):
  the fixed parts;
- per stage ``s`` (0, 1, 2 at ``C``, ``2C``, ``4C`` channels): ``stage_s/OP`` for the
  five ops (``none`` is 0: the builder makes no module for it), ``stage_s/add`` (one
  addition in a node's sum), ``stage_s/zeros`` (a node without inputs, filled with
  zeros) and ``stage_s/cell`` (a cell's own overhead: its forward with every edge
  ``none``, less its three zero nodes).

Example:
    >>> from archsearch.spaces.nb201 import from_arch_str
    >>> table = profile_lut("nb201", input_shape=(3, 8, 8), threads=1, repeats=2,
    ...                     model_options={"channels": 4, "n_cells": 1})
    >>> predictor = LUTPredictor(table)
    >>> conv = from_arch_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
    ...                      "+|none~0|none~1|nor_conv_3x3~2|")
    >>> predictor.predict(conv) > table.entries_ms["stage_0/nor_conv_3x3"]
    True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import operator
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from archsearch.errors import ConfigError, DataError
from archsearch.evaluation._nb201 import _latency_column, nb201_devices
from archsearch.spaces.nb201 import EDGES, OPS, arch_index, from_arch_str

__all__ = [
    "LUTPredictor",
    "LatencyPredictor",
    "LatencyTable",
    "LearnedLatencyPredictor",
    "device_latency",
    "nb201_encoding",
    "profile_lut",
]

Arch = Mapping[str, Any] | str  # a cell config or an NB201 string
_STAGES = (0, 1, 2)
_CELL_PARTS = (*OPS, "add", "zeros", "cell")  # what a cell's cost is made of, per stage
_FIXED_PARTS = ("stem", "reduction_1", "reduction_2", "head")
_SKELETON_OPTIONS = ("channels", "n_cells")
_ROUNDS = 5  # samples are taken in interleaved rounds, so load drift hits every entry alike
_SAMPLE_MS = 1.0  # each sample times enough calls of a tiny op to last about this long
# wall: what a user waits; cpu: the calling thread's CPU time, which other processes on a
# busy machine do not inflate (only meaningful for one CPU thread)
_CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


class LatencyPredictor(Protocol):
    """A cheap latency metric for a search: ``predict(config)`` in milliseconds."""

    def predict(self, config: Arch) -> float: ...


# -- the table ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LatencyTable:
    """Median latencies (ms) of a space's building blocks on one device.

    Attributes:
        space: the profiled space (``nb201``).
        entries_ms: block -> median milliseconds (keys in the module docstring).
        skeleton: the builder's options (``channels``, ``n_cells``, ``n_classes``).
        input_shape, batch_size, device, threads, clock, repeats: as in :func:`profile_lut`.
        torch_version, machine, created: torch's version, host (arch), the UTC time.
    """

    space: str
    entries_ms: dict[str, float]
    skeleton: dict[str, int]
    input_shape: tuple[int, int, int]
    batch_size: int
    device: str
    threads: int
    clock: str
    repeats: int
    torch_version: str
    machine: str
    created: str

    def to_json(self) -> dict[str, Any]:
        """The table as a JSON-able dict (the file format of :meth:`save`)."""
        return {**asdict(self), "input_shape": list(self.input_shape)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencyTable:
        """Inverse of :meth:`to_json`.

        Raises:
            DataError: naming the first missing field.
        """
        names = cls.__dataclass_fields__
        missing = [name for name in names if name not in data]
        if missing:
            raise DataError(f"latency table: missing field {missing[0]!r}")
        values = {name: data[name] for name in names}
        try:
            values["input_shape"] = tuple(int(v) for v in data["input_shape"])
            values["entries_ms"] = {str(k): float(v) for k, v in data["entries_ms"].items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise DataError(
                f"latency table: malformed input_shape or entries_ms ({exc})"
            ) from None
        return cls(**values)

    def save(self, path: str | Path) -> None:
        """Write the table as JSON to ``path``.

        Raises:
            ConfigError: when the file cannot be written.
        """
        try:
            Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")
        except OSError as exc:
            raise ConfigError(f"latency table: cannot write {path}: {exc.strerror}") from None

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        """Read a table written by :meth:`save`.

        Raises:
            DataError: when the file is missing or not a latency table.
        """
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise DataError(f"latency table: cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise DataError(f"latency table: {path} is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DataError(f"latency table: {path} holds no JSON object")
        return cls.from_json(data)


# -- profiling ------------------------------------------------------------------------
Job = tuple[str, Callable[[], object]]


def profile_lut(
    space: str = "nb201",
    *,
    input_shape: Sequence[int] = (3, 32, 32),
    batch_size: int = 1,
    device: str = "cpu",
    threads: int | None = None,
    repeats: int = 30,
    warmup: int = 3,
    clock: str = "wall",
    n_classes: int = 10,
    model_options: Mapping[str, int] | None = None,
) -> LatencyTable:
    """Time each building block of ``space``'s network in isolation.

    Every entry gets ``warmup`` untimed calls, then ``repeats`` timed samples taken in
    interleaved rounds; a sample of a fast block times several calls. Entries are
    medians, in milliseconds, under ``torch.inference_mode`` in eval mode.

    Args:
        space: the space whose network is profiled (only ``nb201`` so far).
        input_shape: ``(channels, height, width)`` of one image.
        batch_size: images per forward pass.
        device: ``cpu`` or ``cuda[:N]`` (synchronised around each sample).
        threads: CPU threads while profiling (restored afterwards); None: as set.
        repeats: timed samples per entry.
        warmup: untimed calls per entry first.
        clock: ``wall`` (perf_counter) or ``cpu`` (the thread's CPU time: robust to other
            processes on a shared machine; needs ``device="cpu"`` and ``threads=1``).
        n_classes: classifier outputs.
        model_options: skeleton options of the builder: ``channels``, ``n_cells``.

    Raises:
        ConfigError: for an unknown space or option, a bad size, or a missing device.
    """
    import torch

    if space not in _PROFILERS:
        raise ConfigError(f"space: no latency profile for {space!r}; allowed: nb201")
    counts = {"batch_size": batch_size, "repeats": repeats, "n_classes": n_classes}
    counts |= {} if threads is None else {"threads": threads}
    shape, skeleton = _checked(input_shape, model_options, **counts)
    _check_device(device, clock, threads)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    jobs_of, finish = _PROFILERS[space]
    with _num_threads(threads), torch.inference_mode():
        jobs = jobs_of(shape, batch_size, skeleton, device)
        entries = _measure(jobs, repeats=repeats, warmup=warmup, clock=_CLOCKS[clock], sync=sync)
        used_threads = torch.get_num_threads()
    return LatencyTable(
        space=space,
        entries_ms=finish(entries),
        skeleton=skeleton,
        input_shape=shape,
        batch_size=batch_size,
        device=device,
        threads=used_threads,
        clock=clock,
        repeats=repeats,
        torch_version=str(torch.__version__),
        machine=f"{platform.node()} ({platform.machine()})",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def _checked(
    input_shape: Sequence[int], options: Mapping[str, int] | None, **counts: int
) -> tuple[tuple[int, int, int], dict[str, int]]:
    """The image shape and the skeleton options (``counts`` hold ``n_classes``), checked."""
    from archsearch.models._ops import check_positive

    if len(input_shape) != 3:
        raise ConfigError(f"input_shape: expected (channels, height, width), got {input_shape}")
    check_positive(**{f"input_shape[{i}]": v for i, v in enumerate(input_shape)}, **counts)
    unknown = [key for key in options or {} if key not in _SKELETON_OPTIONS]
    if unknown:
        allowed = ", ".join(_SKELETON_OPTIONS)
        raise ConfigError(f"model_options: unknown option {unknown[0]!r}; allowed: {allowed}")
    skeleton = {"channels": 16, "n_cells": 5, **(options or {}), "n_classes": counts["n_classes"]}
    check_positive(**skeleton)
    return (int(input_shape[0]), int(input_shape[1]), int(input_shape[2])), skeleton


def _check_device(device: str, clock: str, threads: int | None) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device: cuda asked for but no CUDA device is available")
    if clock not in _CLOCKS or (clock == "cpu" and (device != "cpu" or threads != 1)):
        raise ConfigError(
            f"clock: must be wall, or cpu with device cpu and threads 1; got {clock!r} "
            f"with device {device!r} and threads {threads!r}"
        )


@contextlib.contextmanager
def _num_threads(threads: int | None) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _nb201_jobs(
    input_shape: tuple[int, int, int], batch_size: int, skeleton: dict[str, int], device: str
) -> list[Job]:
    """The NB201 blocks, each bound to an input of the shape it sees in the network.

    A one-cell-per-stage network supplies the stem, the reduction blocks, the head and
    the empty cells; the ops are the builder's own modules (a cell's ``edge_0_1``).
    """
    import torch

    from archsearch.models._ops import zeros_for
    from archsearch.models.nb201 import NB201Cell, nb201_model

    empty = dict.fromkeys(EDGES, "none")
    net = nb201_model(
        empty,
        channels=skeleton["channels"],
        n_cells=1,
        in_channels=input_shape[0],
        n_classes=skeleton["n_classes"],
    )
    net = net.to(device).eval()
    x = torch.randn(batch_size, *input_shape, device=device)
    jobs: list[Job] = [("stem", functools.partial(net.stem, x))]
    h = net.stem(x)
    for stage in _STAGES:
        if stage:  # layers of a one-cell network: cell, reduction, cell, reduction, cell
            reduction = net.cells[2 * stage - 1]
            jobs.append((f"reduction_{stage}", functools.partial(reduction, h)))
            h = reduction(h)
        c = h.shape[1]
        for op in OPS[1:]:
            module = NB201Cell(dict.fromkeys(EDGES, op), c, c).edges["edge_0_1"]
            jobs.append((f"stage_{stage}/{op}", functools.partial(module.to(device).eval(), h)))
        jobs.append((f"stage_{stage}/add", functools.partial(operator.add, h, h.clone())))
        jobs.append((f"stage_{stage}/zeros", functools.partial(zeros_for, h, c)))
        jobs.append((f"stage_{stage}/empty_cell", functools.partial(net.cells[2 * stage], h)))

    def head(h: Any) -> Any:  # the tail of TinyNetwork.forward
        return net.classifier(torch.flatten(net.global_pooling(net.lastact(h)), 1))

    jobs.append(("head", functools.partial(head, h)))
    return jobs


def _finish_nb201(measured: dict[str, float]) -> dict[str, float]:
    """Entries from the measurements: ``none`` is 0, a cell's overhead excludes its zeros."""
    entries = {key: measured[key] for key in _FIXED_PARTS}
    for stage in _STAGES:
        zeros = measured[f"stage_{stage}/zeros"]
        # noise can make the difference negative; an overhead never is
        cell = max(0.0, measured[f"stage_{stage}/empty_cell"] - 3 * zeros)
        found = {**measured, f"stage_{stage}/none": 0.0, f"stage_{stage}/cell": cell}
        entries.update({f"stage_{stage}/{p}": found[f"stage_{stage}/{p}"] for p in _CELL_PARTS})
    return entries


# space -> (its blocks bound to inputs, measured medians -> table entries)
_PROFILERS: dict[str, tuple[Callable[..., list[Job]], Callable[..., dict[str, float]]]] = {
    "nb201": (_nb201_jobs, _finish_nb201)
}


def _measure(
    jobs: list[Job],
    *,
    repeats: int,
    warmup: int,
    clock: Callable[[], float],
    sync: Callable[[], None],
) -> dict[str, float]:
    """Median milliseconds per call of each job, sampled in interleaved rounds."""
    numbers = {}
    for key, fn in jobs:
        for _ in range(warmup):
            fn()
        one_call = min(_sample_ms(fn, 1, clock, sync) for _ in range(3))
        numbers[key] = max(1, min(1000, math.ceil(_SAMPLE_MS / max(one_call, 1e-6))))
    samples: dict[str, list[float]] = {key: [] for key, _ in jobs}
    rounds = min(repeats, _ROUNDS)
    for r in range(rounds):
        count = repeats // rounds + (r < repeats % rounds)
        for key, fn in jobs:
            samples[key].extend(_sample_ms(fn, numbers[key], clock, sync) for _ in range(count))
    return {key: statistics.median(values) for key, values in samples.items()}


def _sample_ms(
    fn: Callable[[], object], number: int, clock: Callable[[], float], sync: Callable[[], None]
) -> float:
    sync()
    start = clock()
    for _ in range(number):
        fn()
    sync()
    return (clock() - start) * 1e3 / number


# -- additive prediction --------------------------------------------------------------
def _nb201_cell(config: Arch) -> Mapping[str, Any]:
    """The cell of a config dict or NB201 string, validated (ConfigError names the edge)."""
    cell = from_arch_str(config) if isinstance(config, str) else config
    arch_index(cell)
    return cell


def _cell_counts(cell: Mapping[str, Any], *, prune: bool) -> dict[str, int]:
    """How many of each part one cell runs: ops on built edges, additions, zero nodes."""
    if prune:
        from archsearch.models.nb201 import live_edges

        built = live_edges(cell)
    else:
        built = {edge for edge in EDGES if cell[edge] != "none"}
    counts = dict.fromkeys(_CELL_PARTS, 0)
    counts["cell"] = 1
    for edge in built:
        counts[cell[edge]] += 1
    for j in (1, 2, 3):
        n_terms = sum(f"edge_{i}_{j}" in built for i in range(j))
        if n_terms:
            counts["add"] += n_terms - 1
        else:
            counts["zeros"] += 1
    return counts


class LUTPredictor:
    """Additive latency of an NB201 network from a :class:`LatencyTable`.

    ``latency = stem + reductions + head + n_cells * sum over stages of (cell overhead
    + the op entries of the cell's built edges + its additions and zero nodes)``.
    Like the builder, every non-``none`` edge runs, also one whose output cannot reach
    the cell output; ``prune=True`` matches ``nb201_model(..., prune=True)``, which
    drops those edges. ``none`` costs nothing.

    Args:
        table: a profile of the ``nb201`` space.
        prune: predict the pruned network.

    Raises:
        DataError: when the table is not an NB201 profile or lacks an entry.
    """

    def __init__(self, table: LatencyTable, *, prune: bool = False) -> None:
        if table.space != "nb201":
            raise DataError(f"latency table: space must be nb201, got {table.space!r}")
        entries = table.entries_ms
        needed = [*_FIXED_PARTS, *(f"stage_{s}/{p}" for s in _STAGES for p in _CELL_PARTS)]
        missing = [key for key in needed if key not in entries]
        if missing:
            raise DataError(f"latency table: missing entry {missing[0]!r}")
        self.table = table
        self.prune = prune
        self.n_cells = int(table.skeleton["n_cells"])
        self.fixed_ms = sum(entries[key] for key in _FIXED_PARTS)
        # every stage runs the same cell, so a part's cost sums over the stages once
        self.part_ms = {p: sum(entries[f"stage_{s}/{p}"] for s in _STAGES) for p in _CELL_PARTS}

    def predict(self, config: Arch) -> float:
        """Predicted latency in ms of the network of ``config`` (a dict or NB201 string).

        Raises:
            ConfigError: for an invalid cell, naming the edge.
        """
        counts = _cell_counts(_nb201_cell(config), prune=self.prune)
        per_cell = sum(self.part_ms[part] * n for part, n in counts.items() if n)
        return self.fixed_ms + self.n_cells * per_cell


# -- learned prediction ---------------------------------------------------------------
_PAIRS = [(a, b) for a in range(len(EDGES)) for b in range(a + 1, len(EDGES))]


def nb201_encoding(config: Arch, *, interactions: bool = False) -> np.ndarray:
    """The architecture encoding of the learned predictor: one-hot op per edge (30 values).

    With ``interactions``, 15 more: per pair of edges, whether both are built (not
    ``none``); node sums and zero nodes depend on such pairs.

    Example:
        >>> cell = from_arch_str("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
        ...                      "+|skip_connect~0|none~1|skip_connect~2|")
        >>> nb201_encoding(cell).reshape(6, 5).argmax(axis=1).tolist()
        [3, 0, 3, 1, 0, 1]
    """
    cell = _nb201_cell(config)
    codes = [OPS.index(cell[edge]) for edge in EDGES]
    onehot = np.zeros((len(EDGES), len(OPS)))
    onehot[np.arange(len(EDGES)), codes] = 1.0
    if not interactions:
        return onehot.ravel()
    built = [code != 0 for code in codes]
    pairs = np.array([float(built[a] and built[b]) for a, b in _PAIRS])
    return np.concatenate([onehot.ravel(), pairs])


class LearnedLatencyPredictor:
    """Ridge regression from an NB201 encoding to measured latency (ms).

    With ``base``, it learns the residual of another predictor (typically a
    :class:`LUTPredictor`): the table supplies the additive part and the regression the
    interactions it misses (node sums, memory effects) and its systematic bias.

    Args:
        alpha: the ridge penalty; None chooses it among 1e-4 .. 1e2 by leave-one-out error.
        interactions: add the edge-pair features of :func:`nb201_encoding`.
        base: a predictor whose output is the starting point (``predict(config) -> ms``).

    Example:
        >>> from archsearch.spaces.nb201 import cell_from_index
        >>> configs = [cell_from_index(i) for i in range(0, 15625, 97)]
        >>> ms = [1.0 + sum(c[e] == "nor_conv_3x3" for e in EDGES) for c in configs]
        >>> model = LearnedLatencyPredictor(alpha=1e-6).fit(configs, ms)
        >>> round(model.predict(dict.fromkeys(EDGES, "nor_conv_3x3")), 3)
        7.0
    """

    def __init__(
        self,
        *,
        alpha: float | None = None,
        interactions: bool = True,
        base: LatencyPredictor | None = None,
    ) -> None:
        if alpha is not None and not alpha > 0:
            raise ConfigError(f"alpha: must be > 0 (or None to choose it), got {alpha!r}")
        self.alpha = alpha
        self.interactions = interactions
        self.base = base
        self.weights: np.ndarray | None = None
        self.intercept = 0.0
        self.chosen_alpha: float | None = None

    def fit(
        self, configs: Sequence[Arch], latencies_ms: Sequence[float] | np.ndarray
    ) -> LearnedLatencyPredictor:
        """Fit on measured ``(config, latency)`` pairs; returns ``self``.

        Raises:
            ConfigError: when the lengths differ or fewer than two samples are given.
        """
        y = np.asarray(latencies_ms, dtype=np.float64)
        if len(configs) != len(y) or len(y) < 2:
            raise ConfigError(
                f"fit: needs as many latencies as configs, at least 2; got "
                f"{len(configs)} configs and {len(y)} latencies"
            )
        x = self._features(configs)
        y = y - self._base(configs)
        x_mean, y_mean = x.mean(axis=0), y.mean()
        xc, yc = x - x_mean, y - y_mean
        alpha = self.alpha if self.alpha is not None else _loo_alpha(xc, yc)
        gram = xc.T @ xc + alpha * np.eye(x.shape[1])
        self.weights = np.linalg.solve(gram, xc.T @ yc)
        self.intercept = float(y_mean - x_mean @ self.weights)
        self.chosen_alpha = alpha
        return self

    def predict_many(self, configs: Sequence[Arch]) -> np.ndarray:
        """Predicted latencies in ms of several configs.

        Raises:
            ConfigError: when the predictor is not fitted yet.
        """
        if self.weights is None:
            raise ConfigError("LearnedLatencyPredictor: call fit() before predict()")
        linear = self._features(configs) @ self.weights + self.intercept
        return np.asarray(linear + self._base(configs))

    def predict(self, config: Arch) -> float:
        """Predicted latency in ms of one config."""
        return float(self.predict_many([config])[0])

    def _features(self, configs: Sequence[Arch]) -> np.ndarray:
        return np.array([nb201_encoding(c, interactions=self.interactions) for c in configs])

    def _base(self, configs: Sequence[Arch]) -> np.ndarray:
        if self.base is None:
            return np.zeros(len(configs))
        return np.array([self.base.predict(c) for c in configs], dtype=np.float64)


def _loo_alpha(xc: np.ndarray, yc: np.ndarray) -> float:
    """The ridge penalty with the smallest leave-one-out error.

    Closed form via the hat matrix; the intercept's leverage ``1/n`` joins its diagonal.
    """
    n, d = xc.shape
    best, best_error = 1.0, math.inf
    for alpha in 10.0 ** np.arange(-4, 3):
        hat = xc @ np.linalg.solve(xc.T @ xc + alpha * np.eye(d), xc.T)
        leverage = np.minimum(np.diag(hat) + 1.0 / n, 1.0 - 1e-9)
        error = float(np.mean(((yc - hat @ yc) / (1.0 - leverage)) ** 2))
        if error < best_error:
            best, best_error = float(alpha), error
    return best


# -- shipped hardware targets ---------------------------------------------------------
def device_latency(config: Arch, device: str, *, path: str | None = None) -> float:
    """Latency (ms) of an NB201 cell's network as measured on a shipped hardware target.

    Args:
        config: a cell config or NB201 string.
        device: one of :func:`~archsearch.evaluation._nb201.nb201_devices` (``pixel3``,
            ``raspi4``, ``fpga``, ``eyeriss``, ``1080ti_1``, ...: HELP's 27 tables).
        path: an alternative NB201 table file.

    Raises:
        ConfigError: for an unknown device (listing the known ones) or an invalid cell.

    Example:
        >>> device_latency("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|"
        ...                "+|skip_connect~0|none~1|skip_connect~2|", "fpga") > 0
        True
    """
    devices = nb201_devices(path)
    if device not in devices:
        raise ConfigError(f"device: unknown {device!r}; allowed: {', '.join(devices)}")
    return _latency_column(path, device)[arch_index(_nb201_cell(config))]
