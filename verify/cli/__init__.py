"""The ``backprop`` command: one subcommand per module in :data:`COMMANDS`.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``.  Bad input anywhere surfaces as
:class:`derive.InputError` and becomes one line on stderr and exit code 2: no
traceback, and nothing half-written (outputs go through :func:`write_output`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

from derive import InputError, Network
from derive.model.network import split_activation_list

#: Subcommand name -> module (imported only when that subcommand runs).
COMMANDS = {
    "train": "verify.cli.train",
    "derive": "verify.cli.derive",
    "proptest": "verify.cli.proptest",
    "report": "verify.cli.report",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not usage + error."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """The SPEC argument and the options every subcommand takes to describe a network."""
    parser.add_argument("spec", metavar="SPEC", help="layer sizes such as 2-2-1 or 784-100-10, or a .yaml/.json spec file")
    parser.add_argument("--activation", help="one activation for all layers, or one per layer separated by commas "
                        "(sigmoid, tanh, relu, leaky_relu(0.2), linear, softplus, softmax, or an expression in x)")
    parser.add_argument("--loss", help="sse (default), cross_entropy (softmax output), binary_cross_entropy (sigmoid output)")
    parser.add_argument("--reduction", choices=("sum", "mean"), help="sum (default, the lecture's) or mean over examples")
    parser.add_argument("--no-bias", dest="bias", action="store_false", default=None, help="layers without biases")
    parser.add_argument("--weight-decay", type=float, metavar="LAMBDA", help="L2 coefficient: penalty LAMBDA/2 * sum w^2")
    parser.add_argument("--l1", type=float, metavar="MU", help="L1 coefficient: penalty MU * sum |w|")


def network_from_args(args: argparse.Namespace) -> Network:
    """Build the :class:`Network` that SPEC and the network options describe."""
    activation = split_activation_list(args.activation) if args.activation else None
    return Network.from_spec(args.spec, activation=activation, loss=args.loss, bias=args.bias,
                             weight_decay=args.weight_decay, l1=args.l1, reduction=args.reduction)


def write_output(path: str | Path, content: str | bytes) -> None:
    """Write a file atomically: a failure leaves no half-written file behind."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("cannot write %s: directory %s does not exist" % (path, path.parent))
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".%s." % path.name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def build_parser() -> argparse.ArgumentParser:
    """The full ``backprop`` parser, with every subcommand."""
    parser = _Parser(prog="backprop", description="Derive MLP gradients with SymPy and prove them right.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``backprop`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print("backprop %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("backprop %s: interrupted" % args.command, file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``backprop derive ... | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
