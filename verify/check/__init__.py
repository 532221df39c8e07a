"""Checking gradients: finite differences, tolerances, the three-way check, its report and diagnostics.

* :mod:`~verify.check.finite_differences`: central, Richardson and complex-step differences (the third oracle);
* :mod:`~verify.check.tolerances`: per-entry tolerances, as data keyed by dtype;
* :mod:`~verify.check.gradient_check`: :func:`check_gradients`, candidate against the symbolic reference,
  finite differences as referee;
* :mod:`~verify.check.report`: :class:`CheckReport`, plain data with a readable ``str()``;
* :mod:`~verify.check.diagnostics`: kinks and saturation;
* :mod:`~verify.check.sources`: loading and calling a user's gradient function.
"""

from .gradient_check import assert_gradients_match, check_gradients, reference_module
from .report import CheckReport

__all__ = ["CheckReport", "assert_gradients_match", "check_gradients", "reference_module"]
