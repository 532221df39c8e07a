"""The numpy side's first oracle: the hand-written backprop engine, training, and data.

* :mod:`~verify.engine.engine`: :class:`Engine`, the lecture's backprop written by hand;
* :mod:`~verify.engine.training`: gradient descent (stochastic, mini-batch, batch), momentum, early stopping;
* :mod:`~verify.engine.data`: the built-in data sets, ``.npz``/``.csv`` files, targets and splits.
"""

from .data import Dataset, check_data, load_data, split
from .engine import Engine
from .training import GradientDescent, History, train

__all__ = ["Dataset", "Engine", "GradientDescent", "History", "check_data", "load_data", "split", "train"]
