"""The model: what a network is, before anything is derived.

* :mod:`~derive.model.activations` and :mod:`~derive.model.losses`: one record per
  primitive, the one place each is defined (SymPy definition, numpy forward,
  hand-written local derivative for the engine, kinks, range, stable log forms);
* :mod:`~derive.model.functions` and :mod:`~derive.model.numeric`: the SymPy
  functions and numpy helpers those records name;
* :mod:`~derive.model.expression`: the safe parser of custom activations;
* :mod:`~derive.model.network`: :class:`Network`; :mod:`~derive.model.params`: parameters and their files.

It imports neither the derivation nor the code printers.
"""

from . import activations, losses  # noqa: F401  (fill the registries)
