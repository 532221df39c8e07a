"""verify: the numpy side of backprop.

The hand-written backprop engine (:class:`Engine`), training, finite
differences, the three-way gradient check and the hypothesis strategies.  It
may import :mod:`derive`; :mod:`derive` never imports it.
"""

from .engine import Engine, check_data
from .data import Dataset, load_data, split
from .training import GradientDescent, History, train
from .check import assert_gradients_match, check_gradients
from .report import CheckReport

__all__ = ["CheckReport", "Dataset", "Engine", "GradientDescent", "History", "assert_gradients_match", "check_data",
           "check_gradients", "load_data", "split", "train"]
