"""Command-line options that several subcommands take, each defined once (type, default, help).

A subcommand adds the groups it takes (``add_layout_options(parser)``) and
reads them back with the matching function (``layout_from_args(args)``), so an
option means the same thing, with the same spelling and the same checks,
wherever it appears.
"""

from __future__ import annotations

import argparse

from derive import ACTIVATIONS, LOSSES, InputError, Network
from derive.model.network import split_activation_list
from verify.check.layouts import EXAMPLES, WEIGHTS, Layout


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
    layout.add_argument(*examples_flags, dest="example_layout", choices=EXAMPLES,
                        help="rows (X is (N, n_0), the default) or columns (X is (n_0, N), biases (n_l, 1))")
    layout.add_argument("--names", metavar="PATTERN", help="the parameters' names, e.g. 'w{l},b{l}' ({l} is the "
                        "layer 1..L; {l-1} counts from 0)")
    layout.add_argument("--per-example", action="store_true", help="call FN once per example and sum its results "
                        "(average them for --reduction mean)")
    layout.add_argument("--update", type=float, metavar="LR", help="FN returns the parameters after one step of "
                        "gradient descent with learning rate LR (or the step, or updates them in place)")


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
