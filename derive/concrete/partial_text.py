"""One scalar partial written out for people, with the error terms it is built from.

The lecture's ``dE/dw_ji = delta_j x_i`` at the network's own sizes: the
partial in named entries (:class:`~derive.concrete.scalar.ScalarPartials`),
then the definition of every error term it needs, from the output back, in
the styles of :mod:`derive.symbolic.derivation_text` (plain text, 2-D pretty text or LaTeX).
"""

from __future__ import annotations

import sympy

from derive.symbolic.symbolic_derivation import SymbolicDerivation, parameter_entry
from derive.symbolic.symbols import E, deltas
from derive.symbolic.derivation_text import block, check_style, equation, heading, indent

from .scalar import ScalarPartials, check_concrete


def format_partial(derivation: SymbolicDerivation, name: str, index: tuple[int, ...], batch: int = 1,
                   expand: bool = False, style: str = "text", see_also: str | None = None) -> str:
    """One scalar partial at the network's sizes, with the error terms it is built from.

    Args:
        derivation: What :func:`derive.derive` returned.
        name: Parameter name (``"W1"``).
        index: Its entry (``(0, 1)``).
        batch: Number of examples.
        expand: Print the fully expanded expression instead.
        style: ``"text"``, ``"pretty"`` or ``"latex"``.
        see_also: Where to read the forward pass (a command that prints this network's derivation).

    Raises:
        InputError: bad name or index, too large to expand, or unknown style.
    """
    check_style(style)
    partials = ScalarPartials(derivation, *check_concrete(derivation.network, None, batch))
    value = partials[(name, *index)]
    value = partials.expanded(value) if expand else value
    entry = parameter_entry(name).base[index]
    lines = [equation(sympy.Derivative(E, entry), value, style)]
    if not expand:
        needed = partials.dependencies(value, bases=tuple(deltas(layer) for layer in range(1, derivation.depth + 1)))
        if needed:
            lines.append(heading("where, from the output back:", style))
            lines += [indent(equation(lhs, rhs, style), style) for lhs, rhs in reversed(needed)]
            lines.append(heading("and A, Z are the forward-pass values%s"
                                 % (" (see: %s)" % see_also if see_also else ""), style))
    return block(lines, style)
