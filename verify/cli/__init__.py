"""The ``backprop`` command: one subcommand per module in :data:`COMMANDS`.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) ->
int``; its one-line help is in :data:`COMMANDS`, so ``backprop --help`` lists
every subcommand while only the one that runs is imported.  Bad input
anywhere surfaces as :class:`derive.InputError` and becomes one line on stderr
and exit code 2: no traceback, and nothing half-written (outputs go through
:func:`write_output`, an atomic write).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from derive import ACTIVATIONS, LOSSES, InputError, Network
from derive.files import atomic_write
from derive.model.network import split_activation_list

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
    """argparse, but a usage error is one line (and exit code 2), not usage + error."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError("expected an integer >= 0, got %r" % text)
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text)
    return value


def add_network_arguments(parser: argparse.ArgumentParser, spec_help: str | None = None) -> None:
    """The SPEC argument and the options every subcommand takes to describe a network (help from the registries).

    Args:
        parser: The subcommand's parser.
        spec_help: When given, SPEC is optional and this is its help.
    """
    parameterized = ["%s(%g)" % (name, 0.2 if name == "leaky_relu" else 0.5)
                     for name, activation in ACTIVATIONS.items() if activation.factory is not None]
    losses = ", ".join("%s%s" % (name, " (%s output)" % " or ".join(loss.requires_output) if loss.requires_output else "")
                       for name, loss in LOSSES.items())
    if spec_help is None:
        parser.add_argument("spec", metavar="SPEC", help="layer sizes such as 2-2-1 or 784-100-10, or a .yaml/.json "
                            "spec file")
    else:
        parser.add_argument("spec", metavar="SPEC", nargs="?", help=spec_help)
    parser.add_argument("--activation", help="one activation for all layers, or one per layer separated by commas "
                        "(%s, %s, or an expression in x such as 'x/(1+abs(x))')"
                        % (", ".join(ACTIVATIONS), ", ".join(parameterized)))
    parser.add_argument("--loss", help="%s; default sse" % losses)
    parser.add_argument("--reduction", choices=("sum", "mean"), help="sum or mean over examples (default: sum, the lecture's; mean for --loss mse)")
    parser.add_argument("--no-bias", dest="bias", action="store_false", default=None, help="layers without biases")
    parser.add_argument("--weight-decay", type=float, metavar="LAMBDA", help="L2 coefficient: penalty LAMBDA/2 * sum w^2")
    parser.add_argument("--l1", type=float, metavar="MU", help="L1 coefficient: penalty MU * sum |w|")


#: The network options other than SPEC, as (flag, attribute) pairs.
NETWORK_OPTIONS = (("--activation", "activation"), ("--loss", "loss"), ("--reduction", "reduction"),
                   ("--no-bias", "bias"), ("--weight-decay", "weight_decay"), ("--l1", "l1"))


def given_network_options(args: argparse.Namespace, names=None) -> list[str]:
    """The network options (of ``names``, default all) given on the command line."""
    return [flag for flag, attribute in NETWORK_OPTIONS
            if (names is None or flag in names) and getattr(args, attribute) is not None]


def network_from_args(args: argparse.Namespace) -> Network:
    """Build the :class:`Network` that SPEC and the network options describe."""
    if args.activation is not None and not args.activation.strip():
        raise InputError("--activation is empty; give one activation for all layers or one per layer, e.g. "
                         "--activation relu,softmax")
    activation = split_activation_list(args.activation) if args.activation is not None else None
    return Network.from_spec(args.spec, activation=activation, loss=args.loss, bias=args.bias,
                             weight_decay=args.weight_decay, l1=args.l1, reduction=args.reduction)


def network_options(network: Network) -> list[str]:
    """The command-line options that describe ``network`` beyond its sizes (:meth:`derive.Network.command_options`)."""
    return network.command_options()


def network_command(command: str, network: Network) -> str:
    """``backprop COMMAND SIZES OPTIONS``: the command line that names exactly ``network``."""
    return network.command(command)


def write_output(path: str | Path, content: str | bytes) -> None:
    """Write a file atomically: a failure leaves no half-written file behind (:func:`derive.files.atomic_write`)."""
    atomic_write(path, content)


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


def write_stdout(text: str) -> None:
    """Print ``text`` to standard output now (flushed), so that a full disk or a closed stdout is caught here.

    Raises:
        InputError: stdout cannot take it (one line saying why).
    """
    if sys.stdout is None:
        raise InputError("cannot write the output: standard output is closed")
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        _discard_stdout()
        raise InputError("cannot write the output to standard output: %s" % (getattr(exc, "strerror", None) or exc)) \
            from None


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that what could not be written is not tried again (noisily) at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


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
        _discard_stdout()
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
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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
