"""The generated modules the checks compare against: every one comes from :func:`module_for`.

The check (:mod:`verify.check.gradient_check`), the diagnosis of a wrong
gradient (:mod:`verify.check.diagnosis`), the step-size study
(:mod:`verify.check.evidence`), the PyTorch reader
(:mod:`verify.check.torch_models`), the Hessian- and Gauss-Newton-vector
product check (:mod:`verify.check.hvp_check`) and the dense Hessian of the
report (:mod:`verify.check.second_order_evidence`) all need the numpy module that
:mod:`derive` prints from a network's SymPy derivation.  They get it here, and
only here, so that one process derives, prints and compiles each module once,
however many checks, property-test examples and diagnoses ask for it.

A module serves every network of one *structure* (depth, activations, loss,
reduction, bias, penalties: :attr:`derive.Network.structure`): it is the
width-generic module (:func:`derive.derivation.structure_module`), which reads
N and the widths from the arrays it is given, so 3-4-2 and 784-100-10 with the
same activations and loss share one derivation, one printed source and one
compiled module.  The check validates every array against the network before
the module sees it.  To give each width its own module instead (printed with
its widths as numbers), key the cache on ``(network.structure,
network.sizes)`` in :func:`module_for` and compile ``derive(network).numpy_module(order)``;
no caller changes.
"""

from __future__ import annotations

import types
from functools import lru_cache

from derive import Network
from derive.derivation import structure_module

#: How many compiled modules one process keeps (a property run meets about a hundred structures).
MODULES_KEPT = 1024


def module_for(network: Network, order: int = 1) -> types.ModuleType:
    """The generated numpy module of ``network``, derived, printed and compiled once per structure and process.

    Args:
        network: The network; its structure picks the module.
        order: 1 for ``forward``, ``loss`` and ``gradients``; 2 adds ``hvp``,
            ``gnvp`` and ``hessian`` (:meth:`derive.Derivation.numpy_source`).

    Returns:
        The module (``module.gradients(params, X, T)``), the same object for every width of a structure.
    """
    return _module(network.structure, order)


@lru_cache(maxsize=MODULES_KEPT)
def _module(structure: Network, order: int) -> types.ModuleType:
    return structure_module(structure, order)


def clear_modules() -> None:
    """Forget every module compiled in this process (with :func:`derive.clear_caches`, after changing how SymPy
    differentiates a function)."""
    _module.cache_clear()
