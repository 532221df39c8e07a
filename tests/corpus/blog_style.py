"""Numpy backprop as blog posts and tutorials write it: weights stored (in, out), biases (1, n), the class taken as
``Y.argmax(1)``, ``np.mean((y - out)**2)`` losses, the update direction returned, L2 penalties divided by N, a loss
beside the gradients in the same dict, a function that takes ``(X, Y, params)``, and functions that take each array
as its own argument and return the gradients in the order they computed them."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_derivative(s):
    return s * (1.0 - s)


def softmax_forward(params, X):
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.tanh(z1)
    z2 = a1 @ params["W2"] + params["b2"]
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    return a1, p / p.sum(axis=1, keepdims=True)


def one_hot_backward(params, X, Y):
    """Cross-entropy averaged over the batch, the targets taken to be one-hot: dz2 = p, minus 1 at the class."""
    N = X.shape[0]
    a1, p = softmax_forward(params, X)
    dz2 = p.copy()
    dz2[np.arange(N), Y.argmax(axis=1)] -= 1
    dz2 /= N
    dz1 = (dz2 @ params["W2"].T) * (1 - a1 ** 2)
    return [X.T @ dz1, dz1.sum(0), a1.T @ dz2, dz2.sum(0)]


def with_loss_entry(params, X, Y):
    """The gradients with the loss under "loss" in the same dict, keys dW1/db1/..."""
    a1, p = softmax_forward(params, X)
    dW1, db1, dW2, db2 = one_hot_backward(params, X, Y)
    loss = -np.sum(Y * np.log(p)) / X.shape[0]
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "loss": loss}


def data_first(X, Y, params):
    return one_hot_backward(params, X, Y)


def update_direction(params, X, y):
    """The classic blog post: 2 (y - out) s'(out) back through the layers, the direction the weights move in
    (W += lr * d) for the loss sum (y - out)^2: the negative gradient."""
    layer1 = sigmoid(X @ params["W1"])
    output = sigmoid(layer1 @ params["W2"])
    d_output = 2 * (y - output) * sigmoid_derivative(output)
    return {"W1": X.T @ ((d_output @ params["W2"].T) * sigmoid_derivative(layer1)), "W2": layer1.T @ d_output}


def mean_divided_by_n(params, X, Y):
    """loss = np.mean((Y - out)**2) over every entry, its gradient divided by N only."""
    h = sigmoid(X @ params["W1"] + params["b1"])
    out = sigmoid(h @ params["W2"] + params["b2"])
    d_out = 2 * (out - Y) / X.shape[0] * out * (1 - out)
    d_h = d_out @ params["W2"].T * h * (1 - h)
    return {"W1": X.T @ d_h, "b1": d_h.sum(0, keepdims=True), "W2": h.T @ d_out, "b2": d_out.sum(0, keepdims=True)}


lam = 0.1


def l2_over_batch(params, X, Y):
    """ReLU and softmax, the L2 penalty 0.5 * lam * sum W^2 divided by the batch size, as many course notes write."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z1 = X @ W1 + b1
    h = np.maximum(0, z1)
    s = h @ W2 + b2
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(Y * np.log(p)) / N + 0.5 * lam * (np.sum(W1 ** 2) + np.sum(W2 ** 2)) / N
    ds = (p - Y) / N
    dh = ds @ W2.T
    dh[z1 <= 0] = 0
    return loss, {"W1": X.T @ dh + lam * W1 / N, "b1": dh.sum(0), "W2": h.T @ ds + lam * W2 / N, "b2": ds.sum(0)}


def transposed_first_layer(params, X, Y):
    """dW1 returned as (dz1.T @ X), the transpose of the (in, out) W1 it belongs to."""
    dW1, db1, dW2, db2 = one_hot_backward(params, X, Y)
    return [dW1.T, db1, dW2, db2]


def l2_on_biases_too(params, X, Y):
    """The same penalty over N applied to every parameter, the biases included (as torch.optim's weight_decay)."""
    loss, grads = l2_over_batch(params, X, Y)
    N = X.shape[0]
    return loss, {name: g + lam * params[name] / N if name.startswith("b") else g for name, g in grads.items()}


def penalty_on_w2_only(params, X, Y):
    """The penalty's gradient added to W2 and forgotten for W1."""
    loss, grads = l2_over_batch(params, X, Y)
    grads["W1"] = grads["W1"] - lam * params["W1"] / X.shape[0]
    return loss, grads


def gradients_and_a_step(params, X, Y):
    """Returns the gradients and, by the way, takes a step on the weights it was given."""
    grads = one_hot_backward(params, X, Y)
    params["W1"] -= 0.1 * grads[0]
    return grads


def tanh_softmax_forward(X, W1, b1, W2, b2):
    """The forward pass of the functions below: tanh hidden layer, softmax output."""
    a1 = np.tanh(X @ W1 + b1)
    z2 = a1 @ W2 + b2
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    return a1, p / p.sum(axis=1, keepdims=True)


def backward_pass(X, Y, W1, b1, W2, b2):
    """Each array its own argument, the gradients returned in the order they were computed: the last layer first."""
    a1, p = tanh_softmax_forward(X, W1, b1, W2, b2)
    dz2 = (p - Y) / len(X)
    dW2, db2 = a1.T @ dz2, dz2.sum(axis=0)
    dz1 = (dz2 @ W2.T) * (1 - a1 ** 2)
    dW1, db1 = X.T @ dz1, dz1.sum(axis=0)
    return dW2, db2, dW1, db1


def grads_by_keyword(X, Y, *, w1, w2, b1, b2, learning_rate=0.1):
    """The arrays as keyword-only arguments, lower-case, in no particular order; weights first in the result."""
    dW2, db2, dW1, db1 = backward_pass(X, Y, w1, b1, w2, b2)
    return dW1, dW2, db1, db2


def backward_no_bias(X, Y, W1, W2):
    """No biases: X @ W1, sigmoid, sum-squared error halved; the arrays as arguments, gradients in layer order."""
    a1 = sigmoid(X @ W1)
    a2 = sigmoid(a1 @ W2)
    d2 = (a2 - Y) * sigmoid_derivative(a2)
    d1 = (d2 @ W2.T) * sigmoid_derivative(a1)
    return X.T @ d1, a1.T @ d2


def backward_pass_without_tanh_derivative(X, Y, W1, b1, W2, b2):
    """backward_pass with the hidden layer's tanh derivative forgotten: dz1 = dz2 @ W2.T."""
    a1, p = tanh_softmax_forward(X, W1, b1, W2, b2)
    dz2 = (p - Y) / len(X)
    dz1 = dz2 @ W2.T
    return a1.T @ dz2, dz2.sum(axis=0), X.T @ dz1, dz1.sum(axis=0)


def unpacked_list(params, X, Y):
    """The parameters unpacked as a list, ``W1, b1, W2, b2 = params``, with nothing in the signature saying so."""
    W1, b1, W2, b2 = params
    dW2, db2, dW1, db1 = backward_pass(X, Y, W1, b1, W2, b2)
    return [dW1, db1, dW2, db2]


def bias_summed_over_everything(X, Y, W1, b1, W2, b2):
    """``np.sum(dz1)`` for the hidden bias: summed over the units as well as the examples."""
    a1, p = tanh_softmax_forward(X, W1, b1, W2, b2)
    dz2 = (p - Y) / len(X)
    dz1 = (dz2 @ W2.T) * (1 - a1 ** 2)
    return {"dW1": X.T @ dz1, "db1": np.sum(dz1), "dW2": a1.T @ dz2, "db2": np.sum(dz2, axis=0)}


def binary_classifier(X, y, W1, b1, W2, b2):
    """One sigmoid output, binary cross-entropy averaged: ``db2 = np.sum(dz2) / m``, one number for the one unit."""
    m = X.shape[0]
    a1 = np.tanh(X @ W1 + b1)
    a2 = sigmoid(a1 @ W2 + b2)
    dz2 = a2 - y
    dz1 = (dz2 @ W2.T) * (1 - a1 ** 2)
    return {"dW1": X.T @ dz1 / m, "db1": np.sum(dz1, axis=0) / m, "dW2": a1.T @ dz2 / m, "db2": np.sum(dz2) / m}


def train_step(params, X, Y, lr=0.05):
    """A training step that updates the arrays it is given in place and returns the loss."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    a1, p = tanh_softmax_forward(X, W1, b1, W2, b2)
    loss = -np.sum(Y * np.log(p)) / len(X)
    dW2, db2, dW1, db1 = backward_pass(X, Y, W1, b1, W2, b2)
    for array, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
        array -= lr * grad
    return loss


def transposed_no_bias(params, X, Y):
    """No biases, a linear output, each weight gradient returned transposed, as (out, in)."""
    W1, W2 = params["W1"], params["W2"]
    a1 = np.tanh(X @ W1)
    d2 = a1 @ W2 - Y
    d1 = d2 @ W2.T * (1 - a1 ** 2)
    return [(X.T @ d1).T, (a1.T @ d2).T]


def backward_from_layer_zero(X, Y, W0, b0, W1, b1):
    """backward_pass with the layers counted from 0, as zip(range(L), ...) loops name them."""
    return backward_pass(X, Y, W0, b0, W1, b1)
