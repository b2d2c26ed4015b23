"""Sampling-based one-shot methods: RSPS, SPOS, SETN, ENAS.

The shared weights train one path at a time: each training batch runs one sampled
config of the space (one op per edge). The methods differ in how they sample and
in how they pick the final config with the trained supernet as the evaluator.

- ``rsps``: uniform sampling, then random search over the supernet (Li & Talwalkar,
  UAI 2019): ``n_candidates`` random configs, the best inherited accuracy wins.
- ``spos``: uniform single path, then evolutionary search over the supernet (Guo et
  al., ECCV 2020), here the project's regularized evolution (``rea``).
- ``setn``: uniform single path for the weights; architecture weights trained on
  validation batches with the soft mixture; at the end ``n_candidates`` template
  architectures are sampled from them and the evaluator (the supernet) picks the
  best (Dong & Yang, ICCV 2019).
- ``enas``: the project's LSTM controller (:class:`~archsearch.strategies.LSTMController`)
  samples the path of each training batch and learns by REINFORCE from the inherited
  accuracy of its samples on validation batches (Pham et al., ICML 2018).
"""

from __future__ import annotations

import zlib
from typing import Any

import torch

from archsearch.errors import ConfigError
from archsearch.oneshot._base import ONESHOT, EpochStats, OneShotSearch, SearchContext, Tally
from archsearch.oneshot._gradient import _ArchWeights, soft_route
from archsearch.registry import STRATEGIES
from archsearch.strategies import Strategy
from archsearch.trial import Result

__all__ = ["ENAS", "RSPS", "SETN", "SPOS"]


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: must be an integer >= 1, got {value!r}")
    return value


class _SinglePath(OneShotSearch):
    """Weights trained on one sampled path per batch; a final search over the supernet.

    Args:
        n_candidates: configs the final search evaluates with inherited weights.
        n_probe: random configs evaluated after each epoch; the best is the epoch's
            derived config (what the history and the store record).
        **options: as :class:`~archsearch.oneshot.OneShotSearch`.
    """

    def __init__(
        self, space: str = "nb201", *, n_candidates: int = 100, n_probe: int = 5, **options: Any
    ) -> None:
        super().__init__(space, **options)
        self.n_candidates = _count("n_candidates", n_candidates)
        self.n_probe = _count("n_probe", n_probe)

    def options(self) -> dict[str, Any]:
        return {"n_candidates": self.n_candidates, "n_probe": self.n_probe}

    def sample_path(self, ctx: SearchContext) -> Any:
        """The config that trains on the next batch (uniform by default)."""
        return self.cells.sample(ctx.rng)

    def after_path(self, ctx: SearchContext, loss: torch.Tensor) -> None:  # noqa: B027
        """Called after each weight step (SETN's architecture step)."""

    def train_epoch(self, ctx: SearchContext, epoch: int, n_epochs: int) -> EpochStats:
        tally = Tally(ctx.device)
        for x, y in ctx.train_batches():
            loss, hits = ctx.loss(x, y, ctx.single_route(self.sample_path(ctx)))
            ctx.weight_step(loss)
            self.after_path(ctx, loss)
            tally.add(loss, hits, len(y))
        return tally.stats(self.epoch_extra())

    def epoch_extra(self) -> dict[str, float]:
        return {}

    def derive(self, ctx: SearchContext) -> Any:
        probes = [self.cells.sample(ctx.rng) for _ in range(self.n_probe)]
        return max(probes, key=ctx.inherited_accuracy)

    def select(self, ctx: SearchContext, history: list[dict[str, Any]]) -> Any:
        strategy = STRATEGIES["random"](self.cells.space, seed=_seed(ctx, self.name))
        return self.search_supernet(ctx, strategy)

    def search_supernet(self, ctx: SearchContext, strategy: Strategy) -> Any:
        """Run ``strategy`` for ``n_candidates`` configs scored by inherited accuracy."""
        best, best_accuracy = None, -1.0
        for _ in range(self.n_candidates):
            candidate = strategy.ask()
            if candidate is None:
                break
            accuracy = ctx.inherited_accuracy(candidate.config)
            metrics = {"valid_accuracy": accuracy}
            strategy.tell(candidate, Result(metrics, score=accuracy))
            if accuracy > best_accuracy:
                best, best_accuracy = candidate.config, accuracy
        return best


def _seed(ctx: SearchContext, salt: str = "") -> int:
    """A seed from the search's stream, ``salt`` (a method name) making it the method's own.

    RSPS and SPOS train identical supernets under one seed; salted, their final searches
    draw different candidates instead of the same first population.
    """
    return (ctx.rng.getrandbits(31) + zlib.crc32(salt.encode())) % 2**31


@ONESHOT.register("rsps")
class RSPS(_SinglePath):
    """Random sampling with parameter sharing, then random search over the supernet."""

    name = "rsps"


@ONESHOT.register("spos")
class SPOS(_SinglePath):
    """Uniform single-path one-shot, then evolution (regularized evolution) over the supernet.

    Args:
        population_size, sample_size: of the evolution (defaults 20 and 5).
        **options: as :class:`RSPS`.
    """

    name = "spos"

    def __init__(
        self,
        space: str = "nb201",
        *,
        population_size: int = 20,
        sample_size: int = 5,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        self.population_size = _count("population_size", population_size)
        self.sample_size = _count("sample_size", sample_size)

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "population_size": self.population_size,
            "sample_size": self.sample_size,
        }

    def select(self, ctx: SearchContext, history: list[dict[str, Any]]) -> Any:
        strategy = STRATEGIES["rea"](
            self.cells.space,
            population_size=self.population_size,
            sample_size=min(self.sample_size, self.population_size),
            seed=_seed(ctx, self.name),
        )
        return self.search_supernet(ctx, strategy)


@ONESHOT.register("setn")
class SETN(_SinglePath, _ArchWeights):
    """SETN: uniform single-path weights, soft architecture steps, templates + evaluator.

    Args:
        n_candidates: template architectures sampled from the architecture weights at
            the end; the one with the best inherited accuracy is returned.
        **options: as :class:`RSPS` and ``arch_learning_rate``.
    """

    name = "setn"

    def setup(self, ctx: SearchContext) -> None:
        _ArchWeights.setup(self, ctx)

    def options(self) -> dict[str, Any]:
        return {**_SinglePath.options(self), "arch_learning_rate": self.arch_learning_rate}

    def after_path(self, ctx: SearchContext, loss: torch.Tensor) -> None:
        xv, yv = ctx.valid_batch()
        route = soft_route(torch.softmax(self.alpha, dim=-1))
        self.arch_step(ctx.loss(xv, yv, route)[0])

    def epoch_extra(self) -> dict[str, float]:
        return self.extra()

    def derive(self, ctx: SearchContext) -> Any:
        return _ArchWeights.derive(self, ctx)

    def sample_template(self, ctx: SearchContext) -> Any:
        """A config sampled from the architecture weights (one op per edge)."""
        probs = self.probabilities().cpu()
        draws = torch.rand(probs.shape[0], generator=torch.Generator().manual_seed(_seed(ctx)))
        chosen = torch.searchsorted(probs.cumsum(dim=1), draws[:, None]).clamp_max(
            probs.shape[1] - 1
        )
        weights = torch.zeros_like(probs).scatter_(1, chosen, probs.gather(1, chosen))
        return self.cells.derive(weights)

    def select(self, ctx: SearchContext, history: list[dict[str, Any]]) -> Any:
        templates = [self.sample_template(ctx) for _ in range(self.n_candidates)]
        return max(templates, key=ctx.inherited_accuracy)


@ONESHOT.register("enas")
class ENAS(_SinglePath):
    """ENAS: an LSTM controller samples paths and learns from their inherited accuracy.

    Args:
        controller_steps: REINFORCE steps of the controller after each epoch, each on
            one sampled config and one validation batch.
        controller_learning_rate: its Adam step size (ENAS: 0.0035).
        n_candidates: configs sampled from the trained controller at the end; the best
            inherited accuracy wins (ENAS' derivation), the greedy config included.
        **options: as :class:`~archsearch.oneshot.OneShotSearch`.
    """

    name = "enas"

    def __init__(
        self,
        space: str = "nb201",
        *,
        controller_steps: int = 20,
        controller_learning_rate: float = 0.0035,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        self.controller_steps = _count("controller_steps", controller_steps)
        self.controller_learning_rate = controller_learning_rate
        self.controller: Any = None

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "controller_steps": self.controller_steps,
            "controller_learning_rate": self.controller_learning_rate,
        }

    def setup(self, ctx: SearchContext) -> None:
        self.controller = STRATEGIES["lstm"](
            self.cells.space, learning_rate=self.controller_learning_rate, seed=_seed(ctx)
        )

    def _draw(self) -> Any:
        """A config from the controller, not to be learnt from (its pending entry dropped)."""
        candidate = self.controller.ask()
        self.controller.tell(candidate, Result({}, score=None))
        return candidate.config

    def sample_path(self, ctx: SearchContext) -> Any:
        return self._draw()

    def train_epoch(self, ctx: SearchContext, epoch: int, n_epochs: int) -> EpochStats:
        stats = super().train_epoch(ctx, epoch, n_epochs)
        rewards = []
        for _ in range(self.controller_steps):
            candidate = self.controller.ask()
            xv, yv = ctx.valid_batch()
            with torch.no_grad():
                _, hits = ctx.loss(xv, yv, ctx.single_route(candidate.config))
            accuracy = 100.0 * int(hits) / len(yv)
            rewards.append(accuracy)
            result = Result({"valid_accuracy": accuracy}, score=accuracy / 100)
            self.controller.tell(candidate, result)
        extra = {"controller_reward": sum(rewards) / len(rewards)}
        return EpochStats(stats.train_loss, stats.train_accuracy, extra)

    def greedy(self) -> Any:
        """The controller's most likely config, decision by decision."""
        prefix: list[int] = []

        def choose(path: str, n: int | None, domain: Any) -> int:
            probs = self.controller.probabilities(prefix, n)
            prefix.append(max(range(len(probs)), key=probs.__getitem__))
            return prefix[-1]

        return self.cells.space.decide(choose)

    def derive(self, ctx: SearchContext) -> Any:
        return self.greedy()

    def select(self, ctx: SearchContext, history: list[dict[str, Any]]) -> Any:
        sampled = [self._draw() for _ in range(self.n_candidates - 1)]
        return max([self.greedy(), *sampled], key=ctx.inherited_accuracy)
