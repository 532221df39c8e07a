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

    delta_L = s * g_L'(Z_L) * dl/do                         output layer
    delta_l = g_l'(Z_l) * (delta_{l+1} @ W_{l+1})           hidden layers
    dE/dW_l = delta_l.T @ A_{l-1} + lambda W_l + mu sign(W_l)
    dE/db_l = delta_l.sum(axis=0)                           (no decay on biases)

Everything is written by hand, micrograd-style
-----------------------------------------------
The engine is one of three independent oracles (with the generated code and
finite differences), so nothing in it comes from SymPy: the chain rule above
is typed in here, and the *local* derivatives are the hand-written ones of
the registry records, each written next to its forward function as the
lecture writes it (:mod:`derive.model.activations`, :mod:`derive.model.losses`):

* ``activation.backward(z, a, upstream)``: dE/dz from dE/da, e.g. sigmoid
  ``upstream * a * (1 - a)``, tanh ``upstream * (1 - a**2)``, relu
  ``upstream * (z > 0)``, and for softmax the vector-Jacobian product
  ``a * (upstream - sum(a * upstream))``;
* ``loss.backward(o, t)``: dl/do, e.g. sse ``o - t``, cross-entropy ``-t / o``;
* ``loss.output_backward(o, t)``: dl/dz straight through the output activation
  a loss is made for (cross-entropy after softmax, binary cross-entropy after a
  sigmoid: the lecture's ``o - t``).

Corrupting SymPy's derivative rules leaves the engine's gradients unchanged.
The one exception is a custom activation (an expression in x), which has no
hand-written derivative: the engine then borrows g' from ``sympy.diff``,
printed to numpy, and :attr:`Engine.independent` is False (gradient-check
reports say so).

Numerical stability (finite, warning-free results for |z| up to 1e3)
--------------------------------------------------------------------
* Output layers with their loss's own activation use ``output_backward``,
  which stays exact where the output rounds to 0 or 1 (dl/do * g'(z) would be
  inf * 0 there).
* Losses that take logs (cross-entropy) are computed from Z_L with the output
  activation's stable log forms (``log_softmax``; ``-softplus(-z)`` for log of a sigmoid).
"""

from __future__ import annotations

import numpy as np

from derive import Network, check_params
from derive.codegen.printing import activation_derivative, activation_forward

from .data import check_data

Params = dict[str, np.ndarray]


class Engine:
    """Forward pass, loss and gradients of a :class:`derive.Network`, vectorized over the batch.

    Args:
        network: The network to run.

    Attributes:
        independent: Whether every local derivative is written by hand (False
            when a layer has a custom activation, whose derivative comes from SymPy).

    Example::

        engine = Engine(Network((2, 2, 1)))
        grads = engine.gradients(params, X, T)   # {"W1": ..., "b1": ..., "W2": ..., "b2": ...}
    """

    def __init__(self, network: Network):
        if not isinstance(network, Network):
            raise TypeError("Engine needs a derive.Network, got %s" % type(network).__name__)
        output = network.activations[-1]
        if not output.elementwise and output.backward is None:
            raise NotImplementedError("the engine has no backward rule for the non-elementwise activation %r"
                                      % output.name)
        self.network = network
        self.independent = not any(g.custom for g in network.activations)
        self._forwards = [activation_forward(g) for g in network.activations]
        self._backwards = [g.backward or _borrowed_backward(g) for g in network.activations]
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

    def deltas(self, params: Params, X: np.ndarray, T: np.ndarray, check: bool = True) -> list:
        """The error terms ``[None, delta_1, ..., delta_L]``, ``delta_l = dE/dZ_l`` of shape (N, n_l)."""
        if check:
            params, X, T = self._checked(params, X, T)
        Z, A = self._forward(params, X)
        return self._deltas(params, Z, A, T)

    def penalty(self, params: Params) -> float:
        """The weight-decay term lambda/2 sum W^2 + mu sum |W| (weights only)."""
        return self._penalty(check_params(self.network, params))

    def local_derivative(self, layer: int, Z: np.ndarray) -> np.ndarray:
        """g_l'(Z) of an elementwise layer l (1..L), from the engine's own rule."""
        A = self._forwards[layer - 1](Z)
        return self._backwards[layer - 1](Z, A, np.ones_like(A))

    def _checked(self, params: Params, X, T) -> tuple[Params, np.ndarray, np.ndarray]:
        X, T = check_data(self.network, X, T)
        return check_params(self.network, params), X, T

    # --- the algorithm (no input checks: callers have checked) ----------------------

    def _forward(self, params: Params, X: np.ndarray) -> tuple[list, list[np.ndarray]]:
        Z, A = [None], [X]
        for layer, g in enumerate(self._forwards, start=1):
            net = A[-1] @ params["W%d" % layer].T
            if self.network.bias:
                net += params["b%d" % layer]
            Z.append(net)
            A.append(g(net))
        return Z, A

    def _scale(self, n_examples: int) -> float:
        return self.network.loss_scale(n_examples)

    def _loss(self, params: Params, Z_L: np.ndarray, O: np.ndarray, T: np.ndarray) -> float:
        output, loss = self.network.activations[-1], self.network.loss
        if loss.from_logs is not None and output.log_forms is not None:
            forms = output.log_forms
            log_complement = forms.numpy_complement(Z_L) if forms.numpy_complement is not None else None
            terms = loss.from_logs(forms.numpy_output(Z_L), log_complement, T)
        else:
            terms = loss.numpy(O, T)
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
        output, loss = self.network.activations[-1], self.network.loss
        scale = self._scale(len(T))
        if loss.output_backward is not None and output.name in (loss.requires_output or ()):
            return scale * loss.output_backward(O, T)
        return scale * self._backwards[-1](Z_L, O, loss.backward(O, T))

    def _deltas(self, params: Params, Z: list, A: list[np.ndarray], T: np.ndarray) -> list:
        """``[None, delta_1, ..., delta_L]`` from the output back: delta_{l-1} = g_{l-1}'(Z_{l-1}) * (delta_l @ W_l)."""
        deltas = [self._output_delta(Z[-1], A[-1], T)]
        for layer in range(self.network.depth, 1, -1):
            deltas.insert(0, self._backwards[layer - 2](Z[layer - 1], A[layer - 1], deltas[0] @ params["W%d" % layer]))
        return [None] + deltas

    def _backward(self, params: Params, Z: list, A: list[np.ndarray], T: np.ndarray) -> Params:
        network = self.network
        grads: Params = {}
        deltas = self._deltas(params, Z, A, T)
        for layer in range(network.depth, 0, -1):
            W, delta = params["W%d" % layer], deltas[layer]
            dW = delta.T @ A[layer - 1]
            if network.weight_decay:
                dW += network.weight_decay * W
            if network.l1:
                dW += network.l1 * np.sign(W)
            grads["W%d" % layer] = dW
            if network.bias:
                grads["b%d" % layer] = delta.sum(axis=0)
        return {name: grads[name] for name in self._param_names}


def _borrowed_backward(activation):
    """The documented exception: a custom activation's g' from ``sympy.diff``, as a backward rule."""
    derivative = activation_derivative(activation)
    return lambda z, a, upstream: upstream * derivative(z)
