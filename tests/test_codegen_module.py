"""The generated module as a file: it runs where only numpy exists, and its bytes do not depend on the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from derive import Network, derive, init_params
from verify.cli import main as backprop

ROOT = Path(__file__).resolve().parents[1]
NETWORK = Network((3, 4, 2), activation=["x*sigmoid(x)", "softmax"], loss="cross_entropy", weight_decay=0.01, l1=0.02)

#: Runs in ``python -I`` (no site-packages, no PYTHONPATH): sys.path gets the module's directory and
#: numpy's site-packages, and a meta-path hook refuses every import that is neither stdlib nor numpy.
ONLY_NUMPY = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    class OnlyNumpy:
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top not in ("numpy", "grads") and top not in sys.stdlib_module_names:
                raise ImportError("blocked: " + name)
            return None
    sys.meta_path.insert(0, OnlyNumpy())
    import numpy as np
    for blocked in ("sympy", "derive", "verify"):
        try:
            __import__(blocked)
        except ImportError:
            pass
        else:
            raise SystemExit(blocked + " is importable")
    import grads
    data = json.loads(sys.stdin.read())
    params = {k: np.array(v) for k, v in data["params"].items()}
    X, T = np.array(data["X"]), np.array(data["T"])
    result = {"loss": float(grads.loss(params, X, T)), "forward": grads.forward(params, X).tolist(),
              "gradients": {k: v.tolist() for k, v in grads.gradients(params, X, T).items()}}
    print(json.dumps(result))
""")


def run_with_only_numpy(directory: Path, params: dict, X, T) -> dict:
    """Loss, forward and gradients of ``directory/grads.py``, computed in ``python -I`` with only numpy importable."""
    payload = json.dumps({"params": {k: v.tolist() for k, v in params.items()}, "X": X.tolist(), "T": T.tolist()})
    numpy_home = str(Path(np.__file__).resolve().parents[1])
    completed = subprocess.run([sys.executable, "-I", "-c", ONLY_NUMPY, str(directory), numpy_home],
                               input=payload, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_generated_module_runs_in_a_subprocess_with_only_numpy_importable(tmp_path):
    derivation = derive(NETWORK)
    (tmp_path / "grads.py").write_text(derivation.numpy_source(), encoding="utf-8")
    params = init_params(NETWORK, seed=4, scale=0.5)
    rng = np.random.default_rng(4)
    X, T = rng.standard_normal((5, 3)), np.eye(2)[rng.integers(0, 2, 5)]
    result = run_with_only_numpy(tmp_path, params, X, T)
    module = derivation.numpy_module()
    expected = module.gradients(params, X, T)
    for name, value in result["gradients"].items():
        np.testing.assert_array_equal(np.array(value), expected[name])
    assert result["loss"] == float(module.loss(params, X, T))
    np.testing.assert_array_equal(np.array(result["forward"]), module.forward(params, X))


SOURCE_SCRIPT = textwrap.dedent("""
    import sys
    from derive import Network, derive
    network = Network((3, 4, 2), activation=[sys.argv[1], "softmax"], loss="cross_entropy", weight_decay=0.01, l1=0.02)
    sys.stdout.write(derive(network).numpy_source())
""")


def _source_in_fresh_process(seed: str, activation: str) -> str:
    environment = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run([sys.executable, "-c", SOURCE_SCRIPT, activation], capture_output=True, text=True,
                               timeout=120, env=environment, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_two_fresh_processes_print_byte_identical_source():
    first = _source_in_fresh_process("1", "x*sigmoid(x)")
    assert first == _source_in_fresh_process("2", "x*sigmoid(x)")
    assert first == derive(NETWORK).numpy_source()


def test_numpy_module_of_a_derivation_computes_what_its_source_says():
    derivation = derive(Network((2, 2, 1)))
    namespace: dict = {}
    exec(derivation.numpy_source(), namespace)  # the generated source, in a test
    params, X, T = init_params(derivation.network, seed=1), np.array([[0.0, 1.0]]), np.array([[1.0]])
    module = derivation.numpy_module()
    for name, value in module.gradients(params, X, T).items():
        np.testing.assert_array_equal(value, namespace["gradients"](params, X, T)[name])
    assert module.__doc__.startswith("Loss and gradients of the network 2-2-1, sigmoid, sse (sum), bias.")


def test_cli_writes_the_generated_module_atomically(tmp_path, capsys):
    target = tmp_path / "grads.py"
    assert backprop(["derive", "2-2-1", "--activation", "tanh,sigmoid", "-o", str(target)]) == 0
    network = Network((2, 2, 1), activation=["tanh", "sigmoid"])
    assert target.read_text(encoding="utf-8") == derive(network).numpy_source()
    assert "wrote %s" % target in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["2-2-1", "--activation", "erf(x)"], "a call to 'erf' is not accepted"),
    (["2-2-1", "--partial", "W1", "0", "0"], "cannot be combined"),
], ids=["unprintable-activation", "with-partial"])
def test_cli_output_refusals_are_one_line_and_write_nothing(tmp_path, capsys, arguments, message):
    target = tmp_path / "grads.py"
    assert backprop(["derive", *arguments, "-o", str(target)]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_the_module_shown_in_the_docs_is_the_one_generated_today():
    text = (ROOT / "docs" / "codegen.md").read_text(encoding="utf-8")
    shown = text.split("```python\n")[2].split("\n```")[0] + "\n"
    assert shown == derive(Network((2, 2, 1))).numpy_source()


def test_a_sigmoid_layers_bias_is_added_in_the_sigmoids_own_pass():
    # Z1 = X @ W1.T, then sigmoid(Z1 + b1) in one pass: no separate Z1 += b1 over memory a product has just left.
    # A tanh layer (a numpy ufunc, no helper) and the softmax output keep their own bias addition.
    network = Network((6, 5, 4, 3), activation=["sigmoid", "tanh", "softmax"], loss="cross_entropy")
    source = derive(network).numpy_source()
    gradients = source.split("def gradients(")[1].split("\ndef ")[0]
    assert "sigmoid(A1, shift=b1, out=A1)" in gradients and "Z1 += b1" not in gradients
    assert "Z2 += b2" in gradients and "Z3 += b3" in gradients
    module = derive(network).numpy_module()
    params = init_params(network, seed=2)
    rng = np.random.default_rng(2)
    X, T = rng.standard_normal((2, 6)) * 40, np.eye(3)[rng.integers(0, 3, 2)]  # large net inputs, both signs
    expected = module.gradients(params, X, T)  # two examples: the branch of plain expressions, bias added apart
    found = module.gradients(params, X.repeat(150, axis=0), T.repeat(150, axis=0), workspace={})
    for name in params:
        np.testing.assert_allclose(found[name], 150 * expected[name], rtol=1e-12, atol=1e-300)
