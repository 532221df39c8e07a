"""The pytest plugin: installed through the pytest11 entry point, its fixture fails a user's test with the report."""

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

USER_TEST = textwrap.dedent('''
    import numpy as np
    from derive import Network, init_params
    from verify import Engine

    def test_a_gradient_with_a_wrong_entry(assert_gradients_match):
        network = Network((2, 3, 1), activation="tanh")
        def gradients(params, X, T):
            grads = Engine(network).gradients(params, X, T)
            grads["W2"][0, 1] += 1e-3
            return grads
        assert_gradients_match(network, init_params(network, seed=0, scale=0.5), np.ones((2, 2)), np.zeros((2, 1)),
                               gradients)
''')


def test_the_plugin_is_declared_as_a_pytest11_entry_point():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\nbackprop = "verify.testing.pytest_plugin"' in pyproject
    installed = {e.name: e.value for e in metadata.entry_points(group="pytest11")}
    assert installed.get("backprop") == "verify.testing.pytest_plugin"


def test_the_fixture_fails_a_users_test_with_the_report_and_the_header_names_the_profile(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    env = dict(os.environ, BACKPROP_HYPOTHESIS_PROFILE="dev")
    result = subprocess.run([sys.executable, "-m", "pytest", "test_user.py", "-p", "no:cacheprovider"],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "backprop: hypothesis profile dev (BACKPROP_HYPOTHESIS_PROFILE)" in result.stdout
    assert "gradients do not match" in result.stdout
    assert "W2[0, 1] (from hidden unit 1 to output unit 0)" in result.stdout
    assert "the CANDIDATE is wrong" in result.stdout
