"""Checking gradients: finite differences, tolerances, the three-way check, its report and diagnostics.

* :mod:`~verify.check.finite_differences`: central, Richardson and complex-step differences (the third oracle);
* :mod:`~verify.check.tolerances`: per-entry tolerances, as data keyed by dtype;
* :mod:`~verify.check.gradient_check`: :func:`check_gradients`, candidate against the symbolic reference,
  finite differences as referee;
* :mod:`~verify.check.hvp_check`: :func:`check_hvp`, the same for Hessian- and Gauss-Newton-vector
  products, with their oracles (:mod:`~verify.check.product_oracles`) and diagnosis
  (:mod:`~verify.check.hvp_diagnosis`);
* :mod:`~verify.check.modules`: :func:`~verify.check.modules.module_for`, the generated module of a network,
  derived, printed and compiled once per process (every check, diagnosis and property example gets it there);
* :mod:`~verify.check.check_report`: :class:`CheckReport`, plain data with a readable ``str()``;
* :mod:`~verify.check.kinks_and_saturation`: kinks and saturation;
* :mod:`~verify.check.diagnosis`: what kind of bug a wrong gradient is, from hypotheses built from the derivation;
* :mod:`~verify.check.sources`: loading and calling a user's gradient function;
* :mod:`~verify.check.inputs`: parameter and data files, or seeded random ones;
* :mod:`~verify.check.torch_models`: PyTorch models read into networks (by :mod:`~verify.check.pytorch`:
  forward traced, layers recognised by their values), their autograd checked (imports torch; not imported here).
"""

from .gradient_check import assert_gradients_match, check_gradients, reference_module
from .hvp_check import assert_hvp_matches, check_hvp
from .check_report import CheckReport
from .sources import list_form

__all__ = ["CheckReport", "assert_gradients_match", "assert_hvp_matches", "check_gradients", "check_hvp", "list_form",
           "reference_module"]
