"""The generated module: its source, printed from a derivation, and the module compiled from it.

:class:`~derive.codegen.module.Program` plans ``forward``, ``loss`` and
``gradients``; with ``order=2``, :mod:`derive.codegen.second_order` adds
``hvp``, ``gnvp`` and ``hessian``; :class:`~derive.codegen.module_printer.ModulePrinter`
prints them all.
"""

from __future__ import annotations

import linecache
import types

from derive.symbolic.symbolic_derivation import SymbolicDerivation

from . import nodes
from .module_printer import ModulePrinter
from .module import Program
from .second_order import second_order_functions


def numpy_source(derivation: SymbolicDerivation, order: int = 1, any_width: bool = False) -> str:
    """The source of the generated numpy module (deterministic: same network, same bytes).

    Args:
        derivation: The derivation of a network (:func:`derive.derive`).
        order: 1 for ``forward``, ``loss`` and ``gradients``; 2 adds ``hvp``,
            ``gnvp`` and ``hessian`` (:mod:`derive.codegen.second_order`).
        any_width: Print one module for every width of the network's
            structure: the sizes ``N``, ``n_0``, ... are read from the arrays'
            shapes instead of being printed as numbers, so the derivation's
            size symbols stay symbols (the same source for 784-100-10 and 3-4-2).

    Returns:
        Python source that needs numpy and nothing else outside the standard library
        (the one standard module a helper may import is ``math``, for ``math.erfc``).

    Raises:
        NotImplementedError: an expression contains a node the printer cannot
            print (the message names it), e.g. a custom activation using ``erf``.
    """
    program = Program(derivation, any_width=any_width)
    functions = (program.forward(), program.loss(), program.gradients())
    if order == 2:
        functions += second_order_functions(program)
    module = nodes.Module(program.docstring(), functions)
    return ModulePrinter().print_module(module)


def numpy_module(derivation: SymbolicDerivation, name: str = "backprop_generated", source: str | None = None,
                 order: int = 1, any_width: bool = False) -> types.ModuleType:
    """The generated module, compiled and ready to call (``module.gradients(params, X, T)``).

    Args:
        derivation: The derivation of a network.
        name: The module's ``__name__``.
        source: Its source, if already printed (:func:`numpy_source` of ``derivation``).
        order, any_width: See :func:`numpy_source`.
    """
    source = numpy_source(derivation, order, any_width) if source is None else source
    return compile_module(source, name, derivation.network.describe(any_width=any_width))


def compile_module(source: str, name: str, description: str) -> types.ModuleType:
    """Printed ``source`` compiled as a module named ``name`` (tracebacks show ``<name: description>`` and its lines)."""
    filename = "<%s: %s>" % (name, description)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # code printed from SymPy, not user text
    return module
