"""Read the YAHPO Gym files shipped with archsearch: config spaces and encodings.

YAHPO Gym (Pfisterer et al., AutoML-Conf 2022) describes each scenario with a
ConfigSpace JSON file (``config_space.json``) and the integer codes of its categorical
inputs (``encoding.json``). Both are plain JSON, so archsearch reads them directly,
without the ``ConfigSpace`` package. The files live in
``archsearch/evaluation/tables/yahpo/<scenario>/``; nothing is read from elsewhere.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from archsearch.errors import DataError
from archsearch.space import Choice, Domain, Int, Real

__all__ = ["ConfigSpace", "load_config_space", "load_json", "to_domain", "yahpo_dir"]


def yahpo_dir(scenario: str) -> Path:
    """The folder of a shipped YAHPO scenario (``lcbench``, ``nb301``)."""
    root = resources.files("archsearch") / "evaluation" / "tables" / "yahpo" / scenario
    return Path(str(root))


@functools.lru_cache(maxsize=16)
def load_json(path: str) -> Any:
    """Parse a JSON file once per process.

    Raises:
        DataError: naming the file when it is missing or not valid JSON.
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: YAHPO file not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None


@dataclass(frozen=True)
class ConfigSpace:
    """The parts of a ConfigSpace JSON file that archsearch uses.

    Attributes:
        file: where it was read from (named in errors).
        hyperparameters: name -> the hyperparameter's JSON object, in file order.
        conditions: child name -> (parent name, parent values under which it is active).
    """

    file: str
    hyperparameters: Mapping[str, Mapping[str, Any]]
    conditions: Mapping[str, tuple[str, tuple[str, ...]]]

    def bounds(self, name: str) -> tuple[float, float]:
        """``(lower, upper)`` of a numeric hyperparameter.

        Raises:
            DataError: naming the file when ``name`` is not a numeric hyperparameter.
        """
        try:
            hp = self.hyperparameters[name]
            return hp["lower"], hp["upper"]
        except KeyError:
            raise DataError(f"{self.file}: no numeric hyperparameter {name!r}") from None


@functools.lru_cache(maxsize=16)
def load_config_space(path: str) -> ConfigSpace:
    """Read a ConfigSpace JSON file (only ``IN`` and ``EQ`` conditions, no forbiddens).

    Raises:
        DataError: naming the file when it is missing, malformed or uses a feature
            archsearch does not read.
    """
    data = load_json(path)
    try:
        hps = {hp["name"]: hp for hp in data["hyperparameters"]}
        conditions = {c["child"]: _condition(c, path) for c in data.get("conditions", [])}
        forbiddens = data.get("forbiddens") or []
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a ConfigSpace JSON file (missing {exc})") from None
    if forbiddens:
        raise DataError(f"{path}: forbidden clauses are not supported")
    return ConfigSpace(path, hps, conditions)


def _condition(cond: Mapping[str, Any], path: str) -> tuple[str, tuple[str, ...]]:
    kind = cond["type"]
    if kind == "IN":
        return cond["parent"], tuple(cond["values"])
    if kind == "EQ":
        return cond["parent"], (cond["value"],)
    raise DataError(f"{path}: condition type {kind!r} on {cond['child']!r} is not supported")


def to_domain(hp: Mapping[str, Any], file: str) -> Domain:
    """The archsearch decision for one ConfigSpace hyperparameter (log scale kept).

    Raises:
        DataError: for a hyperparameter type other than categorical, uniform_int or
            uniform_float.
    """
    kind = hp.get("type")
    if kind == "categorical":
        return Choice(list(hp["choices"]))
    if kind == "uniform_int":
        return Int(int(hp["lower"]), int(hp["upper"]), log=bool(hp.get("log")))
    if kind == "uniform_float":
        return Real(float(hp["lower"]), float(hp["upper"]), log=bool(hp.get("log")))
    raise DataError(f"{file}: hyperparameter {hp.get('name')!r} has unsupported type {kind!r}")
