"""Benchmark: the engine's gradient time as a ratio to the bare matrix products of backprop.

Backprop on an MLP cannot do less than its matrix products: per layer l the
forward ``A_{l-1} @ W_l.T``, the weight gradient ``delta_l.T @ A_{l-1}`` and,
below the top layer, ``delta_l @ W_l`` to pass the error down (not needed
for l = 1).  This script times exactly those products on the shapes of a
784-100-10 network at batch 256, then ``Engine.gradients`` on the same
shapes, and prints the ratio of the medians (both measured in this run, so the
figure does not depend on the machine).  A hand-written numpy backprop
measures about 1.5x here.

BLAS runs on one thread unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``,
``MKL_NUM_THREADS``) says otherwise: on a shared 2-core machine a
multi-threaded BLAS that competes with other processes makes timings swing by
10x, while one thread measures what the code costs.

Run: ``python bench/engine.py [--repeats 200]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
# ``python bench/engine.py`` puts bench/ first on sys.path, where bench/derive.py
# would shadow the derive package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402  (after the thread settings, which numpy reads on import)

from derive import Network, init_params  # noqa: E402
from verify import Engine  # noqa: E402

#: CPU time of this thread: unlike wall time, it does not count the time other
#: processes on a busy machine hold the core (BLAS runs in this thread, above).
CLOCK = time.thread_time
SIZES = (784, 100, 10)
BATCH = 256
NETWORKS = {
    "sigmoid, sse (the lecture's)": dict(activation="sigmoid", loss="sse"),
    "relu/softmax, cross_entropy": dict(activation=["relu", "softmax"], loss="cross_entropy"),
}


def interleaved_medians(functions: dict, repeats: int) -> dict:
    """Median CPU time of each function, timed in turn within every repeat.

    Timing the candidates alternately (after 5 warm-up rounds) exposes them to
    the same machine load, so their ratio stays meaningful on a busy machine.
    """
    times: dict = {name: [] for name in functions}
    for round_number in range(repeats + 5):
        for name, function in functions.items():
            start = CLOCK()
            function()
            if round_number >= 5:
                times[name].append(CLOCK() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def matrix_products(params: dict, X: np.ndarray, depth: int):
    """The bare products backprop must do, on the network's shapes (values are meaningless)."""
    activations = [X]
    for layer in range(1, depth + 1):
        activations.append(activations[-1] @ params["W%d" % layer].T)
    delta = activations[-1]
    for layer in range(depth, 0, -1):
        delta.T @ activations[layer - 1]
        if layer > 1:
            delta = delta @ params["W%d" % layer]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(BATCH, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], size=BATCH)
    T = np.eye(SIZES[-1])[labels]
    print("engine gradients vs bare matrix products, %s at batch %d, median of %d, BLAS threads %s"
          % ("-".join(map(str, SIZES)), BATCH, args.repeats, os.environ["OPENBLAS_NUM_THREADS"]))
    for name, options in NETWORKS.items():
        network = Network(SIZES, **options)
        params = init_params(network, seed=0, scale=0.1)
        engine = Engine(network)
        medians = interleaved_medians({
            "products": lambda: matrix_products(params, X, network.depth),
            "engine": lambda: engine.gradients(params, X, T),
            "unchecked": lambda: engine.gradients(params, X, T, check=False),
        }, args.repeats)
        baseline = medians["products"]
        print("  %-30s matrix products %5.2f ms   engine.gradients %5.2f ms   ratio %.2fx   (check=False: %.2fx)"
              % (name, baseline * 1e3, medians["engine"] * 1e3, medians["engine"] / baseline,
                 medians["unchecked"] / baseline))

if __name__ == "__main__":
    main()
