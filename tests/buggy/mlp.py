"""Backprop written by hand for one network, 3-4-2 with tanh and sigmoid layers and the sum-squared error.

:func:`gradients` is right; the others are a user's other functions: one with
the output delta's sigmoid derivative forgotten, one in the list form, and one
that raises in the user's own code.
"""

import numpy as np


def gradients(params, X, T):
    """3-4-2: tanh hidden layer, sigmoid output, sum-squared error."""
    H = np.tanh(X @ params["W1"].T + params["b1"])
    O = 1 / (1 + np.exp(-(H @ params["W2"].T + params["b2"])))
    delta2 = (O - T) * O * (1 - O)
    delta1 = (delta2 @ params["W2"]) * (1 - H ** 2)
    return {"W1": delta1.T @ X, "b1": delta1.sum(0), "W2": delta2.T @ H, "b2": delta2.sum(0)}


def forgets_the_output_derivative(params, X, T):
    H = np.tanh(X @ params["W1"].T + params["b1"])
    O = 1 / (1 + np.exp(-(H @ params["W2"].T + params["b2"])))
    delta2 = O - T
    delta1 = (delta2 @ params["W2"]) * (1 - H ** 2)
    return {"W1": delta1.T @ X, "b1": delta1.sum(0), "W2": delta2.T @ H, "b2": delta2.sum(0)}


def as_lists(params: list, X, T):
    grads = gradients(dict(zip(["W1", "b1", "W2", "b2"], params)), X, T)
    return [grads["W1"], grads["b1"], grads["W2"], grads["b2"]]


def raises(params, X, T):
    H = np.tanh(X @ params["W1"])
    return {"H": H}
