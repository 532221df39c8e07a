"""Numeric code printed from SymPy: the printers, the planner and the generated module.

* :mod:`~derive.codegen.printing`: the scalar NumPy printer (backprop's functions as
  stable helpers) and :func:`~derive.codegen.printing.compile_elementwise`;
* :mod:`~derive.codegen.array_printer`: index-level expressions printed as whole-array numpy code
  (:mod:`~derive.codegen.contractions`: which sum prints as ``@``, ``einsum`` or ``.sum``);
* :mod:`~derive.codegen.stable_forms`: the rewrites into stable forms, applied by the planner;
* :mod:`~derive.codegen.module`: the planner that turns a derivation into the statements of
  ``forward``, ``loss`` and ``gradients``; :mod:`~derive.codegen.inplace` lowers them to
  in-place numpy; :mod:`~derive.codegen.nodes` holds the statement nodes and
  :mod:`~derive.codegen.module_printer` prints them.
"""

from .source import numpy_module, numpy_source

__all__ = ["numpy_module", "numpy_source"]
