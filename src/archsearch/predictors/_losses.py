"""Training losses for predictors: regression and learning to rank.

Each loss is ``f(predicted, target) -> scalar`` over a batch, registered in
:data:`LOSSES`. The pairwise ones compare every ordered pair of the batch whose
targets differ; ties are skipped.

Example:
    >>> import torch
    >>> target = torch.tensor([0.9, 0.5, 0.1])
    >>> float(hinge_loss(torch.tensor([3.0, 2.0, 1.0]), target))  # well ordered
    0.0
    >>> round(float(hinge_loss(torch.tensor([1.0, 2.0, 3.0]), target)), 4)
    1.4333
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from archsearch.registry import Registry

__all__ = ["LOSSES", "bce_loss", "hinge_loss", "listmle_loss", "mse_loss"]

#: losses ``f(predicted, target) -> scalar tensor`` by name
LOSSES = Registry("loss")


@LOSSES.register("mse")
def mse_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error (the predictor standardises targets first)."""
    return F.mse_loss(predicted, target)


def _pair_differences(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``p_i - p_j`` for every pair where ``target_i > target_j``."""
    better = target[:, None] > target[None, :]
    return (predicted[:, None] - predicted[None, :])[better]


@LOSSES.register("hinge")
def hinge_loss(predicted: torch.Tensor, target: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Pairwise hinge ``max(0, margin - (p_i - p_j))`` for ``i`` better than ``j``.

    Margin 0.1 as in GATES (Ning et al., 2020).
    """
    diff = _pair_differences(predicted, target)
    if diff.numel() == 0:
        return predicted.sum() * 0.0
    return F.relu(margin - diff).mean()


@LOSSES.register("bce")
def bce_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pairwise logistic loss ``-log sigmoid(p_i - p_j)`` for ``i`` better (RankNet)."""
    diff = _pair_differences(predicted, target)
    if diff.numel() == 0:
        return predicted.sum() * 0.0
    return F.softplus(-diff).mean()


@LOSSES.register("listmle")
def listmle_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ListMLE (Xia et al., 2008): the negative log-likelihood of the true order.

    ``sum_k logsumexp(p[pi_k:]) - p[pi_k]`` over the batch sorted best first,
    divided by the batch size.
    """
    order = torch.argsort(target, descending=True, stable=True)
    scores = predicted[order]
    # logsumexp of each suffix, from the end
    suffix = torch.logcumsumexp(scores.flip(0), dim=0).flip(0)
    return (suffix - scores).mean()
