"""Accelerator co-search (NAHAS): an analytical systolic-array cost model, layer shapes
of built networks, the ``hardware`` space and joint architecture + accelerator spaces,
and the ``nahas`` / ``accelerator_cost`` evaluators.

The equations of the cost model are in :mod:`archsearch.hardware._accelerator`.
"""

from archsearch.hardware._accelerator import (
    DATAFLOWS,
    Accelerator,
    Layer,
    LayerCost,
    NetworkCost,
    dram_tiling,
    layer_cost,
    network_cost,
)
from archsearch.hardware._evaluator import (
    AcceleratorBenchmark,
    AcceleratorCostEvaluator,
    split_joint,
)
from archsearch.hardware._layers import extract_layers, model_layers, nb201_layers
from archsearch.hardware._space import (
    accelerator_from_config,
    accelerator_joint_space,
    hardware_space,
)

__all__ = [
    "DATAFLOWS",
    "Accelerator",
    "AcceleratorBenchmark",
    "AcceleratorCostEvaluator",
    "Layer",
    "LayerCost",
    "NetworkCost",
    "accelerator_from_config",
    "accelerator_joint_space",
    "dram_tiling",
    "extract_layers",
    "hardware_space",
    "layer_cost",
    "model_layers",
    "nb201_layers",
    "network_cost",
    "split_joint",
]
