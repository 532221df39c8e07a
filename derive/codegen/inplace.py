"""Lowering ``target = value`` to numpy statements that reuse memory instead of allocating it.

Printed literally, ``delta1 = (1 - A1)*A1*(delta2 @ W2)`` makes four new
arrays: the product, ``1 - A1``, and two intermediate results.  Each new array
of a few hundred kilobytes costs a trip to the allocator and fresh pages, which
at batch 256 is more than the arithmetic.  :class:`Lowering` evaluates each
right-hand side along its *spine*, the operand that yields a new array of the
full shape anyway (a matrix product, a helper call) or an array that no later
statement reads, and applies the other operations to it in place::

    delta1 = delta2 @ W2             # the spine: a new array
    delta1 *= A1
    t0 = A1                          # A1 is not read again: its memory becomes t0
    np.subtract(1, t0, out=t0)       # t0 = 1 - A1
    delta1 *= t0

An operand that needs a full-size temporary (``1 - A1``) is computed in the
memory of an array it reads for the last time, applied last.  Which arrays are
read later is known from the statement list, including arrays that share
memory (``A1 = Z1`` makes Z1's memory A1's).  Every step is a node of
:mod:`derive.codegen.nodes` whose values are SymPy expressions, and every
decision is made here: a matrix product writes into given memory (``out=``)
only where :func:`~derive.codegen.contractions.contraction` says it prints
as one.  The printer prints the steps as they are.
"""

from __future__ import annotations

from dataclasses import replace

import sympy
from sympy import Indexed, IndexedBase, Sum

from derive.symbolic.indices import free_indices

from . import nodes
from .array_printer import ufunc_name
from .contractions import contraction
from .nodes import entries, entry_counts, target_name
from .printing import function_helpers, takes_out, takes_shift
from .stable_forms import log_softmax, softmax


class Lowering:
    """The in-place statements of one function.

    Args:
        statements: ``(target, value)`` pairs in evaluation order; each target
            (an entry such as ``A1[n, j]``, or a symbol) is assigned once.
        outputs: Names of the arrays the function returns (never reused).
        shapes: The shape of each input array by name (``{"X": (N, 784), "W1": (100, 784)}``);
            the shapes of the computed arrays follow from them.
    """

    def __init__(self, statements: list, outputs: set, shapes: dict):
        self.assignments = list(statements)
        self.outputs = set(outputs)
        self.shapes = dict(shapes)
        self.buffer: dict[str, str] = {}
        self.latest: dict[str, Indexed] = {}
        self.reusable: dict[str, None] = {}
        self.names = {target_name(target) for target, _ in statements}
        self.later: set = set()
        self.helpers = function_helpers()

    def statements(self) -> list:
        """The lowered statements, in order."""
        references = [{target_name(e) for e in entries(value)} for _, value in self.assignments]
        body: list = []
        for position, (target, value) in enumerate(self.assignments):
            self.later = self.outputs.union(*references[position + 1:])
            steps = self.lower(target, value) or [nodes.Assign(target, value)]
            first = steps[0]
            if isinstance(target, Indexed):
                self.shapes[target_name(target)] = self._shape(target, value)
                if contraction(first.value) is not None and target_name(target) not in self.outputs:
                    steps[0] = first = self._into_dead_memory(first, value)
            if isinstance(first.value, Indexed) or first.out is not None:
                self._share(target, first.value if first.out is None else first.out)
            else:
                self.buffer[target_name(target)] = target_name(target)
                if isinstance(target, Indexed) and not value.has(*_OTHER_DTYPES):
                    self.reusable[target_name(target)] = None
            if self.buffer[target_name(target)] is not None:
                self.latest[self.buffer[target_name(target)]] = target
            body += ([nodes.Comment(target, value)] if len(steps) > 1 else []) + steps
        return [self._kept(step) for step in _bias_into_helpers(body, self.helpers)]

    def _is_fresh(self, value: sympy.Expr) -> bool:
        """Whether printing ``value`` already makes a new array (a sum, a helper call)."""
        return isinstance(value, (Sum, softmax, log_softmax)) or type(value) in self.helpers

    def _kept(self, step):
        """``step`` taking its array from the caller's workspace, if it makes a new one that is not returned."""
        returned = {self.buffer.get(name) for name in self.outputs}
        if (isinstance(step, nodes.Assign) and step.out is None and contraction(step.value) is not None
                and isinstance(step.target, Indexed) and self.buffer.get(target_name(step.target)) == target_name(step.target)
                and target_name(step.target) not in returned and None not in self.shapes[target_name(step.target)]):
            return replace(step, kept=self.shapes[target_name(step.target)])
        return step

    def _share(self, name_of, entry: Indexed) -> None:
        """Record that ``name_of`` now names the memory of ``entry``."""
        self.buffer[target_name(name_of)] = self.buffer.get(target_name(entry))
        self.shapes[target_name(name_of)] = self.shapes.get(target_name(entry))

    def _shape(self, target: Indexed, value: sympy.Expr) -> tuple:
        """The shape of ``target``: each index's extent in an array ``value`` reads."""
        extents = {}
        for entry in sorted(entries(value), key=sympy.default_sort_key):
            for position, index in enumerate(entry.indices):
                shape = self.shapes.get(target_name(entry))
                if shape is not None:
                    extents.setdefault(index, shape[position])
        return tuple(extents.get(index) for index in target.indices)

    def _into_dead_memory(self, assign: nodes.Assign, value: sympy.Expr) -> nodes.Assign:
        """``assign`` writing into the memory of an array no longer read, if one has the right shape."""
        shape = self.shapes[target_name(assign.target)]
        for owner in self.reusable:
            entry = self.latest[owner]
            if (self.shapes.get(target_name(entry)) == shape and None not in shape and self.dead(entry)
                    and self.reads(value, entry) == 0):
                return nodes.Assign(assign.target, assign.value, out=entry)
        return assign

    def dead(self, entry: Indexed) -> bool:
        """Whether ``entry``'s memory is ours (not an input), of the common dtype, and no later statement reads it.

        An array whose value may print with another dtype (a boolean mask from
        ``Heaviside``) is never written into: ``mask *= x`` cannot hold floats.
        """
        owner = self.buffer.get(target_name(entry))
        return (owner is not None and owner in self.reusable
                and not any(self.buffer.get(name) == owner for name in self.later))

    def reads(self, expr: sympy.Expr, entry: Indexed) -> int:
        """How many times ``expr`` reads ``entry``'s memory (any entry of it, under any name sharing it)."""
        owner = self.buffer.get(target_name(entry))
        return sum(count for other, count in entry_counts(expr).items() if self.buffer.get(target_name(other)) == owner)

    def lower(self, target, value: sympy.Expr) -> list | None:
        """Steps that leave ``value`` in ``target`` in place; None if it is best computed as one new array."""
        def stealable(entry: Indexed) -> bool:
            return entry.indices == target.indices and self.dead(entry) and self.reads(value, entry) == 1
        if isinstance(target, Indexed) and (value.is_Add or value.is_Mul) and free_indices(value) == frozenset(target.indices):
            return self._operation(target, value, stealable, scratch=True)
        return self._lower(target, value, stealable)

    def _lower(self, target, value: sympy.Expr, stealable) -> list | None:
        if not isinstance(target, Indexed) or free_indices(value) != frozenset(target.indices):
            return None
        if isinstance(value, Indexed):
            return [nodes.Assign(target, value)] if stealable(value) else None
        helper = self.helpers.get(type(value))
        if helper is not None and takes_out(helper) and len(value.args) == 1:
            inner = self._lower(target, value.args[0], stealable)
            if inner is not None:
                return inner + [nodes.Apply(type(value).__name__, target, helper=True)]
        if self._is_fresh(value):
            return [nodes.Assign(target, value)]
        if _negated(value) is not None:
            inner = self._lower(target, _negated(value), stealable)
            return None if inner is None else inner + [nodes.Apply("negative", target)]
        if value.is_Add or value.is_Mul:
            return self._operation(target, value, stealable)
        ufunc = _ufunc(value)
        if ufunc is None:
            return None
        inner = self._lower(target, value.base if value.is_Pow else value.args[0], stealable)
        if inner is None:
            return None
        if ufunc == "divide":  # 1/x as np.divide(1, x): numpy's reciprocal loop is not vectorized, half the speed
            return inner + [nodes.Apply(ufunc, target, (sympy.S.One, target))]
        return inner + [nodes.Apply(ufunc, target)]

    def _operation(self, target, value: sympy.Expr, stealable, scratch: bool = False) -> list | None:
        """An Add or Mul: the spine first, then the other operands with ``+=``/``*=``.

        With ``scratch`` (only for a statement's whole value, where the operand
        computed last is truly the last reader), one operand that needs a
        full-size temporary is computed in the memory of an array it reads for
        the last time.
        """
        labels = frozenset(target.indices)
        full = [arg for arg in value.args if free_indices(arg) == labels]
        if not full:
            return None

        def rank(arg):
            if self._is_fresh(arg):
                return 0
            if isinstance(arg, Indexed):
                return 1 if stealable(arg) else 3
            return 2

        spine = min(full, key=rank)
        # The other matrix products first, next to the spine's, then the terms that are no products (a bias).
        rest = sorted((arg for arg in value.args if arg is not spine), key=lambda arg: not self._is_fresh(arg))
        negated = _negated(spine) if value.is_Add else None
        steps = self._lower(target, spine if negated is None else negated, stealable)
        if steps is None:
            if not rest:
                return None
            first, rest = rest[0], rest[1:]
            steps = [nodes.Assign(target, value.func(spine, first))]
        elif negated is not None:
            first, rest = (rest[0], rest[1:]) if rest else (sympy.S.Zero, [])
            steps.append(nodes.Apply("subtract", target, (first, target)))
        scratch = next(((arg, entry) for arg in rest for entry in self._scratch(arg, target)), None) if scratch else None
        for arg in rest:
            if scratch is None or arg is not scratch[0]:
                steps.append(_update(target, value.is_Add, arg))
        if scratch is not None:
            steps += self._in_scratch(target, value.is_Add, *scratch)
        return steps

    def _scratch(self, arg: sympy.Expr, target) -> list:
        """Arrays whose memory can hold ``arg`` (full-size, read here for the last time)."""
        if arg.is_number or isinstance(arg, Indexed) or self._is_fresh(arg) or free_indices(arg) != frozenset(target.indices):
            return []
        return [entry for entry in sorted(entries(arg), key=sympy.default_sort_key)
                if entry.indices == target.indices and self.dead(entry) and self.reads(arg, entry) == 1]

    def _in_scratch(self, target, additive: bool, arg: sympy.Expr, entry: Indexed) -> list:
        """Compute ``arg`` in ``entry``'s memory under a new name, then apply it to ``target``."""
        name = next("t%d" % count for count in range(len(self.names) + 1) if "t%d" % count not in self.names)
        scratch = IndexedBase(name, real=True)[entry.indices]
        saved = dict(self.buffer), dict(self.shapes), dict(self.latest)
        self._share(scratch, entry)
        self.latest[self.buffer[name]] = scratch
        steps = self._lower(scratch, arg, lambda candidate: candidate == entry)
        if not steps or steps[0] != nodes.Assign(scratch, entry):
            # The scratch array is never assigned: forget it, or a later statement could write into it.
            self.buffer, self.shapes, self.latest = saved
            return [_update(target, additive, arg)]
        self.names.add(name)
        return steps + [_update(target, additive, scratch)]


#: Nodes whose printed value may have a dtype other than the common one (boolean masks, float64 branches).
_OTHER_DTYPES = (sympy.Heaviside, sympy.Piecewise, sympy.core.relational.Relational, sympy.Max, sympy.Min)


def _bias_into_helpers(body: list, helpers: dict) -> list:
    """``Z1 += b1`` moved into the helper that then takes Z1's memory: ``sigmoid(A1, shift=b1, out=A1)``.

    The helper adds the broadcast term in the pass that negates its argument
    anyway, so the net input costs one pass over memory fewer (at 784-100-10
    the first pass after the product ``X @ W1.T``, which reads its array back
    from a cache that the product has just filled with X).  Only where the
    steps are exactly ``Z += b`` (``b`` with fewer labels than Z), ``A = Z``
    and the helper applied to A, with only steps that do not touch Z in
    between (the product of the R-forward pass): the net input is read by nothing else.
    """
    steps = list(body)
    by_name = {function.__name__: helper for function, helper in helpers.items()}
    for place, step in enumerate(steps):
        if not (isinstance(step, nodes.Apply) and step.helper and step.shift is None and place >= 2
                and takes_shift(by_name[step.ufunc])):
            continue
        alias = steps[place - 1]
        if not (isinstance(alias, nodes.Assign) and alias.target == step.target and alias.out is None
                and isinstance(alias.value, Indexed)):
            continue
        net_input = target_name(alias.value)
        for index in range(place - 2, -1, -1):  # back to Z's last step, over steps that do not touch Z
            bias = steps[index]
            if bias is None or isinstance(bias, nodes.Comment) or net_input not in _names(bias):
                continue
            if (isinstance(bias, nodes.Update) and bias.operator == "+" and bias.target == alias.value
                    and free_indices(bias.value) < frozenset(bias.target.indices)):
                steps[place] = replace(step, shift=bias.value)
                steps[index] = None
            break
    return [step for step in steps if step is not None]


def _names(step) -> set:
    """The arrays a lowered step reads or writes, by name."""
    found = {target_name(step.target)}
    for value in (getattr(step, "value", None), getattr(step, "out", None), getattr(step, "shift", None),
                  *getattr(step, "arguments", ())):
        if isinstance(value, sympy.Basic):
            found |= {target_name(entry) for entry in entries(value)}
    return found


def _update(target, additive: bool, arg: sympy.Expr) -> nodes.Update:
    if additive:
        return nodes.Update(target, "-", -arg) if arg.could_extract_minus_sign() else nodes.Update(target, "+", arg)
    if arg.is_Pow and arg.exp.is_number and arg.exp.is_negative:
        return nodes.Update(target, "/", 1 / arg)
    return nodes.Update(target, "*", arg)


def _negated(value: sympy.Expr) -> sympy.Expr | None:
    """``x`` if ``value`` is ``-x`` (a Mul of -1 and one factor), else None."""
    if value.is_Mul and len(value.args) == 2 and value.args[0] == -1:
        return value.args[1]
    return None


def _ufunc(value: sympy.Expr) -> str | None:
    """The numpy ufunc that applies ``value``'s outermost operation in place, if there is one."""
    if value.is_Pow:
        return {2: "square", -1: "divide", sympy.S.Half: "sqrt"}.get(value.exp)
    if isinstance(value, sympy.Function) and len(value.args) == 1:
        return ufunc_name(type(value))
    return None
