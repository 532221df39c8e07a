"""Command-line options that several subcommands take, each defined once (type, default, help).

A subcommand adds the groups it takes (``add_layout_options(parser)``) and
reads them back with the matching function (``layout_from_args(args)``), so an
option means the same thing, with the same spelling and the same checks,
wherever it appears.
"""

from __future__ import annotations

import argparse

from derive import InputError
from verify.check.layouts import EXAMPLES, WEIGHTS, Layout

#: The flags of :func:`add_layout_options`, in the order a command line shows them.
LAYOUT_FLAGS = ("--weights", "--examples-as", "--names", "--per-example", "--update")


def add_layout_options(parser: argparse.ArgumentParser, examples_flags: tuple[str, ...] = ("--examples-as",)) -> None:
    """The layout of a user's numpy code (:class:`verify.Layout`): ``--weights``, ``--examples-as``, ``--names``,
    ``--per-example``, ``--update``.

    Args:
        parser: The subcommand's parser.
        examples_flags: The spellings of the example layout: ``backprop check`` also takes ``--examples
            columns``; ``backprop proptest``, whose ``--examples`` is a count, only ``--examples-as``.
    """
    layout = parser.add_argument_group("your code's layout (--grad and --hvp; docs/other-conventions.md)")
    layout.add_argument("--weights", choices=WEIGHTS, help="how W_l is stored: out-in (n_l, n_{l-1}), the default, "
                        "or in-out (n_{l-1}, n_l) for X @ W code")
    layout.add_argument(*examples_flags, dest="example_layout", choices=EXAMPLES, action=_OneValue,
                        help="rows (X is (N, n_0), the default) or columns (X is (n_0, N), biases (n_l, 1))")
    layout.add_argument("--names", metavar="PATTERN", help="the parameters' names, e.g. 'w{l},b{l}' ({l} is the "
                        "layer 1..L; {l-1} counts from 0)")
    layout.add_argument("--per-example", action="store_true", help="call FN once per example and sum its results "
                        "(average them for --reduction mean)")
    layout.add_argument("--update", type=float, metavar="LR", help="FN returns the parameters after one step of "
                        "gradient descent with learning rate LR (or the step, or updates them in place)")


class _OneValue(argparse.Action):
    """An option spelled two ways (``--examples``, ``--examples-as``): given twice, the values must agree."""

    def __call__(self, parser, namespace, values, option_string=None):
        earlier = getattr(namespace, self.dest, None)
        if earlier is not None and earlier != values:
            parser.error("%s %s contradicts the earlier %s; give the example layout once" % (option_string, values,
                                                                                           earlier))
        setattr(namespace, self.dest, values)


def layout_flags_given(args: argparse.Namespace) -> list[str]:
    """The layout flags on the command line, in :data:`LAYOUT_FLAGS` order."""
    values = (args.weights, args.example_layout, args.names, args.per_example or None, args.update)
    return [flag for flag, value in zip(LAYOUT_FLAGS, values) if value is not None]


def layout_from_args(args: argparse.Namespace) -> Layout:
    """The :class:`verify.Layout` of :func:`add_layout_options`' flags.

    Raises:
        InputError: a name pattern or learning rate the layout refuses.
    """
    return Layout(weights=args.weights or "out-in", examples=args.example_layout or "rows", names=args.names,
                  per_example=args.per_example, update=args.update)


def refuse_layout_without_function(args: argparse.Namespace) -> None:
    """A layout describes the user's numpy function: refused without ``--grad``/``--hvp``.

    Raises:
        InputError: a layout flag without a function to read it for.
    """
    given = layout_flags_given(args)
    if given and not (args.grad or args.hvp):
        raise InputError("%s describes your numpy code's layout: it goes with --grad or --hvp (a --torch model's "
                         "layout is read from the model; the toolkit's own engine has one layout)" % given[0])
