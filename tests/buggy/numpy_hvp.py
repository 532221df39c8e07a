"""A student's Hessian-vector product by the R-operator, in numpy, with each classic mistake behind a switch.

``hvp(params, X, T, V, network, bug=None)`` handles sigmoid, tanh, softplus
and linear hidden layers; a linear, sigmoid or tanh output with the
sum-squared error, a sigmoid output with binary cross-entropy, a softmax
output with cross-entropy; either reduction, biases or none, weight decay.
Written from Pearlmutter (1994) by hand, with no SymPy: R-forward
(``RZ_l = RA_{l-1} W_l^T + A_{l-1} V_l^T + Vb_l``, ``RA_l = g'(Z_l) RZ_l``),
then the R-backward pass::

    Rdelta_l = g'(Z_l) (Rdelta_{l+1} W_{l+1} + delta_{l+1} V_{l+1}) + g''(Z_l) RZ_l (delta_{l+1} W_{l+1})
    HV_W_l   = Rdelta_l^T A_{l-1} + delta_l^T RA_{l-1} + lambda V_l

With ``bug=None`` it is right; each entry of :data:`BUGS` makes one mistake,
written the way a student writes it, with the kind the diagnosis should
name and the parameters it spoils (``None``: all).
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# g(z), g'(z), g''(z)
ACTIVATIONS = {
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z)),
                lambda z: sigmoid(z) * (1 - sigmoid(z)) * (1 - 2 * sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2, lambda z: -2 * np.tanh(z) * (1 - np.tanh(z) ** 2)),
    "softplus": (lambda z: np.logaddexp(0, z), sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "linear": (lambda z: z, np.ones_like, np.zeros_like),
}

#: bug -> (the diagnosis kind it should get, the parameters it spoils or None for all)
BUGS = {
    "gauss_newton": ("gauss_newton", None),
    "no_curvature": ("missing_curvature", None),
    "times_two": ("scale", None),
    "one_layer": ("one_layer", ("W2",)),
}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hvp(params, X, T, V, network, bug=None):
    """H V (or, with ``bug``, what a mistaken R-operator computes)."""
    names, L = network.activation_names, network.depth
    bias = network.bias
    scale = 1.0 if network.reduction == "sum" else 1.0 / len(X)
    A, Z, RA, RZ = [X], [None], [np.zeros_like(X)], [None]
    for layer in range(1, L + 1):
        W, VW = params["W%d" % layer], V["W%d" % layer]
        z = A[-1] @ W.T + (params["b%d" % layer] if bias else 0)
        rz = RA[-1] @ W.T + A[-1] @ VW.T + (V["b%d" % layer] if bias else 0)
        if names[layer - 1] == "softmax":
            a = softmax(z)
            ra = a * (rz - (a * rz).sum(axis=1, keepdims=True))
        else:
            g, d1, _ = ACTIVATIONS[names[layer - 1]]
            a, ra = g(z), d1(z) * rz
        Z.append(z), A.append(a), RZ.append(rz), RA.append(ra)
    O, RO = A[-1], RA[-1]
    if network.loss.name in ("cross_entropy", "binary_cross_entropy"):   # through softmax / sigmoid: dE/dz = o - t
        delta, rdelta = scale * (O - T), scale * RO
    else:                                                                 # sse: dE/dz = (o - t) g'(z)
        _, d1, d2 = ACTIVATIONS[names[-1]]
        delta = scale * (O - T) * d1(Z[L])
        rdelta = scale * (RO * d1(Z[L]) + (O - T) * d2(Z[L]) * RZ[L])
        if bug == "gauss_newton":
            rdelta = scale * RO * d1(Z[L])
    products = {}
    for layer in range(L, 0, -1):
        W, VW = params["W%d" % layer], V["W%d" % layer]
        HW = rdelta.T @ A[layer - 1]
        if bug != "gauss_newton" and not (bug == "one_layer" and layer == 2):
            HW = HW + delta.T @ RA[layer - 1]
        products["W%d" % layer] = HW + network.weight_decay * VW
        if bias:
            products["b%d" % layer] = rdelta.sum(axis=0)
        if layer > 1:
            _, d1, d2 = ACTIVATIONS[names[layer - 2]]
            up = delta @ W
            rup = rdelta @ W + (0 if bug == "gauss_newton" else delta @ VW)
            flat = bug in ("gauss_newton", "no_curvature") or (bug == "no_curvature_in_layer_2" and layer == 3)
            curvature = 0 if flat else d2(Z[layer - 1]) * RZ[layer - 1] * up
            delta, rdelta = d1(Z[layer - 1]) * up, d1(Z[layer - 1]) * rup + curvature
    if bug == "times_two":
        products = {k: 2 * v for k, v in products.items()}
    return {key: products[key] for key in network.param_shapes()}


def correct(params, X, T, V, network):
    """The right H V."""
    return hvp(params, X, T, V, network)


def gauss_newton(params, X, T, V, network):
    """G V, passed off as H V."""
    return hvp(params, X, T, V, network, bug="gauss_newton")


def no_curvature(params, X, T, V, network):
    """H V without the hidden layers' g'' term."""
    return hvp(params, X, T, V, network, bug="no_curvature")


def no_curvature_in_layer_2(params, X, T, V, network):
    """H V without hidden layer 2's g'' term (the other hidden layers' are there)."""
    return hvp(params, X, T, V, network, bug="no_curvature_in_layer_2")


def times_two(params, X, T, V, network):
    """2 H V."""
    return hvp(params, X, T, V, network, bug="times_two")


def one_layer(params, X, T, V, network):
    """H V with delta2^T RA1 left out of W2's entries."""
    return hvp(params, X, T, V, network, bug="one_layer")


def returns_wrong_key(params, X, T, V, network):
    """A product keyed by torch's names."""
    result = hvp(params, X, T, V, network)
    result["0.weight"] = result.pop("W1")
    return result


def returns_wrong_shape(params, X, T, V, network):
    """b1's product one entry short."""
    result = hvp(params, X, T, V, network)
    result["b1"] = result["b1"][:-1]
    return result
