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

from .derivation import SymbolicDerivation, parameter_entry
from derive.errors import InputError
from .symbols import E, deltas, j, n

STYLES = ("text", "pretty", "latex")
_LATEX_SPECIAL = {char: "\\" + char for char in "_%&#$"} | {"^": r"\^{}", "~": r"\~{}", "\\": r"\textbackslash{}"}


class DerivationStrPrinter(StrPrinter):
    """``str`` printing, with ``Derivative(E, x)`` written ``dE/dx``."""

    def _print_Derivative(self, expr):
        wrt = "*".join("d%s" % self._print(v) for v, count in expr.variable_count for _ in range(count))
        return "d%s/%s" % (self._print(expr.expr), wrt)


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
