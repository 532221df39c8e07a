"""The symbols of the derivation, shared by every module that reads or prints it.

Sizes are symbols, so the network's loss is written once for any widths:

* ``E``: the loss, as in ``dE/dW1[j, i]`` (and the scalar the generated ``loss`` returns);
* ``N``: the batch size; ``size(l)``: n_l, the width of layer l (``n_0`` inputs);
* indices ``n`` (example), ``i``, ``j``, ``k``, ``m`` (units);
* indexed arrays, named as the generated code names them:
  ``X[n, i]`` inputs (= ``A0``), ``T[n, k]`` targets,
  ``W1[j, i]``, ``b1[j]`` parameters,
  ``Z1[n, j]`` pre-activations (the lecture's net input), ``A1[n, j]`` activations,
  ``delta1[n, j]`` error terms dE/dZ1[n, j].

Every layer-l object is obtained through the functions below (``weights(2)``,
``activations(0)`` is ``X``), never by building names by hand.
"""

from __future__ import annotations

from functools import lru_cache

import sympy

E = sympy.Symbol("E", real=True)
N = sympy.Symbol("N", integer=True, positive=True)
n, i, j, k, m = sympy.symbols("n i j k m", integer=True, nonnegative=True)

X = sympy.IndexedBase("X", real=True)
T = sympy.IndexedBase("T", real=True)


@lru_cache(maxsize=None)
def size(layer: int) -> sympy.Symbol:
    """n_l, the symbolic width of layer ``layer`` (0 is the input layer)."""
    return sympy.Symbol("n_%d" % layer, integer=True, positive=True)


@lru_cache(maxsize=None)
def weights(layer: int) -> sympy.IndexedBase:
    """W_l, indexed [j, i]: from unit i of layer l-1 to unit j of layer l."""
    return sympy.IndexedBase("W%d" % layer, real=True)


@lru_cache(maxsize=None)
def biases(layer: int) -> sympy.IndexedBase:
    """b_l, indexed [j]."""
    return sympy.IndexedBase("b%d" % layer, real=True)


@lru_cache(maxsize=None)
def preactivations(layer: int) -> sympy.IndexedBase:
    """Z_l, indexed [n, j]: the net input of unit j of layer l for example n."""
    return sympy.IndexedBase("Z%d" % layer, real=True)


@lru_cache(maxsize=None)
def activations(layer: int) -> sympy.IndexedBase:
    """A_l, indexed [n, j]; layer 0 is the input ``X``."""
    return X if layer == 0 else sympy.IndexedBase("A%d" % layer, real=True)


@lru_cache(maxsize=None)
def deltas(layer: int) -> sympy.IndexedBase:
    """delta_l, indexed [n, j]: dE/dZ_l[n, j], the lecture's error term (up to its sign)."""
    return sympy.IndexedBase("delta%d" % layer, real=True)
