"""Evolution by network morphism: children grow their parent and may inherit its weights."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._rea import RegularizedEvolution
from archsearch.trial import Candidate

__all__ = ["GROWTH_FIELDS", "MorphEvolution", "growth_moves"]

#: decisions that grow a network function-preservingly (widen, deepen, grow a kernel)
GROWTH_FIELDS: tuple[str, ...] = ("n_layers", "width", "kernel")

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _value_at(config: Any, path: str) -> Any:
    """The value at a genome path (``stages[1].width``) of ``config``."""
    value = config
    for name, index in _TOKEN.findall(path):
        value = value[int(index)] if index else value[name]
    return value


def _leaf(path: str) -> str:
    names = [name for name, _ in _TOKEN.findall(path) if name]
    return names[-1] if names else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def growth_moves(space: Space, config: Any, grow: Sequence[str] = GROWTH_FIELDS) -> list[Any]:
    """Every config one growth step from ``config``: one decision named in ``grow``
    (by its last path component) moved to the next larger value the space allows.

    Example:
        >>> from archsearch.space import Choice, Int, Space
        >>> space = Space({"stages": [{"width": Choice([8, 16, 32]), "n_layers": Int(1, 2)}]})
        >>> growth_moves(space, {"stages": [{"width": 16, "n_layers": 1}]})
        [{'stages': [{'width': 32, 'n_layers': 1}]}, {'stages': [{'width': 16, 'n_layers': 2}]}]
    """
    genome = space.genome(config)
    indices = [gene.index for gene in genome]
    out = []
    for pos, gene in enumerate(genome):
        if gene.n_options is None or _leaf(gene.path) not in grow:
            continue
        current = _value_at(config, gene.path)
        if not _is_number(current):
            continue
        best: tuple[Any, float] | None = None
        for j in range(gene.n_options):
            if j == gene.index:
                continue
            moved = list(indices)
            moved[pos] = j
            try:
                child = space.from_genome(moved)
                value = _value_at(child, gene.path)
            except (ConfigError, KeyError, IndexError, TypeError):  # a conditional's branch
                continue
            if _is_number(value) and value > current and (best is None or value < best[1]):
                best = (child, value)
        if best is not None:
            out.append(best[0])
    return out


@STRATEGIES.register("morph")
class MorphEvolution(RegularizedEvolution):
    """Regularized evolution whose mutations are network morphisms of the parent.

    As :class:`~archsearch.strategies.RegularizedEvolution` (random start population,
    tournament of ``sample_size``, the oldest dies), but a child is its tournament
    winner grown by one step: one decision named in ``grow`` (``n_layers``: deepen,
    ``width``: widen, ``kernel``: grow a kernel, of one stage) moved to the next larger
    value the space allows, chosen at random among those that can grow. With
    ``inherit`` the child names its parent (``Candidate.context = {"parent": config}``,
    ``trial.parent`` in an objective), so that the evaluation can grow the parent's
    trained weights into it (:func:`archsearch.morphism.inherit`) and train it for
    fewer epochs (Elsken et al., 2017; Cai et al., 2018). ``inherit=False`` is the same
    evolution with children trained from scratch: the baseline.

    A winner that cannot grow (every growth decision at its largest, or a space with
    none, such as NB201's cells) gets an ordinary one-decision mutation instead, with
    no parent to inherit from: on such spaces this is plain regularized evolution.

    Args:
        space: the search space (``cnn``, ``mobilenet``, or any space whose growth
            decisions are numeric and named as in ``grow``).
        population_size: members kept.
        sample_size: tournament size.
        aging: remove the oldest (regularized) rather than the worst member.
        inherit: children name their parent, to inherit its weights.
        grow: last path components of the decisions that may grow.
        seed: fixes the search.

    Raises:
        ConfigError: for sizes as in ``rea``, or ``grow`` not a list of names.

    Example:
        >>> from archsearch.spaces import cnn_space
        >>> from archsearch.trial import Result
        >>> strategy = MorphEvolution(cnn_space(n_stages=1), population_size=2,
        ...                           sample_size=1, seed=0)
        >>> for _ in range(2):
        ...     c = strategy.ask()
        ...     strategy.tell(c, Result({"acc": 1.0}).with_score(1.0))
        >>> child = strategy.ask()
        >>> child.context["parent"]  # the tournament's winner
        {'stages': [{'n_layers': 1, 'width': 24, 'kernel': 5}]}
        >>> child.config  # deepened by one layer
        {'stages': [{'n_layers': 2, 'width': 24, 'kernel': 5}]}
    """

    def __init__(
        self,
        space: Space,
        *,
        population_size: int = 10,
        sample_size: int = 3,
        aging: bool = True,
        inherit: bool = True,
        grow: Sequence[str] = GROWTH_FIELDS,
        seed: int | None = None,
    ) -> None:
        if isinstance(grow, str) or not all(isinstance(name, str) for name in grow):
            raise ConfigError(f"grow: expected a list of decision names, got {grow!r}")
        super().__init__(
            space, population_size=population_size, sample_size=sample_size, aging=aging,
            seed=seed,
        )  # fmt: skip
        self.inherit = bool(inherit)
        self.grow = tuple(grow)

    def ask(self) -> Candidate:
        is_start = len(self.population) + len(self._pending_random) < self.population_size
        parent: Any = None
        if is_start or not self.population:  # (empty: every start member failed)
            config = self.space.sample(self.rng)
        else:
            winner = self._tournament()
            moves = growth_moves(self.space, winner, self.grow)
            if moves:
                config, parent = moves[int(self.rng.random() * len(moves))], winner
            else:
                config = self.space.mutate(winner, self.rng)
        context = {"parent": parent} if parent is not None and self.inherit else None
        candidate = Candidate(self._next_id, config, None, context)
        self._next_id += 1
        if is_start:
            self._pending_random.add(candidate.id)
        return candidate

    def _tournament(self) -> Any:
        """The best of ``sample_size`` members drawn with replacement (ties: the first)."""
        population, rand = self.population, self.rng.random
        n = len(population)
        best = population[int(rand() * n)]
        for _ in range(self.sample_size - 1):
            other = population[int(rand() * n)]
            if other[1] > best[1]:
                best = other
        return best[0]
