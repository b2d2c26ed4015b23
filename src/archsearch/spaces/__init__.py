"""Built-in search spaces."""

from archsearch.registry import SPACES
from archsearch.spaces.cnn import cnn_space
from archsearch.spaces.darts import darts_space
from archsearch.spaces.gnn import gnn_space
from archsearch.spaces.hpo import hpo_space, joint_space
from archsearch.spaces.lcbench import lcbench_space
from archsearch.spaces.mobilenet import mobilenet_space
from archsearch.spaces.nats_size import nats_size_space
from archsearch.spaces.nb201 import nb201_space
from archsearch.spaces.nb301 import nb301_space
from archsearch.spaces.quantisation import quantisation_space, quantised_cnn_space
from archsearch.spaces.transformer import transformer_space
from archsearch.spaces.vit import vit_space

# a space stored with a user's experiment (archsearch.search)
SPACES.register_lazy("custom", "archsearch.api._evaluator")
# accelerator co-search (NAHAS): the accelerator space and arch + accelerator joint spaces
SPACES.register_lazy("hardware", "archsearch.hardware._space")
SPACES.register_lazy("hardware_joint", "archsearch.hardware._space")

__all__ = [
    "cnn_space",
    "darts_space",
    "gnn_space",
    "hpo_space",
    "joint_space",
    "lcbench_space",
    "mobilenet_space",
    "nats_size_space",
    "nb201_space",
    "nb301_space",
    "quantisation_space",
    "quantised_cnn_space",
    "transformer_space",
    "vit_space",
]
