"""Benchmark: checking a 784-100-10 PyTorch model entry by entry, against ``torch.autograd.gradcheck``.

The model is ``Linear(784, 100) -> Sigmoid -> Linear(100, 10)`` with softmax
cross-entropy on its logits, 79,510 parameters, float64, batch 8; its sigmoid
is a custom ``torch.autograd.Function`` with a hand-written backward.  In one
run this prints:

1. the time of ``verify.check_torch_module`` (every one of the 79,510 entries
   of autograd's gradient against the symbolic reference, finite differences at
   the worst and sampled entries and along random directions), the reference
   derived once beforehand;
2. the time of ``torch.autograd.gradcheck`` in slow mode (``fast_mode=False``:
   a numerical Jacobian, two forward passes per entry, compared entry by entry
   with the analytical one) on the same model, parameters and data, in float64
   as gradcheck requires, as a ratio to (1).  ``--gradcheck-subset N`` runs it
   on the N entries of the last layer plus as many of W1 as N allows and
   extrapolates per entry, said as such; by default the full run is measured;
3. whether each catches a 1% error planted in one entry of the custom
   backward (``grad[0, j] *= 1.01``: example 0, hidden unit j), for the unit j
   with the largest bias gradient and for a unit with the median one, and
   what the check's diagnosis says about it;
4. a 784-100-10 model that is not an ``nn.Sequential``, as people write one
   (an ``nn.Module`` with its own ``forward``: ``F.linear`` of its own
   parameters, the custom sigmoid, an ``nn.Linear`` head returning logits),
   checked with ``nn.CrossEntropyLoss()`` on integer labels: the whole check,
   the reading of the model (tracing with ``torch.fx`` and recognising its
   layers, :func:`verify.check.torch_models.read_module`) as a share of it,
   traced afresh (a model's first check, whose check also derives the
   reference) and with the graph kept for the model's structure (every later
   check), rounds alternated, medians; and gradcheck on it as in (2).

Times are CPU time of this thread with BLAS and PyTorch on one thread, as in
``bench/check.py``: on a shared machine that measures what the code costs.

Run: ``python bench/check_torch.py [--gradcheck-subset N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.append(str(HERE.parent / "tests"))  # the custom sigmoid of the test corpus (tests/buggy)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from buggy.torch_models import CustomSigmoid  # noqa: E402
from verify import check_torch_module  # noqa: E402
from verify.check.gradient_check import reference_module  # noqa: E402
from verify.check.inputs import random_data  # noqa: E402
from verify.check.torch_models import read_module  # noqa: E402


def _sibling(name: str):
    """A module of bench/, loaded by path (bench/ is kept off sys.path: bench/derive.py would shadow derive)."""
    spec = importlib.util.spec_from_file_location("bench_" + name, HERE / ("%s.py" % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


timed = _sibling("check").timed  # CPU time of this thread, median of repeats
BATCH = 8


def model(planted: int | None = None) -> nn.Sequential:
    """784-100-10, float64; ``planted``: the hidden unit whose backward entry for example 0 is 1% off."""
    torch.manual_seed(0)
    sigmoid = CustomSigmoid() if planted is None else CustomSigmoid("one_entry", unit=planted)
    return nn.Sequential(nn.Linear(784, 100), sigmoid, nn.Linear(100, 10)).double()


class Net(nn.Module):
    """784-100-10 as a class of one's own: F.linear of its own parameters, the custom sigmoid, a Linear head."""

    def __init__(self):
        super().__init__()
        self.W1 = nn.Parameter(torch.empty(100, 784).uniform_(-784 ** -0.5, 784 ** -0.5))
        self.b1 = nn.Parameter(torch.empty(100).uniform_(-784 ** -0.5, 784 ** -0.5))
        self.sigmoid = CustomSigmoid()
        self.head = nn.Linear(100, 10)

    def forward(self, x):
        return self.head(self.sigmoid(F.linear(x, self.W1, self.b1)))


def gradcheck(net: nn.Module, X, T, subset: int | None, loss=None) -> tuple[float, bool, int]:
    """gradcheck slow mode on the model's parameters: (seconds, passed, entries it differentiated)."""
    loss_function = loss or nn.CrossEntropyLoss(reduction="sum")
    read = read_module(net, loss_function, width=X.shape[1])
    names = list(read.names.values())
    params = {name: p.detach().clone() for name, p in net.named_parameters()}
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    wanted = list(reversed(names))  # the last layer first: b2, W2, b1, W1
    chosen, count = [], 0
    for name in wanted:
        if subset is None or count + params[name].numel() <= subset:
            chosen.append(name)
            count += params[name].numel()
    if subset is not None and count < subset and len(chosen) < len(names):
        rows = (subset - count) // params[names[0]].shape[1]  # a block of W1's rows
        chosen.append(names[0])
        count += rows * params[names[0]].shape[1]
        params["__rows"] = rows
    inputs = []
    for name in chosen:
        tensor = params[name]
        if name == names[0] and "__rows" in params:
            tensor = tensor[:params["__rows"]].clone()
        inputs.append(tensor.requires_grad_())

    def loss(*tensors):
        values = dict(params)
        values.pop("__rows", None)
        for name, tensor in zip(chosen, tensors):
            if name == names[0] and "__rows" in params:
                tensor = torch.cat([tensor, params[name][params["__rows"]:]])
            values[name] = tensor
        return loss_function(torch.func.functional_call(net, values, (Xt,)), Tt)

    seconds, passed = timed(lambda: torch.autograd.gradcheck(loss, tuple(inputs), fast_mode=False,
                                                            raise_exception=False))
    return seconds, passed, count


def main(subset: int | None) -> None:
    torch.set_num_threads(1)
    clean = model()
    network = read_module(clean, "cross_entropy").network
    X, T = random_data(network, BATCH, seed=0)
    print("PyTorch model check: %s, batch %d, %s parameters, float64; sigmoid = custom autograd.Function"
          % (network.describe(), BATCH, format(network.n_params, ",")))
    first, _ = timed(lambda: check_torch_module(clean, X, T, loss="cross_entropy"))
    base, report = timed(lambda: check_torch_module(clean, X, T, loss="cross_entropy"), repeats=5)
    print("  check_torch_module, every entry: %.3f s = 1.00 (first call, deriving the reference: %.2f); %s, %s "
          "entries, %d loss evaluations" % (base, first / base, "OK" if report.ok else "FAILED",
                                           format(report.entries, ","), report.evaluations))
    seconds, passed, count = gradcheck(clean, X, T, subset)
    if count == network.n_params:
        print("  torch.autograd.gradcheck slow mode, all %s entries: %.1f s = %.1f x check (%s)"
              % (format(count, ","), seconds, seconds / base, "passed" if passed else "FAILED"))
    else:
        full = seconds / count * network.n_params
        print("  torch.autograd.gradcheck slow mode on %s of the %s entries (the last layer, then rows of W1): "
              "%.1f s (%s); extrapolated per entry to all: %.0f s = %.0f x check"
              % (format(count, ","), format(network.n_params, ","), seconds, "passed" if passed else "FAILED",
                 full, full / base))

    reference = reference_module(network).gradients(
        {k: v.astype(np.float64) for k, v in read_module(clean, "cross_entropy").params.items()}, X, T)
    order = np.argsort(np.abs(reference["b1"]))
    for which, unit in (("largest", int(order[-1])), ("median", int(order[len(order) // 2]))):
        _planted(network, X, T, unit, which, subset)
    _not_sequential(X, subset)


def _not_sequential(X: np.ndarray, subset: int | None, rounds: int = 7) -> None:
    """(4): the model of a class of its own, nn.CrossEntropyLoss() on labels; reading as a share of the check."""
    torch.manual_seed(0)
    net, loss = Net().double(), nn.CrossEntropyLoss()
    labels = np.random.default_rng([0, 2]).integers(0, 10, len(X))
    first, _ = timed(lambda: check_torch_module(net, X, labels, loss=loss))
    checks, traced, kept, report, read = [], [], [], None, None
    for _ in range(rounds):  # alternated, so that all three see the same machine
        seconds, report = timed(lambda: check_torch_module(net, X, labels, loss=loss))
        checks.append(seconds)
        seconds, read = timed(lambda: read_module(net, loss, width=X.shape[1]))
        traced.append(seconds)
        kept.append(timed(lambda: read_module(net, loss, width=X.shape[1], reuse=True))[0])
    check, reading, again = (float(np.median(times)) for times in (checks, traced, kept))
    print("Not a Sequential: %s (F.linear, custom sigmoid, Linear head), nn.CrossEntropyLoss() on integer labels"
          % type(net).__name__)
    print("  check_torch_module, every entry: %.4f s = 1.00 (first call %.2f); %s; read as %s"
          % (check, first / check, "OK" if report.ok else "FAILED", read.network.describe()))
    print("  reading the model, traced with torch.fx (a model's first check): %.4f s = %.1f%% of the check; with "
          "the graph kept (later checks of a model of its structure): %.4f s = %.1f%% (medians of %d alternated "
          "rounds)" % (reading, 100 * reading / check, again, 100 * again / check, rounds))
    summed = nn.CrossEntropyLoss(reduction="sum")  # gradcheck's loss: the check's own, summed (the mean is 1/N of it)
    seconds, passed, count = gradcheck(net, X, torch.as_tensor(labels).numpy(), subset, loss=summed)
    scope = "all %s entries" % format(count, ",") if subset is None else "%s entries (extrapolated: %.0f s)" % (
        format(count, ","), seconds / count * read.network.n_params)
    print("  torch.autograd.gradcheck slow mode, %s: %.1f s = %.0f x check (%s)"
          % (scope, seconds, seconds / check, "passed" if passed else "FAILED"))


def _planted(network, X, T, unit: int, which: str, subset: int | None) -> None:
    """Both checks on the model whose custom backward is 1% off at (example 0, hidden unit ``unit``)."""
    buggy = model(planted=unit)
    _, caught = timed(lambda: check_torch_module(buggy, X, T, loss="cross_entropy"))
    effect = max(row.max_rel_error for row in caught.rows)
    print("  1%% error planted in the custom backward at (example 0, hidden unit %d, the %s |dE/db1|): it moves "
          "W1[%d, :] and b1[%d] by up to %.2g relative" % (unit, which, unit, unit, effect))
    print("    check_torch_module: %s (culprit: %s; worst entry %s)"
          % ("CAUGHT" if not caught.ok else "missed", caught.culprit, caught.worst[0].label if caught.worst else "-"))
    for diagnosis in caught.diagnosis:
        print("      diagnosis: %s: %s" % (", ".join(diagnosis.parameters), diagnosis.text.split(". ", 1)[-1]))
    seconds, passed, count = gradcheck(buggy, X, T, subset)
    print("    torch.autograd.gradcheck slow mode%s: %s (atol 1e-5, rtol 1e-3), %.1f s"
          % ("" if count == network.n_params else " on %s entries" % format(count, ","),
             "missed" if passed else "CAUGHT", seconds))
    if count != network.n_params:
        print("      (the subset holds b1, so the planted entry's b1[%d]; W1's row %d only if it reaches that far)"
              % (unit, unit))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradcheck-subset", type=int, metavar="N",
                        help="run gradcheck on about N entries and extrapolate (default: all 79,510)")
    main(parser.parse_args().gradcheck_subset)
