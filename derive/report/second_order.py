"""The report's "Second derivatives" section: the R-operator passes, and the worked example's Hessian.

``backprop report SPEC --order 2`` adds it.  Its equations are the labelled
steps of :attr:`derive.Derivation.hvp_steps` (each R-quantity first as the
derivative along V that ``sympy.diff`` takes, then what it gives), written
like the first-order chain-rule steps (the derivative, then its value, under
the value's label), in three parts:

* the forward pass moved along a direction V (``RZ_l``, ``RA_l``, layer by layer);
* the Hessian-vector product H V (``Rdelta_l`` and ``HV_*``, from the output back);
* the generalized Gauss-Newton product G V (``Gdelta_l`` and ``GV_*``).

Where a second derivative does not exist (kinks) is stated, from
:attr:`~derive.symbolic.second_order.SecondOrder.notes`.  For a small
network with a worked example, the dense Hessian at the example's starting
point follows: its numbers come from the generated ``hessian`` and its check
(finite differences of the hand-written engine's gradients, symmetry,
eigenvalues) from :mod:`verify.check.second_order_evidence`, handed over as
plain data because ``derive`` never imports ``verify``.
"""

from __future__ import annotations

import sympy

from derive.symbolic.second_order import second_order

from .document import Equations, EquationRow, Section, Table, equations, paragraph
from .plots import hessian_plot

#: Most parameters whose Hessian is printed as a table of numbers (the lecture's 2-2-1 has 9).
HESSIAN_TABLE_LARGEST = 16
#: Most parameters whose dense Hessian a report computes, checks and draws.
HESSIAN_SHOWN_LARGEST = 200

R = sympy.Symbol("r", real=True)
THETA, V = sympy.symbols("theta V")
#: Which steps belong to which part: the prefixes of their left-hand sides.
PARTS = (("second-order-forward", "Forward pass along V", ("RZ", "RA")),
         ("hessian-vector-product", "The Hessian-vector product H·V", ("Rdelta", "HV_")),
         ("gauss-newton-product", "The Gauss-Newton product G·V", ("Gdelta", "GV_")))


def second_order_sections(derivation, hessian: dict | None = None) -> list[Section]:
    """The "Second derivatives" section and its subsections.

    Args:
        derivation: The network's derivation (:func:`derive.derive`); its second-order passes
            (:attr:`derive.Derivation.hvp_steps` and their notes) are shown.
        hessian: The worked example's dense Hessian and its check, as plain data
            (:func:`verify.check.second_order_evidence.hessian_data`), or None.

    Raises:
        InputError: an activation whose second derivative SymPy cannot give.
    """
    passes = second_order(derivation)
    network, steps, notes = derivation.network, passes.steps, passes.notes
    f = sympy.Function("f")
    intro = [
        paragraph("The R-operator (Pearlmutter, 1994) is the derivative along a direction V in parameter space, "
                  "a dict shaped like the parameters:"),
        equations((sympy.Function("R_V")(f(THETA)), sympy.Subs(sympy.Derivative(f(THETA + R * V), R), R, 0))),
        paragraph("Applied to the gradient it gives the Hessian-vector product H·V, without forming H: one pass "
                  "forward moving every net input and output along V, then one pass back moving every error term, "
                  "about twice the cost of the gradient. Each R-quantity below is sympy.diff with respect to r of "
                  "one equation of the derivation above, in which the arrays it depends on are moved along their "
                  "own R-quantities; it is shown first as that derivative, then as what SymPy gives. The generated "
                  "module prints the same equations as hvp(params, X, T, V), gnvp(params, X, T, V) and, for small "
                  "networks, hessian(params, X, T): derivation.numpy_module(order=2), or backprop derive SPEC "
                  "--order 2 -o FILE."),
    ]
    if notes:
        intro.append(paragraph("Where second derivatives do not exist: " + "; ".join(notes) + ".", note=True))
    else:
        intro.append(paragraph("Every activation and the loss of this network are twice differentiable everywhere: "
                               "no kinks, so H·V, G·V and the Hessian are exact at every point.", note=True))
    sections = [Section("second-derivatives", "Second derivatives", intro,
                        code="module = derivation.numpy_module(order=2)\nprint(len(derivation.hvp_steps), "
                             "'steps')\nderivation.second_order.notes")]
    for key, title, prefixes in PARTS:
        chosen = [step for step in steps if str(step.equation.lhs.base).startswith(prefixes)]
        layers = sorted({step.layer for step in chosen}, reverse=key != "second-order-forward")
        blocks = [_part_intro(key, network.depth)]
        for layer in layers:
            blocks += [paragraph("Layer %d%s:" % (layer, " (output)" if layer == network.depth else "")),
                       _derivative_rows([step for step in chosen if step.layer == layer])]
        sections.append(Section(key, title, blocks, level=3))
    sections.append(hessian_section(network, hessian))
    return sections


def _part_intro(key: str, depth: int):
    if key == "second-order-forward":
        return paragraph("From the input up: the net input moves because its weights and bias move along V and "
                         "its input moves along R{A} of the layer below (the data do not move); the output moves "
                         "through the activation's derivative.")
    if key == "hessian-vector-product":
        return paragraph("From the output back: each error term moves because the outputs and net inputs it is "
                         "made of move, and, below the output, because the weights and error term above move. The "
                         "term with the activation's second derivative appears here. Each parameter's entry of "
                         "H·V is R of its gradient.")
    return paragraph("The generalized Gauss-Newton matrix G = JᵀH_out J keeps only the loss's curvature at the "
                     "output (layer %d) and propagates it back with first derivatives: the curvature of the hidden "
                     "layers is left out. G is positive semidefinite for the convex output losses, which is why "
                     "second-order optimisers use it instead of H; at a minimum where the residuals vanish "
                     "the two agree." % depth)


def _derivative_rows(steps) -> Equations:
    """Each R-quantity once as ``lhs = d/dr(...)``, then ``lhs = result`` (two rows keep them narrow), captioned
    with what its label says it is (the label's code name is the left-hand side already)."""
    rows = []
    for step in steps:
        lhs, rhs = step.equation.lhs, tidy(step.equation.rhs)
        caption = step.label.split(":", 1)[1].strip() if ":" in step.label else ""
        if rows and rows[-1].lhs == lhs:
            rows[-1] = EquationRow(lhs, rows[-1].rhs, caption)
            rows.append(EquationRow(lhs, (rhs,)))
        else:
            rows.append(EquationRow(lhs, (rhs,), caption))
    return Equations(tuple(rows))


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """A minus sign in front of a product taken into its sum: ``−R(3A² + T − 2AT − 2A)`` reads
    ``R(2AT + 2A − 3A² − T)``."""
    def distribute(product: sympy.Mul) -> sympy.Expr:
        coefficient, factors = product.as_coeff_mul()
        sums = [factor for factor in factors if factor.is_Add]
        if coefficient != -1 or len(sums) != 1:
            return product
        rest = [factor for factor in factors if factor is not sums[0]]
        return sympy.Mul(*rest, sympy.expand(-sums[0]))
    return expr.replace(lambda e: isinstance(e, sympy.Mul), distribute)


def hessian_section(network, hessian: dict | None) -> Section:
    """The worked example's dense Hessian (with its check), or one line saying why there is none."""
    count = network.n_params
    if hessian is None:
        if count > HESSIAN_SHOWN_LARGEST:
            why = ("No dense Hessian for this network: its %s parameters make a %s×%s matrix of %s entries, each "
                   "column one Hessian-vector product; H·V above gives any product with H at the cost of about "
                   "two gradients." % (format(count, ","), format(count, ","), format(count, ","),
                                       format(count * count, ",")))
        else:
            why = ("The dense Hessian is shown at a worked example's numbers: --example lecture (2-2-1), "
                   "--example random (the default), or --params and --data.")
        return Section("hessian", "The Hessian", [paragraph(why, note=True)], level=3)
    labels, matrix = hessian["parameters"], hessian["matrix"]
    check = hessian["finite_differences"]
    eigenvalues = hessian["eigenvalues"]
    negative = sum(value < -hessian["zero"] for value in eigenvalues)
    zero = sum(abs(value) <= hessian["zero"] for value in eigenvalues)
    blocks = [paragraph(
        "At the worked example's starting point: ∂²E/∂p∂q for every pair of the %d parameters, computed by the "
        "generated hessian (column e is hvp of the e-th unit direction). Rows and columns are in the generated "
        "code's parameter order: %s, each parameter flattened row-major (W[j, i] with i fastest)."
        % (len(labels), ", ".join(hessian["order"])))]
    if len(labels) <= HESSIAN_TABLE_LARGEST:
        blocks.append(Table(("",) + tuple(labels), tuple((label,) + tuple(float(v) for v in row)
                                                         for label, row in zip(labels, matrix)),
                            "The Hessian of E at the starting point (row p, column q: ∂²E/∂p∂q)."))
    blocks += [
        hessian_plot(matrix, labels),
        paragraph("Checked against an independent oracle, %s (step %.0e), column by column: the largest "
                  "|difference| over all %d entries is %.1e (largest |entry| %.3g)."
                  % (check["method"], check["step"], len(labels) ** 2, check["max_difference"],
                     check["largest"])),
        paragraph("Symmetry: the largest |H − Hᵀ| is %.1e, as it must be (the second partials commute where "
                  "they exist). Eigenvalues (0 where below %.0e in magnitude: rounding): %s. %s" % (
                      hessian["asymmetry"], hessian["zero"],
                      ", ".join("0" if abs(value) <= hessian["zero"] else "%.4g" % value for value in eigenvalues),
                      _curvature(negative, zero, len(eigenvalues)))),
    ]
    code = ("module = derivation.numpy_module(order=2)\nH = module.hessian(start.params, start.X, start.T)\n"
            "print(np.array2string(H, precision=6, suppress_small=True))\nnp.linalg.eigvalsh(H)")
    return Section("hessian", "The Hessian of the worked example", blocks, level=3, code=code)


def _curvature(negative: int, zero: int, total: int) -> str:
    """What the eigenvalues say about the point."""
    parts = []
    if zero:
        parts.append("%d are zero to rounding: directions along which E does not curve (the weights of an "
                     "input that is 0 in every example, or, with few examples, the many directions they do not "
                     "constrain)" % zero)
    if negative:
        parts.append("%d negative, so this point is not a minimum and H is indefinite (the Gauss-Newton matrix "
                     "is not)" % negative)
    elif not zero:
        parts.append("all positive: E is locally convex here")
    return "; ".join(part[0].upper() + part[1:] if not index else part for index, part in enumerate(parts)) + "."
