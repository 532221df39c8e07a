"""The property suite: on random networks (or one fixed network), three independent gradients agree.

For networks drawn over every registered activation and every compatible
loss, with and without bias and weight decay (or for one fixed network), and
for parameters and data drawn afresh each time, :func:`verify.check_gradients`
must find the candidate (the engine, or a user's function), the generated code
(the symbolic reference) and finite differences at *every* entry (complex step
where the network is analytic, central differences where it has kinks) in
agreement; with order 2, the same for Hessian-vector products
(:func:`verify.check_hvp`).

This module is a pytest test module shipped inside the package, so that
``backprop proptest`` can run it on an installed toolkit (``tests/`` imports it
too), spread over cores by pytest-xdist.  Its one test is parametrized by the
parts of the run (:mod:`verify.testing.runs`) that belong to the shard being
run, and runs each with :func:`verify.testing.part.run_part`.

The run comes through one channel, the environment variable
``BACKPROP_PROPTEST`` (:data:`verify.testing.runs.ENVIRONMENT`; pytest-xdist
workers inherit it), which ``backprop proptest`` sets; without it this is the
default run of the Hypothesis profile in use (``BACKPROP_HYPOTHESIS_PROFILE``:
200 examples in ``dev``, 2,000 in ``ci``, 20,000 in ``thorough``).  A part
that fails shows the minimal network, parameters and data, what kind of bug
fits them (:mod:`verify.check.diagnosis`, run once, on the minimal case), and
commands that reproduce it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verify.testing.part import run_part
from verify.testing.runs import from_environment

RUN, EXECUTION = from_environment()


@pytest.mark.parametrize("part", RUN.shard(*EXECUTION.shard))
def test_generated_code_engine_and_finite_differences_agree(part):
    progress = Path(EXECUTION.results, "progress-%d" % part) if EXECUTION.results else None

    def one_more():
        with open(progress, "a") as stream:
            stream.write(".")

    result = run_part(RUN, part, EXECUTION, on_example=one_more if progress else None)
    if EXECUTION.results:
        Path(EXECUTION.results, "part-%d.json" % part).write_text(json.dumps(result))
    if result["input_error"]:  # from a user's function: bad input, exit 2 from backprop proptest
        pytest.fail(result["input_error"], pytrace=False)
    if result["counterexample"]:
        pytest.fail(result["counterexample"], pytrace=False)
    assert result["examples"] == result["expected"], "Hypothesis ran %d examples, not the %d asked for" % (
        result["examples"], result["expected"])
