"""The accelerator space, and architecture + accelerator joint spaces (NAHAS).

A :func:`hardware_space` config holds the fields of an
:class:`~archsearch.hardware.Accelerator`; :func:`accelerator_joint_space` joins it with
any architecture space as ``{"arch": ..., "hardware": ...}``, the way
:func:`~archsearch.spaces.joint_space` joins a recipe. Either half may be fixed to one
config (the two-step baseline: an architecture on a fixed accelerator, then
accelerators for a fixed architecture).

Example:
    >>> space = hardware_space()
    >>> space.size
    768
    >>> accelerator_from_config(space.sample(seed=0)).dataflow in DATAFLOWS
    True
    >>> joint = accelerator_joint_space("nb201")
    >>> sorted(joint.sample(seed=0)), joint.size == 15625 * 768
    (['arch', 'hardware'], True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.hardware._accelerator import DATAFLOWS, Accelerator
from archsearch.registry import SPACES
from archsearch.space import Choice, Space
from archsearch.spaces.hpo import as_space

__all__ = [
    "COLS",
    "GLB_KIB",
    "PE_BUFFERS",
    "ROWS",
    "accelerator_from_config",
    "accelerator_joint_space",
    "hardware_space",
]

# NAHAS-like ranges (Zhou et al., 2021: PE array sizes, local and global memory)
ROWS: tuple[int, ...] = (8, 16, 32, 64)
COLS: tuple[int, ...] = (8, 16, 32, 64)
PE_BUFFERS: tuple[int, ...] = (1, 4, 16, 64)  # words per PE
GLB_KIB: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)


def _sizes(name: str, value: Any) -> Any:
    """An int is a fixed value; a list of positive ints a Choice."""
    values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    is_list = isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0
    if not is_list or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise ConfigError(f"{name}: expected a positive integer or a list of them, got {value!r}")
    return values[0] if len(values) == 1 else Choice(list(values))


@SPACES.register("hardware")
def hardware_space(
    *,
    rows: int | Sequence[int] = ROWS,
    cols: int | Sequence[int] = COLS,
    pe_buffer: int | Sequence[int] = PE_BUFFERS,
    glb_kib: int | Sequence[int] = GLB_KIB,
    dataflows: str | Sequence[str] = DATAFLOWS,
) -> Space:
    """The accelerator space: PE array rows and cols, PE buffer, global buffer, dataflow.

    Each option is a fixed value or the list to choose from.

    Raises:
        ConfigError: naming the option (a non-positive size, an unknown dataflow).
    """
    flows = [dataflows] if isinstance(dataflows, str) else list(dataflows)
    if not flows or any(f not in DATAFLOWS for f in flows):
        raise ConfigError(
            f"dataflows: expected names from {', '.join(DATAFLOWS)}, got {dataflows!r}"
        )
    spec = {
        "rows": _sizes("rows", rows),
        "cols": _sizes("cols", cols),
        "pe_buffer": _sizes("pe_buffer", pe_buffer),
        "glb_kib": _sizes("glb_kib", glb_kib),
        "dataflow": flows[0] if len(flows) == 1 else Choice(flows),
    }
    return Space(spec, name="hardware")


def accelerator_from_config(config: Mapping[str, Any], *, field: str = "hardware") -> Accelerator:
    """The :class:`Accelerator` of a :func:`hardware_space` config.

    Raises:
        ConfigError: naming ``hardware.<field>`` for a missing, unknown or bad value.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"{field}: expected a mapping of accelerator fields, got {config!r}")
    allowed = ("rows", "cols", "pe_buffer", "glb_kib", "dataflow")
    for key in config:
        if key not in allowed:
            raise ConfigError(f"{field}.{key}: unknown field; allowed: {', '.join(allowed)}")
    missing = [k for k in allowed if k not in config]
    if missing:
        raise ConfigError(f"{field}.{missing[0]}: missing")
    try:
        return Accelerator(**config)
    except ConfigError as exc:
        raise ConfigError(f"{field}.{exc}") from None


@SPACES.register("hardware_joint")
def accelerator_joint_space(
    arch: Any = "nb201",
    hardware: Any = "hardware",
    *,
    fixed_arch: Mapping[str, Any] | None = None,
    fixed_hardware: Mapping[str, Any] | None = None,
) -> Space:
    """Architecture and accelerator searched together: ``{"arch": ..., "hardware": ...}``.

    Args:
        arch: the architecture space: a :class:`Space`, a registered name, or
            ``{"name": ..., **options}``.
        hardware: the accelerator space, given the same ways (default:
            :func:`hardware_space`).
        fixed_arch: one config of ``arch`` to hold fixed (validated) instead.
        fixed_hardware: one accelerator config to hold fixed (validated) instead.

    Raises:
        ConfigError: for an unknown space, bad options or an invalid fixed config.
    """
    arch_space, hw_space = as_space(arch, "arch"), as_space(hardware, "hardware")
    arch_part: Any = arch_space
    hw_part: Any = hw_space
    try:
        if fixed_arch is not None:
            arch_part = arch_space.validate(fixed_arch)
    except ConfigError as exc:
        raise ConfigError(f"fixed_arch.{exc}") from None
    if fixed_hardware is not None:
        accelerator_from_config(fixed_hardware, field="fixed_hardware")
        try:
            hw_part = hw_space.validate(fixed_hardware)
        except ConfigError as exc:
            raise ConfigError(f"fixed_hardware.{exc}") from None
    name = f"{arch_space.name or 'arch'}+{hw_space.name or 'hardware'}"
    return Space({"arch": arch_part, "hardware": hw_part}, name=name)
