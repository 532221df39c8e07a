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
  each parameter flattened row-major; ``hvp`` runs on blocks of unit
  directions at once, each block's arrays about :data:`BLOCK_BYTES`.

``V`` is a dict with the keys and shapes of ``params``, or with a leading
direction axis: ``V["W1"]`` of shape ``(D, n_1, n_0)`` holds D directions,
and the product has the same leading axis.  That is not a second function:
every statement that depends on V gets the direction label ``v`` as its first
index (:func:`along_directions`: ``RZ1[v, n, j]``, ``V_W1[v, j, i]``), which
the array printer prints as leading axes that may be there or not
(``...``, ``swapaxes(-1, -2)``, ``@`` broadcasting), so the same printed
statements compute one direction or many.
"""

from __future__ import annotations

from derive.symbolic.second_order import Product, SecondOrder, direction, moved, product_entry, second_order, v
from derive.symbolic.symbols import deltas, j, n

import sympy
from sympy import Indexed, IndexedBase, Mul, Sum

from derive.symbolic.indices import free_indices

from . import nodes
from .module_printer import ModulePrinter
from .generated_function import function
from .module import Program
from .stable_forms import stabilize

#: About how many bytes the arrays of one block of directions of the dense Hessian take.
BLOCK_BYTES = 2**24


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
        "The dense Hessian d2E/dp dq: rows and columns in the order %s,\neach parameter flattened "
        "row-major.  Column e is hvp of the e-th unit direction,\ncomputed for blocks of unit directions at "
        "once (V with a leading axis)." % ", ".join(program.parameters),
        (nodes.DenseFromProducts("hvp", program.parameters, BLOCK_BYTES),)))
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
    shapes.update({str(direction(key)): (nodes.DIRECTIONS, *shape) for key, shape in program.param_shapes.items()})
    prepared = lambda pairs: [(target, program.reuse(stabilize(value))) for target, value in pairs]  # noqa: E731
    first_order = program.forward_statements + [(target, value) for target, value in program.backward_statements
                                                if str(target.base).startswith("delta")]
    entry_kind = "H" if kind == "R" else "G"
    backward = []
    for layer in range(program.depth, 0, -1):
        backward += prepared([(moved(deltas(layer), kind)[n, j], product.deltas[layer])])
        # The bias entry (a sum of the layer's R-delta) first, while that array is still in the cache, then the
        # weight entry, a product large enough not to care.
        backward += prepared([(product_entry(key, entry_kind), product.entries[key])
                              for key in sorted(program.parameters, key=lambda key: key.startswith("W"))
                              if int(key[1:]) == layer])
    returns = {key: product_entry(key, entry_kind) for key in program.parameters}
    returns = {key: entry.base[(v, *entry.indices)] for key, entry in returns.items()}
    forward = prepared(passes.forward)
    labelled = along_directions(forward + backward, program.parameters)
    statements = (next_to_shared_operands(first_order, labelled[:len(forward)])
                  + per_example_coefficients(labelled[len(forward):]))
    return function(name, ("params", "X", "T", "V", "workspace=None"), shapes, statements, returns,
                    "The %s times a direction V (a dict shaped like params): a dict shaped like params.\n\n"
                    "V may also hold many directions along leading axes, the same for every key\n"
                    "(V[\"W1\"] of shape (D,) + params[\"W1\"].shape): their products, all at once, with\n"
                    "the same leading axes (result[\"W1\"][d] is the product with direction d)." % what)


def along_directions(statements: list, keys) -> list:
    """``statements`` with the direction label ``v`` first in every entry that depends on the directions ``V``.

    ``RZ1[n, j] = V_b1[j] + Sum(V_W1[j, i]*X[n, i], ...)`` becomes
    ``RZ1[v, n, j] = V_b1[v, j] + Sum(V_W1[v, j, i]*X[n, i], ...)``, and so on
    for every statement that reads an array so labelled; the others (the
    forward values, the deltas) stay as they are, computed once for all directions.
    """
    directed = {direction(key) for key in keys}
    labelled = []
    for target, value in statements:
        entries = {entry: entry.base[(v, *entry.indices)] for entry in value.atoms(Indexed) if entry.base in directed}
        if entries:
            value, target = value.xreplace(entries), target.base[(v, *target.indices)]
            directed.add(target.base)
        labelled.append((target, value))
    return labelled


def next_to_shared_operands(statements: list, later: list) -> list:
    """``statements``, with each of ``later`` (in its order) placed where its matrix products find their arrays warm.

    The R-forward pass goes along with the forward pass, layer by layer.  A
    statement with a matrix product goes right after the first statement
    whose products read one of the same arrays (and after every statement
    whose result it reads): ``RZ1 = X @ V_W1.T + V_b1`` right after
    ``Z1 = X @ W1.T + b1``, and ``RZ2``, which reads A1, RA1 and W2, right
    after ``Z2 = A1 @ W2.T + b2``; an elementwise one (``RA1 = RZ1*A1*(1 - A1)``)
    right after the last statement it reads.  The products that read the
    data X, or a weight matrix, then run one after the other, as
    ``bench/hvp.py``'s bound times them, and the elementwise steps of both
    statements come after both products (:mod:`derive.codegen.inplace` lets
    the bias wait for the activation's helper): after a product that has
    streamed megabytes through the cache, the first numpy calls run slowly
    until their own memory is back, and two products in a row pay that once.
    """
    scheduled = list(statements)
    for target, value in later:
        read = {entry.base for entry in value.atoms(Indexed)}
        position = max((place + 1 for place, (earlier, _) in enumerate(scheduled)
                        if getattr(earlier, "base", earlier) in read), default=0)
        operands = _product_operands(value)
        sharing = [place + 1 for place, (_, earlier) in enumerate(scheduled) if operands & _product_operands(earlier)]
        position = max([position] + sharing[:1])
        scheduled.insert(position, (target, value))
    return scheduled


def _product_operands(value) -> set:
    """The arrays ``value`` reads inside its sums (the operands of its matrix products)."""
    return {entry.base for total in value.atoms(Sum) for entry in total.atoms(Indexed)}


def per_example_coefficients(statements: list) -> list:
    """``statements`` with each R-quantity's terms grouped by what moves along the directions.

    ``Rdelta1 = M*A1*(1 - A1) + RA1*S*(1 - A1) - RA1*S*A1`` (S the back-propagated
    delta) becomes ``c1_Rdelta1 = S*(1 - 2*A1)`` and ``Rdelta1 = M*A1*(1 - A1) +
    RA1*c1_Rdelta1``: the terms that share their factor along the directions
    (RA1) are one term, and its coefficient, which is the same for every
    direction, is computed once, as its own statement (``sympy.factor_terms``
    writes it; ``c1`` because it is the coefficient of the statement's second term).  One pass over an array of every direction fewer per merged
    term, and an array of the examples' size computed once instead of once
    per direction.
    """
    grouped = []
    for target, value in statements:
        if v not in getattr(target, "indices", ()) or not isinstance(value, sympy.Add):
            grouped.append((target, value))
            continue
        groups: dict = {}
        for term in value.args:
            factors = Mul.make_args(term)
            along = Mul(*[factor for factor in factors if v in free_indices(factor)])
            groups.setdefault(along, []).append(Mul(*[factor for factor in factors if v not in free_indices(factor)]))
        terms = []
        for along, coefficients in groups.items():
            coefficient = sympy.factor_terms(sympy.Add(*coefficients))
            if len(coefficients) > 1 and free_indices(coefficient):
                labels = tuple(label for label in target.indices if label in free_indices(coefficient))
                name = IndexedBase("c%d_%s" % (len(terms), target.base.label), real=True)[labels]
                grouped.append((name, coefficient))
                coefficient = name
            terms.append(along * coefficient)
        grouped.append((target, sympy.Add(*terms)))
    return grouped


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
    return ModulePrinter().print_module(module)
