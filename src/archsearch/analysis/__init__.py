"""Analysis of searches and estimators: Pareto fronts, rules, plots, diagnoses."""

from archsearch.analysis._diagnose import Diagnosis, TopK, diagnose
from archsearch.analysis._pareto import hypervolume, pareto_front
from archsearch.analysis._plots import plot_anytime
from archsearch.analysis._rules import ChoiceRule, choice_rules

__all__ = [
    "ChoiceRule",
    "Diagnosis",
    "TopK",
    "choice_rules",
    "diagnose",
    "hypervolume",
    "pareto_front",
    "plot_anytime",
]
