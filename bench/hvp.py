"""Benchmark: the generated Hessian- and Gauss-Newton-vector products against their matrix products and PyTorch.

Pearlmutter's R-operator gives H·V by one more forward pass (R{Z_l}, R{A_l})
and one more backward pass (R{δ_l}) beside the gradient's own, and what it
cannot avoid is their matrix products.  This script times, in alternating
rounds of one run, on 784-100-10 and 784-512-512-10 at batch 256 in float64,
each with sigmoid hidden layers and either softmax + cross-entropy or a
sigmoid output with the sum-squared error:

* the generated ``hvp(params, X, T, V)`` and ``gnvp(params, X, T, V)``
  (``derive(network).numpy_module(order=2)``), each with a workspace, against
  **their matrix-product bound**: the products each must do, alone, written
  into kept arrays (:func:`hvp_products`, :func:`gnvp_products`), as
  ``bench/codegen.py`` does for the gradient (target: at most 1.05);
  each ratio is the median over the rounds of the two times in the same round
  (:func:`paired_ratio` of ``bench/codegen.py``), which a shared machine's drifting
  speed disturbs far less than a ratio of two medians taken seconds apart, and
  each function's timed calls follow one untimed call, so that its arrays are
  in the cache as in a loop calling it, whatever ran before (otherwise the one
  timed right after the torch calls starts with a cold cache);
* the generated ``gradients``, for scale;
* ``torch.autograd.functional.hvp`` of the same loss written in torch
  (double backward), CPU, float64, and ``torch.func.jvp`` of
  ``torch.func.grad`` (forward-over-reverse, the fastest way PyTorch has);
* ``hvp`` of 16 directions at once (``V`` with a leading direction axis)
  against 16 calls of one direction each;

after checking that the generated and torch products agree; and H·V's matrix
products with the examples as rows, as the generated code keeps them, against
the same products with the examples as columns (:func:`hvp_products_by_columns`:
the layout the code was not given, because it is faster for one width and
slower for another on the same BLAS).  Then the dense
Hessian of 10-10-10-2 (242 parameters, batch 64) and 30-30-5 (1,085
parameters, batch 32), and of the lecture's 2-2-1 (one example): the generated
``hessian`` (``hvp`` on blocks of unit directions) against ``torch.func.hessian``
of the loss of a flat parameter vector (target: no slower, agreeing to 1e-10),
and against the Hessian printed directly from the derivation's Hessian blocks
(``bench/hessian_blocks.py``), the alternative it was chosen over.

Memory: as in ``bench/codegen.py``, one 24 MB block is freed first, so that
glibc keeps freed blocks instead of returning them to the system (as in any
long-running numpy process); otherwise the products' fresh result arrays
(``HV_W1`` is 3.2 MB at 784-512-512-10) fault their pages in on every call.

Threads: OpenBLAS and PyTorch on one thread each, as in ``bench/codegen.py``
and ``bench/check_torch.py`` (on a shared 2-core machine a second thread
mostly measures the neighbours), and times are the CPU time of this thread:
what the code costs, whatever the neighbours do.  Run: ``python bench/hvp.py [--rounds 41]`` (a run takes
about five minutes; on a shared machine fewer rounds leave the ratios a percent or two apart from run to run).
"""

from __future__ import annotations

import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
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
#: Directions per call in the comparison of one call for many directions with one call per direction.
DIRECTIONS = 16
DENSE = {
    "10-10-10-2": (Network((10, 10, 10, 2), activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy"), 64),
    "30-30-5": (Network((30, 30, 5), activation=["sigmoid", "softmax"], loss="cross_entropy"), 32),
    "2-2-1": (Network((2, 2, 1), activation="sigmoid", loss="sse"), 1),
}


def _sibling(name: str):
    """A module of bench/, loaded by path (bench/ is kept off sys.path: bench/derive.py would shadow derive)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("bench_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_codegen = _sibling("codegen")
#: Median time per call of each function, timed in alternating rounds (after warm-up), as in bench/codegen.py.
median_times = _codegen.median_times
round_times, paired_ratio = _codegen.round_times, _codegen.paired_ratio
hessian_blocks = _sibling("hessian_blocks")


def problem(network: Network, batch: int, seed: int = 0):
    """Parameters, data (one-hot targets) and a direction V, seeded."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(batch, network.sizes[0]))
    T = np.eye(network.sizes[-1])[rng.integers(0, network.sizes[-1], size=batch)]
    params = init_params(network, seed=seed, scale=0.1)
    V = {name: rng.standard_normal(value.shape) for name, value in params.items()}
    return params, X, T, V


class Shapes:
    """Arrays of a network's shapes at one batch size, values meaningless, to time bare matrix products on.

    ``W[l]``, ``V[l]`` (l = 1..L); ``A[l]``, ``RA[l]`` (l = 0..L-1, A[0] the input, RA[0] unused);
    ``delta[l]``, ``Rdelta[l]`` (l = 1..L); ``out(key, shape)`` a kept array to write a product into.
    """

    def __init__(self, network: Network, batch: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        sizes, depth = network.sizes, network.depth
        self.depth = depth
        self.W = {l: rng.standard_normal((sizes[l], sizes[l - 1])) for l in range(1, depth + 1)}
        self.V = {l: rng.standard_normal((sizes[l], sizes[l - 1])) for l in range(1, depth + 1)}
        self.A = {l: rng.uniform(0, 1, (batch, sizes[l])) for l in range(depth)}
        self.RA = {l: rng.standard_normal((batch, sizes[l])) for l in range(depth)}
        self.delta = {l: rng.standard_normal((batch, sizes[l])) for l in range(1, depth + 1)}
        self.Rdelta = {l: rng.standard_normal((batch, sizes[l])) for l in range(1, depth + 1)}
        self._kept: dict = {}

    def out(self, key, shape: tuple) -> np.ndarray:
        if key not in self._kept:
            self._kept[key] = np.empty(shape)
        return self._kept[key]

    def product(self, key, left: np.ndarray, right: np.ndarray) -> None:
        np.matmul(left, right, out=self.out(key, (left.shape[0], right.shape[1])))


def forward_products(s: Shapes, R: bool) -> None:
    """Z_l = A_{l-1} W_l^T; with ``R``, also RZ_l = A_{l-1} V_l^T + RA_{l-1} W_l^T (no RA_0: the data do not move)."""
    for l in range(1, s.depth + 1):
        s.product(("Z", l), s.A[l - 1], s.W[l].T)
        if R:
            s.product(("RZ", l), s.A[l - 1], s.V[l].T)
            if l > 1:
                s.product(("RZ'", l), s.RA[l - 1], s.W[l].T)


def hvp_products(s: Shapes) -> None:
    """The matrix products H·V must do: forward and R-forward, δ_l W_l (for δ_{l-1} and its g'' term),
    R{δ_{l-1}} = (Rδ_l W_l + δ_l V_l) ..., HV_W_l = Rδ_l^T A_{l-1} + δ_l^T RA_{l-1}."""
    forward_products(s, R=True)
    for l in range(s.depth, 0, -1):
        s.product(("HV", l), s.Rdelta[l].T, s.A[l - 1])
        if l > 1:
            s.product(("HV'", l), s.delta[l].T, s.RA[l - 1])
            s.product(("back", l), s.delta[l], s.W[l])
            s.product(("Rback", l), s.Rdelta[l], s.W[l])
            s.product(("Rback'", l), s.delta[l], s.V[l])


class ColumnShapes(Shapes):
    """:class:`Shapes` with the per-example arrays stored the other way, one column per example (``A_l^T``,
    ``(units, batch)``), as a from-scratch backprop that keeps examples as columns does; the data stay as given."""

    def __init__(self, network: Network, batch: int, seed: int = 1):
        super().__init__(network, batch, seed)
        for arrays in (self.A, self.RA, self.delta, self.Rdelta):
            for l, value in arrays.items():
                arrays[l] = np.ascontiguousarray(value.T) if l else value.T


def hvp_products_by_columns(s: ColumnShapes) -> None:
    """:func:`hvp_products` with every per-example product transposed: Z_l^T = W_l A_{l-1}^T, HV_W_l = Rδ_l^T A_{l-1}
    with Rδ_l^T stored, (δ_l W_l)^T = W_l^T δ_l^T: the same arithmetic, the batch as BLAS's other dimension."""
    for l in range(1, s.depth + 1):
        s.product(("Z", l), s.W[l], s.A[l - 1])
        s.product(("RZ", l), s.V[l], s.A[l - 1])
        if l > 1:
            s.product(("RZ'", l), s.W[l], s.RA[l - 1])
    for l in range(s.depth, 0, -1):
        s.product(("HV", l), s.Rdelta[l], s.A[l - 1].T)
        if l > 1:
            s.product(("HV'", l), s.delta[l], s.RA[l - 1].T)
            s.product(("back", l), s.W[l].T, s.delta[l])
            s.product(("Rback", l), s.W[l].T, s.Rdelta[l])
            s.product(("Rback'", l), s.V[l].T, s.delta[l])


def gnvp_products(s: Shapes) -> None:
    """The matrix products G·V must do: forward and R-forward, Gδ_{l-1} from Gδ_l W_l, GV_W_l = Gδ_l^T A_{l-1}."""
    forward_products(s, R=True)
    for l in range(s.depth, 0, -1):
        s.product(("GV", l), s.Rdelta[l].T, s.A[l - 1])
        if l > 1:
            s.product(("Gback", l), s.Rdelta[l], s.W[l])


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
    shapes = Shapes(network, BATCH)
    # Each product function right before its bound, so that a round's ratio compares the two at one machine speed.
    samples = round_times({
        "gradients": lambda: module.gradients(params, X, T, workspace=workspaces[0]),
        "hvp": lambda: module.hvp(params, X, T, V, workspace=workspaces[1]),
        "hvp products": lambda: hvp_products(shapes),
        "gnvp": lambda: module.gnvp(params, X, T, V, workspace=workspaces[2]),
        "gnvp products": lambda: gnvp_products(shapes),
        "torch hvp": lambda: torch.autograd.functional.hvp(loss, tensors, directions),
        "torch jvp(grad)": lambda: torch.func.jvp(grad, tensors, directions),
    }, rounds, number=3 if network.sizes[1] > 100 else 6, clock=time.thread_time, warm=True)
    times = {key: statistics.median(values) for key, values in samples.items()}
    ratio = lambda key, baseline: paired_ratio(samples, key, baseline)  # noqa: E731
    print("  %-27s hvp %7.2f ms = %.3f x its products (%.2f ms) | gnvp %7.2f ms = %.3f x its products (%.2f ms)"
          % (name, times["hvp"] * 1e3, ratio("hvp", "hvp products"), times["hvp products"] * 1e3,
             times["gnvp"] * 1e3, ratio("gnvp", "gnvp products"), times["gnvp products"] * 1e3))
    print("  %-27s hvp = %.2f x gradient (%.2f ms), %.2f x torch hvp (%.2f ms), %.2f x torch jvp(grad) (%.2f ms); "
          "gnvp = %.2f x gradient  (hvp agrees with torch to %.0e)"
          % ("", ratio("hvp", "gradients"), times["gradients"] * 1e3, ratio("hvp", "torch hvp"),
             times["torch hvp"] * 1e3, ratio("hvp", "torch jvp(grad)"), times["torch jvp(grad)"] * 1e3,
             ratio("gnvp", "gradients"), worst))


def layouts(name: str, network: Network, rounds: int) -> None:
    """The products of H·V with examples as rows (the generated code's layout) against examples as columns."""
    rows, columns = Shapes(network, BATCH), ColumnShapes(network, BATCH)
    samples = round_times({"rows": lambda: hvp_products(rows), "columns": lambda: hvp_products_by_columns(columns)},
                          rounds, number=3 if network.sizes[1] > 100 else 6, clock=time.thread_time, warm=True)
    print("  %-27s H·V's products with examples as columns = %.3f x with examples as rows"
          % (name, paired_ratio(samples, "columns", "rows")))


def many_directions(name: str, network: Network, rounds: int) -> None:
    """``hvp`` of DIRECTIONS directions in one call (a leading direction axis) against one call per direction."""
    module = derive(network).numpy_module(order=2)
    params, X, T, _ = problem(network, BATCH)
    rng = np.random.default_rng(2)
    V = {key: rng.standard_normal((DIRECTIONS,) + value.shape) for key, value in params.items()}
    singles = [{key: value[d] for key, value in V.items()} for d in range(DIRECTIONS)]
    batched = module.hvp(params, X, T, V)
    for d, single in enumerate(singles):
        one = module.hvp(params, X, T, single)
        assert all(np.allclose(batched[key][d], one[key], rtol=1e-12, atol=0) for key in params)
    workspaces = ({}, {})
    times = median_times({
        "one call": lambda: module.hvp(params, X, T, V, workspace=workspaces[0]),
        "one per direction": lambda: [module.hvp(params, X, T, single, workspace=workspaces[1]) for single in singles],
    }, max(3, rounds // 3), number=1, clock=time.thread_time)
    print("  %-27s hvp of %d directions in one call %7.2f ms | %d calls %7.2f ms | ratio %.2f"
          % (name, DIRECTIONS, times["one call"] * 1e3, DIRECTIONS, times["one per direction"] * 1e3,
             times["one call"] / times["one per direction"]))


def dense(name: str, network: Network, batch: int, rounds: int) -> None:
    module = derive(network).numpy_module(order=2)
    params, X, T, _ = problem(network, batch)
    names, loss = torch_loss(network, torch.from_numpy(X), torch.from_numpy(T))
    shapes = [params[key].shape for key in names]
    sizes = [int(np.prod(shape)) for shape in shapes]

    def flat_loss(theta):
        return loss(*(piece.reshape(shape) for piece, shape in zip(torch.split(theta, sizes), shapes)))

    theta = torch.from_numpy(np.concatenate([params[key].ravel() for key in names]))
    hessian = torch.func.hessian(flat_loss)
    expected = hessian(theta).numpy()
    start = time.perf_counter()
    blocks = hessian_blocks.blocks_module(network)
    printing = time.perf_counter() - start
    generated = module.hessian(params, X, T)
    difference = float(np.abs(generated - expected).max() / np.abs(expected).max())
    assert difference < 1e-10, "generated hessian and torch.func.hessian disagree: %g" % difference
    from_blocks = hessian_blocks.blocks_hessian(blocks, network, params, X, T)
    assert np.abs(from_blocks - expected).max() < 1e-10 * np.abs(expected).max(), "the printed blocks disagree"
    number = max(1, 2000 // int(theta.numel()))
    times = median_times({"hessian": lambda: module.hessian(params, X, T), "torch": lambda: hessian(theta),
                          "blocks": lambda: hessian_blocks.blocks_hessian(blocks, network, params, X, T)},
                         rounds, number=number, clock=time.thread_time)
    print("  %-27s generated hessian %7.3f ms | torch.func.hessian %7.3f ms | ratio %.2f  (%s parameters, batch %d, "
          "agree to %.0e)" % (name + " dense", times["hessian"] * 1e3, times["torch"] * 1e3,
                              times["hessian"] / times["torch"], format(theta.numel(), ","), batch, difference))
    print("  %-27s printed Hessian blocks %7.3f ms = %.2f x the generated hessian (derived and printed in %.1f s)"
          % ("", times["blocks"] * 1e3, times["blocks"] / times["hessian"], printing))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=41, help="alternating timing rounds (median over them)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _codegen.warm_allocator()
    print("H·V and G·V, batch %d, float64, OPENBLAS_NUM_THREADS=%s, torch threads %d, median of %d rounds, thread "
          "CPU time" % (BATCH, os.environ["OPENBLAS_NUM_THREADS"], torch.get_num_threads(), args.rounds))
    print("  targets: hvp and gnvp <= 1.05 x their own matrix products; dense hessian <= 1 x torch.func.hessian")
    for name, network in NETWORKS.items():
        products(name, network, args.rounds)
    for name in ("784-100-10 softmax+CE", "784-512-512-10 softmax+CE"):
        many_directions(name, NETWORKS[name], args.rounds)
    for name in ("784-100-10 softmax+CE", "784-512-512-10 softmax+CE"):
        layouts(name, NETWORKS[name], args.rounds)
    for name, (network, batch) in DENSE.items():
        dense(name, network, batch, args.rounds)


if __name__ == "__main__":
    main()
