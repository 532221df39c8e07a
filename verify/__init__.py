"""verify: the numpy side of backprop.

The hand-written backprop engine (:class:`Engine`), training, finite
differences, the three-way gradient check and the hypothesis strategies.  It
may import :mod:`derive`; :mod:`derive` never imports it.
"""
