"""The numpy warm-up of PyTorch's "Learning PyTorch with Examples": x.dot(w1), weights (in, out) named w1, w2,
no biases, ReLU, the loss np.square(y_pred - y).sum() (no 1/2), and a training step that updates in place."""

import numpy as np

learning_rate = 1e-2


def train_step(params, x, y):
    w1, w2 = params["w1"], params["w2"]
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    loss = np.square(y_pred - y).sum()
    print(loss)

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h_relu = grad_y_pred.dot(w2.T)
    grad_h = grad_h_relu.copy()
    grad_h[h < 0] = 0
    grad_w1 = x.T.dot(grad_h)

    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2


def gradients(params, x, y):
    w1, w2 = params["w1"], params["w2"]
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_h = grad_y_pred.dot(w2.T)
    grad_h[h < 0] = 0
    return {"w1": x.T.dot(grad_h), "w2": h_relu.T.dot(grad_y_pred)}
