"""Deliberately buggy backprop implementations, one per bug pattern the diagnosis knows, and correct ones.

:mod:`buggy.numpy_backprop` is a student's numpy backprop with each classic
mistake as a switch; :mod:`buggy.torch_models` holds PyTorch modules whose
custom ``autograd.Function`` has a wrong backward.  ``tests/test_diagnosis.py``
checks that each is caught and named.
"""
