"""Print the gradients SymPy derives for a network, per layer, as the lecture writes them.

By default: the forward pass, the loss, and for each layer from the output
back the error term delta_l[n, j] = dE/dZ_l[n, j] and the gradient of each
parameter, in index form with symbolic sizes (n_0..n_L, N).  --steps shows
every chain-rule step instead (dE/do, do/dnet, dnet/dw, ...).  --partial
prints one scalar partial at the SPEC's sizes for --batch examples (default
1, the lecture's per-example delta_j x_i), with the error terms it uses;
--expand writes it out in inputs, targets and parameters only (refused for
large networks: see docs/derivation.md).  --order 2 prints the second
derivatives instead: the R-operator's forward pass along a direction V, then
the Hessian-vector and Gauss-Newton-vector products from the output back, with
where second derivatives do not exist (kinks).  --latex prints an align*
fragment (it needs \\usepackage{amsmath}); --latex --standalone a complete
document that pdflatex compiles.  For a whole report (HTML, Markdown, LaTeX,
PDF, Jupyter), see backprop report.

Examples:
  backprop derive 2-2-1
  backprop derive 784-100-10 --activation relu,softmax --loss cross_entropy --latex
  backprop derive 2-2-1 --steps --latex --standalone > derivation.tex
  backprop derive 2-2-1 --order 2
  backprop derive 2-2-1 --partial W1 0 1 --expand
  backprop derive 784-100-10 --activation sigmoid,softmax --loss cross_entropy -o grads.py
  backprop derive 784-100-10 --activation sigmoid,softmax --loss cross_entropy --any-width -o grads.py

-o writes the generated numpy module; with --any-width it serves every width
of the network's structure (it reads N and n_0..n_L from the arrays it is
given), so the SPEC's widths only name the structure.
"""

from __future__ import annotations

import argparse

from derive import InputError, derive
from derive.concrete.partial_text import format_partial
from derive.files import atomic_write, check_writable
from derive.report.latex import standalone
from derive.symbolic.derivation_text import format_derivation, format_second_order

from .options import add_batch_option, add_network_arguments, add_order_option, network_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--latex", dest="style", action="store_const", const="latex",
                       help="print LaTeX: an align* fragment, which needs \\usepackage{amsmath} (see --standalone)")
    style.add_argument("--pretty", dest="style", action="store_const", const="pretty",
                       help="print 2-D unicode formulas")
    parser.add_argument("--standalone", action="store_true",
                        help="with --latex: a complete document (preamble included) that pdflatex compiles")
    parser.add_argument("--steps", action="store_true", help="show every chain-rule step of every layer")
    add_order_option(parser, "second derivatives by the R-operator (Hessian- and Gauss-Newton-vector products "
                     "along a direction V)")
    parser.add_argument("--partial", nargs="+", metavar=("NAME", "INDEX"),
                        help="print one scalar partial, e.g. --partial W1 0 1 (weight j=0, i=1) or --partial b2 0")
    parser.add_argument("--expand", action="store_true", help="with --partial: expand down to inputs and parameters")
    add_batch_option(parser, "with --partial: the examples the loss sums over; default 1")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the generated numpy module (forward, loss, gradients; with --order 2 also hvp, "
                             "gnvp and hessian) to FILE instead")
    parser.add_argument("--any-width", action="store_true",
                        help="with -o: one module for every width of the network's structure (depth, activations, "
                             "loss, bias, penalties); it reads the widths from the arrays it is given")


def run(args: argparse.Namespace) -> int:
    network = network_from_args(args)
    if args.output:
        check_writable(args.output)
        return _write_module(derive(network), args)
    if args.any_width:
        raise InputError("--any-width prints a module for every width: give it with -o FILE, e.g. "
                         "--any-width -o grads.py (the derivation printed without -o already has symbolic sizes)")
    for flag, given in (("--expand", args.expand), ("--batch", args.batch is not None)):
        if given and not args.partial:
            raise InputError("%s needs --partial NAME INDEX..., e.g. --partial W1 0 1 %s"
                             % (flag, "--expand" if flag == "--expand" else "--batch 4"))
    if args.order == 2 and args.partial:
        raise InputError("--order 2 shows the second-order passes with symbolic sizes; --partial shows one scalar "
                         "partial of the gradient: give one of them (see Derivation.hessian_block for entries)")
    if args.partial and args.steps:
        raise InputError("--steps shows the derivation with symbolic sizes; --partial shows one scalar partial: "
                         "give one of them")
    if args.standalone and args.style != "latex":
        raise InputError("--standalone makes a LaTeX document; use it with --latex")
    derivation = derive(network)
    style = args.style or "text"
    if args.partial:
        name, index = args.partial[0], _indices(args.partial[1:])
        text = format_partial(derivation, name, index, batch=1 if args.batch is None else args.batch,
                              expand=args.expand, style=style, see_also=network.command("derive"))
    elif args.order == 2:
        text = format_second_order(derivation, style=style, steps=args.steps)
    else:
        text = format_derivation(derivation, style=style, steps=args.steps)
    if args.standalone:
        text = standalone(text)
    print(text)
    return 0


def _write_module(derivation, args: argparse.Namespace) -> int:
    """``-o FILE``: the generated numpy module, written atomically (see docs/codegen.md)."""
    if args.partial or args.steps or args.style or args.expand or args.batch is not None or args.standalone:
        raise InputError("--output writes the generated numpy module; it cannot be combined with "
                         "--partial, --batch, --steps, --expand, --latex, --standalone or --pretty")
    try:
        source = derivation.numpy_source(order=args.order, any_width=args.any_width)
    except NotImplementedError as exc:
        raise InputError("cannot generate numpy code for %s: %s" % (derivation.network.describe(), exc)) from None
    atomic_write(args.output, source)
    functions = "forward, loss, gradients, hvp, gnvp and hessian" if args.order == 2 else "forward, loss and gradients"
    if args.any_width:
        print("wrote %s: %s of every width of %s" % (args.output, functions, derivation.network.describe(any_width=True)))
    else:
        print("wrote %s: %s of %s" % (args.output, functions, derivation.network.describe()))
    return 0


def _indices(values: list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise InputError("--partial indices must be integers, got %s; e.g. --partial W1 0 1"
                         % " ".join(values)) from None
