"""The appendix "How SymPy proves it": every chain-rule step of the index-level derivation, layer by layer.

The main text shows the lecture's way and the results; here are the steps
``sympy.diff`` takes on the whole network with symbolic sizes, as the
derivation recorded them (:attr:`~derive.symbolic.symbolic_derivation.SymbolicDerivation.steps`):
each factor of the chain rule, the sums over the units and examples in
between, the Iverson brackets that those sums collapse, and the result.
The output layer and each hidden layer with an activation not shown yet are
written out step by step; a further layer with the same activation takes
the same steps, so only its results are shown.
"""

from __future__ import annotations

import sympy

from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .document import EquationRow, Equations, Section, paragraph
from .notation import Notation
from .quantities import lecture_notation


def appendix_sections(derivation: SymbolicDerivation, notation: Notation) -> list[Section]:
    """The appendix: an introduction, then one subsection per layer from the output back."""
    other = sympy.Symbol("n'", integer=True)
    intro = Section("appendix-derivation", "Appendix: how SymPy proves it", [paragraph(
        "SymPy differentiates the loss of the whole network, with every size a symbol, one step of the forward "
        "pass at a time. Each step below is what sympy.diff returned. Where a quantity depends on another "
        "through a sum, the chain rule sums over the units and examples in between, with primed indices such as ",
        other, " for the summed ones; an Iverson bracket such as ", sympy.KroneckerDelta(notation.n, other),
        " is 1 when its indices are equal and 0 otherwise, so summing it out keeps one term: that examples do not "
        "interact is derived, not assumed.")])
    sections, shown = [intro], set()
    for layer in range(derivation.depth, 0, -1):
        activation = derivation.network.activations[layer - 1]
        sections.append(layer_section(derivation, notation, layer, full=activation not in shown))
        shown.add(activation)
    return sections


def layer_section(derivation: SymbolicDerivation, notation: Notation, layer: int, full: bool = True) -> Section:
    """Every chain-rule step of one layer (or, when not ``full``, only its results): its error term, then its
    parameters' gradients."""
    depth, delta = derivation.depth, notation.delta(layer)
    parameters = {notation.base(name) for name in derivation.parameters}
    steps = [step for step in derivation.steps if _shown_with(step, notation) == layer]
    error = [s for s in steps if not _wrt_parameter(s.equation.lhs, parameters)]
    gradient = [s for s in steps if _wrt_parameter(s.equation.lhs, parameters)]
    lecture = lecture_notation()
    if layer == depth:
        title = "Layer %d: the output layer" % layer
        intro = paragraph(
            "The error term ", delta, " is the derivative of the loss with respect to the output (the lecture's ",
            sympy.Derivative(notation.E, lecture["o"]), ") times that of the output with respect to its net input "
            "(", sympy.Derivative(lecture["o"], lecture["net_k"]), "), summed over the units and examples in "
            "between.")
    else:
        above = notation.base("W%d" % (layer + 1))
        title = "Layer %d: hidden layer" % layer
        intro = paragraph(
            "The error reaches layer %d from layer %d through the weights " % (layer, layer + 1), above,
            ": the net input of every unit k above depends on this layer's output through ",
            above[notation.k, notation.j], ". The chain rule collects those paths, then goes through this layer's "
            "activation: the δ recursion, ", delta, " from ", notation.delta(layer + 1), ".")
    if not full:
        same = derivation.network.activations[layer - 1].name
        return Section("appendix-layer-%d" % layer, title, [paragraph(
            "Layer %d takes the same steps as the layer above with the same activation (%s); its results:"
            % (layer, same)), _steps(_results(error + gradient, lambda lhs: lhs == delta or (
                isinstance(lhs, sympy.Derivative) and lhs.expr == notation.E and _wrt_parameter(lhs, parameters))))],
            level=3)
    blocks = [intro, _steps(error)]
    if gradient:
        blocks += [paragraph("The gradients of the layer's parameters follow from ", delta, ": the net input ",
                             notation.Z(layer), " is linear in its weights, so each weight's derivative is the "
                             "input it multiplies, and the chain rule sums over the examples."), _steps(gradient)]
    return Section("appendix-layer-%d" % layer, title, blocks, level=3)


def _results(steps, result) -> list:
    """The last step of each quantity whose left-hand side is a ``result``: the layer's results."""
    wanted = [step for step in steps if result(step.equation.lhs)]
    last = {step.equation.lhs: step for step in wanted}
    return [step for step in wanted if last[step.equation.lhs] is step]


def _shown_with(step, notation: Notation) -> int:
    """The layer a step is shown with: its own, except how the net input above depends on a layer's output
    (recorded with the layer above), which starts that layer's error term."""
    lhs = step.equation.lhs
    if step.layer > 1 and isinstance(lhs, sympy.Derivative) and getattr(lhs.expr, "base", None) == notation.Z(
            step.layer).base and any(getattr(v, "base", None) == notation.A(step.layer - 1).base
                                     for v in lhs.variables):
        return step.layer - 1
    return step.layer


def _wrt_parameter(lhs: sympy.Basic, parameters: set) -> bool:
    return isinstance(lhs, sympy.Derivative) and any(getattr(v, "base", None) in parameters for v in lhs.variables)


def _steps(steps) -> Equations:
    return Equations(tuple(EquationRow(s.equation.lhs, (s.equation.rhs,), s.label) for s in steps))
