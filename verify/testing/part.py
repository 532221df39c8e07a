"""One part of a property run, run in this process: a Hypothesis test over its networks, its result as plain data.

:func:`run_part` is what every way of running a property check calls, once
per part: the pytest module :mod:`verify.testing.property_suite` (so pytest
and pytest-xdist run it), and the Dask tasks of
:mod:`verify.testing.distributed`.  For each example Hypothesis draws a
network of the part, parameters and data; :func:`run_check` checks the
candidate against the generated code and finite differences (every entry
against the symbolic reference; every entry against finite differences too,
up to :data:`EVERY_ENTRY` parameters, else :data:`SAMPLED_ENTRIES` per
parameter and a random direction).

The result (:class:`Tally`, :meth:`Tally.to_dict`) counts the examples up to
and including the first failing one, the shrinks after it, what was covered
and the largest errors, and carries

* ``counterexample``: the minimal failing case Hypothesis shrank to, checked
  again with the diagnosis of its bug, and the commands that reproduce it;
* ``input_error``: the user's function raised or returned something that is
  not a gradient on some example (one line, like ``backprop check``'s), with
  that example (shrunk to the smallest that does it) saved as ``params.npz``
  and ``data.npz`` and the ``backprop check`` command that reproduces it;
* ``digest``: a hash of every example checked, in order, so that tests can
  tell that two runs of a part checked the same examples.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import Phase, assume, given, seed as hypothesis_seed, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky

from derive import InputError, Network
from derive.files import atomic_write
from derive.model.activations import target_range
from verify.check.gradient_check import check_gradients
from verify.check.hvp_check import ZeroProduct, check_hvp, second_order_module
from verify.check.inputs import random_data, random_params
from verify.check.layouts import Layout
from verify.check.sources import load_function
from verify.testing import strategies
from verify.testing.hypothesis_internals import keep_database, same_draws_everywhere
from verify.testing.profiles import SUPPRESSED
from verify.testing.runs import Execution, PropertyRun, storage_directory

#: Networks with at most this many parameters are checked against finite differences at every entry.
EVERY_ENTRY = 2000
#: Entries per parameter checked against finite differences on larger networks (plus a random direction).
SAMPLED_ENTRIES = 64
#: The generic draw a counterexample's network is diagnosed on too (see :func:`generic_draw`).
GENERIC_SEED, GENERIC_EXAMPLES = 0, 4


class _Disagreement(AssertionError):
    """The check failed on the example being run."""


class _UserCodeFailed(Exception):
    """The user's function raised, or returned no gradient, on the example being run."""


class Tally:
    """What one part covered, as plain data: see the module docstring.

    ``examples`` counts the examples checked up to and including the first
    failing one; ``shrinks`` the smaller variants of it checked afterwards
    while Hypothesis shrank it.  The largest errors cover them all.
    """

    def __init__(self, part: int, expected: int, on_example: Callable[[], None] | None = None):
        self.part, self.expected, self.on_example = part, expected, on_example
        self.examples = self.shrinks = self.flagged = 0
        self.networks, self.structures, self.activations, self.losses = set(), set(), set(), set()
        self.max_errors: dict[str, float] = {}
        self.max_ratios: dict[str, float] = {}
        self.failure: tuple | None = None
        self.user_error: tuple | None = None
        self._digest = hashlib.sha256()

    def add(self, case: tuple, report) -> None:
        """Count one checked example (a :class:`~verify.testing.strategies.Case`) and its report."""
        network, params, X, T = case
        if self.failure is None:
            self.examples += 1
            self.networks.add(network.describe())
            self.structures.add(network.describe(any_width=True))
            self.activations.update(network.activation_names)
            self.losses.add(network.loss.name)
            self.flagged += report.agreements[2].flagged
            self._digest.update(repr(network).encode())
            for array in (*params.values(), X, T):
                self._digest.update(repr(array.shape).encode() + array.tobytes())
        else:
            self.shrinks += 1
        for pair, value in report.max_errors().items():
            self.max_errors[pair] = max(self.max_errors.get(pair, 0.0), float(value))
        for agreement in report.agreements:
            pair = "%s-%s" % (agreement.first, agreement.second)
            self.max_ratios[pair] = max(self.max_ratios.get(pair, 0.0), float(agreement.max_ratio))
        if self.on_example is not None and self.failure is None:
            self.on_example()

    def to_dict(self, **outcome) -> dict:
        """The part's result: counts, coverage, largest errors, and ``counterexample``/``input_error`` (or None)."""
        return {"part": self.part, "expected": self.expected, "examples": self.examples, "shrinks": self.shrinks,
                "networks": sorted(self.networks), "structures": sorted(self.structures),
                "activations": sorted(self.activations), "losses": sorted(self.losses),
                "max_errors": self.max_errors, "max_ratios": self.max_ratios, "flagged": self.flagged,
                "digest": self._digest.hexdigest(), "counterexample": None, "input_error": None, **outcome}


def run_part(run: PropertyRun, part: int, execution: Execution = Execution(),
             on_example: Callable[[], None] | None = None) -> dict:
    """Run part ``part`` of ``run`` here and return its result (:meth:`Tally.to_dict`, plus ``seconds``).

    Args:
        run: The run.
        part: Which part (0 .. ``run.parts - 1``).
        execution: The shard (for the reproducing command), the example database and the directory the
            candidate is found from.
        on_example: Called after each example checked (a progress bar).
    """
    started = time.perf_counter()
    tally = Tally(part, run.part_examples(part), on_example)
    outcome = {}
    try:
        with same_draws_everywhere():  # the part's seed decides its examples, whatever else this process loaded
            _property(run, part, execution, tally)()
    except _Disagreement:
        outcome["counterexample"] = counterexample(tally.failure, run, execution)
        outcome["command"] = run.command(execution.shard)
    except _UserCodeFailed:
        outcome["input_error"] = user_error(tally.user_error, run)
    except Flaky:
        if tally.failure is None:
            raise
        outcome["counterexample"] = counterexample(tally.failure, run, execution)
        outcome["command"] = run.command(execution.shard)
    except InputError as exc:  # loading the candidate
        outcome["input_error"] = str(exc)
    return tally.to_dict(seconds=time.perf_counter() - started, **outcome)


def _property(run: PropertyRun, part: int, execution: Execution, tally: Tally):
    """The Hypothesis test of one part: its networks, its share of the examples, its seed, the database."""
    networks = run.part_networks(part)
    profile = strategies.profile_settings(run.profile)
    candidate = _candidate(run.candidate, run.order, execution.directory) if run.candidate else None
    database = DirectoryBasedExampleDatabase(execution.database) if execution.database else None
    options = dict(max_examples=max(1, tally.expected), database=database, derandomize=False,
                   report_multiple_bugs=False, suppress_health_check=list(SUPPRESSED),
                   phases=[phase for phase in profile.phases if phase != Phase.explain])  # the report explains

    @settings(profile, **options)
    @given(case=strategies.cases(st.sampled_from(networks)))
    def the_candidate_agrees(case):
        case = with_labels(case) if run.labels else with_one_hot(case) if run.one_hot else case
        network, params, X, T = case
        try:
            report = run_check(network, params, X, T, run, candidate, diagnose=False)  # diagnosed on the minimal one
        except InputError as exc:
            tally.user_error = (str(exc), case)
            raise _UserCodeFailed(str(exc)) from None
        tally.add(case, report)
        if not report.ok:
            tally.failure = case  # the last one is the minimal case Hypothesis replays
            raise _Disagreement("disagree on %s" % network.describe())

    if run.part_seed(part) is not None:
        the_candidate_agrees = hypothesis_seed(run.part_seed(part))(the_candidate_agrees)
    if database is not None:  # failing examples kept under what the part searches, replayed first next time
        keep_database(the_candidate_agrees, database, "%s|%s|%s" % (run.candidate, run.order,
                                                                    [repr(network) for network in networks]))
    return the_candidate_agrees


@functools.lru_cache(maxsize=8)
def _candidate(spec: str, order: int, directory: str | None) -> Callable:
    """The user's function, found from ``directory`` (a relative path, or a module there) when given."""
    target, colon, name = spec.rpartition(":")
    if directory and colon:
        if target.endswith(".py") and not os.path.isabs(target):
            spec = "%s:%s" % (os.path.join(directory, target), name)
        elif directory not in sys.path:
            sys.path.insert(0, directory)
    return load_function(spec, "--hvp" if order == 2 else "--grad")


def run_check(network: Network, params: dict, X, T, run: PropertyRun, candidate: Callable | None = None,
              diagnose: bool = True):
    """The check of one drawn case: the candidate against the generated code and finite differences (a draw
    whose product is zero along its direction says nothing: Hypothesis draws another)."""
    try:
        return check_case(network, params, X, T, run, candidate, diagnose)
    except ZeroProduct:
        assume(False)


def check_case(network: Network, params: dict, X, T, run: PropertyRun, candidate: Callable | None = None,
               diagnose: bool = True):
    """The check of one case (raises :class:`~verify.check.hvp_check.ZeroProduct` for a product that is zero along
    the direction)."""
    layout = Layout(**run.layout)
    if run.order == 2:  # the generated hvp as candidate by default: derivation against the differences
        hvp = candidate or functools.partial(_generated_hvp, network)
        return check_hvp(network, params, X, T, hvp, worst=3, diagnose=diagnose, layout=layout,
                         candidate_name=None if candidate else "the generated hvp")
    samples = network.n_params if network.n_params <= EVERY_ENTRY else SAMPLED_ENTRIES
    return check_gradients(network, params, X, T, candidate, samples=samples, worst=3, directions=1,
                           diagnose=diagnose, layout=layout)


def with_one_hot(case: tuple) -> tuple:
    """The case with a softmax output's targets as one-hot rows of each example's likeliest class."""
    network, params, X, T = case
    if network.activations[-1].elementwise:
        return case
    return network, params, X, np.eye(network.sizes[-1], dtype=T.dtype)[np.argmax(T, axis=1)]


def with_labels(case: tuple) -> tuple:
    """The case with its targets as integer class labels (N,), as classifiers' code takes them: each example's
    likeliest class (for one output unit, class 1 where the target is above the middle of the output's range)."""
    network, params, X, T = case
    if network.sizes[-1] > 1:
        return network, params, X, np.argmax(T, axis=1)
    low, high = target_range(network.activations[-1])
    return network, params, X, (T[:, 0] > (low + high) / 2).astype(np.int64)


def _generated_hvp(network: Network, params: dict, X, T, V) -> dict:
    return second_order_module(network).hvp(params, X, T, V)


def _literal(array) -> str:
    return "np.array(%r)" % (np.asarray(array).tolist(),)


def counterexample(case: tuple, run: PropertyRun, execution: Execution = Execution()) -> str:
    """The failure message of the minimal failing ``case``: the case, its report (diagnosed), and the commands that
    reproduce it."""
    network, params, X, T = case
    candidate = _candidate(run.candidate, run.order, execution.directory) if run.candidate else None
    report = check_case(network, params, X, T, run, candidate)
    if report.ok:
        return "the minimal case %s passed when checked again: the candidate is not deterministic" % (
            network.describe())
    params_text = "{%s}" % ", ".join("%r: %s" % (name, _literal(value)) for name, value in params.items())
    layout = ", layout=Layout(**%r)" % run.layout if run.layout else ""
    if run.order == 2:
        call = "check_hvp(network, params, X, T, %s%s)" % ("load_function(%r)" % run.candidate if run.candidate else
                                                            "derive(network).numpy_module(order=2).hvp", layout)
    else:
        call = "check_gradients(network, params, X, T%s%s)" % (", load_function(%r)" % run.candidate
                                                              if run.candidate else "", layout)
    return "\n".join([
        "%s disagree on %s" % ("products H V" if run.order == 2 else "gradients", network.describe()),
        "  network = Network.from_dict(%r)" % network.to_dict(),
        "  params = %s" % params_text, "  X = %s" % _literal(X), "  T = %s" % _literal(T),
        "", str(report)] + generic_draw(report, network, run, candidate) + _soft_targets_hint(network, T, run) + ["",
        "Reproduce the search:  %s" % run.command(execution.shard),
        "Reproduce this case:   python - <<'EOF'",
        "import numpy as np",
        "from derive import Network, derive",
        "from verify import Layout, check_gradients, check_hvp",
        "from verify.check.sources import load_function",
        "network = Network.from_dict(%r)" % network.to_dict(),
        "params = %s" % params_text, "X = %s" % _literal(X), "T = %s" % _literal(T),
        "print(%s)" % call, "EOF"])


def _soft_targets_hint(network: Network, T, run: PropertyRun) -> list[str]:
    """A hint when a candidate failed on soft targets of a softmax output: its code may take the class as argmax."""
    if not run.candidate or run.labels or run.one_hot or network.activations[-1].elementwise or np.ndim(T) != 2:
        return []
    if np.array_equal(T, np.eye(T.shape[1])[np.argmax(T, axis=1)]):
        return []
    return ["", "The targets T here are soft probability rows, not one-hot: if your code takes each example's class "
                "as T.argmax(1), run the search with --one-hot (class labels (N,): --labels)."]


def generic_draw(report, network: Network, run: PropertyRun, candidate: Callable | None) -> list[str]:
    """What a generic draw of the counterexample's network says, beside the minimal case's diagnosis.

    Hypothesis shrinks a counterexample towards zeros, ones and equal
    entries, where several bug patterns predict the same numbers (the
    diagnosis then lists them joined by "or"), a wrong slope looks like a
    constant factor, or nothing fits cleanly.  The same network is checked
    again on random parameters and data (seeded), where the patterns differ;
    its diagnosis is shown when it says something else, and the one
    explanation that fits both draws is named.
    """
    params = random_params(network, GENERIC_SEED)
    X, T = random_data(network, GENERIC_EXAMPLES, GENERIC_SEED, labels=run.labels, soft=not run.one_hot)
    where = "a generic draw of the same network (random parameters and %d random examples, seed %d)" % (
        GENERIC_EXAMPLES, GENERIC_SEED)
    try:
        generic = check_case(network, params, X, T, run, candidate)
    except InputError as exc:  # the candidate fails there: say so, the minimal case stands on its own
        return ["", "On %s the candidate could not be checked: %s" % (where, exc)]
    except ZeroProduct:  # a product that is zero along the draw's direction says nothing
        return []
    if generic.ok:
        return ["", "On %s the candidate agrees: its bug shows only on degenerate values like these." % where]
    if [(d.parameters, d.text) for d in generic.diagnosis] == [(d.parameters, d.text) for d in report.diagnosis]:
        return ["", "The diagnosis is the same on %s." % where]
    lines = ["", "Diagnosis on %s:" % where] + ["  - %s: %s" % (", ".join(d.parameters), d.text)
                                                 for d in generic.diagnosis]
    for shrunk in report.diagnosis:
        covering = [g for g in generic.diagnosis if set(shrunk.parameters) <= set(g.parameters)]
        fitting = {key for g in covering for key, _ in g.alternatives}
        both = [text for key, text in shrunk.alternatives if key in fitting]
        if len(shrunk.alternatives) > 1 and len(both) == 1:
            lines.append("The one explanation of %s that fits both draws: %s" % (", ".join(shrunk.parameters),
                                                                                 both[0]))
    return lines


def user_error(found: tuple, run: PropertyRun) -> str:
    """The one line for a user's function that failed on a drawn example: what happened, where the example
    (the smallest Hypothesis found) is saved, and the ``backprop check`` command that reproduces it."""
    message, (network, params, X, T) = found
    folder = save_example(params, X, T)
    option = "--hvp" if run.order == 2 else "--grad"
    command = " ".join([network.command("check"), option, run.candidate] + Layout(**run.layout).command_options()
                       + ["--params", str(folder / "params.npz"), "--data", str(folder / "data.npz")])
    return "%s; on an example drawn by the property run (the smallest that does it), saved in %s; reproduce " \
           "it: %s" % (message, folder, command)


def save_example(params: dict, X, T) -> Path:
    """Write ``params.npz`` and ``data.npz`` (``X``, ``T``) into a folder of :func:`storage_directory` named by
    their content, and return the folder."""
    files = {}
    targets = {"y": T} if np.ndim(T) == 1 and np.asarray(T).dtype.kind in "iu" else {"T": T}  # class labels as y
    for name, arrays in (("params.npz", params), ("data.npz", {"X": X, **targets})):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        files[name] = buffer.getvalue()
    folder = storage_directory() / "examples" / hashlib.sha256(b"".join(files.values())).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        atomic_write(folder / name, content)
    return folder
