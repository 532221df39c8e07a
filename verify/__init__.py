"""verify: the numpy side of backprop.

The hand-written backprop engine and training (:mod:`verify.engine`), the
gradient checks (:mod:`verify.check`: finite differences, the three-way check,
its report), derivation reports with their proof (:mod:`verify.report_writers`),
property testing (:mod:`verify.testing`: hypothesis strategies, the property
suite, the pytest plugin) and the ``backprop`` command (:mod:`verify.cli`).
It may import :mod:`derive`; :mod:`derive` never imports it.
"""

from .check import CheckReport, assert_gradients_match, assert_hvp_matches, check_gradients, check_hvp, list_form
from .check.layouts import Layout
from .engine import Dataset, Engine, GradientDescent, History, check_data, load_data, split, train
from .report_writers import write_report

__all__ = ["CheckReport", "Dataset", "Engine", "Layout", "GradientDescent", "History", "assert_gradients_match",
           "assert_hvp_matches", "check_data", "check_gradients", "check_hvp", "check_torch_module", "list_form", "load_data", "split", "strategies", "train",
           "write_report"]


def __getattr__(name: str):
    """``from verify import strategies`` and ``check_torch_module``, loaded on first use (hypothesis, PyTorch)."""
    if name == "strategies":
        from .testing import strategies

        return strategies
    if name == "check_torch_module":
        from .check.torch_models import check_torch_module

        return check_torch_module
    raise AttributeError("module 'verify' has no attribute %r" % name)
