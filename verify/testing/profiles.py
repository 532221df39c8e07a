"""Hypothesis settings profiles for property tests of gradients: ``dev``, ``ci`` and ``thorough``.

Registered with Hypothesis as ``backprop-dev``, ``backprop-ci`` and
``backprop-thorough`` (a profile of that name that already exists, say one of
your own, is left as it is); :func:`profile_name` picks one from the
environment variable ``BACKPROP_HYPOTHESIS_PROFILE`` (default ``ci`` when
``CI=true``, else ``dev``) and :func:`profile_settings` gives its settings.
``ci`` is derandomized: every run draws the same examples.  Every profile
turns off the deadline and the health checks that the toolkit's strategies
fail on purpose (:data:`SUPPRESSED`: slow examples, and the large arrays a
784-100-10 network draws).

All of this is importable from :mod:`verify.strategies` too.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

from derive import InputError

#: Health checks the toolkit's strategies fail on purpose: checking gradients is slow, and large networks
#: draw large arrays.
SUPPRESSED = (HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example)
PROFILE_VARIABLE = "BACKPROP_HYPOTHESIS_PROFILE"
_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=list(SUPPRESSED))
#: Settings profiles by name; ``max_examples`` is per test.  Each says ``derandomize`` itself: a setting left
#: out is inherited from the profile loaded when this module is imported, and Hypothesis loads its own
#: derandomized ``ci`` profile when it sees ``CI`` in the environment, which would make ``dev`` and
#: ``thorough`` draw the same examples every run exactly where fresh ones are wanted.
PROFILES = {
    "dev": settings(max_examples=50, derandomize=False, **_COMMON),
    "ci": settings(max_examples=200, derandomize=True, **_COMMON),
    "thorough": settings(max_examples=2000, derandomize=False, **_COMMON),
}
#: Prefix of the names the profiles are registered under with Hypothesis.
PROFILE_PREFIX = "backprop-"


def _register_profiles() -> None:
    """Register every profile under its prefixed name, unless a profile of that name exists already."""
    for short, profile in PROFILES.items():
        try:
            settings.get_profile(PROFILE_PREFIX + short)
        except InvalidArgument:
            settings.register_profile(PROFILE_PREFIX + short, profile)


_register_profiles()


def profile_name() -> str:
    """The profile chosen by ``BACKPROP_HYPOTHESIS_PROFILE`` (``ci`` under ``CI=true``, else ``dev``).

    Raises:
        InputError: the variable names no profile.
    """
    default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
    name = os.environ.get(PROFILE_VARIABLE, "").strip() or default
    if name not in PROFILES:
        raise InputError("%s=%s is not a profile; choose one of: %s" % (PROFILE_VARIABLE, name, ", ".join(PROFILES)))
    return name


def profile_settings(name: str) -> settings:
    """The registered settings of profile ``name`` (``"dev"``, ``"ci"``, ``"thorough"``)."""
    return settings.get_profile(PROFILE_PREFIX + name)


def settings_from_environment() -> settings:
    """The settings of the profile :func:`profile_name` picks, usable as a decorator."""
    return settings(profile_settings(profile_name()))
