"""Benchmark: the three-way check of a Hessian-vector product, against the gradient check and PyTorch's gradgradcheck.

Prints, in one run:

1. the time of ``check_hvp`` on 784-100-10 (sigmoid, sse) at batch 8, every
   one of the 79,510 entries of H V against the generated ``hvp``, differences
   of the engine's gradients and complex step, as a ratio to
   ``check_gradients`` of the engine on the same point (the baseline, measured
   in this run) and to one evaluation of the generated ``hvp``;
2. whether it catches a 1% error planted in the largest entry of H V in W1,
   and where;
3. where PyTorch is installed, ``torch.autograd.gradgradcheck`` of the same
   loss on a small network (20-10-3: it differentiates numerically per entry)
   against ``check_hvp`` on that network, both timed here.

Times are CPU time of this thread with BLAS (and PyTorch) on one thread, as
in ``bench/check.py``.  The reference modules are derived before timing.

Run: ``python bench/hvp_check.py [--no-torch]``.
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
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from derive import Network, init_params  # noqa: E402
from verify import check_gradients, check_hvp  # noqa: E402
from verify.check import finite_differences as fd  # noqa: E402
from verify.check.hvp_check import second_order_module  # noqa: E402

CLOCK = time.thread_time
BATCH = 8


def problem(network: Network, seed: int = 0):
    params = init_params(network, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (BATCH, network.sizes[0]))
    T = np.where(np.eye(network.sizes[-1])[rng.integers(0, network.sizes[-1], BATCH)] > 0, 0.9, 0.1)
    return params, X, T


def timed(function, repeats=1):
    times, result = [], None
    for _ in range(repeats):
        start = CLOCK()
        result = function()
        times.append(CLOCK() - start)
    return statistics.median(times), result


def generated(network: Network, planted: tuple | None = None):
    """The generated hvp as a user's function, optionally with one entry 1% off."""
    module = second_order_module(network)

    def hvp(params, X, T, V):
        product = module.hvp(params, X, T, V)
        if planted is not None:
            name, index = planted
            product[name][index] *= 1.01
        return product

    hvp.__qualname__ = "generated hvp" + (" with %s x 1.01" % fd.format_entry(planted) if planted else "")
    return hvp


def main(use_torch: bool) -> None:
    network = Network.from_string("784-100-10", activation="sigmoid", loss="sse")
    params, X, T = problem(network)
    print("Hessian-vector product check benchmark: %s, batch %d, %s parameters"
          % (network.describe(), BATCH, format(network.n_params, ",")))
    module = second_order_module(network)
    check_gradients(network, params, X, T)
    base, _ = timed(lambda: check_gradients(network, params, X, T), repeats=5)
    V = fd.random_directions(params, 1, 0)[0]
    one_hvp, _ = timed(lambda: module.hvp(params, X, T, V), repeats=5)
    seconds, report = timed(lambda: check_hvp(network, params, X, T, generated(network)), repeats=5)
    print("  check_gradients (engine, all entries): %.3f s = 1.00" % base)
    print("  check_hvp (all %s entries, 3 oracles): %.2f x check_gradients = %.1f x one generated hvp; %s, "
          "%d gradient evaluations" % (format(report.entries, ","), seconds / base, seconds / one_hvp,
                                       "OK" if report.ok else "FAILED", report.evaluations))
    product = module.hvp(params, X, T, fd.random_directions(params, 1, 0)[0])
    entry = ("W1", tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(product["W1"])), product["W1"].shape)))
    seconds, report = timed(lambda: check_hvp(network, params, X, T, generated(network, entry), diagnose=False))
    located = report.worst[0].label if report.worst else "-"
    print("  1%% error planted in %s of H V: %.2f x check_gradients, %s (located at %s)"
          % (fd.format_entry(entry), seconds / base, "CAUGHT" if not report.ok else "missed", located))
    if use_torch:
        _gradgradcheck()


def _gradgradcheck() -> None:
    try:
        import torch
    except ImportError:
        print("  (PyTorch not installed: no gradgradcheck comparison)")
        return
    torch.set_num_threads(1)
    small = Network.from_string("20-10-3", activation="sigmoid", loss="sse")
    params, X, T = problem(small, seed=1)
    names = list(params)
    Xt, Tt = torch.as_tensor(X), torch.as_tensor(T)

    def loss(*tensors):
        p = dict(zip(names, tensors))
        O = torch.sigmoid(torch.sigmoid(Xt @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"])
        return ((O - Tt) ** 2).sum() / 2

    inputs = tuple(torch.tensor(params[k], requires_grad=True) for k in names)
    check_hvp(small, params, X, T, generated(small))
    ours, report = timed(lambda: check_hvp(small, params, X, T, generated(small)), repeats=3)
    theirs, passed = timed(lambda: torch.autograd.gradgradcheck(loss, inputs))
    print("  %s (%d parameters): check_hvp %.3f s (every entry of one H V, %s); torch gradgradcheck %.3f s = %.1f x "
          "(numerical second derivatives of every entry, %s)" % (small.describe(), small.n_params, ours,
                                                                  "OK" if report.ok else "FAILED", theirs,
                                                                  theirs / ours, "passed" if passed else "failed"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    main(not parser.parse_args().no_torch)
