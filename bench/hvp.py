"""Benchmark: the generated Hessian- and Gauss-Newton-vector products against the gradient and against PyTorch.

Pearlmutter's R-operator gives H·V for about twice the cost of the gradient:
one more forward pass (R{Z_l}, R{A_l}) and one more backward pass (R{δ_l})
beside the gradient's own.  This script times, in alternating rounds of one
run, on 784-100-10 and 784-512-512-10 at batch 256 in float64, each with
sigmoid hidden layers and either softmax + cross-entropy or a sigmoid output
with the sum-squared error:

* the generated ``gradients`` (the baseline of the ratios),
* the generated ``hvp(params, X, T, V)`` and ``gnvp(params, X, T, V)``
  (``derive(network).numpy_module(order=2)``), each with a workspace,
* ``torch.autograd.functional.hvp`` of the same loss written in torch
  (double backward: the vector-Jacobian product of the gradient), CPU, float64,
  and ``torch.func.jvp`` of ``torch.func.grad`` (forward-over-reverse, the
  fastest way PyTorch has) for reference,

and prints hvp / gradient (target at most 2.5) and hvp / torch (target at
most 1), after checking that the generated and torch products agree.  Then
the dense Hessian of a 10-10-10-2 network (242 parameters, batch 64): the
generated ``hessian`` against ``torch.func.hessian`` of the loss of a flat
parameter vector.

Threads: OpenBLAS and PyTorch on one thread each, as in ``bench/codegen.py``
and ``bench/check_torch.py`` (on a shared 2-core machine a second thread
mostly measures the neighbours), and times are the CPU time of this thread:
what the code costs, whatever the neighbours do.  Run: ``python bench/hvp.py [--rounds 15]``.
"""

from __future__ import annotations

import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from derive import Network, derive, init_params  # noqa: E402

BATCH = 256
NETWORKS = {
    "784-100-10 softmax+CE": Network((784, 100, 10), activation=["sigmoid", "softmax"], loss="cross_entropy"),
    "784-100-10 sigmoid+SSE": Network((784, 100, 10), activation="sigmoid", loss="sse"),
    "784-512-512-10 softmax+CE": Network((784, 512, 512, 10), activation=["sigmoid", "sigmoid", "softmax"],
                                         loss="cross_entropy"),
    "784-512-512-10 sigmoid+SSE": Network((784, 512, 512, 10), activation="sigmoid", loss="sse"),
}
DENSE = Network((10, 10, 10, 2), activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy")
DENSE_BATCH = 64


def _sibling(name: str):
    """A module of bench/, loaded by path (bench/ is kept off sys.path: bench/derive.py would shadow derive)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("bench_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Median time per call of each function, timed in alternating rounds (after warm-up), as in bench/codegen.py.
median_times = _sibling("codegen").median_times


def problem(network: Network, batch: int, seed: int = 0):
    """Parameters, data (one-hot targets) and a direction V, seeded."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(batch, network.sizes[0]))
    T = np.eye(network.sizes[-1])[rng.integers(0, network.sizes[-1], size=batch)]
    params = init_params(network, seed=seed, scale=0.1)
    V = {name: rng.standard_normal(value.shape) for name, value in params.items()}
    return params, X, T, V


def torch_loss(network: Network, X: torch.Tensor, T: torch.Tensor):
    """The network's loss as a torch function of its parameter tensors (W1, b1, W2, b2, ... in order)."""
    names = list(network.param_shapes())

    def loss(*tensors):
        values = dict(zip(names, tensors))
        A = X
        for layer in range(1, network.depth + 1):
            Z = A @ values["W%d" % layer].T + values["b%d" % layer]
            if network.activations[layer - 1].name == "softmax":
                return -(T * torch.log_softmax(Z, dim=1)).sum()  # cross-entropy on the softmax's logits
            A = torch.sigmoid(Z)
        return 0.5 * ((A - T) ** 2).sum()

    return names, loss


def products(name: str, network: Network, rounds: int) -> None:
    module = derive(network).numpy_module(order=2)
    params, X, T, V = problem(network, BATCH)
    names, loss = torch_loss(network, torch.from_numpy(X), torch.from_numpy(T))
    tensors = tuple(torch.from_numpy(params[key]) for key in names)
    directions = tuple(torch.from_numpy(V[key]) for key in names)
    grad = torch.func.grad(lambda *t: loss(*t), argnums=tuple(range(len(names))))
    workspaces = ({}, {}, {})
    expected = torch.autograd.functional.hvp(loss, tensors, directions)[1]
    generated = module.hvp(params, X, T, V, workspace=workspaces[1])
    worst = max(float(np.abs(generated[key] - e.numpy()).max() / np.abs(e.numpy()).max())
                for key, e in zip(names, expected))
    assert worst < 1e-10, "generated hvp and torch disagree: %g" % worst
    times = median_times({
        "gradients": lambda: module.gradients(params, X, T, workspace=workspaces[0]),
        "hvp": lambda: module.hvp(params, X, T, V, workspace=workspaces[1]),
        "gnvp": lambda: module.gnvp(params, X, T, V, workspace=workspaces[2]),
        "torch hvp": lambda: torch.autograd.functional.hvp(loss, tensors, directions),
        "torch jvp(grad)": lambda: torch.func.jvp(grad, tensors, directions),
    }, rounds, number=3, clock=time.thread_time)
    base = times["gradients"]
    print("  %-27s gradients %7.2f ms | hvp %7.2f ms = %.2f x gradient, %.2f x torch hvp, %.2f x torch jvp(grad) "
          "| gnvp %7.2f ms = %.2f x gradient | torch hvp %7.2f ms, jvp(grad) %7.2f ms  (hvp agrees with torch to "
          "%.0e)" % (name, base * 1e3, times["hvp"] * 1e3, times["hvp"] / base, times["hvp"] / times["torch hvp"],
                     times["hvp"] / times["torch jvp(grad)"], times["gnvp"] * 1e3, times["gnvp"] / base,
                     times["torch hvp"] * 1e3, times["torch jvp(grad)"] * 1e3, worst))


def dense(rounds: int) -> None:
    module = derive(DENSE).numpy_module(order=2)
    params, X, T, _ = problem(DENSE, DENSE_BATCH)
    names, loss = torch_loss(DENSE, torch.from_numpy(X), torch.from_numpy(T))
    shapes = [params[key].shape for key in names]
    sizes = [int(np.prod(shape)) for shape in shapes]

    def flat_loss(theta):
        return loss(*(piece.reshape(shape) for piece, shape in zip(torch.split(theta, sizes), shapes)))

    theta = torch.from_numpy(np.concatenate([params[key].ravel() for key in names]))
    hessian = torch.func.hessian(flat_loss)
    expected = hessian(theta).numpy()
    generated = module.hessian(params, X, T)
    difference = float(np.abs(generated - expected).max() / np.abs(expected).max())
    assert difference < 1e-10, "generated hessian and torch.func.hessian disagree: %g" % difference
    times = median_times({"hessian": lambda: module.hessian(params, X, T), "torch": lambda: hessian(theta)},
                         rounds, number=1, clock=time.thread_time)
    print("  %-27s generated hessian %7.2f ms | torch.func.hessian %7.2f ms | ratio %.2f  (%d parameters, batch %d, "
          "agree to %.0e)" % ("-".join(map(str, DENSE.sizes)) + " dense", times["hessian"] * 1e3,
                              times["torch"] * 1e3, times["hessian"] / times["torch"], theta.numel(), DENSE_BATCH,
                              difference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating timing rounds (median over them)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("H·V and G·V, batch %d, float64, OPENBLAS_NUM_THREADS=%s, torch threads %d, median of %d rounds"
          % (BATCH, os.environ["OPENBLAS_NUM_THREADS"], torch.get_num_threads(), args.rounds))
    print("  targets: hvp <= 2.5 x gradient, hvp <= 1 x torch hvp")
    for name, network in NETWORKS.items():
        products(name, network, args.rounds)
    dense(args.rounds)


if __name__ == "__main__":
    main()
