"""The private SymPy names backprop uses for speed, each with a public-API fallback.

:mod:`derive.concrete.instantiate` builds hundreds of thousands of products,
sums and function applications whose canonical form it already knows.
SymPy's public constructors would work that form out again, so three private
names skip the work; everything private that backprop touches is in this module:

* a product or sum whose arguments are already in canonical order is built by
  ``Mul._from_args`` / ``Add._from_args`` (public: ``Mul(*args, evaluate=False)``,
  which also goes through SymPy's cache);
* a function application that SymPy leaves unevaluated is built by
  ``Expr.__new__`` with the ``nargs`` of an earlier application of the same
  function (public: ``f(*args, evaluate=False)``, about 40 times slower: it
  works out ``nargs``, a ``FiniteSet``, every time);
* whether a function class orders its applications by their arguments alone is
  read from its ``_hashable_content``, which ``Basic.compare`` sorts by
  (public: assume it does not, so such products take SymPy's constructors).

:data:`FAST` takes each private name this SymPy has and the public way for any
it lacks; :data:`PUBLIC` never touches one.  ``tests/test_sympy_internals.py``
proves that both build the same expressions, so a SymPy release that removes a
name costs speed, not correctness.  Tested on SymPy 1.12, 1.13 and 1.14 (see
``pyproject.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cmp_to_key
from typing import Callable

import sympy
from sympy import Add, Basic, Expr, Mul

__all__ = ["FAST", "PUBLIC", "Constructors", "args_sortkey"]

#: SymPy's canonical order of arguments (what ``Mul`` and ``Add`` sort by), from the public ``Basic.compare``.
args_sortkey = cmp_to_key(Basic.compare)


@dataclass(frozen=True)
class Constructors:
    """How to build expressions whose canonical form is known (see the module docstring).

    Attributes:
        mul_in_order: ``mul_in_order(factors, True)``: the commutative product of
            ``factors``, given in canonical order, none of them combining.
        add_in_order: The same for a sum of ``terms``.
        unevaluated_like: ``unevaluated_like(sample, args)``: ``type(sample)(*args)``
            left unevaluated, like ``sample`` (an unevaluated application).
        compares_by_args: Whether ``Basic.compare`` orders two applications of a
            function class by their arguments alone.
    """

    mul_in_order: Callable
    add_in_order: Callable
    unevaluated_like: Callable
    compares_by_args: Callable[[type], bool]


def _public_mul(factors, is_commutative=True):
    return Mul(*factors, evaluate=False)


def _public_add(terms, is_commutative=True):
    return Add(*terms, evaluate=False)


def _public_unevaluated_like(sample: sympy.Function, args) -> sympy.Function:
    return type(sample)(*args, evaluate=False)


def _public_compares_by_args(function: type) -> bool:
    return False


PUBLIC = Constructors(_public_mul, _public_add, _public_unevaluated_like, _public_compares_by_args)


def _fast_unevaluated_like(sample: sympy.Function, args) -> sympy.Function:
    """``Application.__new__`` with ``evaluate=False`` builds from the args and attaches ``nargs``, same per class."""
    value = Expr.__new__(type(sample), *args)
    value.nargs = sample.nargs
    return value


#: ``_hashable_content`` implementations that are just the arguments (None where SymPy has no such name).
_ARGS_ONLY = tuple(getattr(cls, "_hashable_content", None) for cls in (Basic, Expr))


def _fast_compares_by_args(function: type) -> bool:
    return getattr(function, "_hashable_content", None) in _ARGS_ONLY


def _fast() -> Constructors:
    """The private fast path where this SymPy has it, the public way elsewhere."""
    has_from_args = hasattr(Mul, "_from_args") and hasattr(Add, "_from_args")
    return Constructors(
        Mul._from_args if has_from_args else _public_mul,
        Add._from_args if has_from_args else _public_add,
        _fast_unevaluated_like if hasattr(sympy.sign(sympy.Symbol("x")), "nargs") else _public_unevaluated_like,
        _fast_compares_by_args if None not in _ARGS_ONLY else _public_compares_by_args,
    )


FAST = _fast()
