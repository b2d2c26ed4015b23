"""Built-in search spaces."""

from archsearch.spaces.nb201 import nb201_space

__all__ = ["nb201_space"]
