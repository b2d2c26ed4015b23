"""The space of a define-by-run objective, learnt by running its drawing part.

A define-by-run objective draws its decisions from the trial (``trial.choice``,
``trial.int``, ``trial.real``, ``trial.build``) and then trains. :func:`trace_space`
runs the objective with a tracing trial that answers each draw with a default value
and stops the objective, by an exception it cannot catch by accident, at the first
thing that is not a draw (a report, a checkpoint, reading the fidelity or the number).
It then runs it again with other values of the discrete decisions, and again for every
new set of decisions that appears, until every branch is known (a few dozen runs for a
typical network-and-recipe space; nothing is trained). Decisions present only for some
values of earlier ones become conditional (:func:`~archsearch.space.when`).

The result is an ordinary :class:`~archsearch.space.Space`: every strategy searches it,
and its configs are stored exactly as those of the same space written by hand.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from archsearch.api._trial import _Draws
from archsearch.errors import ConfigError
from archsearch.space import Choice, Int, Real, Space, when
from archsearch.space._nodes import Node, compile_spec

__all__ = ["MAX_TRACES", "trace_space"]

#: runs of the drawing part before tracing gives up (a space this branchy wants Space())
MAX_TRACES = 2000
#: integer decisions with at most this many values are tried for the branches they open
MAX_EXPLORED_INTS = 64

# a forced value: (name, index of the value among the node's options)
_Forced = tuple[tuple[str, int], ...]


class _TraceStop(BaseException):
    """Ends a traced run at its first non-draw step (BaseException: ``except
    Exception`` in user code does not swallow it)."""


class _TracingTrial(_Draws):
    """Answers draws with forced or default values and records them."""

    def __init__(self, forced: dict[str, int]) -> None:
        self._forced = forced
        self.draws: list[tuple[str, Node, Any]] = []

    def draw(self, name: str, spec: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"trial.draw: a decision needs a name (a string), got {name!r}")
        if any(n == name for n, _, _ in self.draws):
            raise ConfigError(f"trial.{name}: drawn twice in one trial; names must be unique")
        node = compile_spec(spec)
        forced = self._forced.get(name)
        value = _default(node) if forced is None else node.value_at(forced, name)  # type: ignore[attr-defined]
        self.draws.append((name, node, value))
        return value

    def __getattr__(self, attribute: str) -> Any:
        # number, fidelity, config, report, save_checkpoint, ...: training begins here
        raise _TraceStop


def _default(node: Node) -> Any:
    if isinstance(node, Real):
        return (node.low * node.high) ** 0.5 if node.log else (node.low + node.high) / 2
    if isinstance(node, Int | Choice) and not getattr(node, "is_conditional", False):
        return node.value_at(0, "")
    return node.sample(random.Random(0))


def _alternatives(node: Node, value: Any) -> list[int]:
    """Indices of the other values of a discrete decision worth tracing."""
    if isinstance(node, Choice) and not node.is_conditional and node.n_options <= 256:
        current = node.index_of(value)
        return [i for i in range(node.n_options) if i != current]
    if isinstance(node, Int) and node.n_options <= MAX_EXPLORED_INTS:
        current = node.index_of(value)
        return [i for i in range(node.n_options) if i != current]
    return []


def _run(objective: Callable[[Any], Any], forced: dict[str, int]) -> list[tuple[str, Node, Any]]:
    tracer = _TracingTrial(forced)
    try:
        objective(tracer)
    except _TraceStop:
        pass
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the drawing part failed on a traced value
        drawn = ", ".join(f"{n}={v!r}" for n, _, v in tracer.draws) or "nothing"
        raise ConfigError(
            f"objective: tracing its decisions failed after drawing {drawn}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return tracer.draws


def trace_space(objective: Callable[[Any], Any], *, max_traces: int = MAX_TRACES) -> Space:
    """The search space a define-by-run ``objective`` draws from.

    Raises:
        ConfigError: when the objective draws nothing, draws one name with two
            different domains, or draws in a way no conditional space expresses
            (then write the space with :class:`~archsearch.space.Space` and pass it).
    """
    nodes: dict[str, Node] = {}  # in the order of first appearance
    traces: list[dict[str, Any]] = []
    signatures: set[tuple[str, ...]] = set()
    queued: set[_Forced] = {()}
    stack: list[_Forced] = [()]
    while stack:
        forced = stack.pop()
        if len(traces) >= max_traces:
            raise ConfigError(
                f"objective: its decisions open more than {max_traces} branches; "
                "write the space with archsearch.Space and pass space="
            )
        draws = _run(objective, dict(forced))
        traces.append({name: value for name, _, value in draws})
        for name, node, _ in draws:
            known = nodes.setdefault(name, node)
            if known is not node and known.to_json() != node.to_json():
                raise ConfigError(
                    f"trial.{name}: drawn with two different domains "
                    f"({_text(known)} and {_text(node)})"
                )
        signature = tuple(name for name, _, _ in draws)
        if signature in signatures:
            continue
        signatures.add(signature)
        prefix: list[tuple[str, int]] = []
        for name, node, value in draws:
            for index in _alternatives(node, value):
                branch = (*prefix, (name, index))
                if branch not in queued:
                    queued.add(branch)
                    stack.append(branch)
            if isinstance(node, Int | Choice) and not getattr(node, "is_conditional", False):
                prefix.append((name, int(node.index_of(value))))
    if not nodes:
        raise ConfigError(
            "objective: draws no decision before it starts training; draw with "
            "trial.choice/int/real first, or pass space="
        )
    return _infer(nodes, traces)


def _order(first_seen: list[str], traces: list[dict[str, Any]]) -> list[str]:
    """The decisions in an order every trace agrees with (each trace's draw order),
    earliest first seen among the free ones: ``kernel_1`` comes after ``kernel_0`` even
    though the first trace, with one layer, never drew it."""
    after: dict[str, set[str]] = {n: set() for n in first_seen}
    for trace in traces:
        drawn = list(trace)
        for a, b in zip(drawn, drawn[1:], strict=False):
            after[a].add(b)
    waiting = {n: 0 for n in first_seen}
    for followers in after.values():
        for b in followers:
            waiting[b] += 1
    out: list[str] = []
    free = [n for n in first_seen if waiting[n] == 0]
    while free:
        name = min(free, key=first_seen.index)
        free.remove(name)
        out.append(name)
        for b in after[name]:
            waiting[b] -= 1
            if waiting[b] == 0:
                free.append(b)
    return out if len(out) == len(first_seen) else first_seen  # draws in varying orders


def _infer(nodes: dict[str, Node], traces: list[dict[str, Any]]) -> Space:
    """The conditional space whose active decisions are exactly those of the traces."""
    names = _order(list(nodes), traces)
    gates = [n for n in names if _alternatives(nodes[n], _default(nodes[n]))]
    spec: dict[str, Any] = {}
    for position, name in enumerate(names):
        with_it = [t for t in traces if name in t]
        conditions: dict[str, list[Any]] = {}
        if len(with_it) < len(traces):
            for parent in gates:
                if names.index(parent) >= position:
                    continue
                if any(parent not in t for t in with_it):
                    continue  # present without the parent: not gated by it
                seen = _unique(t[parent] for t in with_it)
                every = _unique(t[parent] for t in traces if parent in t)
                if len(seen) < len(every):
                    node = nodes[parent]
                    conditions[parent] = sorted(seen, key=node.index_of)  # type: ignore[attr-defined]
        spec[name] = when(nodes[name], **conditions) if conditions else nodes[name]
        for trace in traces:  # the conditions must say exactly when the decision is drawn
            active = all(p in trace and trace[p] in v for p, v in conditions.items())
            if active != (name in trace):
                raise ConfigError(
                    f"trial.{name}: cannot tell from earlier decisions when it is drawn "
                    "(a condition other than 'earlier decision in some values'); write the "
                    "space with archsearch.Space and when(), and pass space="
                )
    return Space(spec)


def _unique(values: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _text(node: Node) -> str:
    return json.dumps(node.to_json(), default=str)[:80]
