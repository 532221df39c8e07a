"""Benchmark: the full three-way gradient check on 784-100-10 at batch 8, and what it catches.

Prints, in one run:

1. the time of a full ``check_gradients`` (all 79,510 entries against the
   symbolic reference, finite differences at the worst and sampled entries and
   along random directions), with the reference derived once beforehand;
2. whether it catches a 1% error planted in one entry of W1 and, separately,
   of b2, and in what share of all entries a 1% error would be caught;
3. where PyTorch is installed, ``torch.autograd.gradcheck`` on the same
   network and the same planted errors, in slow mode (a numerical Jacobian,
   two forward passes per entry) and fast mode (one random projection), with
   its own share of entries where a 1% error exceeds its tolerance;
4. the accuracy of each finite-difference method on this network: median and
   largest relative error against the symbolic reference over sampled entries;
5. the check of a wrong gradient with its diagnosis (hypotheses printed from
   the derivation's variants, per-parameter findings, localisation), warm, in
   seconds and as a ratio to the check of a right one (target: at most 1 s);
6. what running the user's code in a forked child costs (``backprop check``
   isolates it): the same check in a child process against in-process, wall
   time, alternating rounds.

Times are ratios to the check's own time, measured in this run, so the figures
do not depend on the machine.  BLAS (and PyTorch) run on one thread, timed in
CPU time of this thread, as in ``bench/engine.py``: on a shared machine that
measures what the code costs.

Run: ``python bench/check.py [--no-torch]``.
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
from verify import Engine, check_gradients  # noqa: E402
from verify.check import finite_differences as fd  # noqa: E402
from verify.check.gradient_check import reference_module  # noqa: E402
from verify.check.tolerances import tolerance_for  # noqa: E402

CLOCK = time.thread_time
NETWORK = Network.from_string("784-100-10", activation="sigmoid", loss="sse")
BATCH = 8
NAMES = ("W1", "b1", "W2", "b2")


def problem():
    params = init_params(NETWORK, seed=0)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (BATCH, 784))
    T = np.where(np.eye(10)[rng.integers(0, 10, BATCH)] > 0, 0.9, 0.1)
    return params, X, T


def planted(entry, factor=1.01):
    name, index = entry

    def gradients(params, X, T):
        grads = Engine(NETWORK).gradients(params, X, T)
        grads[name][index] *= factor
        return grads

    gradients.__qualname__ = "engine with %s x %g" % (fd.format_entry(entry), factor)
    return gradients


def timed(function, repeats=1):
    times, result = [], None
    for _ in range(repeats):
        start = CLOCK()
        result = function()
        times.append(CLOCK() - start)
    return statistics.median(times), result


def caught_by_check(report, entry) -> str:
    located = report.worst and report.worst[0].label == fd.format_entry(entry)
    return "CAUGHT (culprit: %s, located at %s)" % (report.culprit, report.worst[0].label) if not report.ok and \
        located else "missed" if report.ok else "flagged, but not located (%s)" % report.culprit


def detectable_share(reference, allowed_fn) -> str:
    """Share of nonzero entries where a 1% error exceeds the allowance."""
    parts = []
    for name in NAMES:
        s = reference[name]
        nonzero = s != 0
        caught = (0.01 * np.abs(s) > allowed_fn(name, s))[nonzero]
        parts.append("%s %.2f%%" % (name, 100 * caught.mean()))
    return ", ".join(parts)


def main(use_torch: bool) -> None:
    params, X, T = problem()
    print("Gradient check benchmark: %s, batch %d, %s parameters" % (NETWORK.describe(), BATCH,
                                                                    format(NETWORK.n_params, ",")))
    first, _ = timed(lambda: check_gradients(NETWORK, params, X, T))
    base, report = timed(lambda: check_gradients(NETWORK, params, X, T), repeats=5)
    print("  full check_gradients (engine, all entries): %.3f s = 1.00 (first call, deriving the reference: %.2f)"
          % (base, first / base))
    print("    %s; %d loss evaluations" % ("OK" if report.ok else "FAILED", report.evaluations))
    reference = reference_module(NETWORK).gradients(params, X, T)
    entries = {name: (name, tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(reference[name])),
                                                                     reference[name].shape))) for name in ("W1", "b2")}
    for name, entry in entries.items():
        seconds, result = timed(lambda: check_gradients(NETWORK, params, X, T, planted(entry)))
        print("  1%% error planted in %-9s: %.2f x check, %s" % (fd.format_entry(entry), seconds / base,
                                                                caught_by_check(result, entry)))
    tolerance = tolerance_for(np.float64)
    loss = abs(reference_module(NETWORK).loss(params, X, T))
    scales = {name: np.max(np.abs(reference[name])) for name in NAMES}
    print("  entries where a 1%% error is caught (check): %s"
          % detectable_share(reference, lambda name, s: tolerance.allowed(s, scales[name], loss)))
    sample_caught = _random_plantings(params, X, T, reference, count=20)
    print("  20 random entries, 1%% error planted in each: %d caught" % sample_caught)
    _diagnosed(params, X, T, base)
    _isolation_cost(params, X, T)
    if use_torch:
        _torch_gradcheck(params, X, T, entries, base, reference)
    _fd_accuracy(params, X, T, reference, base)


def dropped_slice(params, X, T):
    """The engine's gradients with hidden units 40-59 dropped from the backward pass (a misapplied mask)."""
    grads = Engine(NETWORK).gradients(params, X, T)
    A1 = 1 / (1 + np.exp(-(X @ params["W1"].T + params["b1"])))
    O = 1 / (1 + np.exp(-(A1 @ params["W2"].T + params["b2"])))
    delta1 = (((O - T) * O * (1 - O)) @ params["W2"]) * A1 * (1 - A1)
    delta1[:, 40:60] = 0
    grads["W1"], grads["b1"] = delta1.T @ X, delta1.sum(axis=0)
    return grads


def missing_derivative(params, X, T):
    """The output delta without the sigmoid's derivative, passed down to W1 and b1."""
    A1 = 1 / (1 + np.exp(-(X @ params["W1"].T + params["b1"])))
    O = 1 / (1 + np.exp(-(A1 @ params["W2"].T + params["b2"])))
    delta2 = O - T
    delta1 = (delta2 @ params["W2"]) * A1 * (1 - A1)
    return {"W1": delta1.T @ X, "b1": delta1.sum(axis=0), "W2": delta2.T @ A1, "b2": delta2.sum(axis=0)}


def _diagnosed(params, X, T, base) -> None:
    for function in (missing_derivative, dropped_slice):
        first, _ = timed(lambda: check_gradients(NETWORK, params, X, T, function))
        seconds, report = timed(lambda: check_gradients(NETWORK, params, X, T, function), repeats=3)
        kinds = ", ".join(sorted({d.kind for d in report.diagnosis}))
        print("  wrong gradient (%s), full check with its diagnosis, warm: %.3f s = %.2f x check (first call, printing "
              "the variants: %.2f s); found: %s" % (function.__name__.replace("_", " "), seconds, seconds / base, first,
                                                    kinds))


def _isolation_cost(params, X, T) -> None:
    try:
        from verify.cli.isolation import run_isolated
    except ImportError:
        print("  isolation: this version runs users' code in-process")
        return
    work = lambda printed: (0, str(check_gradients(NETWORK, params, X, T).ok))  # noqa: E731
    inside, child = [], []
    for _ in range(7):
        start = time.perf_counter()
        work(None)
        inside.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_isolated(work, None, "the benchmark")
        child.append(time.perf_counter() - start)
    print("  isolation (the check in a forked child, as backprop check runs it): %.3f s against %.3f s in-process "
          "(wall, median of 7 alternating rounds) = %.2f x" % (statistics.median(child), statistics.median(inside),
                                                               statistics.median(child) / statistics.median(inside)))


def _random_plantings(params, X, T, reference, count) -> int:
    rng = np.random.default_rng(1)
    caught = 0
    for _ in range(count):
        name = NAMES[rng.integers(len(NAMES))]
        index = tuple(int(i) for i in np.unravel_index(rng.integers(reference[name].size), reference[name].shape))
        if reference[name][index] == 0:
            index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(reference[name])), reference[name].shape))
        report = check_gradients(NETWORK, params, X, T, planted((name, index)))
        caught += not report.ok and report.worst[0].label == fd.format_entry((name, index))
    return caught


def _torch_gradcheck(params, X, T, entries, base, reference) -> None:
    try:
        import torch
    except ImportError:
        print("  torch.autograd.gradcheck: PyTorch is not installed (pip install 'backprop[torch]')")
        return
    torch.set_num_threads(1)
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)

    def function_with_gradient(gradient_fn):
        class Loss(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                ctx.save_for_backward(*tensors)
                W1, b1, W2, b2 = tensors
                O = torch.sigmoid(torch.sigmoid(Xt @ W1.T + b1) @ W2.T + b2)
                return ((Tt - O) ** 2 / 2).sum()

            @staticmethod
            def backward(ctx, grad_output):
                values = {name: t.detach().numpy() for name, t in zip(NAMES, ctx.saved_tensors)}
                grads = gradient_fn(values, X, T)
                return tuple(grad_output * torch.from_numpy(grads[name]) for name in NAMES)

        return Loss.apply

    inputs = tuple(torch.from_numpy(params[name].copy()).requires_grad_() for name in NAMES)
    for mode, fast in (("slow", False), ("fast", True)):
        for name, entry in entries.items():
            function = function_with_gradient(planted(entry))
            seconds, passed = timed(lambda: torch.autograd.gradcheck(function, inputs, fast_mode=fast,
                                                                     raise_exception=False))
            note = " (fast mode re-runs slow mode to report a mismatch)" if fast and not passed else ""
            print("  torch.autograd.gradcheck (%s mode), 1%% error in %-9s: %8.2f x check, %s%s"
                  % (mode, fd.format_entry(entry), seconds / base, "missed" if passed else "CAUGHT", note))
    print("  entries where a 1%% error is caught (gradcheck, atol 1e-5, rtol 1e-3): %s"
          % detectable_share(reference, lambda name, s: 1e-5 + 1e-3 * np.abs(s)))


def _fd_accuracy(params, X, T, reference, base) -> None:
    module = reference_module(NETWORK)
    loss = lambda p: module.loss(p, X, T)  # noqa: E731
    rng = np.random.default_rng(2)
    entries = []
    for name in NAMES:
        value = reference[name]
        nonzero = np.flatnonzero(np.abs(value).ravel() > 1e-3 * np.max(np.abs(value)))
        entries += [(name, tuple(int(i) for i in np.unravel_index(k, value.shape)))
                    for k in rng.choice(nonzero, size=min(50, nonzero.size), replace=False)]
    print("  finite differences on %d sampled entries (|g| > 1e-3 max of its parameter), against the reference:"
          % len(entries))
    print("    %-12s %14s %14s %12s %22s" % ("method", "median rel err", "max rel err", "evals/entry",
                                          "time per entry / check"))
    for method in fd.METHODS:
        seconds, estimates = timed(lambda: fd.estimate(method, loss, params, entries))
        exact = np.array([reference[name][index] for name, index in entries])
        relative = np.abs(estimates.values - exact) / np.abs(exact)
        print("    %-12s %14.1e %14.1e %12d %22.4f" % (method, np.median(relative), np.max(relative),
                                                    estimates.evaluations // len(entries),
                                                    seconds / len(entries) / base))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-torch", action="store_true", help="skip torch.autograd.gradcheck")
    main(use_torch=not parser.parse_args().no_torch)
