"""Write the derivation of a network as a report: HTML, Markdown, LaTeX, PDF or a Jupyter notebook.

The report holds, for the network SPEC, the lecture's way first and the
machinery after: the four equations of backpropagation in matrix form (a
box, again at the end), the notation (the lecture's next to ours), a
diagram, the forward pass and the loss, the chain rule done as the lecture
does it, the output error term of this network's output and loss (what
cancels, and under which assumption), the δ recursion, the update rules,
the vectorized form, a worked example at given numbers for two steps of
gradient descent with momentum (every line adds up by hand), its
verification (the three-way gradient check, the engine's numbers,
finite-difference error against step size), exercises, and appendices: every
chain-rule step as SymPy takes it, the generated code, the answers.  --order
2 adds the second derivatives: the R-operator passes of every layer (H·V and
the Gauss-Newton G·V), where they do not exist (kinks), and for a small
network's worked example its dense Hessian, checked against finite
differences of the engine's gradients.  The format follows the extension of -o (or --format):

  .html   one standalone page (MathML, inline SVG; works offline)
  .md     Markdown with math GitHub renders, figures in <name>-figures/
  .tex    a LaTeX document for pdflatex, figures in <name>-figures/
  .pdf    the LaTeX document compiled (needs pdflatex)
  .ipynb  a Jupyter notebook that reproduces the numbers when run

The worked example's numbers: --example lecture (the lecture's 2-2-1
example: every weight 0.1, x = (1, 0), t = 0.9, eta 0.2, alpha 0.9), or
--params FILE.npz and/or --data SOURCE (the rest drawn from --seed), or by
default seeded random numbers (--example random); --example none leaves it
out.  Large networks get a summarised worked example (see docs/reports.md).

Examples:
  backprop report 2-2-1 --example lecture -o report.html
  backprop report 784-100-10 --activation relu,softmax --loss cross_entropy -o mnist.pdf
  backprop report 2-2-1 --example lecture --order 2 -o hessian.html
  backprop report 2-2-1 --params trained.npz --data xor --lr 0.5 -o xor.ipynb
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from derive import InputError, Network
from derive.report import FORMATS, ExampleInput, lecture_example, random_example
from derive.report.example import LECTURE_LR, LECTURE_MOMENTUM, LECTURE_SIZES
from verify.check.inputs import load_parameters
from verify.engine.data import load_data
from verify.report_writers import write_report

from .options import (add_data_option, add_format_option, add_network_arguments, add_order_option, add_params_option,
                      add_seed_option, add_step_options, network_from_args)

EXAMPLES = ("lecture", "random", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the report: .html, .md, .tex, .pdf or .ipynb")
    add_format_option(parser, FORMATS)
    parser.add_argument("--example", choices=EXAMPLES,
                        help="the worked example's numbers: the lecture's (2-2-1), seeded random ones (default), "
                             "or none")
    add_params_option(parser, "the worked example's parameters (default: seeded random ones)")
    add_data_option(parser, "the worked example's examples (default: one seeded random example)")
    add_step_options(parser, "the worked example's steps", None, "default %g" % LECTURE_LR, None,
                     "default %g" % LECTURE_MOMENTUM)
    add_seed_option(parser, "the random numbers")
    add_order_option(parser, "also the second derivatives (R-operator passes, and a small network's dense Hessian)")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="leave out the verification section")


def run(args: argparse.Namespace) -> int:
    network = network_from_args(args)
    start = example_input(args, network)
    written = write_report(args.output, network, start, fmt=args.format, verify=args.verify, order=args.order)
    extra = " (and %d figure file%s)" % (len(written) - 1, "s" * (len(written) > 2)) if len(written) > 1 else ""
    print("wrote %s%s: the derivation of %s%s%s" % (written[0], extra, network.describe(),
                                                      ", with a worked example" if start is not None else "",
                                                      ", and its second derivatives" if args.order == 2 else ""))
    return 0


def example_input(args: argparse.Namespace, network: Network) -> ExampleInput | None:
    """The worked example's numbers from --example, --params, --data, --lr, --momentum and --seed."""
    if args.example and (args.params or args.data):
        raise InputError("--example %s cannot be combined with --params or --data; give one or the other"
                         % args.example)
    lr = LECTURE_LR if args.lr is None else args.lr
    momentum = LECTURE_MOMENTUM if args.momentum is None else args.momentum
    if args.example == "none":
        return None
    if args.example == "lecture":
        if network.sizes != LECTURE_SIZES:
            raise InputError("--example lecture is the lecture's 2-2-1 network, but SPEC is %s; use SPEC 2-2-1 "
                             "or --example random" % "-".join(map(str, network.sizes)))
        lecture_network, start = lecture_example()
        settings = "" if (lr, momentum) == (start.lr, start.momentum) else (
            "\nfrom dataclasses import replace\nstart = replace(start, lr=%r, momentum=%r)" % (lr, momentum))
        return replace(start, lr=lr, momentum=momentum, code=start.code + settings,
                       lecture=network == lecture_network and not settings)
    if not (args.params or args.data):
        return random_example(network, args.seed, lr, momentum)
    return _own_numbers(args, network, lr, momentum)


def _own_numbers(args: argparse.Namespace, network: Network, lr: float, momentum: float) -> ExampleInput:
    """--params and/or --data, the rest from --seed; with the notebook code that loads the same."""
    random = random_example(network, args.seed, lr, momentum)
    code = ["from derive.report import random_example", "drawn = random_example(network, %d)" % args.seed]
    params, X, T = random.params, random.X, random.T
    if args.params:
        params, _ = load_parameters(args.params, network)
        code += ["from verify.check.inputs import load_parameters",
                 "params, _ = load_parameters(%r, network)" % args.params]
    if args.data:
        data = load_data(args.data, network)
        X, T = data.X, data.T
        code += ["from verify import load_data", "data = load_data(%r, network)" % args.data]
    code.append("start = ExampleInput(%s, %s, %s, lr=%r, momentum=%r)" % (
        "params" if args.params else "drawn.params", "data.X" if args.data else "drawn.X",
        "data.T" if args.data else "drawn.T", lr, momentum))
    description = "parameters from %s, %s" % (
        args.params or "seeded random numbers (seed %d)" % args.seed,
        "examples from %s" % args.data if args.data else "one seeded random example")
    return ExampleInput({name: np.asarray(value, dtype=np.float64) for name, value in params.items()}, X, T,
                        lr, momentum, description, "\n".join(code))
