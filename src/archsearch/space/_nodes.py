"""The nodes of a compiled search space.

A user writes a space as nested dicts and lists holding decision points
(:class:`Choice`, :class:`Int`, :class:`Real`) and fixed values. :func:`compile_spec`
turns that into a tree of nodes; every operation of :class:`~archsearch.space.Space`
is a walk over that tree. A *config* is the plain value the tree produces: the same
nesting, with each decision replaced by the value taken.

A dict value wrapped in :func:`when` is a *conditional key*: it is present in a config
only when earlier keys of the same dict take given values (the flat, define-by-run
form of a conditional; a :class:`Choice` of dicts is the nested form).
"""

from __future__ import annotations

import abc
import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from archsearch.errors import ConfigError

__all__ = [
    "Choice",
    "Chooser",
    "CondDictNode",
    "Domain",
    "Int",
    "Node",
    "Real",
    "When",
    "compile_spec",
    "when",
]

#: ``chooser(path, n_options, domain) -> index`` (for a Real, ``n_options`` is None and
#: the chooser returns the value itself)
Chooser = Callable[[str, "int | None", "Domain"], "int | float"]


class Node(abc.ABC):
    """One node of a compiled space."""

    #: number of decisions below this node, counting every branch of a choice
    is_constant: bool = False

    @abc.abstractmethod
    def sample(self, rng: random.Random) -> Any:
        """Draw a value uniformly (per decision) at random."""

    @abc.abstractmethod
    def validate(self, value: Any, path: str) -> Any:
        """Return ``value`` checked against this node; raise ConfigError naming ``path``."""

    @abc.abstractmethod
    def size(self) -> float:
        """Number of distinct values (``math.inf`` when a real decision is below)."""

    @abc.abstractmethod
    def enumerate(self) -> Iterator[Any]:
        """Yield every value of a finite node, in a fixed order."""

    @abc.abstractmethod
    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        """Append one :class:`Gene` per active decision under ``value``."""

    @abc.abstractmethod
    def decode(self, indices: Iterator[int | float], path: str) -> Any:
        """Build a value from genome entries, consuming them in order."""

    @abc.abstractmethod
    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        """Return ``value`` with active decision number ``target`` changed.

        ``seen[0]`` counts the active decisions visited so far in genome order.
        """

    @abc.abstractmethod
    def to_json(self) -> Any:
        """A JSON-able description of this node (see :func:`node_from_json`)."""

    def decide(self, chooser: Chooser, path: str) -> Any:
        """Build a value, asking ``chooser`` at each active decision in genome order."""
        return self.sample(random.Random(0))  # constant nodes

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        """Every value that differs from ``value`` at active decision ``target`` only."""
        return [value]


class Gene(tuple[str, int | float, int | None]):
    """One active decision of a config: ``(path, index, n_options)``.

    ``index`` is the position of the value among the options (for :class:`Int`,
    ``value - low``); for :class:`Real` it is the value itself and ``n_options`` is None.
    """

    __slots__ = ()

    def __new__(cls, path: str, index: int | float, n_options: int | None) -> Gene:
        return tuple.__new__(cls, (path, index, n_options))

    @property
    def path(self) -> str:
        return self[0]

    @property
    def index(self) -> int | float:  # type: ignore[override]  # the gene's index, not tuple.index
        return self[1]

    @property
    def n_options(self) -> int | None:
        return self[2]


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fixed(Node):
    """A value that never varies."""

    is_constant = True

    def __init__(self, value: Any) -> None:
        self.value = value

    def sample(self, rng: random.Random) -> Any:
        return self.value

    def validate(self, value: Any, path: str) -> Any:
        if value != self.value:
            raise ConfigError(f"{path}: fixed at {_describe(self.value)}, got {_describe(value)}")
        return value

    def size(self) -> float:
        return 1

    def enumerate(self) -> Iterator[Any]:
        yield self.value

    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        return None

    def decode(self, indices: Iterator[int | float], path: str) -> Any:
        return self.value

    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        return value

    def decide(self, chooser: Chooser, path: str) -> Any:
        return self.value

    def to_json(self) -> Any:
        if isinstance(self.value, dict | list) or _is_domain_json(self.value):
            return {"$fixed": self.value}
        return self.value


class DictNode(Node):
    """A dict whose values are nodes; the config is a dict with the same keys."""

    def __init__(self, items: Mapping[str, Node]) -> None:
        for key in items:
            if not isinstance(key, str):
                raise ConfigError(f"space keys must be strings, got {key!r}")
        self.items = dict(items)
        self.keys = tuple(self.items)
        self.nodes = tuple(self.items.values())
        self.is_constant = all(n.is_constant for n in self.nodes)
        # Flat dicts of choices are the common case (cells, stages): give them a fast path.
        self.flat_options: tuple[tuple[Any, ...], ...] | None = None
        self.flat_mutable: list[int] | None = None  # positions with more than one option
        if self.nodes and all(
            isinstance(n, Choice) and all(o.is_constant for o in n.options) for n in self.nodes
        ):
            self.flat_options = tuple(
                tuple(o.sample(random.Random(0)) for o in n.options)  # type: ignore[attr-defined]
                for n in self.nodes
            )
            self.flat_mutable = [i for i, o in enumerate(self.flat_options) if len(o) > 1]

    def sample(self, rng: random.Random) -> dict[str, Any]:
        if self.flat_options is not None:
            rand = rng.random
            return {
                k: opts[int(rand() * len(opts))]
                for k, opts in zip(self.keys, self.flat_options, strict=True)
            }
        return {k: n.sample(rng) for k, n in zip(self.keys, self.nodes, strict=True)}

    def validate(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path or 'config'}: expected a mapping, got {_describe(value)}")
        unknown = [k for k in value if k not in self.items]
        if unknown:
            raise ConfigError(
                f"{_join(path, str(unknown[0]))}: unknown field; allowed: {', '.join(self.keys)}"
            )
        out: dict[str, Any] = {}
        for key, node in self.items.items():
            _validate_key(node, key, value, _join(path, key), out)
        return out

    def size(self) -> float:
        return math.prod(n.size() for n in self.nodes)

    def enumerate(self) -> Iterator[dict[str, Any]]:
        for values in itertools.product(*(n.enumerate() for n in self.nodes)):
            yield dict(zip(self.keys, values, strict=True))

    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        for key, node in zip(self.keys, self.nodes, strict=True):
            node.genes(value[key], _join(path, key), out)

    def decode(self, indices: Iterator[int | float], path: str) -> dict[str, Any]:
        return {k: n.decode(indices, _join(path, k)) for k, n in self.items.items()}

    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        if self.flat_options is not None:
            # One active decision per key: jump straight to it.
            local = target - seen[0]
            seen[0] += len(self.keys)
            if not 0 <= local < len(self.keys):
                return value
            key, opts = self.keys[local], self.flat_options[local]
            if len(opts) == 1:
                return value
            out = dict(value)
            current = opts.index(value[key])
            pick = int(rng.random() * (len(opts) - 1))
            out[key] = opts[pick + (pick >= current)]
            return out
        out = dict(value)
        for key, node in zip(self.keys, self.nodes, strict=True):
            before = seen[0]
            new = node.mutate_at(value[key], target, seen, rng)
            if before <= target < seen[0]:
                out[key] = new
                # finish counting is not needed: the target has been handled
                return out
        return out

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        for key, node in zip(self.keys, self.nodes, strict=True):
            before = seen[0]
            subs = node.neighbours_at(value[key], target, seen)
            if before <= target < seen[0]:
                return [{**value, key: sub} for sub in subs]
        return [value]

    def decide(self, chooser: Chooser, path: str) -> dict[str, Any]:
        return {k: n.decide(chooser, _join(path, k)) for k, n in self.items.items()}

    def to_json(self) -> Any:
        items = {k: n.to_json() for k, n in self.items.items()}
        # keys that look like our markers are wrapped, so they read back as a dict
        return {"$dict": items} if any(k.startswith("$") for k in items) else items


class ListNode(Node):
    """A list of nodes; the config is a list of the same length."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = tuple(nodes)
        self.is_constant = all(n.is_constant for n in self.nodes)

    def sample(self, rng: random.Random) -> list[Any]:
        return [n.sample(rng) for n in self.nodes]

    def validate(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path or 'config'}: expected a list, got {_describe(value)}")
        if len(value) != len(self.nodes):
            raise ConfigError(
                f"{path or 'config'}: expected {len(self.nodes)} items, got {len(value)}"
            )
        return [
            n.validate(v, f"{path}[{i}]")
            for i, (n, v) in enumerate(zip(self.nodes, value, strict=True))
        ]

    def size(self) -> float:
        return math.prod(n.size() for n in self.nodes)

    def enumerate(self) -> Iterator[list[Any]]:
        for values in itertools.product(*(n.enumerate() for n in self.nodes)):
            yield list(values)

    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        for i, (node, item) in enumerate(zip(self.nodes, value, strict=True)):
            node.genes(item, f"{path}[{i}]", out)

    def decode(self, indices: Iterator[int | float], path: str) -> list[Any]:
        return [n.decode(indices, f"{path}[{i}]") for i, n in enumerate(self.nodes)]

    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        for i, node in enumerate(self.nodes):
            before = seen[0]
            new = node.mutate_at(value[i], target, seen, rng)
            if before <= target < seen[0]:
                out = list(value)
                out[i] = new
                return out
        return value

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        for i, node in enumerate(self.nodes):
            before = seen[0]
            subs = node.neighbours_at(value[i], target, seen)
            if before <= target < seen[0]:
                return [[*value[:i], sub, *value[i + 1 :]] for sub in subs]
        return [value]

    def decide(self, chooser: Chooser, path: str) -> list[Any]:
        return [n.decide(chooser, f"{path}[{i}]") for i, n in enumerate(self.nodes)]

    def to_json(self) -> Any:
        return [n.to_json() for n in self.nodes]


class Domain(Node):
    """A decision point: the places where configs differ."""

    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        out.append(Gene(path, self.index_of(value), self.n_options))

    @property
    def n_options(self) -> int | None:
        return None

    @abc.abstractmethod
    def index_of(self, value: Any) -> int | float:
        """The genome entry of a (validated) value."""

    def decode(self, indices: Iterator[int | float], path: str) -> Any:
        try:
            index = next(indices)
        except StopIteration:
            raise ConfigError(f"{path or 'config'}: genome too short") from None
        return self.value_at(index, path)

    @abc.abstractmethod
    def value_at(self, index: int | float, path: str) -> Any:
        """The value of a genome entry."""

    @abc.abstractmethod
    def other(self, value: Any, rng: random.Random) -> Any:
        """A valid value different from ``value`` (when there is one)."""

    def decide(self, chooser: Chooser, path: str) -> Any:
        return self.value_at(chooser(path, self.n_options, self), path)

    def when(self, /, **conditions: Any) -> When:
        """This decision as a dict value present only where ``conditions`` hold.

        Shorthand for ``when(self, **conditions)``; see :func:`when`.
        """
        return when(self, **conditions)

    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        here = seen[0]
        seen[0] += 1
        return self.other(value, rng) if here == target else value

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        here = seen[0]
        seen[0] += 1
        if here != target:
            return [value]
        return [v for v in self.enumerate() if v != value]


class Choice(Domain):
    """Pick one of ``options``; an option may itself be a sub-space (a conditional).

    Example:
        >>> from archsearch.space import Space, Choice
        >>> Space({"op": Choice(["conv", "pool"])}).size
        2
    """

    def __init__(self, options: Sequence[Any]) -> None:
        if isinstance(options, str | bytes) or not isinstance(options, Sequence):
            raise ConfigError(f"Choice: options must be a list, got {_describe(options)}")
        if not options:
            raise ConfigError("Choice: needs at least one option")
        self.options = tuple(compile_spec(o) for o in options)
        self.is_conditional = not all(o.is_constant for o in self.options)
        self._constant_values = (
            None if self.is_conditional else [o.sample(random.Random(0)) for o in self.options]
        )

    @property
    def n_options(self) -> int:
        return len(self.options)

    def sample(self, rng: random.Random) -> Any:
        return self.options[int(rng.random() * len(self.options))].sample(rng)

    def _match(self, value: Any, path: str) -> tuple[int, Any]:
        if self._constant_values is not None:
            for i, option in enumerate(self._constant_values):
                if option == value and type(option) is type(value):
                    return i, value
            for i, option in enumerate(self._constant_values):
                if option == value:
                    return i, option
            allowed = ", ".join(str(v) for v in self._constant_values)
            raise ConfigError(f"{path or 'config'}: unknown value {value!r}; allowed: {allowed}")
        errors = []
        for i, option in enumerate(self.options):
            try:
                return i, option.validate(value, path)
            except ConfigError as exc:
                errors.append(f"option {i}: {exc}")
        raise ConfigError(
            f"{path or 'config'}: matches none of the {len(self.options)} options "
            f"({'; '.join(errors)})"
        )

    def validate(self, value: Any, path: str) -> Any:
        return self._match(value, path)[1]

    def index_of(self, value: Any) -> int:
        return self._match(value, "")[0]

    def value_at(self, index: int | float, path: str) -> Any:
        i = int(index)
        if i != index or not 0 <= i < len(self.options):
            raise ConfigError(f"{path or 'config'}: option index {index!r} out of range")
        if self._constant_values is not None:
            return self._constant_values[i]
        return self.options[i].sample(random.Random(0))

    def decode(self, indices: Iterator[int | float], path: str) -> Any:
        try:
            index = next(indices)
        except StopIteration:
            raise ConfigError(f"{path or 'config'}: genome too short") from None
        i = int(index)
        if i != index or not 0 <= i < len(self.options):
            raise ConfigError(f"{path or 'config'}: option index {index!r} out of range")
        return self.options[i].decode(indices, path)

    def decide(self, chooser: Chooser, path: str) -> Any:
        index = chooser(path, len(self.options), self)
        i = int(index)
        if i != index or not 0 <= i < len(self.options):
            raise ConfigError(f"{path or 'config'}: option index {index!r} out of range")
        return self.options[i].decide(chooser, path)

    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        i, value = self._match(value, path)
        out.append(Gene(path, i, len(self.options)))
        self.options[i].genes(value, path, out)

    def size(self) -> float:
        return sum(o.size() for o in self.options)

    def enumerate(self) -> Iterator[Any]:
        for option in self.options:
            yield from option.enumerate()

    def other(self, value: Any, rng: random.Random) -> Any:
        n = len(self.options)
        if n == 1:
            return value
        current = self._match(value, "")[0]
        pick = int(rng.random() * (n - 1))
        return self.options[pick + (pick >= current)].sample(rng)

    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        here = seen[0]
        seen[0] += 1
        if here == target:
            return self.other(value, rng)
        if not self.is_conditional:
            return value
        i, value = self._match(value, "")
        return self.options[i].mutate_at(value, target, seen, rng)

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        here = seen[0]
        seen[0] += 1
        i, value = self._match(value, "")
        if here == target:
            # A changed branch starts from its first value, so neighbours are finite.
            return [next(o.enumerate()) for j, o in enumerate(self.options) if j != i]
        return self.options[i].neighbours_at(value, target, seen)

    def to_json(self) -> Any:
        return {"$choice": [o.to_json() for o in self.options]}


class Int(Domain):
    """An integer in ``[low, high]`` (both included), uniform or log-uniform."""

    def __init__(self, low: int, high: int, *, log: bool = False) -> None:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise ConfigError(f"Int: low and high must be integers, got {low!r}, {high!r}")
        if low > high:
            raise ConfigError(f"Int: low must be <= high, got {low} > {high}")
        if log and low <= 0:
            raise ConfigError(f"Int: log scale needs low > 0, got {low}")
        self.low, self.high, self.log = low, high, log

    @property
    def n_options(self) -> int:
        return self.high - self.low + 1

    def sample(self, rng: random.Random) -> int:
        if not self.log:
            return self.low + int(rng.random() * (self.high - self.low + 1))
        lo, hi = math.log(self.low - 0.5 + 1e-9), math.log(self.high + 0.5)
        return min(self.high, max(self.low, round(math.exp(lo + rng.random() * (hi - lo)))))

    def validate(self, value: Any, path: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{path or 'config'}: expected an integer, got {_describe(value)}")
        if not self.low <= value <= self.high:
            raise ConfigError(
                f"{path or 'config'}: must be in [{self.low}, {self.high}], got {value}"
            )
        return value

    def index_of(self, value: Any) -> int:
        return int(value) - self.low

    def value_at(self, index: int | float, path: str) -> int:
        return self.validate(self.low + int(index), path)

    def size(self) -> float:
        return self.high - self.low + 1

    def enumerate(self) -> Iterator[int]:
        yield from range(self.low, self.high + 1)

    def other(self, value: Any, rng: random.Random) -> int:
        n = self.high - self.low + 1
        if n == 1:
            return int(value)
        pick = self.low + int(rng.random() * (n - 1))
        return int(pick + (pick >= value))

    def to_json(self) -> Any:
        return {"$int": [self.low, self.high], "log": self.log}


class Real(Domain):
    """A real number in ``[low, high]``, uniform or log-uniform (``log=True``)."""

    def __init__(self, low: float, high: float, *, log: bool = False) -> None:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            raise ConfigError(f"Real: low and high must be numbers, got {low!r}, {high!r}")
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ConfigError(f"Real: needs finite low < high, got {low}, {high}")
        if log and low <= 0:
            raise ConfigError(f"Real: log scale needs low > 0, got {low}")
        self.low, self.high, self.log = float(low), float(high), log

    def sample(self, rng: random.Random) -> float:
        u = rng.random()
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def validate(self, value: Any, path: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{path or 'config'}: expected a number, got {_describe(value)}")
        if not self.low <= value <= self.high:
            raise ConfigError(
                f"{path or 'config'}: must be in [{self.low:g}, {self.high:g}], got {value}"
            )
        return float(value)

    def index_of(self, value: Any) -> float:
        return float(value)

    def value_at(self, index: int | float, path: str) -> float:
        return self.validate(index, path)

    def size(self) -> float:
        return math.inf

    def enumerate(self) -> Iterator[float]:
        raise ConfigError("cannot enumerate a space with a Real decision; it is infinite")

    def other(self, value: Any, rng: random.Random) -> float:
        return self.sample(rng)

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        here = seen[0]
        seen[0] += 1
        if here != target:
            return [value]
        raise ConfigError("cannot list neighbours along a Real decision; it is infinite")

    def to_json(self) -> Any:
        return {"$real": [self.low, self.high], "log": self.log}


# -- conditional keys -------------------------------------------------------------------


class When:
    """A dict value present only where earlier keys of the same dict take given values.

    Made by :func:`when` (or :meth:`Domain.when`); only a dict value may be one.
    """

    __slots__ = ("conditions", "spec")

    def __init__(self, spec: Any, conditions: Mapping[str, tuple[Any, ...]]) -> None:
        self.spec = spec
        self.conditions = dict(conditions)

    def __repr__(self) -> str:
        conditions = ", ".join(f"{k}={list(v)!r}" for k, v in self.conditions.items())
        return f"when(..., {conditions})"


def when(spec: Any, /, **conditions: Any) -> When:
    """Make a dict value conditional: present only where earlier keys of the dict allow it.

    Each keyword names a key that comes *earlier* in the same dict, with the value it
    must take or a list (tuple, set) of the values it may take; several keywords must
    all hold. A condition holds when that key is present (it may be conditional too)
    and its value is one of those allowed. A config holds the key exactly where its
    conditions hold and lacks it elsewhere. (To allow one list value, wrap it: ``[[1, 2]]``.)

    This is the flat form of a conditional, as a define-by-run objective draws its
    parameters; a :class:`Choice` of dicts is the nested form. Both may be mixed.

    Args:
        spec: the value: a decision, a sub-space, or a fixed value.
        conditions: ``key=value`` or ``key=[values...]``.

    Raises:
        ConfigError: with no condition, a condition that allows no value, or ``spec``
            itself a ``when(...)``. Building the space raises it too, naming the key, for
            a condition on a key that is not earlier in the dict or on a value that key
            never takes, and for a ``when(...)`` that is not the value of a dict key.

    Example:
        >>> from archsearch.space import Choice, Real, Space, when
        >>> space = Space({"optimizer": Choice(["sgd", "adam"]),
        ...                "momentum": when(Real(0.5, 0.99), optimizer="sgd")})
        >>> space.validate({"optimizer": "adam"})
        {'optimizer': 'adam'}
        >>> [sorted(space.sample(seed=s)) for s in (0, 1)]
        [['optimizer'], ['momentum', 'optimizer']]
    """
    if isinstance(spec, When):
        raise ConfigError("when: cannot wrap another when(...); give every condition in one call")
    if not conditions:
        raise ConfigError("when: needs at least one condition, e.g. when(spec, depth=[2, 3])")
    allowed: dict[str, tuple[Any, ...]] = {}
    for key, values in conditions.items():
        if isinstance(values, set | frozenset):
            try:
                values = tuple(sorted(values))
            except TypeError:  # values of mixed types: ordered by repr, the same every run
                values = tuple(sorted(values, key=repr))
        elif isinstance(values, list | tuple):
            values = tuple(values)
        else:
            values = (values,)
        if not values:
            raise ConfigError(f"when: {key}=[] allows no value, so the key could never be present")
        allowed[key] = values
    return When(spec, allowed)


def _same(a: Any, b: Any) -> bool:
    """``a == b``, except that a bool never equals a number (``True == 1`` in Python)."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


def _count(node: Node, value: Any) -> int:
    """How many of the values a finite ``node`` enumerates are ``value``."""
    if isinstance(node, Fixed):
        return int(_same(node.value, value))
    if isinstance(node, Int):
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return int(is_int and node.low <= value <= node.high)
    if isinstance(node, Choice):
        return sum(_count(o, value) for o in node.options)
    return sum(1 for v in node.enumerate() if _same(v, value))


class CondDictNode(Node):
    """A dict whose conditional keys are present only where earlier keys take given values.

    ``conditions`` maps a conditional key to ``{earlier key: allowed values}``, which
    must all hold. A config holds exactly its active keys. Every walk goes over the keys
    in order and decides a key's presence from the values already taken, so genomes,
    :meth:`decide` and sampling see the active decisions only, in dict order.
    """

    # never a flat dict of choices: the strategies' fast paths for those do not apply
    flat_options: None = None
    flat_mutable: None = None

    def __init__(
        self, items: Mapping[str, Node], conditions: Mapping[str, Mapping[str, Sequence[Any]]]
    ) -> None:
        for key in items:
            if not isinstance(key, str):
                raise ConfigError(f"space keys must be strings, got {key!r}")
        self.items = dict(items)
        self.keys = tuple(self.items)
        self.nodes = tuple(self.items.values())
        self.is_constant = all(n.is_constant for n in self.nodes)
        position = {key: i for i, key in enumerate(self.keys)}
        for key in conditions:
            if key not in position:
                raise ConfigError(f"{key}: conditions given for a key the dict lacks")
        checked: list[tuple[tuple[str, tuple[Any, ...]], ...]] = []
        for i, key in enumerate(self.keys):
            here = []
            for parent, values in conditions.get(key, {}).items():
                where = position.get(parent)
                if where is None:
                    earlier = ", ".join(self.keys[:i]) or "none"
                    raise ConfigError(
                        f"{key}: when({parent}=...) names no key of this dict; "
                        f"a condition must name an earlier key (here: {earlier})"
                    )
                if where >= i:
                    which = "the key itself" if where == i else "a later key"
                    raise ConfigError(
                        f"{key}: when({parent}=...) names {which}; "
                        "a condition must name an earlier key of the same dict"
                    )
                if not values:
                    raise ConfigError(f"{key}: when({parent}=[]) allows no value")
                gate, normal = self.nodes[where], []
                for value in values:
                    try:
                        normal.append(gate.validate(value, parent))
                    except ConfigError as exc:
                        raise ConfigError(
                            f"{key}: when({parent}=...) allows {_describe(value)}, "
                            f"which {parent} never takes ({exc})"
                        ) from None
                here.append((parent, tuple(normal)))
            checked.append(tuple(here))
        #: per key, ``((earlier key, allowed values), ...)``; empty for a plain key
        self.conditions = tuple(checked)
        self.gates = frozenset(parent for conds in self.conditions for parent, _ in conds)

    def _active(self, i: int, env: Mapping[str, Any]) -> bool:
        """Whether key number ``i`` is present, given the earlier keys' values ``env``."""
        for parent, allowed in self.conditions[i]:
            if parent not in env:
                return False
            value = env[parent]
            if not any(_same(value, a) for a in allowed):
                return False
        return True

    def _why_inactive(self, i: int, env: Mapping[str, Any]) -> str:
        for parent, allowed in self.conditions[i]:
            if parent in env and any(_same(env[parent], a) for a in allowed):
                continue
            need = (
                f"{parent} is {_describe(allowed[0])}"
                if len(allowed) == 1
                else f"{parent} is one of {_describe(list(allowed))}"
            )
            now = (
                f"{parent} is {_describe(env[parent])}" if parent in env else f"{parent} is absent"
            )
            return f"allowed only when {need} (here {now})"
        return "active"  # pragma: no cover - only called for an inactive key

    def sample(self, rng: random.Random) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if self._active(i, out):
                out[key] = node.sample(rng)
        return out

    def validate(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path or 'config'}: expected a mapping, got {_describe(value)}")
        unknown = [k for k in value if k not in self.items]
        if unknown:
            raise ConfigError(
                f"{_join(path, str(unknown[0]))}: unknown field; allowed: {', '.join(self.keys)}"
            )
        out: dict[str, Any] = {}
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            sub = _join(path, key)
            if not self._active(i, out):
                if key in value:
                    raise ConfigError(f"{sub}: present, but {self._why_inactive(i, out)}")
                continue
            _validate_key(node, key, value, sub, out)
        return out

    def size(self) -> float:
        # Only which condition values a key takes matters to the keys after it: the values
        # of each key a condition names fall into classes (one per value some condition
        # names, one for all the others), and the count runs over the classes taken so far.
        gates = [k for k in self.keys if k in self.gates]
        slot = {k: g for g, k in enumerate(gates)}
        named: list[list[Any]] = [[] for _ in gates]  # per gate, the values conditions name
        forget: list[list[int]] = [[] for _ in self.keys]  # gates no key after i reads
        last: dict[str, int] = {}
        for i, conds in enumerate(self.conditions):
            for parent, allowed in conds:
                last[parent] = i
                values = named[slot[parent]]
                values.extend(a for a in allowed if not any(_same(a, v) for v in values))
        for parent, i in last.items():
            forget[i].append(slot[parent])
        # per key, its conditions as (gate, classes that satisfy it)
        tests = [
            [
                (
                    slot[p],
                    frozenset(
                        c for c, v in enumerate(named[slot[p]]) if any(_same(v, a) for a in A)
                    ),
                )
                for p, A in conds
            ]
            for conds in self.conditions
        ]
        states: dict[tuple[int, ...], float] = {(-1,) * len(gates): 1}  # classes -> configs
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            g = slot.get(key)
            size = node.size()
            if g is not None:
                if size == math.inf and any(all(e[t] in ok for t, ok in tests[i]) for e in states):
                    return math.inf
                counts: list[float] = (
                    [_count(node, v) for v in named[g]] if size != math.inf else []
                )
                counts.append(size - sum(counts))  # every other value
            new: dict[tuple[int, ...], float] = {}
            for env, n in states.items():
                if not all(env[t] in ok for t, ok in tests[i]):
                    moves = [(env, n)]
                elif g is None:
                    moves = [(env, n * size)]
                else:
                    moves = [
                        (env[:g] + (c,) + env[g + 1 :], n * m) for c, m in enumerate(counts) if m
                    ]
                for env_, n_ in moves:
                    for t in forget[i]:
                        env_ = env_[:t] + (-1,) + env_[t + 1 :]
                    new[env_] = new.get(env_, 0) + n_
            states = new
        return sum(states.values())

    def enumerate(self) -> Iterator[dict[str, Any]]:
        listed: dict[int, list[Any]] = {}  # each key's values, listed once
        n = len(self.keys)

        def walk(i: int, out: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == n:
                yield dict(out)
                return
            if not self._active(i, out):
                yield from walk(i + 1, out)
                return
            if i not in listed:
                listed[i] = list(self.nodes[i].enumerate())
            key = self.keys[i]
            for value in listed[i]:
                out[key] = value
                yield from walk(i + 1, out)
            del out[key]

        return walk(0, {})

    def genes(self, value: Any, path: str, out: list[Gene]) -> None:
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if self._active(i, value):
                node.genes(value[key], _join(path, key), out)

    def decode(self, indices: Iterator[int | float], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if self._active(i, out):
                out[key] = node.decode(indices, _join(path, key))
        return out

    def _settle(
        self, value: Mapping[str, Any], changed: int, new: Any, fill: Callable[[Node], Any]
    ) -> dict[str, Any]:
        """``value`` with key number ``changed`` set to ``new``; the keys after it that
        become active take ``fill(node)``, those that become inactive are dropped."""
        key = self.keys[changed]
        if key not in self.gates:  # no presence depends on it
            return {**value, key: new}
        out: dict[str, Any] = {}
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if i < changed:
                if key in value:
                    out[key] = value[key]
            elif i == changed:
                out[key] = new
            elif self._active(i, out):
                out[key] = value[key] if key in value else fill(node)
        return out

    def mutate_at(self, value: Any, target: int, seen: list[int], rng: random.Random) -> Any:
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if not self._active(i, value):
                continue
            before = seen[0]
            new = node.mutate_at(value[key], target, seen, rng)
            if before <= target < seen[0]:
                # a newly active key is sampled afresh, as a switched choice's branch is
                return self._settle(value, i, new, lambda n: n.sample(rng))
        return value

    def neighbours_at(self, value: Any, target: int, seen: list[int]) -> list[Any]:
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if not self._active(i, value):
                continue
            before = seen[0]
            subs = node.neighbours_at(value[key], target, seen)
            if before <= target < seen[0]:
                # a newly active key starts from its first value, so neighbours are finite
                return [self._settle(value, i, sub, lambda n: next(n.enumerate())) for sub in subs]
        return [value]

    def decide(self, chooser: Chooser, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (key, node) in enumerate(zip(self.keys, self.nodes, strict=True)):
            if self._active(i, out):
                out[key] = node.decide(chooser, _join(path, key))
        return out

    def to_json(self) -> Any:
        return {
            "$when": [
                [key, node.to_json(), {parent: list(allowed) for parent, allowed in conds}]
                for key, node, conds in zip(self.keys, self.nodes, self.conditions, strict=True)
            ]
        }


def _validate_key(
    node: Node, key: str, value: Mapping[str, Any], sub: str, out: dict[str, Any]
) -> None:
    """Check ``value[key]`` into ``out``: a missing constant takes its value, a missing
    decision is an error naming ``sub``."""
    if key in value:
        out[key] = node.validate(value[key], sub)
    elif node.is_constant:
        out[key] = node.sample(random.Random(0))
    else:
        raise ConfigError(f"{sub}: missing")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_domain_json(value: Any) -> bool:
    return isinstance(value, dict) and any(
        k in value for k in ("$choice", "$int", "$real", "$fixed")
    )


def compile_spec(spec: Any) -> Node:
    """Compile a user's spec (nested dicts/lists of decisions and values) into a node."""
    from archsearch.space._symbolic import Symbolic, SymbolicNode

    if isinstance(spec, Node):
        return spec
    if isinstance(spec, Symbolic):
        return SymbolicNode(spec)
    if hasattr(spec, "root") and isinstance(spec.root, Node):  # a Space
        return spec.root
    if isinstance(spec, When):
        raise ConfigError(
            f"{spec!r}: only the value of a dict key may be conditional "
            "(its conditions name earlier keys of the same dict)"
        )
    if isinstance(spec, Mapping):
        if any(isinstance(v, When) for v in spec.values()):
            return CondDictNode(
                {k: compile_spec(v.spec if isinstance(v, When) else v) for k, v in spec.items()},
                {k: v.conditions for k, v in spec.items() if isinstance(v, When)},
            )
        return DictNode({k: compile_spec(v) for k, v in spec.items()})
    if isinstance(spec, list | tuple):
        nodes = [compile_spec(v) for v in spec]
        if all(isinstance(n, Fixed) for n in nodes):
            return Fixed(list(spec))
        return ListNode(nodes)
    return Fixed(spec)


def node_from_json(data: Any) -> Node:
    """Rebuild a node from :meth:`Node.to_json` output."""
    if isinstance(data, dict):
        if set(data) == {"$dict"}:
            return DictNode({k: node_from_json(v) for k, v in data["$dict"].items()})
        if set(data) == {"$when"}:
            entries = data["$when"]
            return CondDictNode(
                {key: node_from_json(node) for key, node, _ in entries},
                {key: conds for key, _, conds in entries if conds},
            )
        if "$fixed" in data:
            return Fixed(data["$fixed"])
        if "$choice" in data:
            choice = Choice.__new__(Choice)
            choice.options = tuple(node_from_json(o) for o in data["$choice"])
            choice.is_conditional = not all(o.is_constant for o in choice.options)
            choice._constant_values = (
                None
                if choice.is_conditional
                else [o.sample(random.Random(0)) for o in choice.options]
            )
            return choice
        if "$int" in data:
            return Int(*data["$int"], log=bool(data.get("log", False)))
        if "$real" in data:
            return Real(*data["$real"], log=bool(data.get("log", False)))
        return DictNode({k: node_from_json(v) for k, v in data.items()})
    if isinstance(data, list):
        nodes = [node_from_json(v) for v in data]
        return Fixed(data) if all(n.is_constant for n in nodes) else ListNode(nodes)
    return Fixed(data)
