"""Printed modules kept on disk, so that each structure is derived and printed once per machine, not per process.

Deriving and printing a structure's width-generic module costs about a tenth
of a second; a property run meets about a hundred structures, in every run
and in every worker.  The source printed for a structure depends only on

* the structure (:attr:`derive.Network.structure`: depth, activations, loss,
  reduction, bias, penalties), each activation's and the loss's SymPy
  definition (``sympy.srepr``, so two custom activations with one name differ)
  and every setting of their registry records (kinks, ranges, log forms; the
  functions by qualified name),
* the ``order`` (gradients, or also the second-order products),
* the code that derives and prints it (every ``.py`` file of the ``derive``
  package, hashed), the SymPy version and the Python version,

so the hash of all of these names a file whose content can be trusted: a
change to any of them is a new name, and an old file is simply never read
again.  The file starts with its full key, which is checked on reading; it is
written atomically (:func:`derive.files.atomic_write`), so concurrent workers
cannot read half a file.

Where the cache lives: ``$BACKPROP_CACHE_DIR`` (empty, ``0`` or ``off``
turns the cache off), else ``$XDG_CACHE_HOME/backprop/modules``, else
``~/.cache/backprop/modules``.  The cache is an optimisation only: a directory
that cannot be written is skipped silently, and it is never used

* for a network with an activation or loss whose record carries a function
  from outside ``derive``, SymPy and numpy (:func:`derive.register_activation`
  with your own numpy helper: its code is not part of the key), nor
* after :func:`derive.clear_caches` in this process (the documented call
  after changing how SymPy differentiates a function at run time, which the
  key cannot see).

``rm -r ~/.cache/backprop`` empties it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable

import sympy

from derive.files import atomic_write

#: The environment variable that moves the cache (or, set to "", "0" or "off", turns it off).
CACHE_VARIABLE = "BACKPROP_CACHE_DIR"

_PACKAGE = Path(__file__).resolve().parents[1]  # derive/
#: Whose functions a registry record may carry and still be cached: the key covers their code or version.
_KNOWN_CODE = ("derive", "sympy", "numpy")
_trusted = True


def cache_directory() -> Path | None:
    """Where printed modules are kept, or None when the cache is off."""
    value = os.environ.get(CACHE_VARIABLE)
    if value is not None:
        value = value.strip()
        return None if value.lower() in ("", "0", "off", "no", "false") else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    # No home directory to expand: no cache, rather than a "~" folder in the working directory.
    return Path(base) / "backprop" / "modules" if os.path.isabs(base) else None


def distrust() -> None:
    """Stop using the cache in this process: SymPy's rules were changed at run time (:func:`derive.clear_caches`)."""
    global _trusted
    _trusted = False


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of every ``.py`` file of the ``derive`` package, the SymPy version and the Python version."""
    digest = hashlib.sha256(("%s %d.%d" % (sympy.__version__, *sys.version_info[:2])).encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def structure_key(network, order: int) -> str | None:
    """The text that decides a structure's printed module, or None if it cannot be told from the network alone."""
    records = [_describe(record) for record in list(network.activations) + [network.loss]]
    if None in records:
        return None
    definitions = [sympy.srepr(a.expression) if a.elementwise else a.name for a in network.activations]
    definitions.append(sympy.srepr(network.loss.expression))
    # The records' settings too: a record registered again with other settings is another module.
    return "%r\n%s\n%s\norder=%d\nany_width" % (network.structure, "\n".join(definitions), "\n".join(records), order)


def cached_source(key: str | None, produce: Callable[[], str]) -> str:
    """The source stored under ``key``, or ``produce()`` stored there (when the cache is on and the key known)."""
    directory = cache_directory()
    if key is None or directory is None or not _trusted:
        return produce()
    full_key = hashlib.sha256((code_fingerprint() + "\n" + key).encode()).hexdigest()
    path = directory / ("%s.py" % full_key[:40])
    header = "# backprop module cache %s\n" % full_key
    try:
        text = path.read_text(encoding="utf-8")
        if text.startswith(header):
            return text[len(header):]
    except (OSError, UnicodeDecodeError):
        pass
    source = produce()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(path, header + source)
    except OSError:
        pass  # a read-only or full disk: the cache is only an optimisation
    return source


def _describe(value) -> str | None:
    """A registry record as text that is the same in every process (functions by their qualified names), or None
    if it carries a function from outside ``derive``, SymPy and numpy, whose code the key cannot see."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [(field.name, _describe(getattr(value, field.name))) for field in dataclasses.fields(value)]
        if any(text is None for _, text in fields):
            return None
        return "%s(%s)" % (type(value).__name__, ", ".join("%s=%s" % field for field in fields))
    if callable(value):
        module = getattr(value, "__module__", None) or ""
        if module.split(".")[0] not in _KNOWN_CODE:
            return None
        return "%s.%s" % (module, getattr(value, "__qualname__", type(value).__name__))
    return repr(value)
