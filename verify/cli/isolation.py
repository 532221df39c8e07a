"""Running users' code where it cannot end the command: a child process, a time limit, its output kept apart.

``backprop check`` imports and calls code it did not write.  That code may
call ``sys.exit(0)`` or ``os._exit(0)``, crash in native code, hang, print
a training log, or close stdout.  None of that may end the check with exit
status 0 and no verdict, or mix into the report (or into ``--json``).  So
:func:`run_isolated` forks once per run (not per call: the fork is the only
cost, measured in ``bench/check.py``), and the child

* sends its standard output and error (file descriptors 1 and 2, so native
  code's writes too) to a temporary file: what the user's code printed;
* ignores Ctrl-C (the parent answers it: a real Ctrl-C exits 130, and a
  ``KeyboardInterrupt`` the user's code raises itself is then a user error);
* does the work and sends back, through a pipe, the exit status and the
  text to print (or the one-line error).

The parent waits at most ``timeout`` seconds, then kills the child.  Any way
the child ends without sending its result (an exit, a signal, the time
limit) is one line naming what happened, exit status 2.  The in-process
Python API (:func:`verify.check_gradients`) runs users' code in-process.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import sys
import tempfile
import time
from typing import Callable

from derive import InputError

#: Seconds the user's code may run before the check gives up (``--timeout``; 0: no limit).
DEFAULT_TIMEOUT = 600.0


class Outcome:
    """What the child sent back: the exit status, the text for stdout, an error line, what the user's code printed;
    ``ended`` when the child ended without sending anything (an exit, a signal, the time limit)."""

    def __init__(self, status: int, text: str = "", error: str = "", printed: str = "", ended: bool = False):
        self.status, self.text, self.error, self.printed, self.ended = status, text, error, printed, ended


def run_isolated(work: Callable[[Callable[[], str]], tuple[int, str]], timeout: float | None, what: str) -> Outcome:
    """Run ``work(printed)`` in a forked child; ``printed()`` returns what the child's code printed so far.

    Args:
        work: Does the job and returns ``(exit status, text for stdout)``; raises ``InputError`` for bad input.
        timeout: Seconds before the child is killed (None or 0: no limit).
        what: How messages name the user's code (``"--grad mlp.py:gradients"``).

    Returns:
        The :class:`Outcome`; an ``error`` when the child failed or ended without a result.
    """
    capture = tempfile.TemporaryFile(mode="w+b")
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(work, capture, write_end)
    os.close(write_end)
    try:
        data, status = _wait(pid, read_end, timeout)
    except KeyboardInterrupt:
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    printed = _printed(capture)
    if data:
        try:
            outcome = pickle.loads(data)
        except Exception:  # a result cut short: the child died while sending it
            outcome = None
        if isinstance(outcome, Outcome):
            return outcome
    return Outcome(2, error=_ended(status, timeout, what), printed=printed, ended=True)


def _child(work, capture, write_end) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.disable()  # a crash of the user's code is said in one line by the parent, not dumped as frames
    torch = sys.modules.get("torch")
    if getattr(torch, "set_num_threads", None):  # torch ran before the fork: its OpenMP pool did not come along,
        torch.set_num_threads(1)  # and a parallel kernel would wait for it forever (the CLI's parent never has torch)
    os.dup2(capture.fileno(), 1)
    os.dup2(capture.fileno(), 2)
    def printed() -> str:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):  # the user's code closed it
                pass
        return _printed(capture)

    try:
        try:
            status, text = work(printed)
            outcome = Outcome(status, text, printed=printed())
        except InputError as exc:
            outcome = Outcome(2, error=str(exc), printed=printed())
        except MemoryError:
            outcome = Outcome(2, error="ran out of memory; use smaller sizes or fewer examples", printed=printed())
        except BaseException as exc:  # our own bug: say it in one line rather than die silently
            outcome = Outcome(2, error="internal error %s: %s (please report it)" % (type(exc).__name__, exc),
                              printed=printed())
        payload = pickle.dumps(outcome)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(0)


def _wait(pid: int, read_end: int, timeout: float | None) -> tuple[bytes, int | None]:
    """Everything the child writes to the pipe, and its wait status (None when it was killed at the time limit)."""
    deadline = time.monotonic() + timeout if timeout else None
    chunks = []
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([read_end], [], [], left)
        if not ready:  # the time limit
            _kill(pid)
            return b"".join(chunks), None
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks), status


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _printed(capture) -> str:
    capture.flush()
    capture.seek(0)
    text = capture.read().decode("utf-8", "replace")
    capture.seek(0, os.SEEK_END)
    return text


def _ended(status: int | None, timeout: float | None, what: str) -> str:
    """One line: how the child ended without a verdict."""
    if status is None:
        return ("%s did not finish within %g s (--timeout %g): no verdict; give it more time with --timeout "
                "SECONDS (0 for no limit), or look for a loop that never ends" % (what, timeout, timeout))
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "signal %d" % number
        hint = {"SIGSEGV": ", a segmentation fault in native code", "SIGKILL": ", perhaps the system's "
                "out-of-memory killer", "SIGABRT": ", an abort in native code"}.get(name, "")
        return "%s ended the process with %s%s before the check finished: no verdict" % (what, name, hint)
    code = os.WEXITSTATUS(status)
    return ("%s ended the process with exit code %d (os._exit?) before the check finished: no verdict; a gradient "
            "function must return its gradients" % (what, code))


__all__ = ["DEFAULT_TIMEOUT", "Outcome", "run_isolated"]
