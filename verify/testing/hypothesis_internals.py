"""The only private names of Hypothesis that property runs use, each with what happens without it.

A property run promises that every process running a part draws the same
examples from the part's seed (the shards of a run together *are* the run),
and keeps its counterexamples in an example database across seeded runs.
Hypothesis offers neither through public API, so two of its internals are
used here, and nowhere else:

* :func:`same_draws_everywhere`: Hypothesis mixes into its draws, with
  probability 5%, constants it collects from the source of the *local*
  modules loaded in the process (``hypothesis.internal.conjecture.providers``),
  so the same seed draws differently in a process that has other modules
  loaded (a pytest worker, a Dask worker, another working directory).
  Within this context the local constants are empty (Hypothesis' own global
  constants stay); without those internals, draws may differ between processes.
* :func:`keep_database`: a seeded test has its database turned off
  (``@seed`` sets ``database=None`` in the test's settings); the settings and
  the key a decorated test is run with are its attributes
  ``_hypothesis_internal_use_settings`` and ``_hypothesis_internal_database_key``.

``tests/test_proptest_scale.py`` proves both: the same part run in processes
with different modules gives the same examples, and a counterexample saved
by one run is replayed first by the next.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

from hypothesis import settings

try:
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import Constants as _Constants
except ImportError:  # another Hypothesis: draws may then depend on the modules a process has loaded
    _providers = _Constants = None


@contextmanager
def same_draws_everywhere():
    """Within this context Hypothesis draws no constants from the local modules of this process."""
    if _providers is None or not hasattr(_providers, "_get_local_constants"):
        yield
        return
    original = _providers._get_local_constants
    empty = _Constants()
    _providers._get_local_constants = lambda: empty
    _providers.CONSTANTS_CACHE.cache.clear()  # allowed constants computed before, local ones included
    try:
        yield
    finally:
        _providers._get_local_constants = original
        _providers.CONSTANTS_CACHE.cache.clear()


def keep_database(test, database, key: str) -> None:
    """Save the failing examples of the decorated, seeded ``test`` in ``database`` under ``key``; the next run
    with the same key replays them first (see the module docstring)."""
    test._hypothesis_internal_use_settings = settings(test._hypothesis_internal_use_settings, database=database)
    test._hypothesis_internal_database_key = hashlib.sha256(key.encode()).digest()
