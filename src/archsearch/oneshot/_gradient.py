"""Gradient-based one-shot methods: DARTS (first and second order), DARTS-ES, PC-DARTS, GDAS.

All keep architecture weights ``alpha`` (one row per edge, one column per op, shared
by every cell of a type) trained with Adam on validation batches, alternating with
SGD steps of the shared weights on training batches (Liu et al., ICLR 2019).

- ``darts``: first order (the architecture gradient at the current weights).
- ``darts2``: second order: the gradient at the weights after one unrolled SGD step,
  with the Hessian-vector product by finite differences (DARTS, Eq. 7-8).
- ``darts-es``: DARTS+ early stopping (Liang et al., 2019): stop once the derived
  (normal) cell holds more than ``max_skips`` skip connections, and return the last
  cell that did not; DARTS' collapse onto parameter-free ops is cut off.
- ``pcdarts``: partial channel connections (1/K of the channels through the mixed op)
  and edge normalisation (a softmax over each node's incoming edges; Xu et al., 2020).
- ``gdas``: a hard Gumbel-softmax sample per edge: one op runs forward, the backward
  reaches every weight through the straight-through estimator; the temperature
  anneals from 10 to 0.1 (Dong & Yang, CVPR 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from archsearch.errors import ConfigError
from archsearch.oneshot._base import ONESHOT, EpochStats, OneShotSearch, SearchContext, Tally
from archsearch.oneshot._supernet import CellSpace, MixedOp, Route

__all__ = ["DartsES", "DartsSearch", "GDAS", "PCDarts", "cap_skips"]

# DARTS' architecture optimizer: Adam, lr 3e-4, betas (0.5, 0.999), weight decay 1e-3
ARCH_LR, ARCH_BETAS, ARCH_WD = 3e-4, (0.5, 0.999), 1e-3


class _ArchWeights(OneShotSearch):
    """A search with architecture weights ``alpha`` and an Adam optimizer over them."""

    def __init__(
        self, space: str = "nb201", *, arch_learning_rate: float = ARCH_LR, **options: Any
    ) -> None:
        super().__init__(space, **options)
        lr = arch_learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
            raise ConfigError(f"arch_learning_rate: must be a number > 0, got {lr!r}")
        self.arch_learning_rate = float(arch_learning_rate)
        self.alpha = torch.zeros(0)
        self.arch_optimizer: torch.optim.Optimizer | None = None

    def arch_parameters(self) -> list[torch.Tensor]:
        return [self.alpha]

    def setup(self, ctx: SearchContext) -> None:
        shape = (len(self.cells.edges), len(self.cells.ops))
        noise = torch.randn(shape, generator=_gen(ctx))
        self.alpha = (1e-3 * noise).to(ctx.device).requires_grad_(True)
        self.arch_optimizer = torch.optim.Adam(
            self.arch_parameters(),
            lr=self.arch_learning_rate,
            betas=ARCH_BETAS,
            weight_decay=ARCH_WD,
        )

    def arch_step(self, loss: torch.Tensor) -> None:
        assert self.arch_optimizer is not None
        self.arch_optimizer.zero_grad(set_to_none=True)
        # only the architecture's gradients: the weights' are not computed at all
        torch.autograd.backward(loss, inputs=self.arch_parameters())
        self.arch_optimizer.step()

    def derive(self, ctx: SearchContext) -> Any:
        return self.cells.derive(torch.softmax(self.alpha.detach(), dim=-1))

    def probabilities(self) -> torch.Tensor:
        return torch.softmax(self.alpha.detach().float(), dim=-1)

    def extra(self) -> dict[str, float]:
        """Mean softmax weight of ``skip_connect`` over the edges (it grows in a collapse)."""
        skip = self.cells.op_index("skip_connect")
        return {"skip_weight": float(self.probabilities()[:, skip].mean())}

    def options(self) -> dict[str, Any]:
        return {"arch_learning_rate": self.arch_learning_rate}


def soft_route(weights: torch.Tensor, edge_weights: torch.Tensor | None = None) -> Route:
    """Every op of an edge, mixed by ``weights[edge]`` (and scaled by ``edge_weights``)."""

    def route(edge: int, op: MixedOp, x: torch.Tensor) -> torch.Tensor:
        out = op.mix(x, weights[edge])
        return out if edge_weights is None else edge_weights[edge] * out

    return route


@ONESHOT.register("darts")
class DartsSearch(_ArchWeights):
    """DARTS: a softmax mixture on every edge, alternating weight and architecture steps.

    Args:
        space: ``nb201`` or ``darts``.
        order: 1 (first order) or 2 (unrolled, second order).
        arch_learning_rate: Adam step size of ``alpha`` (DARTS: 3e-4).
        **options: as :class:`~archsearch.oneshot.OneShotSearch`.

    Example:
        >>> DartsSearch(order=2).name
        'darts2'
    """

    name = "darts"

    def __init__(self, space: str = "nb201", *, order: int = 1, **options: Any) -> None:
        super().__init__(space, **options)
        if order not in (1, 2) or isinstance(order, bool):
            raise ConfigError(f"order: must be 1 or 2, got {order!r}")
        self.order = order
        self.name = "darts" if order == 1 else "darts2"

    def options(self) -> dict[str, Any]:
        return {**super().options(), "order": self.order}

    def edge_weights(self) -> torch.Tensor | None:
        return None

    def route(self, *, detach: bool = False) -> Route:
        weights = torch.softmax(self.alpha, dim=-1)
        edges = self.edge_weights()
        if detach:
            weights = weights.detach()
            edges = None if edges is None else edges.detach()
        return soft_route(weights, edges)

    def train_epoch(self, ctx: SearchContext, epoch: int, n_epochs: int) -> EpochStats:
        tally = Tally(ctx.device)
        for x, y in ctx.train_batches():
            xv, yv = ctx.valid_batch()
            if self.order == 2:
                self._unrolled_step(ctx, x, y, xv, yv)
            else:
                self.arch_step(ctx.loss(xv, yv, self.route())[0])
            loss, hits = ctx.loss(x, y, self.route(detach=True))
            ctx.weight_step(loss)
            tally.add(loss, hits, len(y))
        return tally.stats(self.extra())

    def _unrolled_step(
        self,
        ctx: SearchContext,
        x: torch.Tensor,
        y: torch.Tensor,
        xv: torch.Tensor,
        yv: torch.Tensor,
    ) -> None:
        """DARTS' second-order architecture step (Eq. 7-8), the weights moved in place.

        ``w' = w - lr * (grad_w L_train(w) + wd * w)`` (DARTS also adds the momentum
        buffer, left out here); the architecture gradient is
        ``grad_a L_val(w', a) - lr * (grad_a L_train(w+, a) - grad_a L_train(w-, a)) / 2eps``
        with ``w+- = w +- eps * grad_w' L_val(w', a)`` and ``eps = 0.01 / |grad_w' L_val|``.
        """
        params = [p for p in ctx.net.parameters() if p.requires_grad]
        lr, wd = ctx.learning_rate(), ctx.recipe.weight_decay
        saved = [p.detach().clone() for p in params]
        train_grads = _grads(ctx.loss(x, y, self.route(detach=True))[0], params)
        with torch.no_grad():
            for p, g in zip(params, train_grads, strict=True):
                p.sub_(lr * (g + wd * p))
        val_grads = _grads(ctx.loss(xv, yv, self.route())[0], [*self.arch_parameters(), *params])
        n_arch = len(self.arch_parameters())
        arch_grads, dw = val_grads[:n_arch], val_grads[n_arch:]
        norm = torch.sqrt(torch.stack([(g.float() ** 2).sum() for g in dw]).sum())
        eps = 0.01 / float(norm.clamp_min(1e-12))
        hessian: list[list[torch.Tensor]] = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, s, g in zip(params, saved, dw, strict=True):
                    p.copy_(s + sign * eps * g)
            hessian.append(_grads(ctx.loss(x, y, self.route())[0], self.arch_parameters()))
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
        assert self.arch_optimizer is not None
        self.arch_optimizer.zero_grad(set_to_none=True)
        for a, g, plus, minus in zip(
            self.arch_parameters(), arch_grads, hessian[0], hessian[1], strict=True
        ):
            a.grad = g - lr * (plus - minus) / (2 * eps)
        self.arch_optimizer.step()


def _grads(loss: torch.Tensor, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``loss`` (zeros for a tensor it does not reach)."""
    found = torch.autograd.grad(loss, list(tensors), allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(tensors, found, strict=True)]


@ONESHOT.register("darts2")
def darts2(space: str = "nb201", **options: Any) -> DartsSearch:
    """Second-order DARTS (see :class:`DartsSearch`)."""
    return DartsSearch(space, order=2, **options)


def cap_skips(cells: CellSpace, weights: torch.Tensor, max_skips: int) -> Any:
    """The derived config with at most ``max_skips`` skip connections.

    While the derived cell has too many, the weakest chosen skip connection is ruled
    out on its edge (its weight set below every other) and the cell derived again.
    """
    skip = cells.op_index("skip_connect")
    weights = weights.detach().float().clone()
    config = cells.derive(weights)
    while cells.skip_count(config) > max_skips:
        chosen = cells.indices(config)
        rows = [e for e, k in enumerate(chosen) if k == skip and e < _normal_rows(cells)]
        weakest = min(rows, key=lambda e: float(weights[e, skip]))
        weights[weakest, skip] = -1.0
        config = cells.derive(weights)
    return config


def _normal_rows(cells: CellSpace) -> int:
    """Rows of the cell type whose skips are counted (DARTS: the normal cell's)."""
    return sum(1 for edge in cells.edges if not edge.startswith("reduce/"))


@ONESHOT.register("darts-es")
class DartsES(DartsSearch):
    """DARTS with DARTS+'s early stop at a skip-connection count (first order).

    Args:
        max_skips: the most skip connections the derived (normal) cell may hold: the
            search stops at the first epoch with more, and returns the previous
            epoch's cell (capped by :func:`cap_skips` if even the first had more).
        **options: as :class:`DartsSearch`.
    """

    name = "darts-es"

    def __init__(self, space: str = "nb201", *, max_skips: int = 2, **options: Any) -> None:
        super().__init__(space, **options)
        if isinstance(max_skips, bool) or not isinstance(max_skips, int) or max_skips < 0:
            raise ConfigError(f"max_skips: must be an integer >= 0, got {max_skips!r}")
        self.max_skips = max_skips
        self.name = "darts-es"

    def options(self) -> dict[str, Any]:
        return {**super().options(), "max_skips": self.max_skips}

    def should_stop(self, history: list[dict[str, Any]]) -> bool:
        return bool(history[-1]["skip_count"] > self.max_skips)

    def select(self, ctx: SearchContext, history: list[dict[str, Any]]) -> Any:
        for row in reversed(history):
            if row["skip_count"] <= self.max_skips:
                return row["config"]
        return cap_skips(self.cells, self.probabilities(), self.max_skips)


@ONESHOT.register("pcdarts")
class PCDarts(DartsSearch):
    """PC-DARTS: 1/K of the channels through each mixed op, edges normalised per node.

    Args:
        k: the channel share ``K`` (PC-DARTS: 4); must divide the supernet's channels.
        **options: as :class:`DartsSearch` (first order, as PC-DARTS).
    """

    name = "pcdarts"

    def __init__(self, space: str = "nb201", *, k: int = 4, **options: Any) -> None:
        super().__init__(space, **options)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k: must be an integer >= 1, got {k!r}")
        self.k = k
        self.name = "pcdarts"
        self.beta = torch.zeros(0)

    def partial(self) -> int:
        return self.k

    def options(self) -> dict[str, Any]:
        return {**super().options(), "k": self.k}

    def arch_parameters(self) -> list[torch.Tensor]:
        return [self.alpha, self.beta]

    def setup(self, ctx: SearchContext) -> None:
        self.beta = (1e-3 * torch.randn(len(self.cells.edges), generator=_gen(ctx))).to(ctx.device)
        self.beta.requires_grad_(True)
        super().setup(ctx)

    def edge_weights(self) -> torch.Tensor:
        """Softmax of ``beta`` over each node's incoming edges."""
        out = torch.empty_like(self.beta)
        for edges in self.cells.node_edges:
            out[edges] = torch.softmax(self.beta[edges], dim=0)
        return out

    def derive(self, ctx: SearchContext) -> Any:
        return self.cells.derive(self.probabilities(), self.edge_weights().detach())


def _gen(ctx: SearchContext) -> torch.Generator:
    return torch.Generator().manual_seed(ctx.rng.getrandbits(62))


@ONESHOT.register("gdas")
class GDAS(_ArchWeights):
    """GDAS: one Gumbel-softmax sampled op per edge forward, all weights in the backward.

    Args:
        tau_max, tau_min: the temperature anneals linearly from ``tau_max`` in the first
            epoch to ``tau_min`` in the last (GDAS: 10 and 0.1).
        **options: as :class:`~archsearch.oneshot.OneShotSearch` and ``arch_learning_rate``.
    """

    name = "gdas"

    def __init__(
        self, space: str = "nb201", *, tau_max: float = 10.0, tau_min: float = 0.1, **options: Any
    ) -> None:
        super().__init__(space, **options)
        if not 0 < tau_min <= tau_max:
            raise ConfigError(f"tau_min: must be in (0, tau_max={tau_max}], got {tau_min!r}")
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)
        self.tau = self.tau_max
        self.generator: torch.Generator | None = None

    def options(self) -> dict[str, Any]:
        return {**super().options(), "tau_max": self.tau_max, "tau_min": self.tau_min}

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        self.generator = torch.Generator(device=ctx.device).manual_seed(ctx.rng.getrandbits(62))

    def route(self) -> Route:
        """A hard Gumbel-softmax sample of every edge (straight-through weights)."""
        log_p = torch.log_softmax(self.alpha, dim=-1)
        while True:  # GDAS resamples the rare draw with an infinite value
            gumbel = -torch.empty_like(log_p).exponential_(generator=self.generator).log()
            probs = torch.softmax((log_p + gumbel) / self.tau, dim=-1)
            if bool(torch.isfinite(probs).all()):
                break
        index = probs.argmax(dim=-1)
        one_hot = torch.zeros_like(probs).scatter_(-1, index[:, None], 1.0)
        hard = one_hot - probs.detach() + probs
        chosen = index.tolist()

        def route(edge: int, op: MixedOp, x: torch.Tensor) -> torch.Tensor:
            return op.hard(x, hard[edge], chosen[edge])

        return route

    def train_epoch(self, ctx: SearchContext, epoch: int, n_epochs: int) -> EpochStats:
        span = max(n_epochs - 1, 1)
        self.tau = self.tau_max - (self.tau_max - self.tau_min) * epoch / span
        tally = Tally(ctx.device)
        for x, y in ctx.train_batches():
            loss, hits = ctx.loss(x, y, self.route())
            ctx.weight_step(loss)
            xv, yv = ctx.valid_batch()
            self.arch_step(ctx.loss(xv, yv, self.route())[0])
            tally.add(loss, hits, len(y))
        extra = {**self.extra(), "tau": self.tau}
        return tally.stats(extra)
