"""Instantiate index-level expressions at concrete sizes: fast, with every sum written out term by term.

The derivation is written once with symbolic sizes (``n_0..n_L``, ``N``) and
free indices (``j``, ``i``).  A scalar partial such as dE/dW1[2, 0] for a
2-3-1 network and one example is that expression with the sizes and indices
made numbers and its sums written out::

    Sum(delta1[n, j]*X[n, i], (n, 0, N - 1))  ->  X[0, 0]*delta1[0, 2]

``expr.subs(...).doit()`` takes about 4 ms per partial; a 784-100-10 network has
79,510 partials.  :class:`Instantiator` compiles an expression once into a
tree of small Python closures, one per node, and then builds each instance
directly:

* an ``Indexed`` entry is looked up in a cache, so ``X[0, 3]`` is created once;
* a ``Sum`` becomes a loop over its (now concrete) range;
* products and sums are built in SymPy's canonical argument order without
  running ``Mul``/``Add`` flattening again, when that order provably does not
  depend on the index values, and a function of an entry that SymPy leaves
  unevaluated is built unevaluated; everything else goes through the normal
  constructors.  The fast constructors come from :mod:`derive.sympy_internals`,
  the one module that touches SymPy's private names (with a public fallback).

Why the order can be known in advance: ``Basic.compare`` sorts by class, then
by the length of the hashable content, then argument by argument, and an
entry ``W1[j, i]`` holds its array before its indices.  So between factors of
different *signature* (class and array: ``(Indexed, W1)``, ``(sign, W1)``; a
number is its own signature) the order never depends on the indices.  A node
whose children have fixed, distinct signatures is *static*: its canonical
order is worked out once, at compile time, on a sample instance.  Other nodes
learn their order on the first instance and reuse it while the signatures
stay distinct (:meth:`Instantiator.mul`, :meth:`Instantiator.add`).

The result is identical (``==``, same ``args``) to substituting the values
and writing each sum out term by term, which for the derivation's gradients
and definitions is what ``subs`` + ``doit`` gives (the tests check both;
``Sum.doit`` would also pull index-free factors out of a sum, which those
summands do not have).  All symbols of the derivation are commutative, which
the fast constructors assume.
"""

from __future__ import annotations

import operator
from typing import Callable, Optional

import sympy
from sympy import Add, Indexed, Integer, Mul, S, Sum

from derive.sympy_internals import FAST, Constructors, args_sortkey

#: A compiled expression: maps index values ({j: 2, i: 0}) to the instance.
Compiled = Callable[[dict], sympy.Expr]
#: A compiled node and, when the node is static, a sample instance of it.
Node = tuple[Compiled, Optional[sympy.Expr]]


class Instantiator:
    """Builds concrete instances of index-level expressions for fixed sizes.

    Args:
        values: The size symbols and their values (``{n_0: 784, n_1: 100, N: 1}``).
        constructors: How to build products, sums and applications in known
            canonical form (:mod:`derive.sympy_internals`; its public-API
            :data:`~derive.sympy_internals.PUBLIC` builds the same, slower).
    """

    def __init__(self, values: dict[sympy.Symbol, int], constructors: Constructors = FAST):
        self.values = {symbol: Integer(value) for symbol, value in values.items()}
        self._mul_in_order = constructors.mul_in_order
        self._add_in_order = constructors.add_in_order
        self._unevaluated_like = constructors.unevaluated_like
        self._compares_by_args = constructors.compares_by_args
        self._entries: dict[tuple, Indexed] = {}
        self._orders: dict[tuple, tuple[int, ...]] = {}
        self._unevaluated: dict[tuple, sympy.Expr] = {}
        self._integers = [Integer(value) for value in range(max([1, *values.values()]) + 1)]

    def entry(self, base: sympy.IndexedBase, indices: tuple[int, ...]) -> Indexed:
        """``base[indices]``, created once per distinct entry."""
        key = (base, indices)
        found = self._entries.get(key)
        if found is None:
            found = self._entries[key] = base[tuple(self._integer(value) for value in indices)]
        return found

    def _integer(self, value: int) -> Integer:
        return self._integers[value] if 0 <= value < len(self._integers) else Integer(value)

    def compile(self, expr: sympy.Expr, indices: tuple[sympy.Symbol, ...]) -> Compiled:
        """Compile ``expr`` with free ``indices`` into a function of their values.

        Args:
            expr: An index-level expression in the size symbols and ``indices``.
            indices: The free index symbols whose values each call supplies.

        Returns:
            ``f(env)`` with ``env`` a dict from each index symbol to an ``int``.
        """
        return self._compile(expr, frozenset(indices))[0]

    def _compile(self, expr: sympy.Expr, scope: frozenset) -> Node:
        if not (expr.free_symbols & scope):
            constant = expr.xreplace(self.values)
            return (lambda env: constant), constant
        if isinstance(expr, sympy.Symbol):
            return (lambda env: self._integer(env[expr])), None
        if isinstance(expr, Indexed):
            return self._compile_entry(expr, scope)
        if isinstance(expr, Sum):
            return self._compile_sum(expr.function, expr.limits, scope)
        children = [self._compile(arg, scope) for arg in expr.args]
        parts = [part for part, _ in children]
        samples = [sample for _, sample in children]
        if isinstance(expr, Mul):
            return self._static_mul(parts, samples) or ((lambda env: self.mul([p(env) for p in parts])), None)
        if isinstance(expr, Add):
            return self._static_add(parts, samples) or ((lambda env: self.add([p(env) for p in parts])), None)
        func = expr.func
        return (self._static_apply(func, parts, samples)
                or ((lambda env: self.apply(func, [p(env) for p in parts])), None))

    def _compile_entry(self, expr: Indexed, scope: frozenset) -> Node:
        base, sample = expr.base, expr.base[(0,) * len(expr.indices)]
        if all(isinstance(index, sympy.Symbol) and index in scope for index in expr.indices):
            values = operator.itemgetter(*expr.indices)
            if len(expr.indices) == 1:
                return (lambda env: self.entry(base, (values(env),))), sample
            return (lambda env: self.entry(base, values(env))), sample
        getters = [self._compile(index, scope)[0] for index in expr.indices]
        return (lambda env: self.entry(base, tuple(int(get(env)) for get in getters))), sample

    def _compile_sum(self, function: sympy.Expr, limits: tuple, scope: frozenset) -> Node:
        """A sum written out over its concrete range; of several limits the last is outermost."""
        (index, low, high), inner_limits = limits[-1], limits[:-1]
        if inner_limits:
            body, sample = self._compile_sum(function, inner_limits, scope | {index})
        else:
            body, sample = self._compile(function, scope | {index})
        values = range(int(low.xreplace(self.values)), int(high.xreplace(self.values)) + 1)
        if len(values) == 1:  # one term (one example): the term itself
            only = values[0]

            def single(env):
                env[index] = only
                term = body(env)
                del env[index]
                return term
            return single, sample

        def written_out(env):
            terms = []
            for value in values:
                env[index] = value
                terms.append(body(env))
            del env[index]
            return self.add(terms) if terms else S.Zero
        return written_out, None

    # --- static nodes: canonical order fixed at compile time -------------------------

    def _static_mul(self, parts: list, samples: list) -> Node | None:
        if None in samples or not self._fast_mul_ok(samples):
            return None
        order = sorted(range(len(samples)), key=lambda p: (not samples[p].is_Number, args_sortkey(samples[p])))
        ordered, build = [parts[p] for p in order], self._mul_in_order
        return ((lambda env: build([part(env) for part in ordered], True)),
                build([samples[p] for p in order], True))

    def _static_add(self, parts: list, samples: list) -> Node | None:
        if None in samples or not self._fast_add_ok(samples):
            return None
        order = sorted(range(len(samples)), key=lambda p: args_sortkey(samples[p]))
        ordered, build = [parts[p] for p in order], self._add_in_order
        return ((lambda env: build([part(env) for part in ordered], True)),
                build([samples[p] for p in order], True))

    def _static_apply(self, func, parts: list, samples: list) -> Node | None:
        if None in samples or not self._distinct_entries(samples):
            return None
        value = func(*samples)
        if not (isinstance(value, sympy.Function) and value.func == func and value.args == tuple(samples)):
            return None
        build = self._unevaluated_like
        return (lambda env: build(value, [part(env) for part in parts])), value

    # --- dynamic nodes: order learnt on the first instance of each signature ---------

    def mul(self, factors: list[sympy.Expr]) -> sympy.Expr:
        """``Mul(*factors)``, fast for a rational times entries (or functions of entries) of distinct arrays."""
        if len(factors) == 1:
            return factors[0]
        if not self._fast_mul_ok(factors):
            return Mul(*factors)
        numbers = [f for f in factors if f.is_Number]
        others = [f for f in factors if not f.is_Number]
        order = self._order(tuple(map(self._signature, others)), others)
        return self._mul_in_order(numbers + [others[position] for position in order], True)

    def add(self, terms: list[sympy.Expr]) -> sympy.Expr:
        """``Add(*terms)``, fast when no two terms combine and their order is fixed by signature."""
        if len(terms) == 1:
            return terms[0]
        if self._fast_add_ok(terms):
            return self._add_in_order([terms[p] for p in self._order(tuple(map(self._term_signature, terms)), terms)],
                                      True)
        if any(term.is_Number or term.is_Add for term in terms) or \
                len({term.as_coeff_Mul()[1] for term in terms}) != len(terms):
            return Add(*terms)
        return self._add_in_order(sorted(terms, key=args_sortkey), True)  # the order needs the indices

    def _order(self, signatures: tuple, items: list) -> tuple[int, ...]:
        """The canonical permutation of ``items``, remembered by their (distinct) signatures."""
        order = self._orders.get(signatures)
        if order is None:
            order = self._orders[signatures] = tuple(sorted(range(len(items)), key=lambda p: args_sortkey(items[p])))
        return order

    def apply(self, func, args: list) -> sympy.Expr:
        """``func(*args)``; a function of entries that stayed unevaluated once is built unevaluated after."""
        if not self._distinct_entries(args):
            return func(*args)
        key = (func, tuple(map(self._signature, args)))
        sample = self._unevaluated.get(key)
        if sample is not None:
            return self._unevaluated_like(sample, args)
        value = func(*args)
        if isinstance(value, sympy.Function) and value.func == func and value.args == tuple(args):
            self._unevaluated[key] = value
        return value

    # --- signatures: what fixes the canonical order before the index values are known ---

    def _signature(self, expr: sympy.Expr):
        """What decides where ``expr`` sorts among factors of other signatures, or ``None`` (see the module)."""
        if type(expr) is Indexed:
            return (Indexed, expr.base)
        if expr.is_Number:
            return expr
        if (isinstance(expr, sympy.Function) and len(expr.args) == 1 and type(expr.args[0]) is Indexed
                and self._compares_by_args(type(expr))
                and expr.as_base_exp()[1] is S.One):  # exp(x) is a power of E and combines in products
            return (type(expr), expr.args[0].base)
        return None

    def _term_signature(self, term: sympy.Expr):
        """What decides where a term sorts in a sum: class, length, and the signature of its first factor."""
        if isinstance(term, Mul):
            first = self._signature(term.args[0])
            return None if first is None else (Mul, len(term.args), first)
        return self._signature(term)

    def _monomial_signature(self, term: sympy.Expr):
        """The signatures of a term's non-numeric factors: terms whose monomials differ here cannot combine."""
        signatures = tuple(self._signature(f) for f in Mul.make_args(term) if not f.is_Number)
        return None if None in signatures else signatures

    def _fast_mul_ok(self, factors: list) -> bool:
        """At most one rational (not 0 or 1) and factors of distinct signatures: nothing combines."""
        numbers = [f for f in factors if f.is_Number]
        if len(numbers) > 1 or (numbers and (not numbers[0].is_Rational or numbers[0] is S.Zero or numbers[0] is S.One)):
            return False
        signatures = [self._signature(f) for f in factors if not f.is_Number]
        return None not in signatures and len(set(signatures)) == len(signatures)

    def _fast_add_ok(self, terms: list) -> bool:
        """No number or sum among the terms, no two that combine, and an order fixed by signature."""
        if any(term.is_Number or term.is_Add for term in terms):
            return False
        monomials = [self._monomial_signature(term) for term in terms]
        signatures = [self._term_signature(term) for term in terms]
        return (None not in monomials and len(set(monomials)) == len(terms)
                and None not in signatures and len(set(signatures)) == len(terms))

    def _distinct_entries(self, args: list) -> bool:
        """Arguments all with signatures, entries of distinct arrays (``KroneckerDelta(W[0, 1], W[0, 2])`` is not)."""
        signatures = [self._signature(arg) for arg in args]
        entries = [s for s in signatures if isinstance(s, tuple)]
        return None not in signatures and len(set(entries)) == len(entries)
