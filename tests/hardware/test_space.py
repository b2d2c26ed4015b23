"""The accelerator space and the architecture + accelerator joint space."""

from __future__ import annotations

import random

import pytest

from archsearch.errors import ConfigError
from archsearch.hardware import accelerator_from_config, accelerator_joint_space, hardware_space
from archsearch.registry import SPACES
from archsearch.space import Space

FIXED_HW = {"rows": 16, "cols": 16, "pe_buffer": 4, "glb_kib": 128, "dataflow": "ws"}


def test_registered_and_sized() -> None:
    assert SPACES["hardware"] is hardware_space
    assert SPACES["hardware_joint"] is accelerator_joint_space
    assert hardware_space().size == 4 * 4 * 4 * 6 * 2
    assert hardware_space(rows=8, cols=[8, 16], dataflows="os").size == 2 * 4 * 6


def test_every_sample_is_a_valid_accelerator() -> None:
    space, rng = hardware_space(), random.Random(0)
    for _ in range(50):
        config = space.sample(rng)
        assert accelerator_from_config(config).rows == config["rows"]
        child = space.mutate(config, rng)
        assert sum(child[k] != config[k] for k in config) == 1


def test_joint_space_searches_both_halves_or_holds_one_fixed() -> None:
    joint = accelerator_joint_space("nb201")
    assert joint.size == 15_625 * 768
    assert [g.path for g in joint.genome(joint.sample(seed=1))][-1] == "hardware.dataflow"
    cell = joint.sample(seed=2)["arch"]
    fixed_arch = accelerator_joint_space(fixed_arch=cell)
    assert fixed_arch.size == 768
    assert all(fixed_arch.sample(seed=s)["arch"] == cell for s in range(5))
    fixed_hw = SPACES["hardware_joint"](arch={"name": "nb201"}, fixed_hardware=FIXED_HW)
    assert fixed_hw.size == 15_625 and fixed_hw.sample(seed=0)["hardware"] == FIXED_HW
    assert isinstance(joint, Space) and joint.name == "nb201+hardware"


def test_bad_options_and_configs_name_the_field() -> None:
    with pytest.raises(ConfigError, match="rows"):
        hardware_space(rows=[8, 0])
    with pytest.raises(ConfigError, match="dataflows"):
        hardware_space(dataflows=["ws", "rs"])
    with pytest.raises(ConfigError, match="hardware.glb_kib: missing"):
        accelerator_from_config({k: v for k, v in FIXED_HW.items() if k != "glb_kib"})
    with pytest.raises(ConfigError, match="hardware.dataflow: unknown 'xs'"):
        accelerator_from_config({**FIXED_HW, "dataflow": "xs"})
    with pytest.raises(ConfigError, match="hardware.rows: must be a positive integer"):
        accelerator_from_config({**FIXED_HW, "rows": -8})
    with pytest.raises(ConfigError, match="fixed_arch.edge_0_1"):
        accelerator_joint_space(fixed_arch={"edge_0_1": "conv9x9"})
    with pytest.raises(ConfigError, match="fixed_hardware.dataflow"):
        accelerator_joint_space(fixed_hardware={**FIXED_HW, "dataflow": "rs"})
