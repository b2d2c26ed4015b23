"""Inline search spaces: decisions written as arguments of ordinary Python calls.

Wrapping a function or a class with :func:`symbolic` defers its calls: arguments
may hold :class:`Choice`, :class:`Int` or :class:`Real` placeholders (also as
default values of a decorated function). ``Space(hyper)`` is the search space over
those placeholders, and :func:`materialize` makes the real object for a config.

Example:
    >>> from archsearch.space import Choice, Int, Space, materialize, symbolic
    >>> @symbolic
    ... def mlp(width=Choice([16, 32]), depth=Int(1, 3)):
    ...     return [width] * depth
    >>> hyper = mlp()
    >>> space = Space(hyper)
    >>> space.size
    6
    >>> materialize(hyper, {"@": "mlp", "width": 32, "depth": 2})
    [32, 32]
"""

from __future__ import annotations

import functools
import inspect
import random
from collections.abc import Callable
from typing import Any

from archsearch.space._nodes import (
    Choice,
    CondDictNode,
    DictNode,
    Fixed,
    ListNode,
    Node,
    When,
    compile_spec,
)

__all__ = ["Symbolic", "materialize", "symbolic"]


class Symbolic:
    """A deferred call ``func(*args, **kwargs)`` whose arguments may hold decisions."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.func = func
        try:
            bound = inspect.signature(func).bind_partial(*args, **kwargs)
            bound.apply_defaults()
            self.arguments: dict[str, Any] = dict(bound.arguments)
            self.signature: inspect.Signature | None = bound.signature
        except (TypeError, ValueError):  # builtins without a signature
            self.arguments = {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}
            self.signature = None
        self.name = getattr(func, "__name__", type(func).__name__)

    def call(self, arguments: dict[str, Any]) -> Any:
        """Call the wrapped function with concrete ``arguments``."""
        if self.signature is None:
            args = [v for k, v in arguments.items() if k.startswith("arg") and k[3:].isdigit()]
            kwargs = {
                k: v for k, v in arguments.items() if not (k.startswith("arg") and k[3:].isdigit())
            }
            return self.func(*args, **kwargs)
        bound = self.signature.bind_partial()
        bound.arguments.update(arguments)
        return self.func(*bound.args, **bound.kwargs)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"symbolic {self.name}({args})"


def symbolic(func: Callable[..., Any]) -> Callable[..., Symbolic]:
    """Make calls to ``func`` (a function or a class) deferred and searchable."""

    @functools.wraps(func)
    def deferred(*args: Any, **kwargs: Any) -> Symbolic:
        return Symbolic(func, args, kwargs)

    return deferred


class SymbolicNode(DictNode):
    """A deferred call seen as a dict: ``"@"`` names the callable, then its varying args."""

    def __init__(self, call: Symbolic) -> None:
        self.call = call
        self.arg_nodes = {k: compile_spec(v) for k, v in call.arguments.items()}
        varying = {k: n for k, n in self.arg_nodes.items() if not n.is_constant}
        super().__init__({"@": Fixed(call.name), **varying})
        self.flat_options = None  # keep the generic path: "@" is not a choice

    def to_json(self) -> Any:
        return {k: n.to_json() for k, n in self.items.items()}


def _build(node: Node, spec: Any, value: Any) -> Any:
    if isinstance(node, SymbolicNode):
        arguments = {}
        for name, arg_node in node.arg_nodes.items():
            arg_value = value[name] if name in node.items else arg_node.sample(random.Random(0))
            arguments[name] = _build(arg_node, node.call.arguments[name], arg_value)
        return node.call.call(arguments)
    if isinstance(node, Choice):
        index = node.index_of(value)
        option_spec = spec.options[index] if isinstance(spec, Choice) else None
        return _build(node.options[index], option_spec, value)
    if isinstance(node, DictNode):
        return {k: _build(n, _sub(spec, k), value[k]) for k, n in node.items.items()}
    if isinstance(node, CondDictNode):  # only the keys active in this config
        return {k: _build(node.items[k], _unwhen(_sub(spec, k)), v) for k, v in value.items()}
    if isinstance(node, ListNode):
        return [
            _build(n, _sub(spec, i), v)
            for i, (n, v) in enumerate(zip(node.nodes, value, strict=True))
        ]
    return value


def _unwhen(spec: Any) -> Any:
    return spec.spec if isinstance(spec, When) else spec


def _sub(spec: Any, key: Any) -> Any:
    try:
        return spec[key]
    except (TypeError, KeyError, IndexError):
        return None


def materialize(hyper: Any, config: Any) -> Any:
    """Build the real object of an inline space for one ``config``.

    Args:
        hyper: the object the space was made from (a :func:`symbolic` call, or
            nested dicts/lists holding some).
        config: a config of ``Space(hyper)``; it is validated first.

    Raises:
        ConfigError: when ``config`` is not a config of the space.
    """
    node = compile_spec(hyper)
    config = node.validate(config, "")
    return _build(node, hyper, config)
