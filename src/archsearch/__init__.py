"""archsearch: neural architecture search and hyperparameter optimisation."""

__version__ = "0.1.0"
