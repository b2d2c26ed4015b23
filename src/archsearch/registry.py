"""Registries: short names ("rea", "nb201") mapped to factories.

YAML configs, the CLI and Python code all resolve names through these tables, so a
name means the same thing everywhere.

Example:
    >>> from archsearch.registry import STRATEGIES
    >>> "rea" in STRATEGIES
    True
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from archsearch.errors import ConfigError

__all__ = ["BENCHMARKS", "SPACES", "STRATEGIES", "Registry"]

T = TypeVar("T", bound=Callable[..., Any])


class Registry(Mapping[str, Callable[..., Any]]):
    """A named table of factories, filled with the :meth:`register` decorator."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}
        self._lazy: dict[str, str] = {}  # name -> module that registers it when imported

    def register_lazy(self, name: str, module: str) -> None:
        """Declare ``name`` without importing ``module`` (which registers it) until used.

        For entries with heavy imports (torch), so that listing names stays fast.
        """
        self._lazy[name] = module

    def _resolve(self, name: str) -> None:
        module = self._lazy.pop(name, None)
        if module is not None and name not in self._entries:
            importlib.import_module(module)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers a factory under ``name``."""

        def decorate(factory: T) -> T:
            known = self._entries.get(name)
            if known is not None and _qualified(known) != _qualified(factory):
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = factory
            return factory

        return decorate

    def __getitem__(self, name: str) -> Callable[..., Any]:
        _load_builtins()
        self._resolve(name)
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        _load_builtins()
        return iter(sorted({*self._entries, *self._lazy}))

    def __len__(self) -> int:
        _load_builtins()
        return len({*self._entries, *self._lazy})

    def get_factory(self, name: object, *, field: str) -> Callable[..., Any]:
        """Return the factory for ``name`` or raise a ConfigError naming ``field``."""
        _load_builtins()
        if isinstance(name, str):
            self._resolve(name)
        if not isinstance(name, str) or name not in self._entries:
            allowed = ", ".join(sorted({*self._entries, *self._lazy}))
            raise ConfigError(f"{field}: unknown {self.kind} {name!r}; allowed: {allowed}")
        return self._entries[name]

    def create(self, name: object, options: Mapping[str, Any], *, field: str, **extra: Any) -> Any:
        """Build ``name`` with ``options``, naming ``field`` in every error.

        Unknown option names are refused before the factory runs, listing the
        options the factory accepts.
        """
        factory = self.get_factory(name, field=field)
        params = inspect.signature(factory).parameters
        accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        allowed = [p for p in params if p not in extra and p != "self"]
        for key in options:
            if not accepts_any and key not in allowed:
                raise ConfigError(
                    f"{field}.{key}: unknown option for {self.kind} '{name}'; "
                    f"allowed: {', '.join(allowed) or '(none)'}"
                )
        try:
            return factory(**extra, **options)
        except ConfigError as exc:
            message = str(exc)
            raise ConfigError(
                message if message.startswith(field) else f"{field}.{message}"
            ) from None
        except TypeError as exc:
            raise ConfigError(f"{field}: {exc}") from None


def _qualified(factory: Callable[..., Any]) -> tuple[str, str]:
    # the same definition imported twice (e.g. by a doctest runner) is not a clash
    return getattr(factory, "__module__", ""), getattr(factory, "__qualname__", "")


_loaded = False


def _load_builtins() -> None:
    """Import the built-in modules once, so that their decorators run."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import archsearch.evaluation  # noqa: F401
    import archsearch.spaces  # noqa: F401
    import archsearch.strategies  # noqa: F401


STRATEGIES = Registry("strategy")
BENCHMARKS = Registry("benchmark")
SPACES = Registry("space")
