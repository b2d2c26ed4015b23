"""Analysis of searches: plots and tables."""

from archsearch.analysis._plots import plot_anytime

__all__ = ["plot_anytime"]
