"""Benchmark the symbolic derivation (issue 3); not a timed test.

Prints, in one run:

(a) the index-level derivation time (``Derivation(network)``, uncached) for
    sigmoid/SSE networks of 2 to 6 layers at two very different widths: the
    sizes are symbols, so the time must not grow with the width (the ratio
    wide/narrow stays near 1) and should stay under 1 s;
(b) the time and peak memory of ``partials()`` for 784-100-10 (79,510 scalar
    partials, one example), also with L2 and L1 decay (which adds a weight
    entry to every weight's partial);
(c) the baseline a SymPy user has today: write the loss of a W-W-1 sigmoid
    network out with one symbol per weight (sigmoid as ``1/(1 + exp(-z))``,
    since SymPy has none), call ``sympy.diff`` once per weight, and
    ``lambdify`` the gradient; and the ratio of (b)'s cost per partial to
    (c)'s cost per weight.

(c) at the default width 32 (1,089 weights) takes minutes; ``--baseline-width
8`` runs it in seconds.  Times are wall-clock (perf_counter) with CPU time in
brackets: the machine may be shared.

Usage:
    python bench/derive.py [--baseline-width 32] [--widths 4 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

import sympy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from derive import Network  # noqa: E402
from derive.derivation import Derivation  # noqa: E402


class Timer:
    """Wall and CPU time of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self):
        return "%.3f s (cpu %.3f s)" % (self.wall, self.cpu)


def derivation_times(widths: tuple[int, int]) -> None:
    print("(a) index-level derivation, sigmoid/SSE, Derivation(network) uncached")
    print("    %-7s %-28s %-28s %s" % ("layers", "width %d" % widths[0], "width %d" % widths[1], "ratio wide/narrow"))
    Derivation(Network([3, 3, 1], activation="tanh", loss="sse"))  # warm SymPy's caches up first
    for depth in range(2, 7):
        timers = []
        for width in widths:
            network = Network([width] * depth + [1], activation="sigmoid", loss="sse")
            with Timer() as timer:
                Derivation(network)
            timers.append(timer)
        print("    %-7d %-28s %-28s %.2f" % (depth, timers[0], timers[1], timers[1].wall / timers[0].wall))


def partials_cost(sizes: list[int], **options) -> float:
    """Time and peak memory of partials(); returns the wall time per partial."""
    network = Network(sizes, activation=["sigmoid", "sigmoid"], loss="sse", **options)
    derivation = Derivation(network)
    with Timer() as timer:
        partials = derivation.partials()
    count = len(partials)
    del partials
    tracemalloc.start()
    derivation.partials()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    label = ", ".join("%s=%g" % item for item in options.items()) or "no decay"
    print("    %s (%s): %d partials in %s = %.2f us per partial; peak traced memory %.1f MB"
          % ("-".join(map(str, sizes)), label, count, timer, timer.wall / count * 1e6, peak / 2**20))
    return timer.wall / count


def baseline_cost(width: int) -> float:
    """Expand, diff once per weight, lambdify: the SymPy user's way.  Returns wall time per weight."""
    x = sympy.symbols("x0:%d" % width, real=True)
    t = sympy.Symbol("t", real=True)
    w1 = [[sympy.Symbol("w1_%d_%d" % (j, i), real=True) for i in range(width)] for j in range(width)]
    b1 = [sympy.Symbol("b1_%d" % j, real=True) for j in range(width)]
    w2 = [sympy.Symbol("w2_0_%d" % j, real=True) for j in range(width)]
    b2 = sympy.Symbol("b2_0", real=True)

    def sigmoid(z):
        return 1 / (1 + sympy.exp(-z))

    hidden = [sigmoid(sum(w1[j][i] * x[i] for i in range(width)) + b1[j]) for j in range(width)]
    output = sigmoid(sum(w2[j] * hidden[j] for j in range(width)) + b2)
    loss = (t - output) ** 2 / 2
    parameters = [v for row in w1 for v in row] + b1 + w2 + [b2]
    with Timer() as differentiating:
        gradient = [sympy.diff(loss, p) for p in parameters]
    with Timer() as lambdifying:
        sympy.lambdify([*x, t, *parameters], gradient, modules="numpy")
    total = differentiating.wall + lambdifying.wall
    print("    %d-%d-1 sigmoid/SSE, %d weights incl. biases: diff %s, lambdify %s; %.1f ms per weight"
          % (width, width, len(parameters), differentiating, lambdifying, total / len(parameters) * 1e3))
    return total / len(parameters), differentiating.wall / len(parameters)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-width", type=int, default=32, help="W of the W-W-1 baseline (default 32)")
    parser.add_argument("--widths", type=int, nargs=2, default=(4, 1000), help="the two widths of (a)")
    args = parser.parse_args(argv)
    print("sympy %s, python %s" % (sympy.__version__, sys.version.split()[0]))
    derivation_times(tuple(args.widths))
    print("(b) scalar partials")
    per_partial = partials_cost([784, 100, 10])
    partials_cost([784, 100, 10], weight_decay=0.01, l1=0.001)
    print("(c) baseline: expand the loss, sympy.diff per weight, lambdify")
    per_weight, per_weight_diff = baseline_cost(args.baseline_width)
    print("ratio: partials() costs %.2g of the baseline's time per weight (%.0fx faster); "
          "%.2g of its diff alone (%.0fx faster)" % (per_partial / per_weight, per_weight / per_partial,
                                                     per_partial / per_weight_diff, per_weight_diff / per_partial))
    return 0


if __name__ == "__main__":
    sys.exit(main())
