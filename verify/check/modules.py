"""The generated modules the checks compare against: every one comes from :func:`module_for`.

The check (:mod:`verify.check.gradient_check`), the diagnosis of a wrong
gradient (:mod:`verify.check.diagnosis`), the step-size study
(:mod:`verify.check.evidence`) and the PyTorch reader
(:mod:`verify.check.torch_models`) all need the numpy module that
:mod:`derive` prints from a network's SymPy derivation.  They get it here, and
only here, so that one process derives, prints and compiles each module once,
however many checks, property-test examples and diagnoses ask for it.

A module is cached under the network's *structure* (depth, activations, loss,
reduction, bias, penalties: :attr:`derive.Network.structure`) and its widths.
The symbolic derivation behind it is shared by every width of a structure
already (:func:`derive.derive`); the printed module still hard-codes its
widths, so each width is printed once.  When a width-generic module (one that
reads its widths from the arrays it is given) is available, keying the cache on
the structure alone, in :func:`module_for`, makes every width of a structure
share one printed module, and no caller changes.
"""

from __future__ import annotations

import types
from functools import lru_cache

from derive import Network, derive

#: How many compiled modules one process keeps (a property run meets a few hundred networks).
MODULES_KEPT = 1024


def module_for(network: Network, order: int = 1) -> types.ModuleType:
    """The generated numpy module of ``network``, derived, printed and compiled once per process.

    Args:
        network: The network; its structure and widths pick the module.
        order: 1 for ``forward``, ``loss`` and ``gradients``; 2 adds ``hvp``,
            ``gnvp`` and ``hessian`` (:meth:`derive.Derivation.numpy_source`).

    Returns:
        The module (``module.gradients(params, X, T)``), the same object for equal networks.
    """
    return _module(network.structure, network.sizes, order)


@lru_cache(maxsize=MODULES_KEPT)
def _module(structure: Network, sizes: tuple, order: int) -> types.ModuleType:
    return derive(structure.replace(sizes=sizes)).numpy_module(order)


def clear_modules() -> None:
    """Forget every module compiled in this process (with :func:`derive.clear_caches`, after changing how SymPy
    differentiates a function)."""
    _module.cache_clear()
