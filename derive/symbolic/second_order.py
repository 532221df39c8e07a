"""Second derivatives by the R-operator, derived with ``sympy.diff`` at the level of indices.

Pearlmutter's R-operator is the directional derivative along a direction V in
parameter space, ``R{f} = d f(theta + r V) / dr`` at r = 0.  Applied to the
gradient it gives the Hessian-vector product, ``R{dE/dtheta} = H V``, at the
cost of about two more passes, and it is *derived* here the way the gradients
are: every R-quantity is ``sympy.diff`` with respect to r of one layer-local
expression of the first-order derivation in which the entries it depends on
are moved along their own R-quantities (:func:`r_derivative`), then collapsed
and written in the forward values as the gradients are.  For layer l:

* forward:  ``RZ_l = R{Z_l}`` (the weights move along ``V_W_l``, the bias along
  ``V_b_l``, the previous layer's output along ``RA_{l-1}``) and
  ``RA_l = R{A_l}`` (the net input moves along ``RZ_l``);
* backward: ``Rdelta_L = R{delta_L}`` (A_L and Z_L move), and for a hidden
  layer ``Rdelta_l = R{delta_l}`` (A_l, Z_l, the next weights and the next
  delta move); the term with the activation's second derivative appears here,
  by itself;
* products:  ``HV_W_l = R{dE/dW_l}`` and ``HV_b_l = R{dE/db_l}``.

The generalized Gauss-Newton product G V = J^T H_out J V leaves out the terms
that curvature of the hidden layers contributes: the same R-forward pass, then
a backward pass in which only the deltas move (``Gdelta``), i.e. the first-order
backprop of the output's second-order term.  The output split is where the
loss is convex: a loss made for its output activation (cross-entropy after
softmax, binary cross-entropy after a sigmoid) is split at Z_L, with
``H_out = d^2 l(g(z))/dz^2``; any other loss at A_L, with ``H_out = d^2 l/do^2``
(sse: the identity).  Either way G is positive semidefinite.  The penalty's
Hessian (lambda times the identity; the L1 term has none away from w = 0) is
exact and belongs to both.

Where a second derivative does not exist (ReLU's and leaky ReLU's kinks, the
ELU's at 0 unless alpha = 1, |w| of the L1 penalty), ``sympy.diff`` yields a
``DiracDelta``: it is zero everywhere but at the kink, where no second
derivative exists.  It is taken as 0, and :attr:`SecondOrder.notes` says so
for each place it occurred.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import sympy
from sympy import Derivative, DiracDelta, Eq, Indexed, IndexedBase, KroneckerDelta, Mul, Sum

from derive.errors import InputError

from .chain_rule import Step
from .local_derivatives import output_chain, shortest
from .indices import fresh_index, readable_index, rename_bound
from .symbolic_derivation import SymbolicDerivation, parameter_entry
from .layers import back_substitute, data_loss, layer_output, net_input
from .sums import collapse_deltas
from .symbols import activations, biases, deltas, i, j, k, m, n, preactivations, size, weights

#: How far along the direction V the parameters move: R{f} = df/dr at r = 0.
r = sympy.Symbol("r", real=True)
#: The entry of the second parameter of a Hessian block: d^2E / dW1[j, i] dW2[p, q].
p, q = sympy.symbols("p q", integer=True, nonnegative=True)
#: The direction axis: ``RZ1[v, n, j]`` is ``RZ1`` along the v-th of many directions computed at once
#: (``V_W1[v, j, i]``).  The array printer prints it as leading axes (``...``), present or not.
v = sympy.Symbol("v", integer=True, nonnegative=True)


@lru_cache(maxsize=None)
def direction(name: str) -> IndexedBase:
    """``V_W1``: the direction's entries for parameter ``name``, indexed like it."""
    return IndexedBase("V_" + name, real=True)


@lru_cache(maxsize=None)
def moved(base: IndexedBase, kind: str = "R") -> IndexedBase:
    """``RZ1``, ``RA1``, ``Rdelta1`` (kind ``"R"``) or ``Gdelta1`` (``"G"``): how an array moves along V."""
    return IndexedBase(kind + str(base.label), real=True)


@lru_cache(maxsize=None)
def product_entry(name: str, kind: str = "H") -> Indexed:
    """The entry of a product in parameter ``name``: ``HV_W1[j, i]`` (kind ``"H"``) or ``GV_W1[j, i]`` (``"G"``)."""
    base = IndexedBase("%sV_%s" % (kind, name), real=True)
    return base[j, i] if name.startswith("W") else base[j]


def shifted(expr: sympy.Expr, moves: dict) -> sympy.Expr:
    """``expr`` with each entry ``b[idx]`` of a moved array at ``b[idx] + r*moves[b][idx]``."""
    return expr.replace(lambda e: isinstance(e, Indexed) and e.base in moves, lambda e: e + r * moves[e.base][e.indices])


def r_derivative(expr: sympy.Expr, moves: dict) -> sympy.Expr:
    """``R{expr}``: ``d/dr`` of :func:`shifted` ``expr`` at r = 0.

    Entries of arrays not in ``moves`` (the data, arrays that do not depend on
    the parameters moved) stay fixed.
    """
    return collapse_deltas(sympy.diff(shifted(expr, moves), r)).xreplace({r: 0})



def _first_derivative_jumps(activation, kink: float) -> bool:
    """Whether the activation's SymPy derivative jumps at ``kink`` (ReLU at 0) or only its second does (x/(1 + |x|))."""
    z = sympy.Symbol("z", real=True)
    slope = sympy.diff(activation.definition(z), z)
    left, right = (complex(slope.subs(z, kink + side).evalf()) for side in (-1e-9, 1e-9))
    return abs(left - right) > 1e-6 * max(1.0, abs(left), abs(right))

class Product(NamedTuple):
    """One Hessian- or Gauss-Newton-vector product: its deltas and its entries per parameter."""

    deltas: dict
    entries: dict


class SecondOrder:
    """The R-operator passes of one network, derived by ``sympy.diff``.

    Args:
        derivation: The network's (first-order) derivation.

    Attributes:
        forward: ``[(RZ1[n, j], value), (RA1[n, j], value), ...]`` in order.
        hessian: The Hessian-vector product: ``Rdelta`` per layer and ``HV_*`` per parameter.
        gauss_newton: The Gauss-Newton-vector product: ``Gdelta`` per layer and ``GV_*`` per parameter.
        steps: Labelled equations, in order (forward, then each product from the output back).
        notes: Where a second derivative does not exist (kinks, the L1 penalty at 0) and is taken as 0.

    Raises:
        InputError: a second derivative SymPy cannot give (an unevaluated derivative remains).
    """

    def __init__(self, derivation: SymbolicDerivation):
        self.derivation = derivation
        self.network = network = derivation.network
        self.steps: list[Step] = []
        self.forward: list[tuple[Indexed, sympy.Expr]] = []
        for layer in range(1, network.depth + 1):
            self._forward(layer)
        self.hessian = self._hessian_products()
        self._flat: dict = {}
        self.gauss_newton = self._gauss_newton_products()
        self.notes = self._kink_notes()

    # --- helpers ---------------------------------------------------------------------------

    def _record(self, layer: int, label: str, lhs: sympy.Expr, rhs: sympy.Expr, of: tuple | None = None) -> sympy.Expr:
        """Record ``lhs = rhs`` (made readable); with ``of = (expr, moves)``, first the derivative it comes from."""
        names = (n, k, m) if str(lhs.base).startswith(("HV", "GV")) else (k, m, i)
        if of is not None:
            derivative = sympy.Subs(Derivative(shifted(*of), r), r, 0)
            self.steps.append(Step("%s, as the derivative along V" % label.split(":")[0], Eq(lhs, derivative,
                                                                                             evaluate=False), layer))
        rhs = self._defined(rhs, label, names)
        self.steps.append(Step(label, Eq(lhs, rhs, evaluate=False), layer))
        return rhs

    def _defined(self, expr: sympy.Expr, label: str, names: tuple) -> sympy.Expr:
        """``expr`` readable, with DiracDeltas (second derivatives at kinks) taken as 0 (see :attr:`notes`)."""
        if expr.has(Derivative, sympy.Subs):
            raise InputError("%s: SymPy cannot give the second derivative (%s remains); second-order products "
                             "need activations whose derivatives SymPy can differentiate again"
                             % (label, sympy.sstr(next(iter(expr.atoms(Derivative, sympy.Subs))))))
        expr = expr.xreplace({spike: sympy.S.Zero for spike in expr.atoms(DiracDelta)})
        return rename_bound(shortest(_absorb_normalizers(expr)), readable_index(*names))

    def _kink_notes(self) -> list[str]:
        """Where a second derivative does not exist: each activation's kinks, and the L1 penalty at w = 0."""
        notes = []
        for layer, activation in enumerate(self.network.activations, start=1):
            for kink in activation.kinks or ():
                jumps = "first derivative" if _first_derivative_jumps(activation, kink) else "second derivative"
                notes.append("layer %d (%s): no second derivative at z = %g, where the %s jumps; "
                             "the products take it as 0 there (elsewhere it is exact)"
                             % (layer, activation.name, kink, jumps))
        if self.network.l1:
            notes.append("L1 penalty mu|w|: no second derivative at w = 0; taken as 0 (elsewhere it is 0)")
        return notes

    def _moves(self, layer: int, kind: str = "R", weights_too: bool = True) -> dict:
        """What moves in layer ``layer``'s expressions: its inputs and parameters, its own Z and A."""
        moves = {preactivations(layer): moved(preactivations(layer)), activations(layer): moved(activations(layer))}
        if layer > 1:
            moves[activations(layer - 1)] = moved(activations(layer - 1))
        if weights_too:
            moves[weights(layer)] = direction("W%d" % layer)
            moves[biases(layer)] = direction("b%d" % layer)
        return moves

    # --- the passes ----------------------------------------------------------------------------

    def _forward(self, layer: int) -> None:
        Z, A = preactivations(layer), activations(layer)
        moves = {weights(layer): direction("W%d" % layer), biases(layer): direction("b%d" % layer)}
        if layer > 1:
            moves[activations(layer - 1)] = moved(activations(layer - 1))
        net = net_input(self.network, layer, n, j)
        rz = self._record(layer, "RZ%d = R{Z%d}: the net input moved along V" % (layer, layer),
                          moved(Z)[n, j], r_derivative(net, moves), of=(net, moves))
        self.forward.append((moved(Z)[n, j], rz))
        output = layer_output(self.network, layer, n, j)
        ra = r_derivative(output, {Z: moved(Z)})
        ra = self._record(layer, "RA%d = R{A%d}: through the activation" % (layer, layer), moved(A)[n, j],
                          _in_outputs(ra, self.network), of=(output, {Z: moved(Z)}))
        self.forward.append((moved(A)[n, j], ra))

    def without_activation_curvature(self, layer: int | None = None) -> Product:
        """H V with a hidden activation's second-derivative term dropped: a common hand-written bug.

        ``Rdelta_l`` of hidden layer ``layer`` (of every hidden layer, for
        ``None``) is ``R{delta_l}`` with Z_l and A_l held fixed, so the term
        ``g_l''(Z_l) RZ_l (W_{l+1}^T delta_{l+1})`` that moving them
        contributes is missing; the other deltas and the entries ``HV_*`` are
        those of :attr:`hessian`.  Derived by ``sympy.diff`` as they are; not
        recorded in :attr:`steps`.
        """
        if layer not in self._flat:
            rdeltas = dict(self.hessian.deltas)
            for hidden in range(1, self.network.depth):
                if layer is not None and hidden != layer:
                    continue
                moves = {weights(hidden + 1): direction("W%d" % (hidden + 1)),
                         deltas(hidden + 1): moved(deltas(hidden + 1))}
                rdeltas[hidden] = self._defined(r_derivative(self.derivation.delta(hidden), moves),
                                                "Rdelta%d without g''" % hidden, (k, m, i))
            self._flat[layer] = Product(rdeltas, self.hessian.entries)
        return self._flat[layer]

    def _hessian_products(self) -> Product:
        derivation, depth = self.derivation, self.network.depth
        rdeltas, entries = {}, {}
        for layer in range(depth, 0, -1):
            moves = self._moves(layer, weights_too=False)
            if layer < depth:
                moves[weights(layer + 1)] = direction("W%d" % (layer + 1))
                moves[deltas(layer + 1)] = moved(deltas(layer + 1))
            rdeltas[layer] = self._record(layer, "Rdelta%d = R{delta%d}" % (layer, layer), moved(deltas(layer))[n, j],
                                          r_derivative(derivation.delta(layer), moves),
                                          of=(derivation.delta(layer), moves))
            entries.update(self._products(layer, "H", {deltas(layer): moved(deltas(layer))},
                                          {} if layer == 1 else {activations(layer - 1): moved(activations(layer - 1))}))
        return Product(rdeltas, entries)

    def _gauss_newton_products(self) -> Product:
        derivation, network, depth = self.derivation, self.network, self.network.depth
        gdeltas, entries = {}, {}
        output, loss = network.activations[-1], network.loss
        if loss.output_backward is not None and output.name in (loss.requires_output or ()):
            top = r_derivative(derivation.delta(depth), {preactivations(depth): moved(preactivations(depth)),
                                                         activations(depth): moved(activations(depth))})
            label = "Gdelta%d: H_out RZ%d, the loss's curvature in Z%d" % (depth, depth, depth)
        else:
            upstream = collapse_deltas(sympy.diff(rename_bound(data_loss(network), fresh_index), activations(depth)[n, j]))
            curvature = r_derivative(upstream, {activations(depth): moved(activations(depth))})
            top = output_chain(network, curvature)
            label = "Gdelta%d: H_out RA%d, the loss's curvature in A%d, back through g%d'" % (depth, depth, depth, depth)
        gdeltas[depth] = self._record(depth, label, moved(deltas(depth), "G")[n, j], top)
        entries.update(self._products(depth, "G", {deltas(depth): moved(deltas(depth), "G")}, {}))
        for layer in range(depth - 1, 0, -1):
            value = r_derivative(derivation.delta(layer), {deltas(layer + 1): moved(deltas(layer + 1), "G")})
            gdeltas[layer] = self._record(layer, "Gdelta%d: back through W%d and g%d', first order"
                                          % (layer, layer + 1, layer), moved(deltas(layer), "G")[n, j], value)
            entries.update(self._products(layer, "G", {deltas(layer): moved(deltas(layer), "G")}, {}))
        return Product(gdeltas, entries)

    def _products(self, layer: int, kind: str, delta_moves: dict, input_moves: dict) -> dict:
        """``HV``/``GV`` entries of layer ``layer``'s parameters: R of each gradient, the deltas (and inputs) moved."""
        entries = {}
        for name in ("W%d" % layer, "b%d" % layer):
            if name not in self.derivation.parameters:
                continue
            moves = {**delta_moves, **input_moves}
            if name.startswith("W"):
                moves[weights(layer)] = direction(name)
            entry = product_entry(name, kind)
            what = "Hessian" if kind == "H" else "Gauss-Newton"
            gradient = self.derivation.gradient(name)
            entries[name] = self._record(layer, "%s: the %s-vector product in %s" % (entry.base, what, name), entry,
                                         r_derivative(gradient, moves), of=(gradient, moves))
        return entries

    # --- Hessian blocks ----------------------------------------------------------------------

    def hessian_block(self, first: str, second: str) -> sympy.Expr:
        """``d^2E / d first[j, i] d second[p, q]`` as an index expression (free j, i and p, q).

        The Hessian-vector product in ``first`` with V the unit direction of
        ``second[p, q]``: every R-quantity written out by its definition, then
        ``V_second[a, b] = [a = p][b = q]`` and every other direction 0, and the
        Kronecker deltas summed out.
        """
        for name in (first, second):
            self.derivation.check_name(name)
        others = {direction(name) for name in self.derivation.parameters if name != second}
        expr = _as_steps(self.hessian.entries[first])
        definitions = {target: _as_steps(value) for target, value in self.forward}
        definitions.update({moved(deltas(layer))[n, j]: _as_steps(value) for layer, value in self.hessian.deltas.items()})
        expr = _expand_moved(expr, definitions)
        target = direction(second)
        expr = expr.replace(lambda e: isinstance(e, Indexed) and e.base == target,
                            lambda e: Mul(*(KroneckerDelta(a, b) for a, b in zip(e.indices, (p, q)))))
        expr = expr.replace(lambda e: isinstance(e, Indexed) and e.base in others, lambda e: sympy.S.Zero)
        return rename_bound(_in_outputs(collapse_deltas(expr), self.network), readable_index(n, k, m))


def _expand_moved(expr: sympy.Expr, definitions: dict) -> sympy.Expr:
    """``expr`` with every R-quantity entry (RZ, RA, Rdelta) replaced by its definition, recursively."""
    templates = {target.base: (target.indices, value) for target, value in definitions.items()}
    for _ in range(4 * len(templates) + 1):
        entries = [e for e in expr.atoms(Indexed) if e.base in templates]
        if not entries:
            return expr
        replacements = {}
        for entry in entries:
            indices, value = templates[entry.base]
            replacements[entry] = rename_bound(value, fresh_index).xreplace(dict(zip(indices, entry.indices)))
        expr = expr.xreplace(replacements)
    raise RuntimeError("R-quantities refer to each other in a cycle")  # pragma: no cover


def _as_steps(expr: sympy.Expr) -> sympy.Expr:
    """Two-branch ``Piecewise((a, u > v), (b, True))`` written ``b + (a - b)*Heaviside(u - v, 0)``.

    The same function (``>=`` gives ``Heaviside(u - v, 1)``), but a product
    instead of a branch, so that summing a Kronecker delta out of it replaces
    the index in its argument as everywhere else (SymPy's delta summation
    folds a ``Piecewise`` out of the sum, leaving its condition behind).
    """
    def step(piecewise: sympy.Piecewise) -> sympy.Expr:
        if len(piecewise.args) != 2 or piecewise.args[1].cond is not sympy.true:
            return piecewise
        (first, condition), (other, _) = piecewise.args
        if isinstance(condition, (sympy.StrictGreaterThan, sympy.GreaterThan)):
            at_zero = 0 if isinstance(condition, sympy.StrictGreaterThan) else 1
            return other + (first - other) * sympy.Heaviside(condition.lhs - condition.rhs, at_zero)
        return piecewise
    return expr.replace(lambda e: isinstance(e, sympy.Piecewise), step)


def _in_outputs(expr: sympy.Expr, network) -> sympy.Expr:
    """``expr`` with every layer's forward value g_l(Z_l) written as A_l, softmax quotients included."""
    expr = _absorb_normalizers(expr)
    for layer, activation in enumerate(network.activations, start=1):
        if activation.elementwise:
            expr = back_substitute(expr, network, layer)
            continue
        a, b, c = (sympy.Wild(name, properties=[lambda e: isinstance(e, sympy.Symbol)]) for name in "abc")
        rest = sympy.Wild("rest")
        Z = preactivations(layer)
        quotient = rest * sympy.exp(Z[a, b]) / Sum(sympy.exp(Z[a, c]), (c, 0, size(layer) - 1))
        expr = expr.replace(quotient, rest * activations(layer)[a, b])
    return expr


def _absorb_normalizers(expr: sympy.Expr) -> sympy.Expr:
    """Move a softmax normaliser ``1/Sum(exp(Z[n, m']))`` into a sum over m of ``exp(Z[n, m]) * ...``.

    ``R{A}`` of a softmax comes out of ``sympy.diff`` as
    ``Sum(exp(Z[n, m]) RZ[n, m]) / Sum(exp(Z[n, m']))``; written as
    ``Sum(exp(Z[n, m]) / Sum(exp(Z[n, m'])) * RZ[n, m])`` its summand holds the
    softmax output ``A[n, m]``, which the forward pass has computed.
    """
    def absorb(product: Mul) -> sympy.Expr:
        normalizers = [f for f in product.args if f.is_Pow and f.exp.is_Integer and f.exp < 0 and isinstance(f.base, Sum)]
        for normalizer in normalizers:
            for total in (f for f in product.args if isinstance(f, Sum) and f.function.has(sympy.exp)):
                if normalizer.free_symbols & {limit[0] for limit in total.limits} or total.function.has(normalizer.base):
                    continue
                rest = [f for f in product.args if f is not normalizer and f is not total]
                inside = Sum(total.function / normalizer.base, *total.limits)
                return absorb(Mul(*rest, inside, normalizer.base ** (normalizer.exp + 1)))
        return product
    return expr.replace(lambda e: e.is_Mul and any(isinstance(f, Sum) for f in e.args), absorb)


@lru_cache(maxsize=64)
def second_order(derivation: SymbolicDerivation) -> SecondOrder:
    """The R-operator passes of ``derivation`` (cached per derivation)."""
    return SecondOrder(derivation)


__all__ = ["Product", "SecondOrder", "direction", "moved", "p", "parameter_entry", "product_entry", "q", "r",
           "r_derivative", "second_order", "shifted", "v"]
