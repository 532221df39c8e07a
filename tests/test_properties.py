"""The property suite, run with the rest of the tests: on random networks over every registered activation and
loss, the generated code, the engine and finite differences (complex step, or central differences where a network
has kinks) agree at every entry.

The suite lives in :mod:`verify.testing.property_suite` so that ``backprop proptest`` can run it on an installed toolkit;
importing its test here collects it (one test per part of the run, :mod:`verify.testing.runs`, which pytest-xdist
spreads over cores).  The number of examples
follows the Hypothesis profile: 200 in ``dev``, 2,000 in ``ci`` (chosen when ``CI=true``, derandomized), 20,000 in
``thorough``; ``BACKPROP_HYPOTHESIS_PROFILE`` picks one.
"""

from verify.testing.property_suite import test_generated_code_engine_and_finite_differences_agree  # noqa: F401
