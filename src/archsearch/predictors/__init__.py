"""Architecture encoders and performance predictors.

Encoders turn configs into tensors (:class:`OneHotEncoder` for any flat categorical
space, :class:`CellEncoder` for cell DAGs such as NB201's); :class:`NeuralPredictor`
trains an MLP, GCN or GATES network on them with a regression or ranking loss
(:data:`LOSSES`), :class:`EnsemblePredictor` adds uncertainty, and :func:`kendall_tau`
/ :func:`spearman_rho` judge the result. This package imports torch.
"""

from archsearch.predictors._encoding import NB201_CELL, CellEncoder, OneHotEncoder
from archsearch.predictors._losses import LOSSES, bce_loss, hinge_loss, listmle_loss, mse_loss
from archsearch.predictors._metrics import kendall_tau, rankdata, spearman_rho
from archsearch.predictors._networks import GATESNet, GCNNet, MLPNet
from archsearch.predictors._predictor import (
    PREDICTORS,
    EnsemblePredictor,
    NeuralPredictor,
    Predictor,
    gates_predictor,
    gcn_predictor,
    mlp_predictor,
)

__all__ = [
    "LOSSES",
    "NB201_CELL",
    "PREDICTORS",
    "CellEncoder",
    "EnsemblePredictor",
    "GATESNet",
    "GCNNet",
    "MLPNet",
    "NeuralPredictor",
    "OneHotEncoder",
    "Predictor",
    "bce_loss",
    "gates_predictor",
    "gcn_predictor",
    "hinge_loss",
    "kendall_tau",
    "listmle_loss",
    "mlp_predictor",
    "mse_loss",
    "rankdata",
    "spearman_rho",
]
