"""Benchmark: the generated numpy ``gradients`` against what backprop cannot avoid.

Backprop on an MLP cannot do less than its matrix products: per layer l the
forward ``A_{l-1} @ W_l.T``, the weight gradient ``delta_l.T @ A_{l-1}`` and,
above the first layer, ``delta_l @ W_l`` to pass the error down.  This script
times exactly those products on the shapes of 784-100-10 and 784-512-512-10
at batch 256, then the generated module's ``gradients`` on the same shapes
(sigmoid hidden layers, softmax output, cross-entropy), and prints the ratio
of the medians; the two are timed in alternating rounds of the same run, so
the figure does not depend on the machine.  Targets: at most 1.10 (PyTorch
CPU autograd measures about 1.14 and 1.35 here, a plain numpy backprop about 1.5).

At 2-2-1 and batch 1 the matrix products are nothing and call overhead is
everything; there the generated code is compared with the hand-written engine
(``verify.Engine``), with and without its input checks, and with a plain
hand-written numpy backprop of the same network (:func:`plain_backprop`, no
checks at all; target: the generated ``gradients`` no slower, ratio <= 1.0).
It also prints the time to derive and to generate each module (target:
generation under 1 s).

Width-generic modules (``any_width=True``, one module per structure): their
``gradients`` against the width-specific module's at 784-100-10 and
784-512-512-10, batch 256, with and without a workspace (target: ratio 1.0
within noise).  These two comparisons are timed in thread CPU time
(``time.thread_time``), which a neighbour on the shared machine cannot
stretch by preempting this process.

Memory: backprop must keep every layer's activations and deltas alive until
its gradient is taken, while the bare products drop each result at once.
glibc returns freed memory above its trim threshold to the operating system,
so unless an earlier large block has raised that threshold (as in any
long-running numpy process) every call of ``gradients`` faults its ~9 MB of
intermediates back in: about 2,000 minor page faults per call at
784-512-512-10, which cost more than all the elementwise work.  The script
therefore times ``gradients`` plain and with a workspace (a dict the caller
keeps, which holds the intermediate arrays between calls), first with the
allocator as the process finds it, then after freeing one 24 MB block (which
raises the threshold), and prints the minor page faults per call of each.

BLAS threads: OpenBLAS is limited to one thread unless OPENBLAS_NUM_THREADS
is set, because on a shared 2-core machine a second BLAS thread mostly
measures the neighbours.  Run: ``python bench/codegen.py [--rounds 40]``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from derive import Network, derive, init_params  # noqa: E402
from derive.codegen.source import numpy_module, numpy_source  # noqa: E402
from derive.derivation import Derivation  # noqa: E402
from verify import Engine  # noqa: E402

BATCH = 256
LARGE = {
    "784-100-10": Network((784, 100, 10), activation=["sigmoid", "softmax"], loss="cross_entropy"),
    "784-512-512-10": Network((784, 512, 512, 10), activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy"),
}
SMALL = Network((2, 2, 1), activation="sigmoid", loss="sse")


def matrix_products(params: dict, activations: list, deltas: list):
    """The bare products backprop must do, on the network's shapes (values are meaningless)."""
    depth = len(deltas)
    for layer in range(1, depth + 1):
        activations[layer - 1] @ params["W%d" % layer].T
    for layer in range(depth, 0, -1):
        deltas[layer - 1].T @ activations[layer - 1]
        if layer > 1:
            deltas[layer - 1] @ params["W%d" % layer]


def median_times(functions: dict, rounds: int, number: int, clock=time.perf_counter) -> dict:
    """Median time per call of each function, timed in alternating rounds of ``number`` calls.

    ``clock``: wall time by default; ``time.thread_time`` counts only this thread's CPU time (with BLAS
    and PyTorch on one thread, what the code costs, whatever the neighbours on a shared machine do).
    """
    return {name: statistics.median(times) for name, times in round_times(functions, rounds, number, clock).items()}


def round_times(functions: dict, rounds: int, number: int, clock=time.perf_counter, warm: bool = False) -> dict:
    """Each function's time per call in each of ``rounds`` alternating rounds (after three warm-up calls each).

    With ``warm``, each function is called once more, untimed, right before its ``number`` timed calls: its
    arrays are then in the cache as in a loop that calls it again and again, whichever function ran before it.
    """
    for function in functions.values():
        for _ in range(3):
            function()
    samples = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            if warm:
                function()
            start = clock()
            for _ in range(number):
                function()
            samples[name].append((clock() - start) / number)
    return samples


def paired_ratio(samples: dict, name: str, baseline: str) -> float:
    """The median over rounds of ``name``'s time over ``baseline``'s in the same round.

    On a shared machine the speed drifts over seconds (neighbours, clock
    frequency); two functions timed one right after the other in a round see
    the same speed, so their ratio round by round is steadier than the ratio
    of their medians over the run.
    """
    return statistics.median(mine / theirs for mine, theirs in zip(samples[name], samples[baseline]))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def plain_backprop(params: dict, X, T) -> dict:
    """A plain hand-written numpy backprop of a sigmoid network with one hidden layer and the sum-squared error."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    A1 = sigmoid(X @ W1.T + b1)
    A2 = sigmoid(A1 @ W2.T + b2)
    delta2 = (A2 - T) * A2 * (1 - A2)
    delta1 = (delta2 @ W2) * A1 * (1 - A1)
    return {"W1": delta1.T @ X, "b1": delta1.sum(axis=0), "W2": delta2.T @ A1, "b2": delta2.sum(axis=0)}


def data(network: Network, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(batch, network.sizes[0]))
    T = np.eye(network.sizes[-1])[rng.integers(0, network.sizes[-1], size=batch)]
    return init_params(network, seed=seed, scale=0.1), X, T


def generation_time(network: Network) -> tuple[float, float]:
    """Seconds to derive the network and to print its module (derivation not cached)."""
    start = time.perf_counter()
    derivation = Derivation(network)
    derived = time.perf_counter()
    numpy_source(derivation)
    return derived - start, time.perf_counter() - derived


def minor_faults() -> int:
    """Minor page faults of this process so far (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[7])
    except OSError:
        return 0


def faults_per_call(function, calls: int = 20) -> float:
    before = minor_faults()
    for _ in range(calls):
        function()
    return (minor_faults() - before) / calls


def warm_allocator() -> None:
    """Free one 24 MB block: glibc then keeps blocks up to that size instead of returning them to the OS."""
    np.ones(3_000_000).sum()


def compare_with_products(name: str, network: Network, rounds: int) -> None:
    module = numpy_module(derive(network))
    params, X, T = data(network, BATCH)
    rng = np.random.default_rng(1)
    activations = [X] + [rng.uniform(0, 1, (BATCH, width)) for width in network.sizes[1:-1]]
    deltas = [rng.standard_normal((BATCH, width)) for width in network.sizes[1:]]
    workspace: dict = {}
    functions = {"products": lambda: matrix_products(params, activations, deltas),
                 "generated": lambda: module.gradients(params, X, T),
                 "workspace": lambda: module.gradients(params, X, T, workspace=workspace)}
    times = median_times(functions, rounds, number=10)
    faults = {key: faults_per_call(function) for key, function in functions.items()}
    print("  %-15s matrix products %7.3f ms | generated %7.3f ms, ratio %.3f | with a workspace %7.3f ms, "
          "ratio %.3f | page faults per call %.0f, %.0f, %.0f"
          % (name, times["products"] * 1e3, times["generated"] * 1e3, times["generated"] / times["products"],
             times["workspace"] * 1e3, times["workspace"] / times["products"],
             faults["products"], faults["generated"], faults["workspace"]))


def compare_any_width(name: str, network: Network, rounds: int) -> None:
    """The width-generic module's gradients against the width-specific one's, same data, CPU time."""
    derivation = derive(network)
    specific, generic = derivation.numpy_module(), derivation.numpy_module(any_width=True)
    params, X, T = data(network, BATCH)
    workspaces: tuple = ({}, {})
    times = median_times({"specific": lambda: specific.gradients(params, X, T),
                          "any width": lambda: generic.gradients(params, X, T),
                          "specific, workspace": lambda: specific.gradients(params, X, T, workspace=workspaces[0]),
                          "any width, workspace": lambda: generic.gradients(params, X, T, workspace=workspaces[1])},
                         rounds, number=5, clock=time.thread_time)
    print("  %-15s width-specific %7.3f ms | any width %7.3f ms, ratio %.3f | with a workspace %7.3f ms, "
          "%7.3f ms, ratio %.3f" % (name, times["specific"] * 1e3, times["any width"] * 1e3,
                                    times["any width"] / times["specific"], times["specific, workspace"] * 1e3,
                                    times["any width, workspace"] * 1e3,
                                    times["any width, workspace"] / times["specific, workspace"]))


def compare_small(rounds: int) -> None:
    """2-2-1, batch 1: the generated gradients against a plain hand-written backprop and the engine."""
    derive_time, print_time = generation_time(SMALL)
    module = numpy_module(derive(SMALL))
    generic = derive(SMALL).numpy_module(any_width=True)
    engine = Engine(SMALL)
    params, X, T = data(SMALL, 1)
    plain = plain_backprop(params, X, T)
    for name, value in module.gradients(params, X, T).items():  # the baseline computes the same thing
        np.testing.assert_allclose(value, plain[name], rtol=1e-12)
    times = median_times({"plain": lambda: plain_backprop(params, X, T),
                          "generated": lambda: module.gradients(params, X, T),
                          "any width": lambda: generic.gradients(params, X, T),
                          "engine": lambda: engine.gradients(params, X, T),
                          "engine, check=False": lambda: engine.gradients(params, X, T, check=False)},
                         rounds, number=200, clock=time.thread_time)
    print("  %-15s plain numpy backprop %5.1f us | generated %5.1f us, ratio %.3f | any width %5.1f us, ratio %.3f"
          % ("2-2-1 batch 1", times["plain"] * 1e6, times["generated"] * 1e6, times["generated"] / times["plain"],
             times["any width"] * 1e6, times["any width"] / times["plain"]))
    print("  %-15s engine %5.1f us  engine check=False %5.1f us | generated / engine %.3f, / check=False %.3f  "
          "(derive %.3f s, generate %.3f s)"
          % ("", times["engine"] * 1e6, times["engine, check=False"] * 1e6, times["generated"] / times["engine"],
             times["generated"] / times["engine, check=False"], derive_time, print_time))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="alternating timing rounds (median over them)")
    args = parser.parse_args()
    print("generated gradients vs bare matrix products, batch %d, OPENBLAS_NUM_THREADS=%s, median of %d rounds"
          % (BATCH, os.environ["OPENBLAS_NUM_THREADS"], args.rounds))
    for name, network in LARGE.items():
        derive_time, print_time = generation_time(network)
        print("  %-15s derive %.3f s, generate the module %.3f s" % (name, derive_time, print_time))
    print(" allocator as found:")
    for name, network in LARGE.items():
        compare_with_products(name, network, args.rounds)
    warm_allocator()
    print(" allocator warmed (one 24 MB block freed):")
    for name, network in LARGE.items():
        compare_with_products(name, network, args.rounds)
    print("width-generic module (any_width=True) vs width-specific, batch %d, thread CPU time:" % BATCH)
    for name, network in LARGE.items():
        compare_any_width(name, network, max(10, args.rounds // 2))
    print("small network, thread CPU time:")
    compare_small(args.rounds)


if __name__ == "__main__":
    main()
