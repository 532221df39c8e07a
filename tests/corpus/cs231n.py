"""The two-layer net of CS231n's first assignment: weights stored (in, out), integer labels y, a softmax loss
averaged over the batch, L2 regularisation ``reg * sum(W * W)``; ``loss`` returns ``(loss, grads)``.

``bias_times_four`` plants a bias gradient 4x too large, the other parameters right; ``forgot_to_average``
leaves out the gradient's ``/ N`` while the loss it returns is still the mean.
"""

import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {"W1": std * np.random.randn(input_size, hidden_size), "b1": np.zeros(hidden_size),
                       "W2": std * np.random.randn(hidden_size, output_size), "b2": np.zeros(output_size)}

    def loss(self, X, y=None, reg=0.0, bug=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N, D = X.shape
        h1 = np.maximum(0, X.dot(W1) + b1)
        scores = h1.dot(W2) + b2
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= np.sum(probs, axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        if bug != "forgot_to_average":
            dscores /= N
        grads["W2"] = h1.T.dot(dscores) + 2 * reg * W2
        grads["b2"] = np.sum(dscores, axis=0)
        dh1 = dscores.dot(W2.T)
        dh1[h1 <= 0] = 0
        grads["W1"] = X.T.dot(dh1) + 2 * reg * W1
        grads["b1"] = np.sum(dh1, axis=0)
        if bug == "bias_times_four":
            grads["b1"] *= 4
        if bug == "two_bugs":
            grads["W2"] *= 2
            grads["b1"] *= 4
        return loss, grads

    def predict(self, X):
        h1 = np.maximum(0, X.dot(self.params["W1"]) + self.params["b1"])
        return np.argmax(h1.dot(self.params["W2"]) + self.params["b2"], axis=1)


net = TwoLayerNet(4, 6, 3)


def loss(params, X, y):
    net.params.update(params)
    return net.loss(X, y, reg=0.05)


def bias_times_four(params, X, y):
    net.params.update(params)
    return net.loss(X, y, reg=0.05, bug="bias_times_four")


def two_bugs(params, X, y):
    net.params.update(params)
    return net.loss(X, y, reg=0.05, bug="two_bugs")


def forgot_to_average(params, X, y):
    net.params.update(params)
    return net.loss(X, y, reg=0.05, bug="forgot_to_average")
