"""Proof against brute force: every scalar partial of the derivation equals sympy.diff of the expanded loss.

The oracle is built here, independently of derive's derivation: the loss is
written out for concrete sizes with plain SymPy symbols (x_n_i, t_n_k,
w1_j_i, b1_j), using only the registries' SymPy *definitions* of g(z) and
l(o, t) (never a derivative), and differentiated with ``sympy.diff`` once per
parameter.  The derivation's partial is instantiated at the same sizes and
fully expanded (``expand=True``), its Indexed entries renamed to the same
plain symbols.

Equality is shown exactly, at a generic point: every function application
(sigmoid(...), exp(...), Piecewise(...), Abs(...)) is replaced, innermost
first, by a symbol that stands for it (the same application gets the same
symbol on both sides), and then every symbol by a random rational.  Both
sides become exact rationals and must be equal.  Equality as functions of
independent atoms implies equality of the derivatives (the converse trick of
Schwartz-Zippel makes a false pass improbable), and piecewise activations
need no care about kinks.  A few small networks are also checked with
``simplify(difference) == 0``.

Every registered activation meets every compatible loss (plus a custom
expression activation and leaky_relu(0.2)) in two networks; depth (1 to 3,
widths up to 3), bias, L2/L1 decay, reduction and batch vary across the
cases so that each option is covered (a full cartesian product would take
many minutes and find nothing the rotation does not).
"""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy
from sympy import Rational

from derive import ACTIVATIONS, LOSSES, Network, derive
from derive.model.functions import normal_cdf
from derive.symbolic.symbols import T, X, biases, weights

pytestmark = pytest.mark.slow  # brute-force proofs: expensive, run by CI with the rest

EXTRA_ACTIVATIONS = ("x/(1+abs(x))", "leaky_relu(0.2)")
SIZES_BY_DEPTH = {1: (3, 2), 2: (3, 3, 2), 3: (2, 3, 2, 2)}


def _cases():
    """Two networks per (activation, compatible loss): one of depth 1 (or 2), one of depth 3.

    Bias, decay, reduction and batch rotate with the case number so each is covered.
    """
    cases = []
    for activation in [*ACTIVATIONS, *EXTRA_ACTIVATIONS]:
        for loss_name, loss in LOSSES.items():
            required = loss.requires_output
            if activation in ACTIVATIONS and ACTIVATIONS[activation].output_only:
                if required is not None and activation not in required:
                    continue
                hidden, output = "tanh", activation
            else:
                hidden, output = activation, (required[0] if required else activation)
            for variant in (0, 1):
                number = len(cases)
                depth = 3 if variant else (1 if hidden == output else 2)
                options = dict(sizes=SIZES_BY_DEPTH[depth], activation=[hidden] * (depth - 1) + [output],
                               loss=loss_name, bias=number % 2 == 0, weight_decay=(0.0, 0.25, 0.0, 0.5)[number % 4],
                               l1=(0.0, 0.0, 0.125, 0.5)[number % 4], reduction=("sum", "mean")[number // 2 % 2])
                batch = 2 if number % 5 == 4 else 1
                cases.append(pytest.param(options, batch, id="%s-%s-depth%d-%d" % (activation, loss_name, depth, variant)))
    return cases


def oracle_loss(network: Network, batch: int):
    """The loss written out with plain symbols; returns (E, {Indexed entry: plain symbol})."""
    sizes, rename = network.sizes, {}

    def plain(entry, name):
        rename[entry] = symbol = sympy.Symbol(name, real=True)
        return symbol

    w = {l: [[plain(weights(l)[j, i], "w%d_%d_%d" % (l, j, i)) for i in range(sizes[l - 1])] for j in range(sizes[l])]
         for l in range(1, network.depth + 1)}
    b = {l: [plain(biases(l)[j], "b%d_%d" % (l, j)) for j in range(sizes[l])] for l in range(1, network.depth + 1)}
    total = 0
    for n in range(batch):
        a = [plain(X[n, i], "x_%d_%d" % (n, i)) for i in range(sizes[0])]
        for l, activation in enumerate(network.activations, start=1):
            z = [sum(w[l][j][i] * a[i] for i in range(sizes[l - 1])) + (b[l][j] if network.bias else 0)
                 for j in range(sizes[l])]
            if activation.elementwise:
                a = [activation.sympy(value) for value in z]
            else:  # softmax, from its definition
                a = [sympy.exp(value) / sum(sympy.exp(other) for other in z) for value in z]
        targets = [plain(T[n, k], "t_%d_%d" % (n, k)) for k in range(sizes[-1])]
        total += sum(network.loss.sympy(a[k], targets[k]) for k in range(sizes[-1]))
    if network.loss.averages_outputs:  # mse: the mean over the output units
        total = total / sizes[-1]
    if network.reduction == "mean":
        total = total / batch
    l2, l1 = Rational(repr(network.weight_decay)), Rational(repr(network.l1))
    for l in w:
        total += sum(l2 / 2 * v**2 + l1 * sympy.Abs(v) for row in w[l] for v in row)
    return total, rename


def oracle_symbol(name: str, layer: int, index: tuple) -> str:
    return ("w%d_%d_%d" if name.startswith("W") else "b%d_%d") % ((layer,) + index)


def freeze(expr: sympy.Expr, atoms: dict) -> sympy.Expr:
    """Replace each function application, innermost first, by the symbol that stands for it."""
    def stand_in(application):
        if isinstance(application, sympy.exp):  # exp(-u) and exp(2*u) are powers of the one atom exp(u)
            coefficient, rest = application.args[0].as_content_primitive()
            if rest.could_extract_minus_sign():
                coefficient, rest = -coefficient, -rest
            if coefficient.is_Integer and coefficient != 1:
                return stand_in(sympy.exp(rest)) ** coefficient
        if application not in atoms:
            atoms[application] = sympy.Symbol("atom%d" % len(atoms))
        return atoms[application]
    return expr.replace(lambda e: isinstance(e, sympy.Function), stand_in)


def equal_at_generic_point(ours: sympy.Expr, oracle: sympy.Expr, rng: random.Random, atoms: dict) -> bool:
    """Both sides, atoms frozen, at a random rational point (redrawn if a denominator vanishes there)."""
    if _has_irrational_constant(ours) or _has_irrational_constant(oracle):
        return _equal_numerically(ours, oracle, rng)
    ours, oracle = freeze(ours, atoms), freeze(oracle, atoms)
    symbols = sorted(ours.free_symbols | oracle.free_symbols, key=str)
    for _ in range(5):
        point = {s: Rational(rng.randint(-97, 97), rng.randint(1, 89)) for s in symbols}
        left, right = ours.xreplace(point), oracle.xreplace(point)
        if left.is_Rational and right.is_Rational:
            return left == right
    raise AssertionError("no point without a vanishing denominator: %s, %s" % (left, right))


def _has_irrational_constant(expr: sympy.Expr) -> bool:
    return bool(expr.atoms(sympy.NumberSymbol)) or any(p.is_number and not p.is_Rational for p in expr.atoms(sympy.Pow))


def _equal_numerically(ours: sympy.Expr, oracle: sympy.Expr, rng: random.Random) -> bool:
    """Both sides at a random rational point, evaluated with 60 digits (mpmath, shared subexpressions once)."""
    # Phi (the exact GELU's), written out in erf, which mpmath evaluates
    ours, oracle = (side.replace(normal_cdf, lambda z: (1 + sympy.erf(z / sympy.sqrt(2))) / 2) for side in (ours, oracle))
    symbols = sorted(ours.free_symbols | oracle.free_symbols, key=str)
    evaluate = sympy.lambdify(symbols, [ours, oracle], modules="mpmath", cse=True)
    with mpmath.workdps(60):
        point = [mpmath.mpf(rng.randint(-97, 97)) / rng.randint(1, 89) for _ in symbols]
        left, right = evaluate(*point)
        return bool(abs(left - right) <= mpmath.mpf("1e-50") * max(abs(left), abs(right), 1))


@pytest.mark.parametrize("options, batch", _cases())
def test_every_partial_equals_diff_of_expanded_loss(options, batch):
    network = Network(**options)
    loss, rename = oracle_loss(network, batch)
    partials = derive(network).partials(batch=batch)
    rng, atoms = random.Random(hash(repr(options)) % 1000), {}
    for name, *index in partials:
        symbol = sympy.Symbol(oracle_symbol(name, int(name[1:]), tuple(index)), real=True)
        oracle = sympy.diff(loss, symbol)
        ours = partials.expanded(partials[(name, *index)]).xreplace(rename)
        assert not ours.has(sympy.Indexed), ours
        assert equal_at_generic_point(ours, oracle, rng, atoms), (name, index, ours, oracle)


def test_cases_cover_every_activation_loss_and_option():
    options = [case.values[0] for case in _cases()]
    used_activations = {name for o in options for name in o["activation"]}
    assert set(ACTIVATIONS) | set(EXTRA_ACTIVATIONS) <= used_activations
    assert {o["loss"] for o in options} == set(LOSSES)
    assert {o["bias"] for o in options} == {True, False}
    assert {len(o["sizes"]) - 1 for o in options} == {1, 2, 3}
    assert any(o["weight_decay"] and o["l1"] for o in options) and any(not o["weight_decay"] for o in options)
    assert {o["reduction"] for o in options} == {"sum", "mean"}
    assert {case.values[1] for case in _cases()} == {1, 2}


@pytest.mark.parametrize("options", [
    dict(sizes=(2, 2, 1), activation="sigmoid", loss="sse"),
    dict(sizes=(2, 2, 1), activation="tanh", loss="sse", weight_decay=0.5, bias=False),
    dict(sizes=(2, 3), activation="softmax", loss="cross_entropy"),
    dict(sizes=(2, 1), activation="sigmoid", loss="binary_cross_entropy", reduction="mean"),
], ids=["sigmoid-sse", "tanh-sse-decay", "softmax-ce", "sigmoid-bce-mean"])
def test_small_networks_simplify_to_the_oracle(options):
    network = Network(**options)
    loss, rename = oracle_loss(network, 1)
    partials = derive(network).partials()
    for name, *index in partials:
        symbol = sympy.Symbol(oracle_symbol(name, int(name[1:]), tuple(index)), real=True)
        ours = partials.expanded(partials[(name, *index)]).xreplace(rename)
        assert sympy.simplify(ours - sympy.diff(loss, symbol)) == 0, (name, index)


def test_generic_point_comparison_detects_a_wrong_derivative():
    network = Network((2, 2, 1), activation="sigmoid", loss="sse")
    loss, rename = oracle_loss(network, 1)
    partials = derive(network).partials()
    ours = partials.expanded(partials[("W1", 0, 1)]).xreplace(rename)
    wrong_variable = sympy.diff(loss, sympy.Symbol("w1_0_0", real=True))
    assert not equal_at_generic_point(ours, wrong_variable, random.Random(1), {})
    assert not equal_at_generic_point(ours, 2 * sympy.diff(loss, sympy.Symbol("w1_0_1", real=True)),
                                      random.Random(1), {})
