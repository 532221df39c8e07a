"""Assemble a report: the derivation's sections, the worked example, verification and training, in order.

:func:`build_report` returns the :class:`~derive.report.document.Document`
that every writer prints (:func:`derive.report.render`).  The order follows
the lecture: notation, the network, forward pass, loss, the chain rule from
the output layer back, the δ recursion, the update rules, the vectorized
form, the worked example, its verification, with ``order=2`` the second
derivatives (:mod:`derive.report.second_order`), and the generated code last
(it is long).  A training report starts with the training and keeps the
derivation after it.
"""

from __future__ import annotations

import sympy

from derive.errors import InputError
from derive.symbolic.derivation import SymbolicDerivation

from .document import Document, Section, paragraph
from .example import WorkedExample
from .example_sections import example_sections
from .notation import Notation
from .plots import network_diagram
from .second_order import second_order_sections
from .sections import derivation_sections
from .training import training_sections
from .updates import code_section, update_section, vectorized_section
from .verification import verification_sections


def build_report(derivation: SymbolicDerivation, example: WorkedExample | None = None,
                 verification: dict | None = None, training: dict | None = None, *, order: int = 1,
                 hessian: dict | None = None) -> Document:
    """The content of a derivation report (or, with ``training``, a training report).

    Args:
        derivation: What :func:`derive.derive` returned.
        example: The worked example (:func:`derive.report.worked_example`), if any.
        verification: Plain data of the checks (:func:`verify.check.evidence.verification_data`), if any.
        training: Plain data of a training run (see :mod:`derive.report.training`), if any.
        order: 2 adds the section "Second derivatives" (:mod:`derive.report.second_order`).
        hessian: With ``order=2``, the worked example's dense Hessian and its check as plain data
            (:func:`verify.check.second_order_evidence.hessian_data`), if any.

    Returns:
        The :class:`~derive.report.document.Document`.

    Raises:
        InputError: ``order`` is not 1 or 2, or a second derivative SymPy cannot give.
    """
    if order not in (1, 2):
        raise InputError("order must be 1 (the gradients) or 2 (also second derivatives), got %r" % (order,))
    network = derivation.network
    notation = Notation(derivation)
    sections = derivation_sections(derivation)
    sections.insert(1, network_section(derivation))
    sections += [update_section(derivation, notation), vectorized_section(derivation, notation)]
    if example is not None:
        sections += example_sections(derivation, example)
    if verification:
        code = ("from verify import check_gradients\nreport = check_gradients(network, start.params, start.X, start.T)"
                "\nreport" if example is not None else None)
        sections += verification_sections(verification, code)
    if order == 2:
        sections += second_order_sections(derivation, hessian)
    sections.append(code_section(derivation))
    sizes = "-".join(map(str, network.sizes))
    if training is not None:
        sections = training_sections(training) + sections
        title = "Training report: the %s network" % sizes
    else:
        title = "Backpropagation for the %s network" % sizes
    subtitle = (network.describe(),
                "Derived by backprop with SymPy %s: every formula is a sympy.diff result, printed by SymPy's "
                "printers." % sympy.__version__)
    return Document(title, subtitle, sections, setup=setup_code(network))


def network_section(derivation: SymbolicDerivation) -> Section:
    """The diagram of the network, with its layers named."""
    network = derivation.network
    names = ["input (%d)" % network.sizes[0]]
    names += ["layer %d: %s (%d)" % (layer, activation.name if len(activation.name) <= 16 else "custom", width)
              for layer, (activation, width) in enumerate(zip(network.activations, network.sizes[1:]), start=1)]
    counts = ", ".join("%s %s" % (name, "×".join(map(str, shape))) for name, shape in network.param_shapes().items())
    notation = Notation(derivation)
    generic = sympy.IndexedBase(sympy.Symbol("W_l"))[notation.j, notation.i]
    return Section("network", "The network", [
        paragraph("%d layers of weights (%s), %s parameters in all. " % (network.depth, counts,
                                                                         format(network.n_params, ",")),
                  generic, " is the weight from unit i of layer l − 1 to unit j of layer l."),
        network_diagram(network.sizes, names, network.bias)])


def setup_code(network) -> str:
    """The notebook's first cell: the network and its derivation, with the public API."""
    return ("import numpy as np\nfrom derive import Network, derive\nfrom derive.report import ExampleInput, "
            "worked_example\n\nnetwork = Network.from_dict(%r)\nderivation = derive(network)\nderivation"
            % (network.to_dict(),))
