"""Errors raised by archsearch.

Every error a user can cause derives from :class:`ArchsearchError`; the CLI prints
its message on one line and exits with status 2.
"""

from __future__ import annotations

__all__ = ["ArchsearchError", "ConfigError", "DataError", "StoreError"]


class ArchsearchError(Exception):
    """Base class of every error a user of archsearch can cause."""


class ConfigError(ArchsearchError, ValueError):
    """A configuration value is invalid; the message names the field."""


class DataError(ArchsearchError):
    """A data or benchmark file is missing or malformed; the message names the file."""


class StoreError(ArchsearchError):
    """The store cannot answer: unknown experiment, bad URL, or schema mismatch."""
