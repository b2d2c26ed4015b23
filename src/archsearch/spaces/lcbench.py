"""The LCBench hyperparameter space (Zimmer et al., TPAMI 2021), as YAHPO Gym ships it.

Seven hyperparameters of a funnel-shaped MLP trained with SGD, read from the shipped
``config_space.json``; ``batch_size``, ``learning_rate`` and ``max_units`` are on a log
scale as the file says. The fidelity (``epoch``) and the task (``OpenML_task_id``)
are not decisions of the space: the benchmark sets them. Config keys are YAHPO's
hyperparameter names, so a config is what YAHPO Gym itself takes.

Example:
    >>> space = lcbench_space()
    >>> list(space.sample(seed=0))  # doctest: +NORMALIZE_WHITESPACE
    ['batch_size', 'learning_rate', 'max_dropout', 'max_units', 'momentum',
     'num_layers', 'weight_decay']
"""

from __future__ import annotations

import functools
from typing import Any

from archsearch.errors import DataError
from archsearch.registry import SPACES
from archsearch.space import Space
from archsearch.spaces._configspace import ConfigSpace, load_config_space, to_domain, yahpo_dir

__all__ = ["FIDELITY", "TASK", "config_space", "lcbench_space", "to_yahpo"]

#: the fidelity parameter of the YAHPO scenario (training epochs, 1..52)
FIDELITY = "epoch"
#: the instance parameter: which OpenML task the network was trained on
TASK = "OpenML_task_id"


def config_space() -> ConfigSpace:
    """The shipped LCBench config space (read once per process)."""
    return load_config_space(str(yahpo_dir("lcbench") / "config_space.json"))


@SPACES.register("lcbench")
def lcbench_space() -> Space:
    """The LCBench space: seven numeric hyperparameters, no conditions.

    Raises:
        DataError: when the shipped config space is missing or malformed.
    """
    cs = config_space()
    if cs.conditions:
        raise DataError(f"{cs.file}: LCBench has no conditions, found {len(cs.conditions)}")
    spec = {
        name: to_domain(hp, cs.file)
        for name, hp in cs.hyperparameters.items()
        if name not in (FIDELITY, TASK)
    }
    return Space(spec, name="lcbench")


@functools.cache
def _space() -> Space:
    return lcbench_space()


def to_yahpo(config: Any) -> dict[str, Any]:
    """The config checked against the space, as YAHPO's flat dict (without task, epoch).

    Raises:
        ConfigError: naming the first missing, unknown or out-of-range field.
    """
    validated: dict[str, Any] = _space().validate(config)
    return validated
