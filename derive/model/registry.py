"""The two registries, activations and losses, and the one way an entry gets in.

A registry is a plain dict from name to record.  The records are defined in
:mod:`derive.model.activations` and :mod:`derive.model.losses`; the dicts live
here so that every reader (the expression parser, the printers, the engine,
the strategies, the CLI help) can import them without importing the modules
that fill them.  Importing :mod:`derive.model` fills both.
"""

from __future__ import annotations

from typing import TypeVar

Entry = TypeVar("Entry")

#: Every registered activation, by name (filled by :mod:`derive.model.activations`).
ACTIVATIONS: dict = {}
#: Every registered loss, by name (filled by :mod:`derive.model.losses`).
LOSSES: dict = {}


def add_entry(registry: dict, kind: str, entry: Entry) -> Entry:
    """Add ``entry`` to ``registry`` under ``entry.name``.

    Raises:
        ValueError: the name is already registered.
    """
    if entry.name in registry:
        raise ValueError("%s %r is already registered" % (kind, entry.name))
    registry[entry.name] = entry
    return entry
