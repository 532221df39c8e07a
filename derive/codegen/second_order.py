"""Generated second-order code: ``hvp``, ``gnvp`` and ``hessian``, planned from the R-operator passes.

:mod:`derive.symbolic.second_order` derives, with ``sympy.diff``, the
forward pass moved along a direction V (``RZ_l``, ``RA_l``), the Hessian
pass (``Rdelta_l``, ``HV_*``) and the Gauss-Newton pass (``Gdelta_l``,
``GV_*``).  This module only decides which of those equations become the
statements of which function; the planner of :mod:`derive.codegen.module`
shares their common subexpressions with the forward and backward pass
(``Sum(W2[k, j]*delta2[n, k])`` is computed once for ``delta1`` and
``Rdelta1``), lowers them in place and prints them:

* ``hvp(params, X, T, V)``: the Hessian-vector product H V, a dict shaped like ``params``;
* ``gnvp(params, X, T, V)``: the generalized Gauss-Newton product G V;
* ``hessian(params, X, T)``: the dense Hessian, column e being ``hvp`` of the
  e-th unit direction, rows and columns in the order of ``params``' keys,
  each parameter flattened row-major; refused above :data:`DENSE_LARGEST`
  parameters.

``V`` is a dict with the keys and shapes of ``params``.
"""

from __future__ import annotations

from derive.symbolic.second_order import Product, SecondOrder, direction, moved, product_entry, second_order
from derive.symbolic.symbols import deltas, j, n

from . import nodes
from .module import Program, function
from .stable_forms import stabilize

#: Most parameters ``hessian`` accepts: 2,000 parameters make a 32 MB matrix and 2,000 products.
DENSE_LARGEST = 2000


def second_order_functions(program) -> tuple[nodes.FunctionDef, ...]:
    """``hvp``, ``gnvp`` and ``hessian`` for the network of ``program`` (a :class:`derive.codegen.module.Program`).

    Raises:
        InputError: a second derivative SymPy cannot give.
        NotImplementedError: a node the printer cannot print.
    """
    passes: SecondOrder = second_order(program.derivation)
    made = [product_function(program, passes.hessian, "R", "hvp", "Hessian"),
            product_function(program, passes.gauss_newton, "G", "gnvp", "generalized Gauss-Newton matrix")]
    made.append(nodes.FunctionDef(
        "hessian", ("params", "X", "T", "workspace=None"),
        "The dense Hessian d2E/dp dq: rows and columns in the order %s, each parameter flattened row-major "
        "(column e is hvp of the e-th unit direction); refused above %d parameters." % (
            ", ".join(program.parameters), DENSE_LARGEST),
        (nodes.DenseFromProducts("hvp", program.parameters, DENSE_LARGEST),)))
    return tuple(made)


def product_function(program, product: Product, kind: str, name: str, what: str) -> nodes.FunctionDef:
    """``name(params, X, T, V)``: the forward and backward pass, the R-forward pass, then ``product``'s pass.

    Args:
        program: The planned first-order functions.
        product: The deltas and entries of the product (``"R"`` kind: a Hessian pass, ``"G"``: Gauss-Newton).
        kind: ``"R"`` or ``"G"``.
        name: The function's name.
        what: The matrix, for the docstring.
    """
    passes: SecondOrder = second_order(program.derivation)
    shapes = dict(program.shapes)
    shapes.update({str(direction(key)): shape for key, shape in program.param_shapes.items()})
    prepared = lambda pairs: [(target, program.reuse(stabilize(value))) for target, value in pairs]  # noqa: E731
    first_order = program.forward_statements + [(target, value) for target, value in program.backward_statements
                                                if str(target.base).startswith("delta")]
    entry_kind = "H" if kind == "R" else "G"
    backward = []
    for layer in range(program.depth, 0, -1):
        backward += prepared([(moved(deltas(layer), kind)[n, j], product.deltas[layer])])
        backward += prepared([(product_entry(key, entry_kind), product.entries[key])
                              for key in program.parameters if int(key[1:]) == layer])
    returns = {key: product_entry(key, entry_kind) for key in program.parameters}
    return function(name, ("params", "X", "T", "V", "workspace=None"), shapes,
                    first_order + prepared(passes.forward) + backward, returns,
                    "The %s times a direction V (a dict shaped like params): a dict shaped like params." % what)


def without_curvature_source(derivation, layer: int | None = None) -> str:
    """A module with only ``hvp``, printed from :meth:`SecondOrder.without_activation_curvature` of ``layer``.

    The Hessian-vector product with the hidden activations' second-derivative
    terms left out: what a hand-written R-operator without ``g''`` computes,
    for the diagnosis of a user's H V (not a correct product).
    """
    program = Program(derivation)
    flat = second_order(derivation).without_activation_curvature(layer)
    function_def = product_function(program, flat, "R", "hvp", "Hessian WITHOUT the g'' term of %s"
                                    % ("every hidden layer" if layer is None else "layer %d" % layer))
    module = nodes.Module("H V without the activations' second-derivative terms, for %s (a diagnosis hypothesis)."
                          % derivation.network.describe(), (function_def,))
    return nodes.ModulePrinter().print_module(module)
