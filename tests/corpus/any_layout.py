"""One backprop written natively in every layout: weights (out, in) with W @ x or (in, out) with x @ W, examples
as rows or as columns, for sigmoid, tanh, ReLU, linear and softmax layers and the sse, squared_error, mse,
cross-entropy and binary cross-entropy losses, with or without biases, weight decay and the L1 penalty.

``make(network, weights, examples, keys, per_example, update)`` returns the function a user would have written
for that layout: it takes the parameters as they are stored there and returns its gradients keyed ``keys``
(``"W{l}"``, ``"dW{l}"``, ``"grad_W{l}"``), or, with ``update``, the parameters after one step.
"""

import numpy as np

FORWARD = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
           "linear": lambda z: z}
SLOPE = {"sigmoid": lambda a, z: a * (1 - a), "tanh": lambda a, z: 1 - a ** 2, "relu": lambda a, z: (z > 0) * 1.0,
         "linear": lambda a, z: np.ones_like(z)}


def softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def make(network, weights="out-in", examples="rows", keys="W{l}", per_example=False, update=None):
    columns = examples == "columns"
    axis = 0 if columns else 1          # the axis of units
    names, L = network.activation_names, network.depth

    def affine(W, b, A):
        Z = (W @ A if columns else A @ W.T) if weights == "out-in" else (W.T @ A if columns else A @ W)
        return Z + b if network.bias else Z

    def weight_gradient(delta, A):       # in the layout W is stored in
        G = delta @ A.T if columns else delta.T @ A
        return G if weights == "out-in" else G.T

    def gradients(params, X, T):
        if per_example and np.ndim(X) == 1:        # one example as vectors (n_0,), (n_L,), or a label
            X, T = X[None, :], (T[None, :] if np.ndim(T) == 1 else np.atleast_1d(T))
        elif np.ndim(T) == 0:                       # one example's label, beside a column x
            T = np.atleast_1d(T)
        if np.ndim(T) == 1 and network.sizes[-1] > 1:   # integer class labels
            T = np.eye(network.sizes[-1])[T].T if columns else np.eye(network.sizes[-1])[T]
        elif np.ndim(T) == 1:
            T = T[None, :] if columns else T[:, None]
        N = X.shape[1] if columns else X.shape[0]
        A, Z = [X], [None]
        for layer in range(1, L + 1):
            Z.append(affine(params["W%d" % layer], params.get("b%d" % layer), A[-1]))
            A.append(softmax(Z[-1], axis) if names[layer - 1] == "softmax" else FORWARD[names[layer - 1]](Z[-1]))
        O, loss = A[-1], network.loss.name
        scale = 1 / N if network.reduction == "mean" and not per_example else 1
        if loss in ("cross_entropy", "binary_cross_entropy"):
            delta = O - T
        else:
            dO = {"sse": 1.0, "squared_error": 2.0, "mse": 2.0 / network.sizes[-1]}[loss] * (O - T)
            if names[-1] == "softmax":
                delta = O * (dO - (O * dO).sum(axis=axis, keepdims=True))
            else:
                delta = dO * SLOPE[names[-1]](O, Z[-1])
        delta = scale * delta
        grads = {}
        for layer in range(L, 0, -1):
            W = params["W%d" % layer]
            grads["W%d" % layer] = weight_gradient(delta, A[layer - 1]) + network.weight_decay * W + network.l1 * np.sign(W)
            if network.bias:
                grads["b%d" % layer] = delta.sum(axis=1 - axis, keepdims=True) if columns else delta.sum(axis=0)
            if layer > 1:
                back = (W.T @ delta if columns else delta @ W) if weights == "out-in" else (
                    W @ delta if columns else delta @ W.T)
                delta = back * SLOPE[names[layer - 2]](A[layer - 1], Z[layer - 1])
        named = {keys.replace("W", name[0]).replace("{l}", name[1:]): value for name, value in grads.items()}
        if update is None:
            return named
        for name, value in grads.items():
            params[name] -= update * value
        return None

    return gradients
