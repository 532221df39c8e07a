"""A from-scratch regressor written against Keras' "mse": the mean of (y_pred - y)^2 over every entry, sigmoid
hidden units, a linear output, gradient keys grad_W1, grad_b1 ...; and, with a softmax output trained on that
loss, the softmax derivative taken elementwise, s(1 - s) (only the diagonal of its Jacobian)."""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def gradients(params, X, Y):
    H = sigmoid(X @ params["W1"].T + params["b1"])
    out = H @ params["W2"].T + params["b2"]
    d_out = 2 * (out - Y) / Y.size
    d_hidden = (d_out @ params["W2"]) * H * (1 - H)
    return {"grad_W1": d_hidden.T @ X, "grad_b1": d_hidden.sum(0), "grad_W2": d_out.T @ H, "grad_b2": d_out.sum(0)}


def softmax_elementwise(params, X, Y):
    H = sigmoid(X @ params["W1"].T + params["b1"])
    S = softmax(H @ params["W2"].T + params["b2"])
    d_out = 2 * (S - Y) / Y.size * S * (1 - S)        # s(1 - s): the diagonal of the softmax Jacobian only
    d_hidden = (d_out @ params["W2"]) * H * (1 - H)
    return {"grad_W1": d_hidden.T @ X, "grad_b1": d_hidden.sum(0), "grad_W2": d_out.T @ H, "grad_b2": d_out.sum(0)}


def dropped_slice(params, X, Y):
    H = sigmoid(X @ params["W1"].T + params["b1"])
    out = H @ params["W2"].T + params["b2"]
    d_out = 2 * (out - Y) / Y.size
    d_hidden = (d_out @ params["W2"]) * H * (1 - H)
    d_hidden[:, 10:20] = 0                              # a mask meant for dropout, applied to the wrong units
    return {"grad_W1": d_hidden.T @ X, "grad_b1": d_hidden.sum(0), "grad_W2": d_out.T @ H, "grad_b2": d_out.sum(0)}


def chatty(params, X, Y):
    for epoch in range(3):
        print("epoch %d: loss %.4f" % (epoch, float(np.mean((X[:, :1] - Y[:, :1]) ** 2))))
    return gradients(params, X, Y)
