"""What several test modules share: a strict numpy, parameter dicts as one vector, a seeded problem, and the
rule for tests that need an installed program."""

import os

import numpy as np
import pytest

from derive import Network, init_params


def strict_numpy():
    """No silent overflow, division by zero or invalid operation (underflow to 0 is fine)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


def flat(arrays: dict) -> np.ndarray:
    """The arrays of a parameter-shaped dict as one vector, in key order, each flattened row-major."""
    return np.concatenate([np.ravel(value) for value in arrays.values()])


def problem(options: dict, seed: int = 0, batch: int = 5):
    """``(network, params, X, T, V)``: the network of ``options``, seeded parameters (scale 0.8), ``batch``
    normal inputs, targets in (0.1, 0.9) (each row a distribution for a softmax output) and a normal direction V
    shaped like the parameters."""
    network = Network(**options)
    params = init_params(network, seed=seed + 1, scale=0.8)
    rng = np.random.default_rng(seed)
    X, T = rng.normal(size=(batch, network.sizes[0])), rng.uniform(0.1, 0.9, size=(batch, network.sizes[-1]))
    if not network.activations[-1].elementwise:
        T /= T.sum(axis=1, keepdims=True)
    V = {name: rng.normal(size=value.shape) for name, value in params.items()}
    return network, params, X, T, V


#: On a CI machine (``CI=true``) every tool a test needs must be there: it fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(tool: str | None, name: str, package: str | None = None) -> None:
    """Skip the test when the program ``tool`` (a path from ``shutil.which``, or None) is missing; fail on CI.

    Args:
        tool: The program's path, None when it is not installed.
        name: Its name, for the message.
        package: The system package that installs it (default: ``name``).
    """
    if tool is None:
        if IN_CI:
            pytest.fail("CI must install %s (see .ci/run)" % name)
        pytest.skip("%s is not installed (apt-get install %s)" % (name, package or name))
