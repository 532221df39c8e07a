"""The ``backprop`` pytest plugin: the gradient check as a fixture in your own test-suite.

Installed with the package (entry point ``pytest11``), so every pytest run in
an environment with ``backprop`` installed offers the fixture
``assert_gradients_match`` (:func:`verify.assert_gradients_match`): it runs
the three-way check and fails the test with the full report::

    def test_my_backprop(assert_gradients_match):
        network = Network((3, 4, 2), activation="tanh")
        assert_gradients_match(network, params, X, T, my_gradients)

Property tests draw their cases from :mod:`verify.strategies` (imported, since
``@given`` runs before any fixture exists) and take their settings from the
profile that ``BACKPROP_HYPOTHESIS_PROFILE`` names::

    from hypothesis import given
    from verify import strategies

    @strategies.settings_from_environment()
    @given(strategies.cases(strategies.networks(activations=["sigmoid"], losses=["sse"])))
    def test_my_backprop_on_random_networks(case, assert_gradients_match):
        assert_gradients_match(*case, my_gradients)

When that variable is set the plugin names the profile in pytest's header.
It imports nothing heavy until the fixture is used, so it costs other
test-suites nothing.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def assert_gradients_match():
    """:func:`verify.assert_gradients_match`: check a gradient function, fail with the report."""
    from verify.check.gradient_check import assert_gradients_match as check

    return check


def pytest_report_header(config):
    """One header line, only where the environment asks for a backprop profile."""
    name = os.environ.get("BACKPROP_HYPOTHESIS_PROFILE")
    return "backprop: hypothesis profile %s (BACKPROP_HYPOTHESIS_PROFILE)" % name if name else None
