"""The ``backprop`` command: one subcommand per module in :data:`COMMANDS`.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) ->
int``; its one-line help is in :data:`COMMANDS`, so ``backprop --help`` lists
every subcommand while only the one that runs is imported.  Bad input
anywhere surfaces as :class:`derive.InputError` and becomes one line on stderr
and exit code 2: no traceback, and nothing half-written (outputs go through
:func:`derive.files.atomic_write`, an atomic write).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from derive import InputError

from .output import discard_stdout

#: Subcommand name -> (module, one line of help).  A module is imported only when its subcommand runs.
COMMANDS = {
    "train": ("verify.cli.train",
              "train a network on xor, digits or your data (SGD, mini-batch or batch, momentum, early stopping)"),
    "derive": ("verify.cli.derive",
               "print the derived gradient formulas per layer, or one scalar partial (--partial W1 0 1)"),
    "report": ("verify.cli.report",
               "write the derivation as a report (.html, .md, .tex, .pdf, .ipynb) with a worked example and its proof"),
    "proptest": ("verify.cli.proptest",
                 "property-test gradients (engine or --grad FN) against generated code and finite differences"),
    "check": ("verify.cli.check",
              "check your gradient function (--grad FN) or PyTorch model (--torch) entry by entry, and diagnose bugs"),
    "exercise": ("verify.cli.exercise", "write exercise sheets to do backprop by hand (.html, .pdf, ...), with their keys"),
    "mark": ("verify.cli.mark", "mark students' answers to an exercise sheet: carried forward, each mistake named"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not usage + error; and a negative number written
    with an exponent (``--lr -1e-4``) is a value, as ``-0.0001`` is, not an unknown option."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``backprop`` parser; only ``command``'s subparser gets its arguments (its module is imported)."""
    parser = _Parser(prog="backprop", description="Derive MLP gradients with SymPy and prove them right.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        if name != command:
            subparsers.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``backprop`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    args.argv = argv
    try:
        status = int(args.run(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()
        return status
    except InputError as exc:
        print("backprop %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        if not _is_stdout_failure(exc):
            raise
        discard_stdout()
        print("backprop %s: error: cannot write the output to standard output: %s"
              % (args.command, getattr(exc, "strerror", None) or exc), file=sys.stderr)
        return 2
    except MemoryError:
        print("backprop %s: error: ran out of memory; use smaller sizes or fewer examples" % args.command,
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("backprop %s: interrupted" % args.command, file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``backprop derive ... | head``): stop quietly, as Unix tools do.
        discard_stdout()
        return 141


def _is_stdout_failure(exc: BaseException) -> bool:
    """Whether ``exc`` came from writing to stdout (a full disk, a closed stream), not from anything else."""
    if isinstance(exc, BrokenPipeError):
        return False
    if isinstance(exc, ValueError):
        return "closed file" in str(exc)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
