"""ProxylessNAS-style path binarisation with an expected-latency loss (Cai et al., ICLR 2019).

Each edge keeps architecture weights over its ops, but the supernet never runs the
mixture. A weight step samples one op per edge from the softmax (one path active, the
memory of one path). An architecture step samples two distinct ops per edge, picks the
active one among them in proportion to their renormalised probabilities, and runs the
active op with autograd and the other without (its output is held, its activations
are not); binary gates with the straight-through estimator give both sampled ops
ProxylessNAS' gradient ``dL/dg_k = <dL/dy, op_k(x)>``. The loss adds
``latency_weight * E[latency] / latency_ref``: the expected latency of the network under
the softmax, from the project's latency look-up table (:class:`LUTPredictor` entries),
divided by its value at uniform weights.
"""

from __future__ import annotations

from typing import Any

import torch

from archsearch.errors import ConfigError
from archsearch.evaluation._latency import LatencyTable, LUTPredictor, profile_lut
from archsearch.oneshot._base import ONESHOT, EpochStats, SearchContext, Tally
from archsearch.oneshot._gradient import _ArchWeights
from archsearch.oneshot._supernet import MixedOp, Route

__all__ = ["Proxyless"]


@ONESHOT.register("proxyless")
class Proxyless(_ArchWeights):
    """Binarised paths (one active, two sampled for the architecture) and a latency term.

    Args:
        space: ``nb201`` (the latency table exists for NB201 only).
        latency_weight: weight of the normalised expected latency in the architecture
            loss (0 searches for accuracy alone).
        lut: a latency table (or its JSON path from ``archsearch latency profile``);
            None profiles the supernet's skeleton on the search device at the start
            (batch 1, 1 CPU thread on the CPU), which counts in the search time.
        **options: as :class:`~archsearch.oneshot.OneShotSearch` and ``arch_learning_rate``.
    """

    name = "proxyless"

    def __init__(
        self,
        space: str = "nb201",
        *,
        latency_weight: float = 0.1,
        lut: LatencyTable | str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        if self.cells.name != "nb201":
            raise ConfigError(
                f"space: proxyless needs a latency table, which exists for nb201 only; "
                f"got {space!r}"
            )
        if isinstance(latency_weight, bool) or not isinstance(latency_weight, int | float):
            raise ConfigError(f"latency_weight: must be a number >= 0, got {latency_weight!r}")
        if latency_weight < 0:
            raise ConfigError(f"latency_weight: must be a number >= 0, got {latency_weight!r}")
        self.latency_weight = float(latency_weight)
        self.lut = LatencyTable.load(lut) if isinstance(lut, str) else lut
        self.predictor: LUTPredictor | None = None
        self.op_ms = torch.zeros(0)
        self.latency_ref_ms = 1.0
        self.generator: torch.Generator | None = None

    def options(self) -> dict[str, Any]:
        return {**super().options(), "latency_weight": self.latency_weight}

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        self.generator = torch.Generator(device=ctx.device).manual_seed(ctx.rng.getrandbits(62))
        table = self.lut or self._profile(ctx)
        self.predictor = LUTPredictor(table)
        self.op_ms = torch.tensor([self.predictor.part_ms[op] for op in self.cells.ops])
        self.op_ms = self.op_ms.to(ctx.device)
        uniform = torch.full_like(self.alpha, 1.0 / len(self.cells.ops))
        self.latency_ref_ms = float(self.expected_latency_ms(uniform))

    def _profile(self, ctx: SearchContext) -> LatencyTable:
        shape = tuple(int(v) for v in ctx.data.train_x.shape[1:])
        skeleton = {k: v for k, v in self.model.items() if k in ("channels", "n_cells")}
        return profile_lut(
            "nb201",
            input_shape=shape,
            batch_size=1,
            device=str(ctx.device),
            threads=1 if ctx.device.type == "cpu" else None,
            repeats=5,
            # the calling thread's CPU time on the CPU: robust to other processes' load
            clock="cpu" if ctx.device.type == "cpu" else "wall",
            n_classes=ctx.data.num_classes,
            model_options=skeleton,
        )

    def expected_latency_ms(self, probs: torch.Tensor) -> torch.Tensor:
        """``fixed + n_cells * (cell + sum_edges sum_ops p * op_ms)``: additions ignored."""
        assert self.predictor is not None
        per_cell = self.predictor.part_ms["cell"] + (probs * self.op_ms).sum()
        return self.predictor.fixed_ms + self.predictor.n_cells * per_cell

    def _sample(self, probs: torch.Tensor, n: int) -> torch.Tensor:
        return torch.multinomial(probs, n, replacement=False, generator=self.generator)

    def one_path(self) -> Route:
        """One op per edge, sampled from the softmax: the weight step's route."""
        chosen = self._sample(self.probabilities(), 1)[:, 0].tolist()

        def route(edge: int, op: MixedOp, x: torch.Tensor) -> torch.Tensor:
            return op.single(x, chosen[edge])

        return route

    def two_paths(self) -> Route:
        """Two sampled ops per edge, one active: the architecture step's route."""
        pairs = self._sample(self.probabilities(), 2)  # (edges, 2)
        pair_probs = torch.softmax(self.alpha.gather(1, pairs), dim=-1)
        pick = torch.multinomial(pair_probs.detach(), 1, generator=self.generator)  # (edges, 1)
        one_hot = torch.zeros_like(pair_probs).scatter_(1, pick, 1.0)
        gates_pair = one_hot - pair_probs.detach() + pair_probs
        gates = torch.zeros_like(self.alpha).scatter(1, pairs, gates_pair)
        active = pairs.gather(1, pick)[:, 0].tolist()
        other = pairs.gather(1, 1 - pick)[:, 0].tolist()

        def route(edge: int, op: MixedOp, x: torch.Tensor) -> torch.Tensor:
            return op.binary(x, gates[edge], active[edge], [other[edge]])

        return route

    def train_epoch(self, ctx: SearchContext, epoch: int, n_epochs: int) -> EpochStats:
        tally = Tally(ctx.device)
        for x, y in ctx.train_batches():
            loss, hits = ctx.loss(x, y, self.one_path())
            ctx.weight_step(loss)
            xv, yv = ctx.valid_batch()
            arch_loss = ctx.loss(xv, yv, self.two_paths())[0]
            if self.latency_weight:
                expected = self.expected_latency_ms(torch.softmax(self.alpha, dim=-1))
                arch_loss = arch_loss + self.latency_weight * expected / self.latency_ref_ms
            self.arch_step(arch_loss)
            tally.add(loss, hits, len(y))
        extra = {
            **self.extra(),
            "expected_latency_ms": float(self.expected_latency_ms(self.probabilities())),
            "latency_ms": self.predicted_latency_ms(self.derive(ctx)),
        }
        return tally.stats(extra)

    def predicted_latency_ms(self, config: Any) -> float:
        """The look-up table's latency of ``config``."""
        assert self.predictor is not None
        return self.predictor.predict(config)
