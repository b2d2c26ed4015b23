"""Built-in search spaces."""

from archsearch.spaces.lcbench import lcbench_space
from archsearch.spaces.nb201 import nb201_space
from archsearch.spaces.nb301 import nb301_space

__all__ = ["lcbench_space", "nb201_space", "nb301_space"]
