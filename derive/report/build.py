"""Assemble a report: the lecture's way first, the machinery after, in the order a student reads it.

:func:`build_report` returns the :class:`~derive.report.document.Document`
that every writer prints (:func:`derive.report.render`):

1. the box "Backpropagation in four equations" (:mod:`derive.report.box`);
2. notation (the lecture's symbols next to ours), the network, the forward pass, the loss
   (:mod:`derive.report.sections`);
3. the chain rule done the lecture's way, and the output error term of this network's output
   activation and loss (:mod:`derive.report.lecture`);
4. backpropagation in index form, the update rules, the vectorized form (:mod:`derive.report.updates`);
5. the worked example and its verification; with ``order=2`` the second derivatives;
6. the box again, and exercises (:mod:`derive.report.exercises`);
7. appendices: how SymPy proves it (every chain-rule step, :mod:`derive.report.appendix`), the
   generated code, and the answers to the exercises.

A training report starts with the training and keeps the rest after it.
"""

from __future__ import annotations

import sympy

from derive.errors import InputError
from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .appendix import appendix_sections
from .box import box_section
from .document import Document
from .example import WorkedExample
from .example_sections import example_sections
from .exercises import answers_section, exercises_for, exercises_section
from .lecture import chain_rule_section, output_delta_section
from .notation import Notation
from .second_order import second_order_sections
from .sections import forward_section, loss_section, network_section, notation_section, summary_section
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
    sections = [box_section(derivation, notation), notation_section(derivation, notation),
                network_section(derivation, notation), forward_section(derivation, notation),
                loss_section(derivation, notation), chain_rule_section(derivation), output_delta_section(derivation),
                summary_section(derivation, notation), update_section(derivation, notation),
                vectorized_section(derivation, notation)]
    if example is not None:
        sections += example_sections(derivation, example)
    if verification:
        code = ("from verify import check_gradients\nreport = check_gradients(network, start.params, start.X, start.T)"
                "\nreport" if example is not None else None)
        sections += verification_sections(verification, code)
    if order == 2:
        sections += second_order_sections(derivation, hessian)
    exercises = exercises_for(derivation, example)
    sections += [box_section(derivation, notation, again=True), exercises_section(exercises)]
    sections += appendix_sections(derivation, notation) + [code_section(derivation), answers_section(exercises)]
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


def setup_code(network) -> str:
    """The notebook's first cell: the network and its derivation, with the public API."""
    return ("import numpy as np\nfrom derive import Network, derive\nfrom derive.report import ExampleInput, "
            "worked_example\n\nnetwork = Network.from_dict(%r)\nderivation = derive(network)\nderivation"
            % (network.to_dict(),))
