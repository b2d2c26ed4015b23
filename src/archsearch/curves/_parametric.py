"""A parametric ensemble of saturating learning-curve families (after Domhan et al. 2015).

Every family is increasing and saturating, written ``y(x) = c - a * g(x; theta)`` with
``a >= 0`` and ``g`` falling from large to 0 (log-power is the one product form,
``y = c * h(x; theta)``). Steps are divided by the last observed step, so the shape
parameters ``theta`` mean the same on any scale of steps.

Fitting is variable projection, batched in torch over curves and grid points: for
every ``theta`` of a fixed log-spaced grid the linear parameters ``(c, a)`` have a
closed form (least squares under ``a >= 0`` and ``c <= ceiling``), so each family's
best grid point is the global least-squares fit on the grid, with no local minima and
no step size. (Refining the best grid point with 30 Adam steps on reparameterised
parameters changed the rank correlation on LCBench by less than 0.005 and doubled the
time, so there is none.) The first third of the observed points is left out of the fit
(``skip``).

The ensemble (:class:`FittedCurves`) is a grid posterior: its members are the
``top_k`` best grid points of every family, each weighted by its likelihood under
Gaussian noise with the BIC penalty of its family's parameters, ``exp(-SSE / (2
sigma**2) - k/2 log n)``. Members that fit the points seen about equally well and part
ways beyond them carry the uncertainty of the extrapolation, as the MCMC samples of
Domhan et al. do. The predictive mean is the weighted mean of the members; the
variance is their weighted spread, plus the noise ``sigma**2`` (the best member's
residual variance, at least ``(noise_floor * range)**2``), plus ``(growth * gain)**2``
where ``gain`` is the predicted rise from the last step seen to the target: an
extrapolation is trusted less the further the curve still has to climb. The standard
deviation therefore grows with the distance extrapolated. Defaults (``noise_floor``
0.1, ``growth`` 1) are those that ranked and estimated LCBench finals best from 10 % and
25 % of the curves; the 95 % intervals still cover only about two thirds of the true
finals there (the learned model's cover 97 %).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from archsearch.curves._threads import one_thread
from archsearch.errors import ConfigError

__all__ = ["FAMILIES", "Family", "FittedCurves", "ParametricEnsemble", "pad_curves"]

Tensor = torch.Tensor
#: a partial learning curve: (steps, values), steps increasing
Curve = tuple[Sequence[float], Sequence[float]]


def _grid(*axes: Sequence[float]) -> Tensor:
    """The Cartesian product of the given axes as a ``(G, len(axes))`` tensor."""
    mesh = torch.meshgrid(*[torch.tensor(a, dtype=torch.float64) for a in axes], indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)


def _logspace(low: float, high: float, n: int) -> list[float]:
    return np.geomspace(low, high, n).tolist()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Family:
    """One curve family: ``y = c - a * basis(u, theta)`` (or ``c * basis`` if ``product``).

    Attributes:
        name: short name (``pow3``).
        basis: ``(u, theta) -> g`` for steps ``u`` (divided by the last observed step),
            broadcasting ``u`` ``(..., T)`` against ``theta`` ``(..., P)``.
        grid: the ``(G, P)`` shape parameters tried; all positive.
        product: True for ``y = c * basis`` (one linear parameter).
    """

    name: str
    basis: Callable[[Tensor, Tensor], Tensor]
    grid: Tensor
    product: bool = False

    @property
    def n_params(self) -> int:
        """Parameters fitted: the linear ones and the shape parameters."""
        return (1 if self.product else 2) + int(self.grid.shape[1])


def _pow3(u: Tensor, t: Tensor) -> Tensor:  # c - a x^-alpha
    return u ** (-t[..., 0:1])


def _pow4(u: Tensor, t: Tensor) -> Tensor:  # c - a (x + b)^-alpha, as (1 + x/b)^-alpha
    return (1 + u / t[..., 0:1]) ** (-t[..., 1:2])


def _exp3(u: Tensor, t: Tensor) -> Tensor:  # c - exp(-a x + b)
    return torch.exp(-t[..., 0:1] * u)


def _janoschek(u: Tensor, t: Tensor) -> Tensor:  # c - (c - b) exp(-k x^d); Weibull reparam.
    return torch.exp(-t[..., 0:1] * u ** t[..., 1:2])


def _mmf(u: Tensor, t: Tensor) -> Tensor:  # c - (c - b) / (1 + (k x)^d)
    return 1 / (1 + (t[..., 0:1] * u) ** t[..., 1:2])


def _ilog2(u: Tensor, t: Tensor) -> Tensor:  # c - a / log(x), x shifted and scaled
    return 1 / torch.log(1 + u / t[..., 0:1])


def _log_power(u: Tensor, t: Tensor) -> Tensor:  # a / (1 + (x / e^b)^-c)
    return 1 / (1 + (u / t[..., 0:1]) ** (-t[..., 1:2]))


#: the families of the ensemble (Domhan et al. 2015, Table 1, less the non-saturating
#: log-log-linear and vapour pressure, and Weibull, which is Janoschek reparameterised)
FAMILIES: tuple[Family, ...] = (
    Family("pow3", _pow3, _grid(_logspace(0.02, 6.0, 48))),
    Family("pow4", _pow4, _grid(_logspace(0.003, 30.0, 16), _logspace(0.05, 8.0, 16))),
    Family("exp3", _exp3, _grid(_logspace(0.05, 300.0, 48))),
    Family("janoschek", _janoschek, _grid(_logspace(0.01, 300.0, 24), _logspace(0.15, 4.0, 12))),
    Family("mmf", _mmf, _grid(_logspace(0.05, 3000.0, 24), _logspace(0.15, 4.0, 12))),
    Family("ilog2", _ilog2, _grid(_logspace(0.003, 30.0, 48))),
    Family(
        "log_power", _log_power, _grid(_logspace(0.001, 30.0, 24), _logspace(0.1, 6.0, 12)), True
    ),
)


def pad_curves(curves: Sequence[Curve]) -> tuple[Tensor, Tensor, Tensor]:
    """Curves of any lengths as padded ``(n, T)`` tensors: steps, values, mask.

    Raises:
        ConfigError: for an empty curve, mismatched lengths, non-positive, unsorted or
            non-finite steps, or non-finite values.
    """
    if not curves:
        raise ConfigError("curves: give at least one (steps, values) curve")
    width = max(len(values) for _, values in curves)
    x = np.ones((len(curves), max(width, 1)))
    y = np.zeros_like(x)
    mask = np.zeros_like(x)
    for i, (steps, values) in enumerate(curves):
        s, v = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        if s.ndim != 1 or s.shape != v.shape or len(v) == 0:
            raise ConfigError(
                f"curves[{i}]: need as many steps as values, at least one; "
                f"got {s.size} steps, {v.size} values"
            )
        if not (np.all(np.isfinite(s)) and np.all(np.isfinite(v)) and s[0] > 0):
            raise ConfigError(f"curves[{i}]: steps must be > 0, steps and values finite")
        if np.any(np.diff(s) <= 0):
            raise ConfigError(f"curves[{i}]: steps must increase, got {s.tolist()}")
        x[i, : len(s)], y[i, : len(v)], mask[i, : len(v)] = s, v, 1.0
        x[i, len(s) :] = s[-1]  # padding repeats the last step (masked out)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)


class ParametricEnsemble:
    """A weighted ensemble of saturating curve families, fitted to partial curves.

    Values are maximised (accuracies; negate a loss). :meth:`fit_many` fits hundreds
    of curves in one batch; one curve takes a few milliseconds.

    Args:
        families: the families (default: :data:`FAMILIES`, seven of them).
        upper: a bound no curve passes (100 for accuracies in percent); None for none.
            The asymptote is also kept within ``headroom`` times the observed range
            above the highest value seen, so that a curve seen for three steps cannot
            be extrapolated to any height.
        headroom: see ``upper``.
        skip: the share of the first observed points left out of the fit (at least
            three points are kept): the first epochs are a warm-up whose shape says
            little about the asymptote (on six LCBench tasks, leaving out a third raises the rank
            correlation of the predicted final accuracy from 0.84 to 0.90 at 25 % seen).
        top_k: grid points kept per family as members of the ensemble.
        noise_floor: the smallest noise standard deviation, as a share of the range of
            the fitted values; it sets how many members share the weight when several
            fit a short curve about equally well.
        growth: the extrapolation term of the standard deviation (see the module
            docstring).

    Example:
        >>> import numpy as np
        >>> steps = np.arange(1, 14)
        >>> fitted = ParametricEnsemble(upper=100).fit(steps, 90 - 30 * steps**-0.8)
        >>> mean, std = fitted.predict([52])
        >>> bool(abs(mean[0, 0] - (90 - 30 * 52**-0.8)) < 1.0), bool(std[0, 0] > 0)
        (True, True)
    """

    def __init__(
        self,
        families: Sequence[Family] = FAMILIES,
        *,
        upper: float | None = None,
        headroom: float = 3.0,
        skip: float = 1 / 3,
        top_k: int = 16,
        noise_floor: float = 0.1,
        growth: float = 1.0,
    ) -> None:
        if not families:
            raise ConfigError("families: give at least one curve family")
        for name, value in (("headroom", headroom), ("growth", growth)):
            if not value >= 0:
                raise ConfigError(f"{name}: must be >= 0, got {value!r}")
        if not 0 <= skip < 1:
            raise ConfigError(f"skip: must be in [0, 1), got {skip!r}")
        if not isinstance(top_k, int) or top_k < 1:
            raise ConfigError(f"top_k: must be an integer >= 1, got {top_k!r}")
        if not noise_floor > 0:
            raise ConfigError(f"noise_floor: must be > 0, got {noise_floor!r}")
        self.families = tuple(families)
        self.upper = None if upper is None else float(upper)
        self.headroom, self.skip, self.top_k = float(headroom), float(skip), top_k
        self.noise_floor, self.growth = float(noise_floor), float(growth)

    def predict_curves(
        self,
        curves: Sequence[Curve],
        targets: Sequence[float] | np.ndarray,
        *,
        final_step: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit ``curves`` and predict each at its target step: ``(mean, std)``, ``(n,)``.

        ``final_step`` is not needed (the families extrapolate to any step).
        """
        goal = np.asarray(targets, dtype=float).reshape(-1, 1)
        if len(goal) != len(curves):
            raise ConfigError(f"targets: {len(goal)} given for {len(curves)} curves")
        if not curves:
            return np.zeros(0), np.zeros(0)
        mean, std = self.fit_many(curves).predict(goal)
        return mean[:, 0], std[:, 0]

    def fit(self, steps: Sequence[float], values: Sequence[float]) -> FittedCurves:
        """Fit one curve; see :meth:`fit_many`."""
        return self.fit_many([(steps, values)])

    def fit_many(self, curves: Sequence[Curve]) -> FittedCurves:
        """Fit every family to every curve at once.

        Args:
            curves: ``(steps, values)`` pairs of any lengths (steps > 0, increasing).

        Returns:
            The fits, which predict at any steps.

        Raises:
            ConfigError: see :func:`pad_curves`.
        """
        x, y, mask = pad_curves(curves)
        n_seen = mask.sum(1)
        last = x.gather(1, (n_seen[:, None] - 1).long())  # (n, 1)
        n_skip = torch.minimum(torch.floor(self.skip * n_seen), (n_seen - 3).clamp_min(0))
        mask = mask * (torch.arange(x.shape[1])[None, :] >= n_skip[:, None])
        u = x / last
        big = torch.finfo(torch.float64).max
        y_max = torch.where(mask > 0, y, -big).max(1).values
        y_min = torch.where(mask > 0, y, big).min(1).values
        spread = (y_max - y_min).clamp_min(1e-9 * (1 + y_max.abs()))
        ceiling = y_max + self.headroom * spread
        if self.upper is not None:
            ceiling = torch.maximum(ceiling.clamp(max=self.upper), y_max)
        with one_thread():
            fits = [_fit_family(f, u, y, mask, ceiling, self.top_k) for f in self.families]
        return FittedCurves(self, fits, mask.sum(1), last[:, 0], spread)


@dataclass(frozen=True)
class _FamilyFit:
    """The ``K`` best grid points of one family per curve."""

    family: Family
    theta: Tensor  # (n, K, P)
    c: Tensor  # (n, K)
    a: Tensor  # (n, K)
    sse: Tensor  # (n, K)

    def at(self, u: Tensor) -> Tensor:
        """Predictions ``(n, K, m)`` at steps ``u`` ``(n, m)`` (over the last step)."""
        g = self.family.basis(u[:, None, :], self.theta)
        if self.family.product:
            return self.c[..., None] * g
        return self.c[..., None] - self.a[..., None] * g


def _fit_family(
    family: Family, u: Tensor, y: Tensor, mask: Tensor, ceiling: Tensor, top_k: int
) -> _FamilyFit:
    """Closed-form linear parameters at every grid point; the ``top_k`` best kept."""
    grid = family.grid  # (G, P)
    g = family.basis(u[:, None, :], grid[None, :, :])  # (n, G, T)
    yy, mm, top = y[:, None, :], mask[:, None, :], ceiling[:, None]
    n, sg, sy, sgg, sgy = (
        mm.sum(-1),
        (g * mm).sum(-1),
        (yy * mm).sum(-1),
        (g * g * mm).sum(-1),
        (g * yy * mm).sum(-1),
    )
    if family.product:  # y = c g, 0 <= c <= ceiling
        c = (sgy / sgg.clamp_min(1e-300)).clamp_min(0.0).minimum(top)
        a = torch.zeros_like(c)
        fit = c[..., None] * g
    else:  # y = c - a g, a >= 0, c <= ceiling
        var = sgg - sg * sg / n
        a = ((sg * sy / n - sgy) / var.clamp_min(1e-300)).clamp_min(0.0)
        a = torch.where(var > 1e-300, a, torch.zeros_like(a))
        c = (sy + a * sg) / n
        # an asymptote over its ceiling: c at the ceiling, a refitted there
        a_top = ((top * sg - sgy) / sgg.clamp_min(1e-300)).clamp_min(0.0)
        over = c > top
        c, a = torch.where(over, top.expand_as(c), c), torch.where(over, a_top, a)
        fit = c[..., None] - a[..., None] * g
    sse = (((fit - yy) * mm) ** 2).sum(-1)  # (n, G)
    sse = torch.where(torch.isfinite(sse), sse, torch.full_like(sse, math.inf))
    k = min(top_k, grid.shape[0])
    sse_k, best = torch.topk(sse, k, dim=1, largest=False)  # sorted: ties keep grid order
    rows = torch.arange(len(best))[:, None]
    return _FamilyFit(family, grid[best], c[rows, best], a[rows, best], sse_k)


class FittedCurves:
    """The ensemble fitted to ``n`` curves; :meth:`predict` answers at any steps.

    Members are the ``top_k`` best grid points of every family, weighted by
    ``exp(-SSE / (2 sigma**2) - k/2 log n)``: each point's likelihood under Gaussian
    noise, with the BIC penalty for the family's ``k`` parameters (``n`` points
    fitted). ``sigma**2`` is the residual variance of the best member (``SSE / (n -
    k)``), floored at ``(noise_floor * range)**2``. This is a grid posterior: members
    that fit the observed points about equally well and part ways beyond them carry the
    uncertainty of the extrapolation, as MCMC samples do in Domhan et al.
    """

    def __init__(
        self,
        ensemble: ParametricEnsemble,
        fits: list[_FamilyFit],
        n_points: Tensor,
        last_step: Tensor,
        spread: Tensor,
    ) -> None:
        self.ensemble, self._fits = ensemble, fits
        self.last_step = last_step
        nn = n_points[:, None].clamp_min(1.0)
        k = torch.cat([torch.full_like(f.sse, f.family.n_params) for f in fits], 1)
        sse = torch.cat([f.sse for f in fits], 1)  # (n, F K)
        floor = (ensemble.noise_floor * spread) ** 2
        residual = (sse / (nn - k).clamp_min(1.0)).min(1).values
        self.noise = torch.maximum(residual, floor)  # (n,)
        logw = -sse / (2 * self.noise[:, None]) - 0.5 * k * torch.log(nn)
        logw = torch.where(torch.isfinite(logw), logw, torch.full_like(logw, -math.inf))
        self.weights = torch.softmax(logw, dim=1)

    def __len__(self) -> int:
        return len(self.last_step)

    def members(self, target_steps: Tensor) -> Tensor:
        """Every member's prediction, ``(n, members, m)``, at steps ``(n, m)``."""
        u = target_steps / self.last_step[:, None]
        return torch.cat([f.at(u) for f in self._fits], 1)

    def family_weights(self) -> dict[str, np.ndarray]:
        """Each family's share of the ensemble, per curve."""
        out, start = {}, 0
        for f in self._fits:
            k = f.sse.shape[1]
            out[f.family.name] = self.weights[:, start : start + k].sum(1).numpy()
            start += k
        return out

    def predict(self, target_steps: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation at ``target_steps``.

        Args:
            target_steps: ``m`` steps for every curve, or an ``(n, m)`` array (a row
                per curve).

        Returns:
            ``(mean, std)``, each ``(n, m)``.

        Raises:
            ConfigError: for targets of the wrong shape.
        """
        t = torch.as_tensor(np.asarray(target_steps, dtype=float), dtype=torch.float64)
        t = t.expand(len(self), -1) if t.ndim == 1 else t
        if t.ndim != 2 or t.shape[0] != len(self):
            raise ConfigError(
                f"target_steps: expected one row of steps or {len(self)} rows, "
                f"got shape {tuple(t.shape)}"
            )
        with torch.no_grad(), one_thread():
            mean, var = self._mixture(t)
            now, _ = self._mixture(self.last_step[:, None])
            gain = (mean - now).clamp_min(0.0)
            var = var + self.noise[:, None] + (self.ensemble.growth * gain) ** 2
        return mean.numpy(), var.sqrt().numpy()

    def _mixture(self, t: Tensor) -> tuple[Tensor, Tensor]:
        members = self.members(t)  # (n, M, m)
        finite = torch.isfinite(members)
        w = torch.where(finite, self.weights[:, :, None], torch.zeros_like(members))
        w = w / w.sum(1, keepdim=True).clamp_min(1e-300)
        members = torch.where(finite, members, torch.zeros_like(members))
        mean = (w * members).sum(1)
        return mean, (w * (members - mean[:, None, :]) ** 2).sum(1)
