"""Michael Nielsen's network.py (Neural Networks and Deep Learning, chapter 1), as readers copy it.

Biases and activations are columns; ``backprop(x, y)`` takes one example and
returns ``(nabla_b, nabla_w)``; the cost is the quadratic cost 1/2 ||a - y||^2.
``backprop_off_by_one`` is the classic slip of a loop over layers: the
derivative of the layer above (``zs[-l + 1]``) where ``zs[-l]`` belongs;
``backprop_prime_of_a`` the other classic, ``sigmoid_prime(a)`` where it takes z, in every hidden layer.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def backprop(self, x, y, off_by_one=False, prime_of_a=False):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l + 1] if off_by_one else zs[-l]
            sp = sigmoid_prime(activations[-l]) if prime_of_a else sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def cost_derivative(self, output_activations, y):
        return output_activations - y


net = Network([3, 4, 2])
deep = Network([3, 4, 4, 4])


def backprop(params, x, y):
    net.weights, net.biases = [params["W1"], params["W2"]], [params["b1"], params["b2"]]
    return net.backprop(x, y)


def backprop_off_by_one(params, x, y):
    deep.weights = [params["W1"], params["W2"], params["W3"]]
    deep.biases = [params["b1"], params["b2"], params["b3"]]
    return deep.backprop(x, y, off_by_one=True)


def backprop_prime_of_a(params, x, y):
    deep.weights = [params["W1"], params["W2"], params["W3"]]
    deep.biases = [params["b1"], params["b2"], params["b3"]]
    return deep.backprop(x, y, prime_of_a=True)


def backprop_weights_first(params, x, y):
    """The pair the other way round, ``(nabla_w, nabla_b)``, as some ports of the book return it."""
    nabla_b, nabla_w = backprop(params, x, y)
    return nabla_w, nabla_b
