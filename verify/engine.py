"""The hand-written numpy backprop engine: the oracle a student reads next to the lecture.

Rows are examples: ``X`` is (N, n_0), ``T`` is (N, n_L), and layer l's
pre-activations ``Z[l]`` and activations ``A[l]`` are (N, n_l), with
``A[0] = X``.  ``W_l[j, i]`` is the lecture's w_ji (from unit i of layer l-1 to
unit j of layer l) and ``b_l[j]`` its bias w_j0.

Forward, for l = 1..L::

    Z_l = A_{l-1} @ W_l.T + b_l          net_j = sum_i w_ji x_i + w_j0
    A_l = g_l(Z_l)                       h_j = S(net_j)

Loss, with s = 1 (reduction "sum") or 1/N ("mean")::

    E = s * sum_n sum_k l(o_nk, t_nk)  +  lambda/2 * sum W^2  +  mu * sum |W|

Backward (``delta_l = dE/dZ_l``; the lecture's delta is the same quantity
with the opposite sign, delta_k = o_k(1 - o_k)(t_k - o_k), which is why its
update reads ``+ eta delta x`` and ours ``- eta dE/dw``)::

    delta_L = s * dl/dZ_L                                   output layer
    delta_l = g_l'(Z_l) * (delta_{l+1} @ W_{l+1})           hidden layers
    dE/dW_l = delta_l.T @ A_{l-1} + lambda W_l + mu sign(W_l)
    dE/db_l = delta_l.sum(axis=0)                           (no decay on biases)

What is written by hand here and what is not
--------------------------------------------
The engine is one of three independent oracles (with the generated code and
finite differences), so the *structure* of backprop is typed in by hand,
micrograd-style: the matrix chain rule above, the sums over examples, the
weight-decay terms, and the one structural rule of the one layer that is not
elementwise, the softmax Jacobian-vector product
``(J^T g)_k = o_k g_k - o_k sum_m o_m g_m``.

The *local* derivatives of single functions are not: g'(z) is
``activation.derivative`` and dl/do is ``loss.derivative``, both printed from
``sympy.diff`` of the registry's one definition.  So adding an activation or a
loss stays one registry entry, and the engine needs no edit.  For an
elementwise output layer the engine asks SymPy for the chain rule inside one
output unit, ``d l(g(z), t)/dz`` (:func:`output_unit_derivative`): SymPy
multiplies dl/do by g'(z) symbolically, so ``-t/o * o(1 - o)`` cancels to
``-t(1 - o)`` before any number exists.

Numerical stability (finite, warning-free results for |z| up to 1e3)
--------------------------------------------------------------------
* Sigmoid output with binary cross-entropy: at z = 1000, sigmoid(z) is 1.0
  exactly, so the product dl/do * g'(z) would be inf * 0.  The fused
  derivative above is ``sigmoid(z) - t`` and stays exact.  The loss *value*
  uses the logits form ``t softplus(-z) + (1 - t) softplus(z)`` instead of
  ``log(o)``; softmax with cross-entropy uses ``-t log_softmax(z)``
  (:data:`LOGIT_FORMS`).
* Softmax output: when a probability underflows to 0, ``dl/do = -t/o`` is
  -inf.  The engine computes ``u = o * dl/do`` (= dE/d log o) with o floored at
  the smallest normal float, where ``o * (-t/o) = -t`` up to rounding, and then
  ``delta = u - o * sum(u)``.  The floor changes other losses by at most
  ~1e-308 (for sse, u = o(o - t) tends to 0 at o = 0 anyway).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import sympy

from derive import InputError, Network, check_params
from derive.activations import Activation
from derive.losses import Loss, T as TARGET
from derive.numeric import log_softmax, softplus
from derive.printing import compile_elementwise

Params = dict[str, np.ndarray]

#: Loss values computed from the output pre-activations Z_L instead of the
#: outputs, for the pairs whose loss takes the log of a number that rounds to 0.
LOGIT_FORMS: dict[tuple[str, str], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ("softmax", "cross_entropy"): lambda Z, T: -T * log_softmax(Z),
    ("sigmoid", "binary_cross_entropy"): lambda Z, T: T * softplus(-Z) + (1 - T) * softplus(Z),
}

_Z = sympy.Symbol("z", real=True)


@lru_cache(maxsize=256)
def output_unit_derivative(activation: Activation, loss: Loss) -> Callable:
    """d l(g(z), t) / dz for an elementwise output unit, printed from ``sympy.diff``.

    Args:
        activation: The output activation g (elementwise).
        loss: The loss l(o, t).

    Returns:
        A numpy function of (Z, T).
    """
    return compile_elementwise(sympy.diff(loss.sympy(activation.sympy(_Z), TARGET), _Z), _Z, TARGET)


class Engine:
    """Forward pass, loss and gradients of a :class:`derive.Network`, vectorized over the batch.

    Args:
        network: The network to run.

    Example::

        engine = Engine(Network((2, 2, 1)))
        grads = engine.gradients(params, X, T)   # {"W1": ..., "b1": ..., "W2": ..., "b2": ...}
    """

    def __init__(self, network: Network):
        if not isinstance(network, Network):
            raise TypeError("Engine needs a derive.Network, got %s" % type(network).__name__)
        output = network.activations[-1]
        if not output.elementwise and output.name != "softmax":
            raise NotImplementedError("the engine has no backward rule for the non-elementwise activation %r"
                                      % output.name)
        self.network = network
        self._param_names = tuple(network.param_shapes())

    def __repr__(self):
        return "Engine(%r)" % (self.network,)

    # --- public API ---------------------------------------------------------------
    # Every method checks params and data first; check=False skips that for
    # callers that checked once and call many times (the training loop).

    def forward(self, params: Params, X: np.ndarray, check: bool = True) -> np.ndarray:
        """The network's output A_L, shape (N, n_L).

        Raises:
            InputError: bad parameters or data (see :func:`check_data`).
        """
        return self.forward_layers(params, X, check)[1][-1]

    def forward_layers(self, params: Params, X: np.ndarray, check: bool = True) -> tuple[list, list[np.ndarray]]:
        """Every layer's pre-activations and activations.

        Returns:
            ``(Z, A)``: lists indexed by layer, ``Z[l]`` and ``A[l]`` of shape
            (N, n_l) for l = 1..L; ``A[0]`` is X and ``Z[0]`` is None.
        """
        if check:
            params, (X, _) = check_params(self.network, params), check_data(self.network, X)
        return self._forward(params, X)

    def loss(self, params: Params, X: np.ndarray, T: np.ndarray, check: bool = True) -> float:
        """The loss E, including the weight-decay penalty."""
        if check:
            params, X, T = self._checked(params, X, T)
        Z, A = self._forward(params, X)
        return self._loss(params, Z[-1], A[-1], T)

    def gradients(self, params: Params, X: np.ndarray, T: np.ndarray, check: bool = True) -> Params:
        """dE/dp for every parameter p, as a dict with the keys and shapes of ``params``."""
        if check:
            params, X, T = self._checked(params, X, T)
        Z, A = self._forward(params, X)
        return self._backward(params, Z, A, T)

    def loss_and_gradients(self, params: Params, X: np.ndarray, T: np.ndarray,
                           check: bool = True) -> tuple[float, Params]:
        """The loss and its gradients from one forward and one backward pass."""
        if check:
            params, X, T = self._checked(params, X, T)
        Z, A = self._forward(params, X)
        return self._loss(params, Z[-1], A[-1], T), self._backward(params, Z, A, T)

    def penalty(self, params: Params) -> float:
        """The weight-decay term lambda/2 sum W^2 + mu sum |W| (weights only)."""
        return self._penalty(check_params(self.network, params))

    def _checked(self, params: Params, X, T) -> tuple[Params, np.ndarray, np.ndarray]:
        X, T = check_data(self.network, X, T)
        return check_params(self.network, params), X, T

    # --- the algorithm (no input checks: callers have checked) ----------------------

    def _forward(self, params: Params, X: np.ndarray) -> tuple[list, list[np.ndarray]]:
        Z, A = [None], [X]
        for layer, g in enumerate(self.network.activations, start=1):
            net = A[-1] @ params["W%d" % layer].T
            if self.network.bias:
                net += params["b%d" % layer]
            Z.append(net)
            A.append(g.numpy(net))
        return Z, A

    def _scale(self, n_examples: int) -> float:
        return 1.0 if self.network.reduction == "sum" else 1.0 / n_examples

    def _loss(self, params: Params, Z_L: np.ndarray, O: np.ndarray, T: np.ndarray) -> float:
        pair = (self.network.activations[-1].name, self.network.loss.name)
        terms = LOGIT_FORMS[pair](Z_L, T) if pair in LOGIT_FORMS else self.network.loss.numpy(O, T)
        return self._scale(len(T)) * terms.sum() + self._penalty(params)

    def _penalty(self, params: Params) -> float:
        penalty = 0.0
        for layer in range(1, self.network.depth + 1):
            W = params["W%d" % layer]
            if self.network.weight_decay:
                penalty = penalty + self.network.weight_decay / 2 * np.sum(W * W)
            if self.network.l1:
                # |w| written as sign(Re w) * w, so a complex step still sees the slope.
                penalty = penalty + self.network.l1 * np.sum(np.sign(W.real) * W)
        return penalty

    def _output_delta(self, Z_L: np.ndarray, O: np.ndarray, T: np.ndarray) -> np.ndarray:
        """delta_L = dE/dZ_L."""
        g, loss = self.network.activations[-1], self.network.loss
        scale = self._scale(len(T))
        if g.elementwise:
            return scale * output_unit_derivative(g, loss)(Z_L, T)
        # softmax: the Jacobian-vector product, with u = o * dl/do = dE/d(log o).
        O_floored = np.maximum(O, np.finfo(O.dtype).tiny)
        u = O_floored * loss.derivative(O_floored, T)
        return scale * (u - O * u.sum(axis=1, keepdims=True))

    def _backward(self, params: Params, Z: list, A: list[np.ndarray], T: np.ndarray) -> Params:
        network = self.network
        grads: Params = {}
        delta = self._output_delta(Z[-1], A[-1], T)
        for layer in range(network.depth, 0, -1):
            W = params["W%d" % layer]
            dW = delta.T @ A[layer - 1]
            if network.weight_decay:
                dW += network.weight_decay * W
            if network.l1:
                dW += network.l1 * np.sign(W)
            grads["W%d" % layer] = dW
            if network.bias:
                grads["b%d" % layer] = delta.sum(axis=0)
            if layer > 1:  # delta_{l-1} = g_{l-1}'(Z_{l-1}) * (delta_l @ W_l)
                g_below = network.activations[layer - 2]
                delta = (delta @ W) * g_below.derivative(Z[layer - 1])
        return {name: grads[name] for name in self._param_names}


def check_data(network: Network, X, T=None, where: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Check inputs X (N, n_0) and targets T (N, n_L): numeric, finite, one row per example.

    Integer and boolean arrays are converted to float64; float and complex
    arrays are kept as they are.

    Args:
        network: Gives the widths n_0 and n_L.
        X: Inputs, one row per example.
        T: Targets, one row per example, or None to check X alone.
        where: Where the data came from, for error messages.

    Returns:
        ``(X, T)`` as arrays (T is None when not given).

    Raises:
        InputError: wrong type, shape or length, or a NaN/inf entry; the
            message names the array, the entry and what is accepted.
    """
    X = _check_matrix(network, X, "X", network.sizes[0], "inputs", where)
    if T is None:
        return X, None
    T = _check_matrix(network, T, "T", network.sizes[-1], "targets", where)
    if len(T) != len(X):
        raise InputError("%s: X has %d rows but T has %d; give one target row per example" % (where, len(X), len(T)))
    return X, T


def _check_matrix(network: Network, array, name: str, width: int, what: str, where: str) -> np.ndarray:
    sizes = "-".join(map(str, network.sizes))
    try:
        array = np.asarray(array)
    except (ValueError, TypeError):
        raise InputError("%s: %s is not a rectangular array of numbers (ragged rows?)" % (where, name)) from None
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    if array.dtype.kind not in "fc":
        raise InputError("%s: %s has dtype %s; expected numbers" % (where, name, array.dtype))
    if array.ndim != 2 or array.shape[1] != width:
        raise InputError("%s: %s has shape %s; network %s expects (N, %d): one row of %d %s per example"
                         % (where, name, array.shape, sizes, width, width, what))
    if len(array) == 0:
        raise InputError("%s: %s has no rows; at least one example is needed" % (where, name))
    if not np.isfinite(array).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InputError("%s: %s[%d, %d] is %s; every entry must be finite (no NaN or inf)"
                         % (where, name, row, column, array[row, column]))
    return array
