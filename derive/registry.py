"""The one mechanism behind both registries (activations and losses).

A registry is a plain dict from name to entry; :func:`add_entry` is how an
entry gets in, refusing a second entry under the same name.
"""

from __future__ import annotations

from typing import TypeVar

Entry = TypeVar("Entry")


def add_entry(registry: dict, kind: str, entry: Entry) -> Entry:
    """Add ``entry`` to ``registry`` under ``entry.name``.

    Raises:
        ValueError: the name is already registered.
    """
    if entry.name in registry:
        raise ValueError("%s %r is already registered" % (kind, entry.name))
    registry[entry.name] = entry
    return entry
