"""Print the gradients SymPy derives for a network, per layer, as the lecture writes them.

By default: the forward pass, the loss, and for each layer from the output
back the error term delta_l[n, j] = dE/dZ_l[n, j] and the gradient of each
parameter, in index form with symbolic sizes (n_0..n_L, N).  --steps shows
every chain-rule step instead (dE/do, do/dnet, dnet/dw, ...).  --partial
prints one scalar partial at the SPEC's sizes for --batch examples (default
1, the lecture's per-example delta_j x_i), with the error terms it uses;
--expand writes it out in inputs, targets and parameters only (refused for
large networks: see docs/derivation.md).  --latex prints an align* fragment
(it needs \\usepackage{amsmath}); --latex --standalone a complete document
that pdflatex compiles.  For a whole report (HTML, Markdown, LaTeX, PDF,
Jupyter), see backprop report.

Examples:
  backprop derive 2-2-1
  backprop derive 784-100-10 --activation relu,softmax --loss cross_entropy --latex
  backprop derive 2-2-1 --steps --latex --standalone > derivation.tex
  backprop derive 2-2-1 --partial W1 0 1 --expand
  backprop derive 784-100-10 --activation sigmoid,softmax --loss cross_entropy -o grads.py
"""

from __future__ import annotations

import argparse

from derive import InputError, derive
from derive.concrete.text import format_partial
from derive.report.latex import standalone
from derive.symbolic.text import format_derivation
from verify.cli import add_network_arguments, network_from_args, write_output

HELP = "print the derived gradient formulas per layer, or one scalar partial (--partial W1 0 1)"


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
    parser.add_argument("--partial", nargs="+", metavar=("NAME", "INDEX"),
                        help="print one scalar partial, e.g. --partial W1 0 1 (weight j=0, i=1) or --partial b2 0")
    parser.add_argument("--expand", action="store_true", help="with --partial: expand down to inputs and parameters")
    parser.add_argument("--batch", type=int, default=1, metavar="B",
                        help="with --partial: examples the loss sums over (default 1)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the generated numpy module (forward, loss, gradients) to FILE instead")


def run(args: argparse.Namespace) -> int:
    derivation = derive(network_from_args(args))
    if args.output:
        return _write_module(derivation, args)
    style = args.style or "text"
    if args.partial:
        name, index = args.partial[0], _indices(args.partial[1:])
        text = format_partial(derivation, name, index, batch=args.batch, expand=args.expand, style=style)
    else:
        if args.expand:
            raise InputError("--expand needs --partial NAME INDEX..., e.g. --partial W1 0 1 --expand")
        text = format_derivation(derivation, style=style, steps=args.steps)
    if args.standalone:
        if style != "latex":
            raise InputError("--standalone makes a LaTeX document; use it with --latex")
        text = standalone(text)
    print(text)
    return 0


def _write_module(derivation, args: argparse.Namespace) -> int:
    """``-o FILE``: the generated numpy module, written atomically (see docs/codegen.md)."""
    if args.partial or args.steps or args.style or args.expand or args.standalone:
        raise InputError("--output writes the generated numpy module; it cannot be combined with "
                         "--partial, --steps, --expand, --latex, --standalone or --pretty")
    try:
        source = derivation.numpy_source()
    except NotImplementedError as exc:
        raise InputError("cannot generate numpy code for %s: %s" % (derivation.network.describe(), exc)) from None
    write_output(args.output, source)
    print("wrote %s: forward, loss and gradients of %s" % (args.output, derivation.network.describe()))
    return 0


def _indices(values: list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise InputError("--partial indices must be integers, got %s; e.g. --partial W1 0 1"
                         % " ".join(values)) from None
