"""Writing files so that a failure leaves nothing half-written: the one atomic write.

Every file the toolkit writes (parameter archives, generated modules,
reports, histories) goes through :func:`atomic_write`: the content goes to a
temporary file in the same directory, which then replaces the target in one
``os.replace``.  A crash, an interrupt or a full disk leaves the old file (or
no file), never a truncated one.  Problems a user can fix (a missing
directory, a directory given as the file, no permission) are
:class:`~derive.errors.InputError` lines, checked before anything is written.

Only a regular file is replaced.  A symbolic link is written *through*: its
target is replaced atomically and the link stays a link.  A character device,
a named pipe or a socket (``/dev/null``, ``/dev/stdout``, a FIFO a reader waits
on) is written directly, as ``cmd > path`` would, never replaced by a file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from derive.errors import InputError


def check_readable(path: str | Path, kind: str) -> Path:
    """Refuse, before opening it, a path that is not a regular file one can read (reading a named pipe with no
    writer would wait forever; a directory or a device is not a file of ``kind``).

    Raises:
        InputError: ``cannot read <kind> file PATH: no such file`` (or: it is a directory, a named pipe, ...).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError("cannot read %s file %s: no such file" % (kind, path)) from None
    except OSError as exc:
        raise InputError("cannot read %s file %s: %s" % (kind, path, exc.strerror or exc)) from None
    if not stat.S_ISREG(mode):
        what = ("a directory" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise InputError("cannot read %s file %s: it is %s, not a file; save it to a file and give its name"
                         % (kind, path, what))
    if not os.access(path, os.R_OK):
        raise InputError("cannot read %s file %s: permission denied" % (kind, path))
    return path


def check_writable(path: str | Path) -> Path:
    """Refuse, before any work is done, a path that cannot be written as a file.

    Raises:
        InputError: the directory does not exist, the path is a directory, or it is not writable.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError("cannot write %s: it is a directory; give a file name such as %s"
                         % (path, path / ("output" + (path.suffix or ""))))
    if not parent.is_dir():
        raise InputError("cannot write %s: directory %s does not exist" % (path, parent))
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError("cannot write %s: permission denied" % path)
    return path


def atomic_write(path: str | Path, content: str | bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``content`` (text, bytes, or a function that writes to a binary stream) to ``path`` atomically.

    A symbolic link is written through to its target; a device, pipe or socket is written directly (see the
    module docstring).

    Raises:
        InputError: see :func:`check_writable`; or the device or pipe refuses the write.
    """
    path = check_writable(path)
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        _write_directly(path, content)
        return
    if path.is_symlink():  # an existing file or a dangling link: replace (or create) what it points to
        path = check_writable(Path(os.path.realpath(path)))
    handle, temporary = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=".%s." % path.name)
    try:
        with os.fdopen(handle, "wb") as stream:
            _put(stream, content)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _put(stream: BinaryIO, content) -> None:
    if callable(content):
        content(stream)
    else:
        stream.write(content.encode("utf-8") if isinstance(content, str) else content)


def _write_directly(path: Path, content) -> None:
    """Write to a device, a named pipe or a socket as a shell redirection does (no temporary file, no replace)."""
    try:
        with open(path, "wb") as stream:
            _put(stream, content)
    except OSError as exc:
        raise InputError("cannot write %s: %s" % (path, exc.strerror or exc)) from None


def _umask() -> int:
    """The process's file-creation mask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
