"""Command-line options that several subcommands take, each defined once (type, default, help).

A subcommand adds the options it takes (``add_seed_option(parser, "the
numbers")``, ``add_layout_options(parser)``) and reads them back with the
matching function where there is one (``network_from_args(args)``,
``layout_from_args(args)``), so an option means the same thing, with the same
spelling and the same checks, wherever it appears.  Where subcommands need
different defaults, the default is a parameter of the one definition, and its
docstring says why.  ``tests/test_cli_options.py`` refuses a flag that drifts.
"""

from __future__ import annotations

import argparse

from derive import ACTIVATIONS, LOSSES, InputError, Network
from derive.model.network import split_activation_list
from verify.check.inputs import ACCEPTED as PARAMETER_FILES
from verify.check.layouts import EXAMPLES, WEIGHTS, Layout
from verify.engine.data import ACCEPTED as DATA_SOURCES


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
    parameterized = ["%s(%g)" % (name, activation.example_parameter)
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
    parser.add_argument("--loss", help="%s; default sse (with --torch also PyTorch's names: CrossEntropyLoss, "
                        "NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss, with reduction='sum' or 'mean')" % losses)
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


def add_function_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, grad: str = "",
                         hvp: str = "") -> None:
    """``--grad FN`` and ``--hvp FN``: the user's numpy gradient function or Hessian-vector product, named as
    ``MODULE:FN`` (``MODULE`` importable from here) or ``path/to/file.py:FN``
    (:func:`verify.check.sources.load_function` reads both).

    Args:
        parser: The subcommand's parser, or the group of options that exclude each other.
        grad: What the subcommand adds about ``--grad`` (its default, what else it needs).
        hvp: What the subcommand adds about ``--hvp``.
    """
    where = "MODULE:FN (MODULE importable from here) or path/to/file.py:FN"
    parser.add_argument("--grad", metavar="FN", help="your gradient function FN(params, X, T) -> dict: %s%s"
                        % (where, grad))
    parser.add_argument("--hvp", metavar="FN", help="your Hessian-vector product FN(params, X, T, V) -> dict: %s%s"
                        % (where, hvp))


def add_seed_option(parser: argparse.ArgumentParser, seeds: str, default: int | None = 0,
                    default_text: str = "default 0") -> None:
    """``--seed S``: an integer >= 0 that makes the subcommand's random draws repeatable.

    Args:
        parser: The subcommand's parser.
        seeds: What the seed draws (``"the random parameters and data"``).
        default: The seed when none is given; None for ``proptest``, whose dev and thorough profiles search a
            new random sequence every run (None tells "not given" apart, and the ci profile takes 0).
        default_text: What the help says of the default.
    """
    parser.add_argument("--seed", type=non_negative_int, default=default, metavar="S",
                        help="seed of %s (an integer >= 0; %s)" % (seeds, default_text))


def add_order_option(parser: argparse.ArgumentParser, second: str, default: int | None = 1) -> None:
    """``--order 1|2``: first derivatives (the gradients), or also the second (the R-operator's products).

    Args:
        parser: The subcommand's parser.
        second: What ``--order 2`` does in this subcommand.
        default: 1; None for ``proptest``, where ``--hvp`` implies 2 and ``--order`` is refused with
            ``--merge`` (None tells "not given" apart).
    """
    parser.add_argument("--order", type=int, choices=(1, 2), default=default,
                        help="1: the gradients%s; 2: %s" % (" (default)" if default == 1 else "", second))


def add_batch_option(parser: argparse.ArgumentParser, default_text: str) -> None:
    """``--batch N``: the number of examples (a positive integer; None when not given).

    Args:
        parser: The subcommand's parser.
        default_text: What is used when it is not given, and with which other option it goes.
    """
    parser.add_argument("--batch", type=positive_int, metavar="N",
                        help="number of examples, a positive integer (%s)" % default_text)


def add_params_option(parser: argparse.ArgumentParser, use: str, flag: str = "--params") -> None:
    """``--params FILE``: parameters read by :func:`verify.check.inputs.load_parameters`, in any format it reads.

    Args:
        parser: The subcommand's parser.
        use: What the parameters are (``"the worked example's parameters"``), and the default.
        flag: The spelling: ``backprop train`` calls its starting parameters ``--init``.
    """
    parser.add_argument(flag, metavar="FILE", help="%s: %s" % (use, PARAMETER_FILES))


def add_data_option(parser: argparse.ArgumentParser, use: str | None = None, required: bool = False) -> None:
    """``--data SOURCE``: examples read by :func:`verify.load_data` (``xor``, ``digits``, ``.npz``, ``.csv``).

    Args:
        parser: The subcommand's parser.
        use: What the examples are for, and the default; None when there is nothing to add.
        required: Whether the subcommand needs it.
    """
    parser.add_argument("--data", metavar="SOURCE", required=required,
                        help="%s%s" % (use + ": " if use else "", DATA_SOURCES))


def add_labels_option(parser: argparse.ArgumentParser, use: str) -> None:
    """``--labels``: targets given as integer class labels (N,), for code that indexes with ``y``.

    Args:
        parser: The subcommand's parser.
        use: Which targets are given as labels.
    """
    parser.add_argument("--labels", action="store_true", help="%s as integer class labels (N,), for code that "
                        "indexes with y (cs231n), as nn.CrossEntropyLoss takes them" % use)


def add_json_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str, use: str = "") -> None:
    """``--json``: print ``what`` as JSON, and only the JSON, on stdout (``use``: what the JSON is for)."""
    parser.add_argument("--json", action="store_true", help="print %s as JSON (only the JSON on stdout%s)"
                        % (what, "; " + use if use else ""))


def add_format_option(parser: argparse.ArgumentParser, formats) -> None:
    """``--format FORMAT``: the format of the written file, when not its extension's."""
    parser.add_argument("--format", metavar="FORMAT", help="the format, if not the output's extension: %s (or an "
                        "extension such as md)" % ", ".join(formats))


def add_step_options(parser: argparse.ArgumentParser, steps: str, lr: float | None, lr_text: str,
                     momentum: float | None, momentum_text: str) -> None:
    """``--lr ETA`` and ``--momentum ALPHA``: gradient descent with momentum,
    Delta w_t = -eta dE/dw + alpha Delta w_{t-1}.

    Args:
        parser: The subcommand's parser.
        steps: Whose steps they are (``"training"``, ``"the worked example's steps"``).
        lr: The default learning rate; None where it depends on another option (the lecture's numbers
            take the lecture's 0.2 and 0.9).
        lr_text: What the help says of the default learning rate.
        momentum: The default momentum, or None as for ``lr``.
        momentum_text: What the help says of the default momentum.
    """
    parser.add_argument("--lr", type=float, default=lr, metavar="ETA",
                        help="learning rate eta of %s (%s)" % (steps, lr_text))
    parser.add_argument("--momentum", type=float, default=momentum, metavar="ALPHA",
                        help="momentum alpha in [0, 1) of %s: Delta w_t = -eta dE/dw + alpha Delta w_{t-1} (%s)"
                        % (steps, momentum_text))


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
