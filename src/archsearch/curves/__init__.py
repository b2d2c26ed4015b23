"""Learning-curve extrapolation: parametric and learned curve models, curve-based stopping.

- :class:`ParametricEnsemble`: seven saturating families (pow3, pow4, exp3, Janoschek,
  MMF, ilog2, log-power) fitted in batch, weighted into a predictive mean and standard
  deviation at any step (Domhan et al. 2015, without MCMC).
- :class:`LearnedCurveModel`: a small MLP from a partial curve to a Gaussian at a later
  step, trained across the tasks of a benchmark (:func:`lcbench_curve_model`).
- :class:`CurveStopper`: stop when ``P(final > incumbent) < threshold``.

Models are registered in :data:`CURVE_MODELS` (``parametric``, ``lcbench``,
``last_value``) and built from specs by :func:`curve_model_from_spec`, as strategies do;
config priors (scores of configs before training, learned on other tasks) likewise in
:data:`CONFIG_PRIORS` (``lcbench``) by :func:`config_prior_from_spec`.
The package needs torch; the LCBench data (the YAHPO surrogate) is loaded only when the
``lcbench`` model is asked for.
"""

from archsearch.curves._learned import LearnedCurveModel
from archsearch.curves._models import (
    CONFIG_PRIORS,
    CURVE_MODELS,
    ConfigPrior,
    CurvePredictor,
    LastValue,
    config_prior_from_spec,
    curve_model_from_spec,
)
from archsearch.curves._parametric import FAMILIES, Family, FittedCurves, ParametricEnsemble
from archsearch.curves._quality import extrapolation_quality, spearman
from archsearch.curves._stopping import CurveStopper, expected_improvement, probability_above

__all__ = [
    "CONFIG_PRIORS",
    "CURVE_MODELS",
    "FAMILIES",
    "ConfigPrior",
    "CurvePredictor",
    "CurveStopper",
    "Family",
    "FittedCurves",
    "LastValue",
    "LearnedCurveModel",
    "ParametricEnsemble",
    "config_prior_from_spec",
    "curve_model_from_spec",
    "expected_improvement",
    "extrapolation_quality",
    "lcbench_config_prior",
    "lcbench_curve_model",
    "lcbench_curves",
    "probability_above",
    "spearman",
]


def __getattr__(name: str) -> object:
    # the LCBench helpers import the surrogate's machinery: only when asked for
    if name in ("lcbench_config_prior", "lcbench_curve_model", "lcbench_curves", "lcbench_tasks"):
        from archsearch.curves import _lcbench

        return getattr(_lcbench, name)
    raise AttributeError(f"module 'archsearch.curves' has no attribute {name!r}")
