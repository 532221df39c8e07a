"""The statements of a generated numpy module, as nodes that :mod:`derive.codegen.module_printer` prints.

The code generator (:mod:`derive.codegen.module`) never writes code text: it
builds these nodes, whose values are index-level SymPy expressions, and
:class:`~derive.codegen.module_printer.ModulePrinter` (the array printer of
:mod:`derive.codegen.array_printer` plus ``_print_Assign``, ``_print_Update``,
...) prints them, the way SymPy's
own ``sympy.codegen.ast`` nodes are printed.  A target is an entry such as
``A1[n, j]``: its indices are the axes of the array the statement computes.
Every decision is in the nodes (which memory an ``Assign`` writes into, which
ufunc an ``Apply`` calls); the printer only prints it.

* :class:`Assign` -- ``A1 = <value>``;
* :class:`Update` -- ``A1 *= <value>`` (numpy computes it in place);
* :class:`Apply` -- ``np.tanh(A1, out=A1)``, ``np.subtract(1, t0, out=t0)`` (a ufunc in place);
* :class:`Comment` -- ``# A1[n, j] = sigmoid(Z1[n, j])`` above a statement that takes several steps;
* :class:`Prologue` -- the common dtype, the inputs and parameters cast to it, the sizes read and checked
  (:data:`DIRECTIONS`: the leading axes of many directions, ``directions = V_W1.shape[:-2]``);
* :class:`SmallArrays` -- the statements as plain expressions, taken for a few entries per array;
* :class:`Return`, :class:`FunctionDef`, :class:`Module`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import sympy

from .printing import EQUAL_PRINTS_ALIKE, helpers  # noqa: F401 (nodes.EQUAL_PRINTS_ALIKE is read elsewhere)
from .shapes import shape_error
from .workspace import dense_from_products, workspace_buffer




def text(expr: sympy.Basic) -> str:
    """``sympy.sstr(expr)``, printed once per expression where SymPy's equality allows (comments and
    docstrings repeat the same equations in every function and at every width of a structure)."""
    return _text(expr) if EQUAL_PRINTS_ALIKE else sympy.sstr(expr)


@lru_cache(maxsize=4096)
def _text(expr: sympy.Basic) -> str:
    return sympy.sstr(expr)


def entries(expr: sympy.Basic) -> frozenset:
    """The array entries (``Indexed``) of ``expr``: the keys of :func:`entry_counts`."""
    return frozenset(entry_counts(expr))


@lru_cache(maxsize=8192)
def entry_counts(expr: sympy.Basic) -> Counter:
    """How many times ``expr`` holds each array entry (``Indexed``), found once per expression: the planner
    asks again and again, and the same values recur in every function of a module."""
    return Counter(node for node in sympy.preorder_traversal(expr) if isinstance(node, sympy.Indexed))


def module_helpers() -> dict:
    """Functions a generated module may carry, by the name its code calls them."""
    return {**helpers(), "workspace_buffer": workspace_buffer, "dense_from_products": dense_from_products,
            "shape_error": shape_error}

class DirectionAxes(sympy.Symbol):
    """The extent of the direction axis v in a shape: the leading axes of ``V``'s arrays, ``()`` for one direction.

    The prologue reads them from the first direction (``directions = V_W1.shape[:-2]``);
    a shape prints them spread: ``(*directions, N, 10)``.
    """


#: The direction axes' extent in the shapes of a product's arrays (``V_W1``: ``(DIRECTIONS, n_1, n_0)``).
DIRECTIONS = DirectionAxes("directions")

#: A statement's target: an entry ``A1[n, j]`` (an array) or a symbol (a scalar).
Target = sympy.Indexed | sympy.Symbol


def target_name(target: Target) -> str:
    """The name a statement assigns: ``A1`` for ``A1[n, j]``, ``E`` for ``E``."""
    return target.base.name if isinstance(target, sympy.Indexed) else target.name


@dataclass(frozen=True)
class Assign:
    """``target = value``: a new array, or written into existing memory.

    ``out`` is an array no longer read; ``kept`` (the target's shape) asks for
    the array kept in the caller's workspace (:mod:`derive.codegen.workspace`).
    Either is set only for a value that prints as a matrix product or
    ``einsum`` (:func:`~derive.codegen.contractions.contraction`), which then
    writes its result there.
    """

    target: Target
    value: sympy.Expr
    out: Target | None = None
    kept: tuple | None = None


@dataclass(frozen=True)
class Update:
    """``target <operator>= value`` in place; ``operator`` is one of ``+ - * /``."""

    target: Target
    operator: str
    value: sympy.Expr


@dataclass(frozen=True)
class Apply:
    """``np.<ufunc>(*arguments, out=target)``: a ufunc written into ``target``'s memory.

    ``arguments`` default to ``(target,)``: ``np.tanh(A1, out=A1)``.
    """

    ufunc: str
    target: Target
    arguments: tuple = ()
    helper: bool = False  # a derive/numeric.py helper taking ``out=`` instead of a numpy ufunc
    shift: sympy.Expr | None = None  # a helper's ``shift=``: it computes its function of ``target + shift``


@dataclass(frozen=True)
class Comment:
    """``# target = value``: the SymPy statement that the steps after it compute."""

    target: Target
    value: sympy.Expr


@dataclass(frozen=True)
class Prologue:
    """Cast the input arrays and the parameters to their common dtype; read the sizes and check the shapes.

    The common dtype is that of the inputs X and the parameters (integers count
    as float64, float32 stays float32, complex128 runs the complex step); the
    targets T are cast to it.  When every array already is a numpy array of
    one floating or complex dtype (the common case in a training loop), the
    cast is skipped by one test.  The sizes (``N``, and in a width-generic
    module ``n_0``, ``n_1``, ...) are read from the first array that has them
    (:attr:`shapes` order), and every shape is checked in one comparison;
    a mismatch calls :func:`~derive.codegen.shapes.shape_error`.

    Attributes:
        arrays: Argument names of data arrays (``("X", "T")``); the first sets the dtype.
        params: Parameter keys to read from the ``params`` dict (``("W1", "b1")``).
        directions: Keys to read from the direction ``V`` (a dict shaped like ``params``) as ``V_W1``, ...
        shapes: ``(local name, expected shape)`` of every array read, in the order sizes are read
            from them; an extent is a number or a size symbol (``N``, ``n_1``).
    """

    arrays: tuple[str, ...]
    params: tuple[str, ...]
    directions: tuple[str, ...] = ()
    shapes: tuple = ()


#: Most entries a computed array may have for :class:`SmallArrays` to take its branch.
SMALL_ENTRIES = 256


@dataclass(frozen=True)
class SmallArrays:
    """``if workspace is None and N * max(n_1, ..., n_L) <= 256:`` the function's statements, one numpy expression each.

    For a few entries per array, every numpy call costs its fixed overhead
    and nothing else, and a new array costs less than writing into an
    existing one (``out=``, ``*=``); so small arrays take the statements as
    printed, each a new array, and return.  Larger ones, or calls with a
    workspace, go on to the in-place statements after it.

    A product along many directions at once (``V`` with direction axes)
    always takes the in-place statements.

    Attributes:
        widths: The widths of the computed arrays (numbers or size symbols n_1..n_L).
        body: The statements (:class:`Assign`) and the :class:`Return`.
        directed: Whether the function reads directions (``V``) that may have direction axes.
    """

    widths: tuple
    body: tuple
    directed: bool = False

    @staticmethod
    def never(widths: tuple) -> bool:
        """Whether a width printed as a number already has more than :data:`SMALL_ENTRIES` entries per example."""
        return any(isinstance(width, int) and width > SMALL_ENTRIES for width in widths)


@dataclass(frozen=True)
class DenseFromProducts:
    """``return dense_from_products(product, params, X, T, keys, block_bytes, workspace)``: a matrix, by blocks of columns.

    The dense Hessian is its product with every unit direction, a block of
    them at a time, each block's arrays about ``block_bytes``
    (:func:`derive.codegen.workspace.dense_from_products`).
    """

    product: str
    keys: tuple[str, ...]
    block_bytes: int


@dataclass(frozen=True)
class Return:
    """``return value``, or ``return {key: value, ...}`` for a dict of targets."""

    value: Target | dict


@dataclass(frozen=True)
class FunctionDef:
    """``def name(arguments):`` with a docstring and a body of statements."""

    name: str
    arguments: tuple[str, ...]
    docstring: str
    body: tuple = field(default=())


@dataclass(frozen=True)
class Module:
    """A module: docstring, ``import numpy as np``, the helpers the printer used, the functions."""

    docstring: str
    functions: tuple[FunctionDef, ...]
