"""A derivation written out for people: plain text, 2-D pretty text, or LaTeX.

Everything printed goes through SymPy printers; :class:`DerivationStrPrinter`
only changes how ``Derivative(E, W1[j, i])`` reads (``dE/dW1[j, i]``, as the
lecture writes it).  The layout follows the lecture: the forward pass, the
loss, then layer by layer from the output back, the error term δ and the
gradients; with ``steps=True`` each layer also shows its chain-rule steps.
"""

from __future__ import annotations

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .symbolic_derivation import SymbolicDerivation, parameter_entry
from .second_order import direction, second_order
from derive.errors import InputError
from .symbols import E, deltas, j, n

STYLES = ("text", "pretty", "latex")
_LATEX_SPECIAL = {char: "\\" + char for char in "_%&#$"} | {"^": r"\^{}", "~": r"\~{}", "\\": r"\textbackslash{}"}


class DerivationStrPrinter(StrPrinter):
    """``str`` printing, with ``Derivative(E, x)`` written ``dE/dx``."""

    def _print_Derivative(self, expr):
        wrt = "*".join("d%s" % self._print(v) for v, count in expr.variable_count for _ in range(count))
        inner = self._print(expr.expr)
        return "d%s/%s" % (inner if expr.expr.is_Atom or isinstance(expr.expr, sympy.Indexed) else "(%s)" % inner, wrt)


class DerivationLatexPrinter(LatexPrinter):
    """LaTeX printing, with ``Derivative(E, x)`` written as the partial derivative of E."""

    def _print_Derivative(self, expr):
        wrt = " ".join(r"\partial %s" % self._print(v) for v, count in expr.variable_count for _ in range(count))
        return r"\frac{\partial %s}{%s}" % (self._print(expr.expr), wrt)

    def _print_KroneckerDelta(self, expr, exp=None):
        """An Iverson bracket ``[j = k]``: a delta would read like the error terms."""
        bracket = r"\left[%s = %s\right]" % (self._print(expr.args[0]), self._print(expr.args[1]))
        return bracket if exp is None else r"%s^{%s}" % (bracket, exp)


def equation(lhs, rhs, style: str) -> str:
    if style == "latex":
        printer = DerivationLatexPrinter()
        return r"%s &= %s \\" % (printer.doprint(lhs), printer.doprint(rhs))
    if style == "pretty":
        if isinstance(lhs, sympy.Derivative):
            lhs = sympy.Symbol(DerivationStrPrinter().doprint(lhs))
        return sympy.pretty(sympy.Eq(lhs, rhs, evaluate=False), use_unicode=True, wrap_line=False)
    printer = DerivationStrPrinter()
    return "%s = %s" % (printer.doprint(lhs), printer.doprint(rhs))


def check_style(style: str) -> None:
    if style not in STYLES:
        raise InputError("style %r is not one of: %s" % (style, ", ".join(STYLES)))


def heading(text: str, style: str) -> str:
    if style == "latex":
        return r"\intertext{%s}" % "".join(_LATEX_SPECIAL.get(char, char) for char in text)
    return text


def indent(text: str, style: str) -> str:
    return text if style == "latex" else "\n".join("  " + line for line in text.splitlines())


def block(lines: list[str], style: str) -> str:
    body = "\n".join(lines)
    return "\\begin{align*}\n%s\n\\end{align*}" % body if style == "latex" else body


def format_derivation(derivation: SymbolicDerivation, style: str = "text", steps: bool = False) -> str:
    """The derived formulas per layer, readable like the lecture.

    Args:
        derivation: What :func:`derive.derive` returned.
        style: ``"text"`` (one line per formula), ``"pretty"`` (2-D unicode) or ``"latex"``.
        steps: Also show each layer's chain-rule steps.

    Raises:
        InputError: unknown style.
    """
    check_style(style)
    network = derivation.network
    lines = [heading("Derivation for %s (sizes are symbols: n_0..n_%d units, N examples; "
                      "delta_l[n, j] = dE/dZ_l[n, j])" % (network.describe(), derivation.depth), style),
             heading("Forward pass", style)]
    lines += [indent(equation(eq.lhs, eq.rhs, style), style) for eq in derivation.forward_equations]
    lines += [heading("Loss", style), indent(equation(E, derivation.loss, style), style)]
    for layer in range(derivation.depth, 0, -1):
        title = "Layer %d%s" % (layer, " (output)" if layer == derivation.depth else "")
        lines.append(heading(title, style))
        if steps:
            for step in (s for s in derivation.steps if s.layer == layer):
                lines.append(indent(heading("%s:" % step.label, style), style))
                lines.append(indent(indent(equation(step.equation.lhs, step.equation.rhs, style), style), style))
            continue
        lines.append(indent(equation(deltas(layer)[n, j], derivation.delta(layer), style), style))
        for name in derivation.parameters:
            if int(name[1:]) == layer:
                entry = parameter_entry(name)
                lines.append(indent(equation(sympy.Derivative(E, entry), derivation.gradient(name), style), style))
    return block(lines, style)


def format_second_order(derivation: SymbolicDerivation, style: str = "text", steps: bool = False) -> str:
    """The R-operator passes per layer: the forward pass moved along V, then H V and G V from the output back.

    Args:
        derivation: What :func:`derive.derive` returned.
        style: ``"text"``, ``"pretty"`` or ``"latex"``.
        steps: Also show, for each quantity, the derivative along V it is.

    Raises:
        InputError: unknown style, or a second derivative SymPy cannot give.
    """
    check_style(style)
    passes = second_order(derivation)
    network = derivation.network
    names = ", ".join(str(direction(name)) for name in derivation.parameters)
    lines = [heading("Second derivatives of %s by the R-operator: R{f} = d f(theta + r V)/dr at r = 0, along a "
                     "direction V = (%s) shaped like the parameters" % (network.describe(), names), style)]

    def show(layer_steps):
        final = {step.equation.lhs: step for step in layer_steps}  # the last step of each quantity is its result
        for step in layer_steps:
            if steps:
                lines.append(indent(heading("%s:" % step.label, style), style))
            if steps or final[step.equation.lhs] is step:
                lines.append(indent(equation(step.equation.lhs, step.equation.rhs, style), style))
    sections = [("Forward pass, moved along V", lambda s: str(s.equation.lhs.base).startswith(("RZ", "RA"))),
                ("Hessian-vector product H V, from the output back",
                 lambda s: str(s.equation.lhs.base).startswith(("Rdelta", "HV"))),
                ("Gauss-Newton-vector product G V = J^T H_out J V, from the output back",
                 lambda s: str(s.equation.lhs.base).startswith(("Gdelta", "GV")))]
    for title, belongs in sections:
        lines.append(heading(title, style))
        chosen = [s for s in passes.steps if belongs(s)]
        for layer in sorted({s.layer for s in chosen}, reverse=not title.startswith("Forward")):
            lines.append(heading("Layer %d%s" % (layer, " (output)" if layer == derivation.depth else ""), style))
            show([s for s in chosen if s.layer == layer])
    if passes.notes:
        lines.append(heading("Where second derivatives do not exist:", style))
        lines += [indent(heading("- " + note, style), style) for note in passes.notes]
    return block(lines, style)
