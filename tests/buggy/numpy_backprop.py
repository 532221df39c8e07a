"""A student's numpy backprop, with each classic mistake behind a switch.

``gradients(params, X, T, network, bug=None)`` handles sigmoid, tanh and
linear layers, a softmax output, a sigmoid output with binary cross-entropy,
the sum-squared error, either reduction, biases or none, weight decay and the
L1 penalty.  With ``bug=None`` it is right; each entry of :data:`BUGS`
makes one mistake, written the way a student writes it, and says what the
diagnosis should call it (its kind, and the parameters it spoils).
"""

from __future__ import annotations

import functools

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# g, g' written in terms of the output a = g(z), and g' written in terms of z.
ACTIVATIONS = {
    "sigmoid": (sigmoid, lambda a: a * (1 - a), lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "tanh": (np.tanh, lambda a: 1 - a ** 2, lambda z: 1 - np.tanh(z) ** 2),
    "linear": (lambda z: z, lambda a: np.ones_like(a), lambda z: np.ones_like(z)),
}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def gradients(params, X, T, network, bug=None):
    """dE/dW and dE/db by backprop; ``bug`` names the mistake to make (see :data:`BUGS`)."""
    names, L = network.activation_names, network.depth
    A, Z = [X], [None]
    for layer in range(1, L + 1):
        z = A[-1] @ params["W%d" % layer].T + (params["b%d" % layer] if network.bias else 0)
        Z.append(z)
        A.append(softmax(z) if names[layer - 1] == "softmax" else ACTIVATIONS[names[layer - 1]][0](z))
    scale = 1 / len(X) if network.reduction == "mean" else 1
    if bug == "mean_instead_of_sum":
        scale = 1 / len(X)
    if bug == "sum_instead_of_mean":
        scale = 1
    out = A[-1]
    if network.loss.name in ("cross_entropy", "binary_cross_entropy"):
        delta = out - T                                     # through softmax / sigmoid: o - t
    else:
        error = 2 * (out - T) if bug == "sse_without_half" else out - T
        slope = ACTIVATIONS[names[-1]][1] if names[-1] != "softmax" else None
        if slope is None:                                   # softmax: the Jacobian times the error
            delta = out * (error - (out * error).sum(axis=1, keepdims=True))
        elif bug == "missing_output_derivative":
            delta = error
        elif bug == "output_derivative_at_z":
            delta = error * slope(Z[-1])                   # a(1 - a) applied to z
        else:
            delta = error * slope(out)
    if bug == "sign_flip":
        delta = T - out if network.loss.name != "sse" else -delta    # the lecture's sign, never negated back
    delta = scale * delta
    grads = {}
    for layer in range(L, 0, -1):
        W = params["W%d" % layer]
        decay = network.weight_decay * W + network.l1 * np.sign(W)
        if bug == "decay_missing":
            decay = 0
        elif bug == "decay_doubled":
            decay = 2 * network.weight_decay * W
        elif bug == "l1_missing":  # weight decay kept, the L1 term forgotten
            decay = network.weight_decay * W
        if bug in ("transposed_weight_gradient", "transposed_shape") and layer == L:
            grads["W%d" % layer] = A[layer - 1].T @ delta + decay.T
        else:
            grads["W%d" % layer] = delta.T @ A[layer - 1] + decay
        if network.bias:
            if bug == "bias_last_example" and layer == L:
                grads["b%d" % layer] = delta[-1]
            elif bug == "bias_per_example" and layer == L:
                grads["b%d" % layer] = delta
            else:
                grads["b%d" % layer] = delta.sum(axis=0)
        if layer > 1:
            g, slope_of_a, slope_of_z = ACTIVATIONS[names[layer - 2]]
            back = delta @ W
            if bug == "untransposed_propagation":
                back = delta @ W.T
            elif bug == "wrong_layer_weights" and layer == 2:
                back = delta @ params["W%d" % (layer - 1)]
            if bug == "missing_hidden_derivative" and layer == 2:
                delta = back
            elif bug == "hidden_derivative_at_z":
                delta = back * slope_of_a(Z[layer - 1])
            elif bug == "hidden_derivative_of_a":
                delta = back * slope_of_z(A[layer - 1])
            else:
                delta = back * slope_of_a(A[layer - 1])
    return grads


#: bug -> (network options, diagnosis kind, parameters it spoils).  Widths are chosen so that the mistake
#: produces arrays of the right shapes (a student's code that crashes needs no diagnosis).
BUGS = {
    "missing_output_derivative": (dict(sizes=(3, 4, 2)), "missing_derivative", ("W1", "b1", "W2", "b2")),
    "missing_hidden_derivative": (dict(sizes=(3, 4, 2), activation="tanh"), "missing_derivative", ("W1", "b1")),
    "output_derivative_at_z": (dict(sizes=(3, 4, 2)), "derivative_at_preactivation", ("W1", "b1", "W2", "b2")),
    "hidden_derivative_at_z": (dict(sizes=(2, 5, 3), activation=["tanh", "linear"]), "derivative_at_preactivation",
                               ("W1", "b1")),
    "hidden_derivative_of_a": (dict(sizes=(2, 5, 3), activation=["sigmoid", "linear"]), "derivative_of_activation",
                               ("W1", "b1")),
    "sign_flip": (dict(sizes=(3, 4, 2)), "scale", ("W1", "b1", "W2", "b2")),
    "sse_without_half": (dict(sizes=(3, 4, 2), activation="tanh"), "scale", ("W1", "b1", "W2", "b2")),
    "mean_instead_of_sum": (dict(sizes=(3, 4, 2)), "scale", ("W1", "b1", "W2", "b2")),
    "sum_instead_of_mean": (dict(sizes=(4, 3, 3), activation=["tanh", "softmax"], loss="cross_entropy",
                                 reduction="mean"), "scale", ("W1", "b1", "W2", "b2")),
    "transposed_weight_gradient": (dict(sizes=(2, 3, 3)), "transposed", ("W2",)),
    "transposed_shape": (dict(sizes=(3, 4, 2)), "transposed", ("W2",)),
    "bias_last_example": (dict(sizes=(3, 4, 2), activation=["tanh", "sigmoid"], loss="binary_cross_entropy"),
                          "bias_not_summed", ("b2",)),
    "bias_per_example": (dict(sizes=(3, 4, 2)), "bias_not_summed", ("b2",)),
    "untransposed_propagation": (dict(sizes=(2, 3, 3)), "untransposed_weights", ("W1", "b1")),
    "wrong_layer_weights": (dict(sizes=(3, 3, 3, 2), activation="tanh"), "wrong_layer_weights", ("W1", "b1")),
    "decay_missing": (dict(sizes=(3, 4, 2), weight_decay=0.1), "penalty_missing", ("W1", "W2")),
    "decay_doubled": (dict(sizes=(3, 4, 2), weight_decay=0.1), "penalty_doubled", ("W1", "W2")),
    "l1_missing": (dict(sizes=(3, 4, 2), weight_decay=0.1, l1=0.05), "penalty_missing", ("W1", "W2")),
}


def with_bug(bug: str):
    """``gradients`` with one mistake: ``fn(params, X, T, network)``."""
    return functools.update_wrapper(functools.partial(gradients, bug=bug), gradients)
