"""Backprop as a class, the way tutorials write it: ``NeuralNetwork(input_size, hidden_size, output_size)`` keeps
``self.W1``, ``self.b1``, ... (in, out), ``forward(X)`` caches the activations that ``backward`` reads; one
``backward`` returns the gradients, one keeps them on the instance, one takes the forward pass's output, and one
forgets the hidden layer's sigmoid derivative; ``LayeredNetwork`` keeps layer objects, ``Model`` only steps.
``Trainer(layer_sizes, learning_rate)`` cannot be made from the sizes alone."""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class NeuralNetwork:
    def __init__(self, input_size, hidden_size, output_size):
        rng = np.random.default_rng(42)
        self.W1 = rng.normal(0, 0.1, (input_size, hidden_size))
        self.b1 = np.zeros((1, hidden_size))
        self.W2 = rng.normal(0, 0.1, (hidden_size, output_size))
        self.b2 = np.zeros((1, output_size))

    def forward(self, X):
        self.z1 = X @ self.W1 + self.b1
        self.a1 = sigmoid(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2
        self.a2 = sigmoid(self.z2)
        return self.a2

    def backward(self, X, y):
        delta2 = (self.a2 - y) * self.a2 * (1 - self.a2)
        delta1 = (delta2 @ self.W2.T) * self.a1 * (1 - self.a1)
        return {"dW1": X.T @ delta1, "db1": delta1.sum(axis=0, keepdims=True),
                "dW2": self.a1.T @ delta2, "db2": delta2.sum(axis=0, keepdims=True)}

    def backward_kept(self, X, y):
        grads = self.backward(X, y)
        self.dW1, self.db1, self.dW2, self.db2 = grads["dW1"], grads["db1"], grads["dW2"], grads["db2"]

    def backward_from_output(self, X, y, output):
        delta2 = (output - y) * output * (1 - output)
        delta1 = (delta2 @ self.W2.T) * self.a1 * (1 - self.a1)
        return [X.T @ delta1, delta1.sum(axis=0), self.a1.T @ delta2, delta2.sum(axis=0)]

    def backward_without_hidden_derivative(self, X, y):
        delta2 = (self.a2 - y) * self.a2 * (1 - self.a2)
        delta1 = delta2 @ self.W2.T
        return {"dW1": X.T @ delta1, "db1": delta1.sum(axis=0), "dW2": self.a1.T @ delta2, "db2": delta2.sum(axis=0)}


class Trainer:
    def __init__(self, layer_sizes, learning_rate):
        self.layer_sizes, self.learning_rate = layer_sizes, learning_rate

    def backward(self, X, y):
        raise NotImplementedError


class Dense:
    """A layer object, as layer-by-layer tutorials write them: W (in, out), b, and dW, db after backward."""

    def __init__(self, n_in, n_out):
        self.W = np.random.default_rng(n_in).normal(0, 0.1, (n_in, n_out))
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW, self.db = self.x.T @ grad, grad.sum(axis=0)
        return grad @ self.W.T


class LayeredNetwork:
    """``self.layers``, tanh between them, a linear output and the halved sum-squared error; backward leaves each
    layer's dW, db on it and returns nothing."""

    def __init__(self, sizes):
        self.layers = [Dense(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def forward(self, X):
        self.hidden = []
        h = X
        for k, layer in enumerate(self.layers):
            h = layer.forward(h)
            if k < len(self.layers) - 1:
                h = np.tanh(h)
                self.hidden.append(h)
        self.out = h
        return h

    def backward(self, X, y):
        grad = self.out - y
        for k in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[k].backward(grad)
            if k > 0:
                grad = grad * (1 - self.hidden[k - 1] ** 2)


class Model:
    """A training step only: softmax and cross-entropy averaged, weights rebound (not changed in place), the loss
    returned."""

    def __init__(self, n_in, n_hidden, n_out, lr=0.05):
        rng = np.random.default_rng(0)
        self.lr = lr
        self.W1, self.b1 = rng.normal(0, 0.1, (n_in, n_hidden)), np.zeros(n_hidden)
        self.W2, self.b2 = rng.normal(0, 0.1, (n_hidden, n_out)), np.zeros(n_out)

    def train_step(self, X, y):
        h = np.tanh(X @ self.W1 + self.b1)
        z = h @ self.W2 + self.b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.sum(y * np.log(p)) / len(X)
        dz = (p - y) / len(X)
        dh = dz @ self.W2.T * (1 - h ** 2)
        self.W2, self.b2 = self.W2 - self.lr * h.T @ dz, self.b2 - self.lr * dz.sum(axis=0)
        self.W1, self.b1 = self.W1 - self.lr * X.T @ dh, self.b1 - self.lr * dh.sum(axis=0)
        return loss


class CachedNetwork:
    """A forward cache kept in a dict made empty in ``__init__``, a ``grads`` dict made there too and filled in
    place, a lock (which cannot be copied), and data arguments named ``batch_x``, ``batch_y``."""

    def __init__(self, sizes):
        import threading

        rng = np.random.default_rng(7)
        self.W1, self.b1 = rng.normal(0, 0.1, (sizes[1], sizes[0])), np.zeros(sizes[1])
        self.W2, self.b2 = rng.normal(0, 0.1, (sizes[2], sizes[1])), np.zeros(sizes[2])
        self.cache = {}
        self.grads = {name: np.zeros_like(value) for name, value in vars(self).items() if name != "cache"}
        self.lock = threading.Lock()

    def forward(self, batch_x):
        self.cache["a1"] = np.tanh(batch_x @ self.W1.T + self.b1)
        self.cache["out"] = self.cache["a1"] @ self.W2.T + self.b2
        return self.cache["out"]

    def backward(self, batch_x, batch_y, out):
        a1 = self.cache["a1"]
        d2 = out - batch_y
        d1 = d2 @ self.W2 * (1 - a1 ** 2)
        self.grads["W1"][...], self.grads["b1"][...] = d1.T @ batch_x, d1.sum(axis=0)
        self.grads["W2"][...], self.grads["b2"][...] = d2.T @ a1, d2.sum(axis=0)


class OneExampleNetwork:
    """One example per call, as columns, its gradients written into arrays made once in ``__init__``."""

    def __init__(self, sizes):
        self.W1, self.b1 = np.zeros((sizes[1], sizes[0])), np.zeros((sizes[1], 1))
        self.W2, self.b2 = np.zeros((sizes[2], sizes[1])), np.zeros((sizes[2], 1))
        self.grads = {name: np.zeros_like(value) for name, value in vars(self).items()}

    def backprop(self, x, y):
        a1 = np.tanh(self.W1 @ x + self.b1)
        d2 = self.W2 @ a1 + self.b2 - y
        d1 = self.W2.T @ d2 * (1 - a1 ** 2)
        self.grads["W1"][...], self.grads["b1"][...] = d1 @ x.T, d1
        self.grads["W2"][...], self.grads["b2"][...] = d2 @ a1.T, d2
