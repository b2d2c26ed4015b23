"""Analysis of searches: plots and tables."""

from archsearch.analysis._pareto import hypervolume, pareto_front
from archsearch.analysis._plots import plot_anytime
from archsearch.analysis._rules import ChoiceRule, choice_rules

__all__ = ["ChoiceRule", "choice_rules", "hypervolume", "pareto_front", "plot_anytime"]
