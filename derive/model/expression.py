"""Parse a user's activation expression (``"x/(1+abs(x))"``) into SymPy, safely.

User text never reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``: those
run arbitrary Python (``__import__('os').system(...)``).  Instead the text is
parsed by :func:`ast.parse` into a syntax tree, and :func:`parse_activation`
walks that tree accepting only a whitelist:

* numbers (finite int or float literals), the variable ``x``, the constants
  ``pi`` and ``e``;
* ``+ - * / **`` and unary ``+ -``;
* calls, by plain name and with positional arguments only, to SymPy's functions
  in :data:`MATH_FUNCTIONS` (``exp``, ``log``, ``tanh``, ``abs``, ``max``, ...) and
  to every registered elementwise activation by its name (``sigmoid(x)``,
  ``leaky_relu(x, 0.1)`` with the parameter as an optional second argument).

Anything else (attributes, subscripts, keywords, lambdas, comprehensions,
strings, unknown names) raises :class:`~derive.errors.InputError` naming what
was found and listing what is accepted.  So does a result that is not a finite
expression in ``x`` (``1/0``, ``log(0)``, a constant).

:func:`breakpoints` reads an expression the other way: the arguments whose
zeros are its kinks (``abs(x - 1)`` has ``x - 1``), from which the activation
record derives where finite differences must not straddle.
"""

from __future__ import annotations

import ast

import sympy

from derive.errors import InputError, choices

from .functions import normal_cdf
from .registry import ACTIVATIONS

#: The variable x of an activation's expression: real, so that abs(x)' = sign(x).
VARIABLE = sympy.Symbol("x", real=True)

#: SymPy's own functions an expression may call, with how many arguments each takes.
MATH_FUNCTIONS = {
    "exp": (sympy.exp, 1), "log": (sympy.log, 1), "sqrt": (sympy.sqrt, 1),
    "abs": (sympy.Abs, 1), "sign": (sympy.sign, 1),
    "sin": (sympy.sin, 1), "cos": (sympy.cos, 1), "tan": (sympy.tan, 1), "atan": (sympy.atan, 1),
    "sinh": (sympy.sinh, 1), "cosh": (sympy.cosh, 1), "tanh": (sympy.tanh, 1),
    "asinh": (sympy.asinh, 1),
    "max": (sympy.Max, 2), "min": (sympy.Min, 2),
}
CONSTANTS = {"x": VARIABLE, "pi": sympy.pi, "e": sympy.E}
#: SymPy nodes that switch between smooth pieces: where their arguments cross zero, the derivative may jump.
SWITCHES = (sympy.Abs, sympy.sign, sympy.Heaviside)
#: Nodes besides SymPy functions that printed numpy code evaluates: ``Heaviside``/``Piecewise`` come from derivatives,
#: ``normal_cdf`` (Phi) from the exact GELU, a record's expression without being a record's own function.
_PRINTABLE_EXTRA = (sympy.Heaviside, sympy.Piecewise, normal_cdf)


def callable_activations(registry: dict = ACTIVATIONS) -> dict:
    """The registered elementwise activations an expression may call, by name."""
    return {name: record for name, record in registry.items()
            if record.elementwise and name.isidentifier() and name not in MATH_FUNCTIONS}


def function_classes_of(registry: dict = ACTIVATIONS) -> set[str]:
    """Names of the SymPy function classes numpy code can evaluate: the math functions, ours, Heaviside, Piecewise."""
    classes = {function.__name__ for function, _ in MATH_FUNCTIONS.values()}
    classes |= {record.function.__name__ for record in registry.values() if record.function is not None}
    return classes | {cls.__name__ for cls in _PRINTABLE_EXTRA}


def breakpoints(expr: sympy.Expr, registry: dict = ACTIVATIONS) -> list[sympy.Expr]:
    """Expressions whose zeros are the kinks of ``expr``: where a non-smooth part switches.

    ``Abs``, ``sign`` and ``Heaviside`` switch where their argument is 0,
    ``Max``/``Min`` where two arguments are equal, a ``Piecewise`` where a
    condition's sides are equal, and one of our functions with kinks
    (``relu(u)``, from its record) where its argument reaches one of them.
    """
    kinked = {record.function: record.kinks for record in registry.values()
              if record.function is not None and record.kinks}
    found: list[sympy.Expr] = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, SWITCHES):
            found.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            found += [a - b for position, a in enumerate(node.args) for b in node.args[position + 1:]]
        elif isinstance(node, sympy.Piecewise):
            found += [r.lhs - r.rhs for branch in node.args for r in branch.cond.atoms(sympy.core.relational.Relational)]
        elif type(node) in kinked:
            found += [node.args[0] - kink for kink in kinked[type(node)]]
    return list(dict.fromkeys(found))

_OPERATORS = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b,
}
MAX_LENGTH = 200
#: Text is refused before parsing if it has a character outside printable ASCII,
#: a ``#`` (a comment, which the parser would ignore) or a backslash: the text
#: becomes the activation's name and appears in reports and generated
#: docstrings, so everything in it must be part of the parsed formula.
REFUSED_CHARACTERS = frozenset("#\\")
MAX_CONSTANT_EXPONENT = 64
#: The deepest SymPy tree and the most operations an expression may have: a tower of 24 powers (``x**x**...``, 70
#: characters) took 13 s to derive for a 2-2-1 network, 32 of them over a minute; 16 take about 3 s.
MAX_DEPTH = 16
MAX_OPERATIONS = 64
_INVALID = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def parse_activation(text: str) -> sympy.Expr:
    """Parse an activation expression in ``x`` into a SymPy expression.

    Args:
        text: The expression, e.g. ``"x/(1+abs(x))"`` or ``"x*sigmoid(x)"``.

    Returns:
        The SymPy expression, in the real symbol :data:`VARIABLE`.

    Raises:
        InputError: The text is not an expression in ``x`` built from the
            whitelist above; the message says what was found.
    """
    if not isinstance(text, str):
        raise InputError("activation expression must be a string, got %s" % type(text).__name__)
    if len(text) > MAX_LENGTH:
        raise InputError("activation expression is %d characters long; at most %d are accepted" % (len(text), MAX_LENGTH))
    stray = sorted(c for c in set(text) if c in REFUSED_CHARACTERS or not (" " <= c <= "~"))
    if stray:
        raise InputError("activation expression %r: the character %r is not accepted; write the formula on one "
                         "line in plain ASCII, without comments" % (text, stray[0]))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise InputError("activation expression %r is not a valid formula (%s); write one in x such as 'x/(1+abs(x))'" % (text, reason)) from None
    try:
        expr = _Walker(text).visit(tree.body)
    except RecursionError:
        raise InputError("activation expression %r is nested too deeply" % text) from None
    if not isinstance(expr, sympy.Expr) or any(expr.has(bad) for bad in _INVALID):
        raise InputError("activation expression %r is not finite (division by zero or log of zero?)" % text)
    if not expr.has(VARIABLE):
        raise InputError("activation expression %r does not use x; an activation is a function of x" % text)
    depth, operations = _depth(expr), sympy.count_ops(expr)
    if depth > MAX_DEPTH or operations > MAX_OPERATIONS:
        what = ("nests %d levels deep; at most %d are accepted" % (depth, MAX_DEPTH) if depth > MAX_DEPTH else
                "has %d operations; at most %d are accepted" % (operations, MAX_OPERATIONS))
        raise InputError("activation expression %r %s (its derivatives would take minutes to derive and print); "
                         "write a shorter formula" % (text, what))
    return expr


def _depth(expr: sympy.Expr) -> int:
    """The depth of ``expr``'s tree (``x`` is 1, ``sin(x)`` 2)."""
    return 1 + max((_depth(argument) for argument in expr.args), default=0)


class _Walker:
    """Turns a whitelisted Python syntax tree into SymPy, refusing everything else."""

    def __init__(self, text: str):
        self.text = text

    def refuse(self, what: str):
        raise InputError(
            "activation expression %r: %s is not accepted; use numbers, x, pi, e, + - * / ** and the functions %s"
            % (self.text, what, choices(set(MATH_FUNCTIONS) | set(callable_activations())))
        )

    def visit(self, node):
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.refuse("%s syntax" % type(node).__name__)
        return method(node)

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.refuse("the literal %r" % (value,))
        if isinstance(value, float) and not (abs(value) < float("inf")):
            self.refuse("the non-finite number %r" % value)
        return sympy.Integer(value) if isinstance(value, int) else sympy.Float(value)

    def visit_Name(self, node):
        if node.id not in CONSTANTS:
            self.refuse("the name %r" % node.id)
        return CONSTANTS[node.id]

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        self.refuse("the operator %s" % type(node.op).__name__)

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.BitXor):
            self.refuse("'^' (write powers as x**2)")
        operation = _OPERATORS.get(type(node.op))
        if operation is None:
            self.refuse("the operator %s" % type(node.op).__name__)
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow) and right.is_Number and left.is_Number and abs(right) > MAX_CONSTANT_EXPONENT:
            self.refuse("a constant power with exponent above %d" % MAX_CONSTANT_EXPONENT)
        return operation(left, right)

    def visit_Call(self, node):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        activations = callable_activations()
        if name not in MATH_FUNCTIONS and name not in activations:
            self.refuse("a call to %r" % name if name else "calling an attribute or computed function")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            self.refuse("keyword or starred arguments")
        if name in MATH_FUNCTIONS:
            function, arity = MATH_FUNCTIONS[name]
            if len(node.args) != arity:
                self.refuse("%s() with %d arguments (it takes %d)" % (name, len(node.args), arity))
            return function(*(self.visit(a) for a in node.args))
        record = activations[name]
        arity = (1, 2) if record.factory is not None else (1, 1)
        if not arity[0] <= len(node.args) <= arity[1]:
            self.refuse("%s() with %d arguments (it takes %s)" % (name, len(node.args), " or ".join(
                map(str, sorted(set(arity))))))
        arguments = [self.visit(a) for a in node.args]
        if len(arguments) == 2:
            value = arguments[1]
            if not (value.is_Number and value.is_finite):
                self.refuse("%s with %s %s (the %s must be a number, as in %s(x, 0.1))"
                            % (name, record.parameter[0], value, record.parameter[0], name))
            record = record.with_parameter(float(value))
        return record.sympy(arguments[0])
