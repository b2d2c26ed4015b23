"""YAHPO Gym surrogates (LCBench, NAS-Bench-301) as multi-fidelity benchmarks.

YAHPO Gym (Pfisterer et al., AutoML-Conf 2022) fits one neural network per scenario
to real training curves and ships it as ONNX. archsearch runs the shipped models with
onnxruntime and encodes configs exactly as ``yahpo_gym.BenchmarkSet`` does:

- ``x_cat`` (int32): one column per categorical hyperparameter, in the scenario's
  order, holding the value's integer code from ``encoding.json``; an inactive
  (conditional) hyperparameter gets the code of ``"#na#"`` (0). The task of LCBench
  is such a column.
- ``x_cont`` (float32): one column per numeric hyperparameter, in the scenario's
  order, holding the *raw* value (the fidelity ``epoch`` is one of them). The models
  apply their own input transforms (log scales, ranges) inside the graph, so no
  scaling happens here; an inactive numeric would be 0.
- The outputs come back in YAHPO's units: accuracies in percent, times in seconds
  (cumulative up to the epoch asked), balanced accuracies as fractions (archsearch
  reports them in percent).

A query at ``fidelity`` epochs runs the model once on ``fidelity`` rows (epochs
1..fidelity) to return the learning curve with the result.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.errors import ConfigError, DataError
from archsearch.evaluation._base import Benchmark
from archsearch.evaluation._onnx import load_session
from archsearch.registry import BENCHMARKS
from archsearch.spaces import lcbench, nb301
from archsearch.spaces._configspace import load_config_space, load_json, yahpo_dir
from archsearch.trial import Result

__all__ = ["LCBENCH", "NB301", "Scenario", "SurrogateBenchmark"]

_NA = "#na#"


@dataclass(frozen=True)
class Scenario:
    """What YAHPO's ``benchmarks/<name>.py`` says about a scenario's model.

    Attributes:
        name: the folder under ``evaluation/tables/yahpo``.
        cat_names: the ``x_cat`` columns, in order.
        cont_names: the ``x_cont`` columns, in order (the fidelity among them).
        outputs: ``(archsearch metric, factor)`` per model output, in order.
        to_yahpo: archsearch config -> YAHPO's flat dict, checked (ConfigError).
        instance_name: the categorical that selects the instance (task), if any.
        instance_option: how the option selecting it is called in archsearch.
        fidelity_name: the fidelity column.
    """

    name: str
    cat_names: tuple[str, ...]
    cont_names: tuple[str, ...]
    outputs: tuple[tuple[str, float], ...]
    to_yahpo: Callable[[Any], Mapping[str, Any]]
    instance_name: str | None = None
    instance_option: str = "task"
    fidelity_name: str = "epoch"


LCBENCH = Scenario(
    "lcbench",
    cat_names=(lcbench.TASK,),
    cont_names=(
        *("epoch", "batch_size", "learning_rate", "momentum"),
        *("weight_decay", "num_layers", "max_units", "max_dropout"),
    ),
    outputs=(
        ("runtime_s", 1.0),  # YAHPO: time
        ("valid_accuracy", 1.0),  # val_accuracy (percent)
        ("valid_cross_entropy", 1.0),
        ("valid_balanced_accuracy", 100.0),  # a fraction in YAHPO
        ("test_cross_entropy", 1.0),
        ("test_balanced_accuracy", 100.0),
    ),
    to_yahpo=lcbench.to_yahpo,
    instance_name=lcbench.TASK,
)

NB301 = Scenario(
    "nb301",
    # YAHPO's order: the 14 normal edges, the 14 reduce edges (numerically), then the
    # inputs of nodes 3, 4, 5 of each cell (its embedding sizes 4/7/11 confirm it)
    cat_names=tuple(
        [f"{nb301.PREFIX}edge_{cell}_{k}" for cell in nb301.CELLS for k in range(14)]
        + [f"{nb301.PREFIX}inputs_node_{cell}_{n}" for cell in nb301.CELLS for n in (3, 4, 5)]
    ),
    cont_names=("epoch",),
    outputs=(("valid_accuracy", 1.0), ("runtime_s", 1.0)),  # percent, seconds
    to_yahpo=nb301.to_yahpo,
)


class SurrogateBenchmark(Benchmark):
    """A YAHPO surrogate answering at any epoch from 1 to the scenario's maximum.

    :meth:`evaluate` returns the model's outputs at ``fidelity`` epochs as metrics
    (``valid_accuracy`` in percent first), the predicted training time up to that
    epoch as ``cost_s``, and the validation accuracy at epochs 1..fidelity as
    ``curve``. :meth:`truth` is the validation accuracy at the last epoch.

    Args:
        scenario: :data:`LCBENCH` or :data:`NB301`.
        instance: the task, for scenarios that have several (default: the first of
            the config space's choices, as YAHPO).
        fidelity: default epochs (default: the maximum).
        with_curve: return learning curves; without, a query costs one model row
            instead of ``fidelity`` rows.
        path: a folder holding ``model.onnx``, ``encoding.json`` and
            ``config_space.json`` in place of the shipped one.

    Raises:
        ConfigError: for an unknown instance or a fidelity out of range.
        DataError: naming a missing or malformed file.
    """

    resumable = True  # epochs of one training run; runtime is cumulative

    def __init__(
        self,
        scenario: Scenario,
        *,
        instance: str | int | None = None,
        fidelity: int | None = None,
        with_curve: bool = True,
        path: str | Path | None = None,
    ) -> None:
        folder = Path(path) if path is not None else yahpo_dir(scenario.name)
        self.scenario, self.with_curve = scenario, bool(with_curve)
        space = load_config_space(str(folder / "config_space.json"))
        low, high = space.bounds(scenario.fidelity_name)
        self.min_fidelity, self.max_fidelity = int(low), int(high)
        self.fidelities = tuple(float(e) for e in range(self.min_fidelity, self.max_fidelity + 1))
        self._valid = frozenset(range(self.min_fidelity, self.max_fidelity + 1))
        self._default_epoch = self.max_fidelity  # _fidelity() reads it
        self._default_epoch = self._fidelity(fidelity, "fidelity")
        self.default_fidelity = float(self._default_epoch)
        self._codes = self._read_encoding(folder / "encoding.json")
        self.instance = self._instance(instance)
        self._model = str(folder / "model.onnx")
        self._cat_input, self._cont_input = self._check_model()
        self._epoch_col = scenario.cont_names.index(scenario.fidelity_name)
        names = [name for name, _ in scenario.outputs]
        self.metric_names: tuple[str, ...] = tuple(names)
        self._factors = np.array([factor for _, factor in scenario.outputs])
        self._acc_col, self._cost_col = names.index("valid_accuracy"), names.index("runtime_s")

    # -- set-up -----------------------------------------------------------------------
    def _read_encoding(self, file: Path) -> list[dict[str, int]]:
        encoding = load_json(str(file))
        try:
            return [dict(encoding[name]) for name in self.scenario.cat_names]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{file}: no integer codes for {exc}") from None

    def _instance(self, instance: str | int | None) -> str | None:
        name = self.scenario.instance_name
        if name is None:
            if instance is not None:
                raise ConfigError(
                    f"{self.scenario.instance_option}: {self.scenario.name} has no instances"
                )
            return None
        allowed = self._instances(name)
        if instance is None:
            return allowed[0]
        if str(instance) not in allowed:
            raise ConfigError(
                f"{self.scenario.instance_option}: unknown {name} {instance!r}; "
                f"allowed: {', '.join(allowed)}"
            )
        return str(instance)

    def _instances(self, name: str) -> list[str]:
        """The instances of the config space (YAHPO's; the encoding may list more)."""
        space = load_config_space(yahpo_dir(self.scenario.name) / "config_space.json")
        choices = space.hyperparameters.get(name, {}).get("choices")
        if choices:
            return [str(c) for c in choices]
        return [v for v in self._codes[self.scenario.cat_names.index(name)] if v != _NA]

    def _check_model(self) -> tuple[str, str]:
        session = load_session(self._model)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        widths = [i.shape[-1] for i in inputs] + [o.shape[-1] for o in outputs]
        expected = [len(self.scenario.cat_names), len(self.scenario.cont_names)]
        expected.append(len(self.scenario.outputs))
        if len(inputs) != 2 or len(outputs) != 1 or widths != expected:
            raise DataError(
                f"{self._model}: model takes/returns widths {widths}, "
                f"expected {expected} (x_cat, x_cont, outputs) for {self.scenario.name}"
            )
        return inputs[0].name, inputs[1].name  # YAHPO feeds them in this order

    def _fidelity(self, fidelity: Any, field: str) -> int:
        if fidelity is None:
            return self._default_epoch
        if fidelity.__class__ in (int, float) and fidelity in self._valid:
            return int(fidelity)
        is_number = isinstance(fidelity, numbers.Real) and not isinstance(fidelity, bool)
        if is_number and fidelity in self._valid:  # NumPy numbers
            return int(fidelity)
        raise ConfigError(
            f"{field}: must be a whole number of epochs in "
            f"[{self.min_fidelity}, {self.max_fidelity}], got {fidelity!r}"
        )

    # -- encoding and prediction ------------------------------------------------------
    def encode(self, config: Any, epoch: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The model's input row for ``config`` at ``epoch``: ``(x_cat, x_cont)``.

        Raises:
            ConfigError: naming the first invalid field of ``config``.
        """
        flat = dict(self.scenario.to_yahpo(config))
        if self.scenario.instance_name is not None:
            flat[self.scenario.instance_name] = self.instance
        flat[self.scenario.fidelity_name] = self._fidelity(epoch, "epoch")
        cat = []
        for name, codes in zip(self.scenario.cat_names, self._codes, strict=True):
            value = flat.get(name)
            code = codes[_NA] if value is None else codes.get(str(value))
            if code is None:
                raise ConfigError(f"{name}: no code for {value!r}; allowed: {', '.join(codes)}")
            cat.append(code)
        cont = [float(flat.get(name, 0.0)) for name in self.scenario.cont_names]
        return np.array(cat, dtype=np.int32), np.array(cont, dtype=np.float32)

    def predict(self, configs: Sequence[Any], epochs: Sequence[float]) -> np.ndarray:
        """The model's raw outputs (YAHPO's units) for each ``(config, epoch)`` pair.

        Returns:
            An array of shape ``(len(configs), n_outputs)``, in ``metric_names`` order.
        """
        if len(configs) != len(epochs):
            raise ConfigError(f"epochs: {len(epochs)} given for {len(configs)} configs")
        rows = [self.encode(c, e) for c, e in zip(configs, epochs, strict=True)]
        if not rows:
            return np.empty((0, len(self.metric_names)), dtype=np.float32)
        return self._run(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]))

    def _run(self, cat: np.ndarray, cont: np.ndarray) -> np.ndarray:
        session = load_session(self._model)
        out: np.ndarray = session.run(None, {self._cat_input: cat, self._cont_input: cont})[0]
        return out

    # -- the Evaluator contract -------------------------------------------------------
    def evaluate(self, config: Any, fidelity: float | None = None) -> Result:
        return self.evaluate_many([config], [fidelity])[0]

    def evaluate_many(
        self, configs: Sequence[Any], fidelities: Sequence[float | None] | None = None
    ) -> list[Result]:
        """:meth:`evaluate` for many configs (each at its fidelity) in one model call.

        Raises:
            ConfigError: naming the first invalid config field or fidelity.
        """
        wanted = [None] * len(configs) if fidelities is None else fidelities
        epochs = [self._fidelity(f, "fidelity") for f in wanted]
        if len(epochs) != len(configs):
            raise ConfigError(f"fidelities: {len(epochs)} given for {len(configs)} configs")
        rows = [self.encode(c, e) for c, e in zip(configs, epochs, strict=True)]
        if not rows:
            return []
        counts = epochs if self.with_curve else [1] * len(epochs)
        cat = np.repeat(np.stack([r[0] for r in rows]), counts, axis=0)
        cont = np.repeat(np.stack([r[1] for r in rows]), counts, axis=0)
        if self.with_curve:
            cont[:, self._epoch_col] = np.concatenate([np.arange(1, e + 1) for e in epochs])
        out = self._run(cat, cont).astype(np.float64)
        ends = np.cumsum(counts).tolist()
        return [self._result(out, end, n) for end, n in zip(ends, counts, strict=True)]

    def _result(self, out: np.ndarray, end: int, n_rows: int) -> Result:
        row = (out[end - 1] * self._factors).tolist()
        curve = out[end - n_rows : end, self._acc_col].tolist() if self.with_curve else None
        # a surrogate may predict a slightly negative time; a clock cannot go back
        cost_s = max(row[self._cost_col], 0.0)
        return Result(dict(zip(self.metric_names, row, strict=True)), cost_s, curve=curve)

    def truth(self, config: Any) -> dict[str, float]:
        """``final_accuracy``: the validation accuracy (percent) at the last epoch."""
        out = self.predict([config], [self.max_fidelity])
        return {"final_accuracy": float(out[0, self._acc_col])}


@BENCHMARKS.register("lcbench")
def lcbench_benchmark(
    *,
    task: str | int | None = None,
    fidelity: int = 52,
    with_curve: bool = True,
    path: str | None = None,
) -> SurrogateBenchmark:
    """LCBench (34 OpenML tasks, epochs 1..52) through its YAHPO surrogate.

    Metrics: ``valid_accuracy`` and the balanced accuracies in percent, the cross
    entropies, and ``runtime_s``. ``task`` is an OpenML task id (default: the first
    of the config space, 3945, as YAHPO).

    Example:
        >>> from archsearch.spaces.lcbench import lcbench_space
        >>> bench = lcbench_benchmark(task="3945")
        >>> result = bench.evaluate(lcbench_space().sample(seed=0), fidelity=10)
        >>> len(result.curve), 0 <= result.metrics["valid_accuracy"] <= 100
        (10, True)
    """
    return SurrogateBenchmark(
        LCBENCH, instance=task, fidelity=fidelity, with_curve=with_curve, path=path
    )


@BENCHMARKS.register("nb301")
def nb301_benchmark(
    *, fidelity: int = 98, with_curve: bool = True, path: str | None = None
) -> SurrogateBenchmark:
    """NAS-Bench-301 (DARTS cells on CIFAR-10, epochs 1..98) through its YAHPO surrogate.

    Metrics: ``valid_accuracy`` (percent) and ``runtime_s``.

    Example:
        >>> from archsearch.spaces.nb301 import nb301_space
        >>> bench = nb301_benchmark()
        >>> result = bench.evaluate(nb301_space().sample(seed=0))
        >>> len(result.curve), sorted(result.metrics)
        (98, ['runtime_s', 'valid_accuracy'])
    """
    return SurrogateBenchmark(NB301, fidelity=fidelity, with_curve=with_curve, path=path)
