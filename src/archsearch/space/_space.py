"""The :class:`Space`: what may vary, and the operations strategies need on it."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.space._nodes import Chooser, Gene, Node, compile_spec, node_from_json

__all__ = ["Space", "as_rng", "config_key"]


def as_rng(seed: int | random.Random | None) -> random.Random:
    """A ``random.Random`` from a seed (or the generator itself).

    archsearch draws from ``random.Random`` rather than NumPy's Generator on the hot
    paths: one draw costs ~50 ns instead of ~1 us, which is what keeps a simulated
    search of hundreds of trials within a few milliseconds.
    """
    if isinstance(seed, random.Random):
        return seed
    return random.Random(seed)


def config_key(config: Any) -> str:
    """A canonical string for a config: equal configs give equal keys."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


class Space:
    """A search space: nested dicts and lists of decisions and fixed values.

    Args:
        spec: the space, written as plain Python: dicts and lists holding
            :class:`Choice`, :class:`Int`, :class:`Real`, fixed values, or
            :func:`symbolic` calls.
        name: an optional short name, shown in reports.

    Example:
        >>> from archsearch.space import Choice, Int, Real, Space
        >>> space = Space({"op": Choice(["conv", "pool"]), "depth": Int(1, 3),
        ...                "lr": Real(1e-4, 1e-1, log=True)})
        >>> config = space.sample(seed=0)
        >>> sorted(config)
        ['depth', 'lr', 'op']
        >>> space.validate({"op": "conv", "depth": 9, "lr": 0.01})
        Traceback (most recent call last):
        ...
        archsearch.errors.ConfigError: depth: must be in [1, 3], got 9
    """

    def __init__(self, spec: Any, *, name: str | None = None) -> None:
        self.root: Node = compile_spec(spec)
        self.name = name

    # -- sampling and structure -------------------------------------------------------
    def sample(self, rng: random.Random | None = None, *, seed: int | None = None) -> Any:
        """Draw a config: each decision uniformly (log-uniformly where asked)."""
        return self.root.sample(rng if rng is not None else random.Random(seed))

    @property
    def size(self) -> float:
        """Number of distinct configs (``math.inf`` when a Real decision is present)."""
        return self.root.size()

    @property
    def is_finite(self) -> bool:
        return self.size != float("inf")

    def enumerate(self) -> Iterator[Any]:
        """Yield every config of a finite space, in a fixed order."""
        if not self.is_finite:
            raise ConfigError("cannot enumerate an infinite space (it has a Real decision)")
        return self.root.enumerate()

    def validate(self, config: Any) -> Any:
        """Return ``config`` checked against the space.

        Raises:
            ConfigError: naming the path of the first bad field and what is allowed.
        """
        return self.root.validate(config, "")

    def __contains__(self, config: Any) -> bool:
        try:
            self.validate(config)
        except ConfigError:
            return False
        return True

    # -- genome view ------------------------------------------------------------------
    def genome(self, config: Any) -> list[Gene]:
        """The active decisions of ``config``, one :class:`Gene` each, in a fixed order."""
        out: list[Gene] = []
        self.root.genes(config, "", out)
        return out

    def from_genome(self, indices: Sequence[int | float]) -> Any:
        """The config whose genome indices are ``indices`` (inverse of :meth:`genome`)."""
        it = iter(indices)
        config = self.root.decode(it, "")
        if next(it, None) is not None:
            raise ConfigError(f"genome too long: {len(indices)} entries for this config")
        return config

    def decide(self, chooser: Chooser) -> Any:
        """Build a config decision by decision, asking ``chooser`` at each one.

        ``chooser(path, n_options, domain)`` returns the option index (for a Real,
        where ``n_options`` is None, the value). Decisions come in genome order, and a
        conditional choice's branch is decided right after it: this is how policies
        (REINFORCE, an LSTM controller, MCTS) build configs token by token.

        Example:
            >>> from archsearch.space import Choice, Space
            >>> Space({"a": Choice([1, 2]), "b": Choice(["x", "y"])}).decide(lambda p, n, d: n - 1)
            {'a': 2, 'b': 'y'}
        """
        return self.root.decide(chooser, "")

    def n_decisions(self, config: Any) -> int:
        """Number of active decisions in ``config``."""
        return len(self.genome(config))

    # -- variation --------------------------------------------------------------------
    def mutate(self, config: Any, rng: random.Random | None = None) -> Any:
        """A copy of ``config`` with one active decision changed to another valid value.

        A changed conditional choice samples the newly active branch afresh.
        """
        rng = rng if rng is not None else random.Random()
        root = self.root
        # only decisions with a choice to make can change
        positions = getattr(root, "flat_mutable", None)
        if positions is None:
            positions = [i for i, gene in enumerate(self.genome(config)) if gene.n_options != 1]
        if not positions:
            return config
        return root.mutate_at(config, positions[int(rng.random() * len(positions))], [0], rng)

    def neighbours(self, config: Any) -> list[Any]:
        """Every config that differs from ``config`` in exactly one active decision."""
        out = []
        for target in range(len(self.genome(config))):
            out.extend(self.root.neighbours_at(config, target, [0]))
        return out

    # -- identity and serialisation ---------------------------------------------------
    def key(self, config: Any) -> str:
        """Canonical key of a config, for de-duplication."""
        return config_key(config)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description; :meth:`from_json` rebuilds an equal space."""
        return {"name": self.name, "root": self.root.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Space:
        space = cls.__new__(cls)
        space.root = node_from_json(data["root"])
        space.name = data.get("name")
        return space

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True, default=str))

    def __repr__(self) -> str:
        size = self.size
        shown = "inf" if size == float("inf") else f"{int(size):,}"
        return f"Space(name={self.name!r}, size={shown})"
