"""``backprop check SPEC --hvp FN``: exit 0 when every entry of H V agrees, 1 with the diagnosis, 2 for bad input."""

import json

import numpy as np
import pytest

from cli_helpers import folder_with, run

SPEC = ["3-4-2", "--activation", "tanh,sigmoid"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    return folder_with(tmp_path, monkeypatch, "numpy_hvp.py")


def test_a_right_product_passes_with_exit_0(folder, capsys):
    code, out, err = run(capsys, *SPEC, "--hvp", "numpy_hvp.py:correct")
    assert code == 0, err
    assert out.startswith("parameters: random, uniform in [-1/sqrt(n_in), 1/sqrt(n_in)] (seed 0), float64\n"
                          "data: 8 random examples (seed 0)\ndirection: random unit direction (seed 0)\n\n"
                          "Hessian-vector product check of numpy_hvp.py:correct (float64), 26 entries: OK")
    assert "symbolic reference vs complex step" in out


def test_gauss_newton_passed_off_as_the_hessian_exits_1_and_is_named(folder, capsys):
    code, out, _ = run(capsys, *SPEC, "--hvp", "numpy_hvp:gauss_newton")
    assert code == 1
    assert "the CANDIDATE is wrong: it differs from the symbolic reference at 26 of 26 entries" in out
    assert "  - W1, b1, W2, b2: equal the Gauss-Newton product G V = J^T H_out J V, not the Hessian's H V" in out


def test_gnvp_checks_a_gauss_newton_product_along_a_given_direction_as_json(folder, capsys):
    rng = np.random.default_rng(1)
    np.savez(folder / "v.npz", W1=rng.normal(size=(4, 3)), b1=rng.normal(size=4), W2=rng.normal(size=(2, 4)),
             b2=rng.normal(size=2))
    code, out, _ = run(capsys, *SPEC, "--hvp", "numpy_hvp.py:gauss_newton", "--gnvp", "--direction", "v.npz",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["direction"] == "from v.npz"
    assert data["title"] == "Gauss-Newton-vector product check" and data["fd_method"] == "gauss_newton_differences"
    code, out, _ = run(capsys, *SPEC, "--hvp", "numpy_hvp.py:correct", "--gnvp", "--direction", "v.npz", "--json")
    data = json.loads(out)
    assert code == 1 and [d["kind"] for d in data["diagnosis"]] == ["hessian"]


@pytest.mark.parametrize("argv, message", [
    (["--hvp", "numpy_hvp.py:correct"], "--hvp needs SPEC, the architecture your function computes"),
    (SPEC + ["--grad", "numpy_hvp.py:correct", "--gnvp"], "--gnvp is for --hvp FN, a Gauss-Newton product you wrote"),
    (SPEC + ["--grad", "numpy_hvp.py:correct", "--direction", "bad.npz"],
     "--direction is for a second-order product: --hvp FN, or --torch OBJ --order 2"),
    (SPEC + ["--hvp", "numpy_hvp.py:correct", "--direction", "missing.npz"],
     "cannot read parameter file missing.npz: no such file"),
    (SPEC + ["--hvp", "numpy_hvp.py:correct", "--direction", "bad.npz"], "direction file bad.npz: b2 has shape (3,)"),
    (SPEC + ["--hvp", "numpy_hvp.py:returns_wrong_key"],
     "hvp function numpy_hvp.py:returns_wrong_key returned no 'W1' and an unexpected key '0.weight'; expected one array per parameter: W1, b1, W2, b2"),
    (SPEC + ["--hvp", "numpy_hvp.py:returns_wrong_shape"],
     "hvp function numpy_hvp.py:returns_wrong_shape: b1 has shape (3,); expected (4,), (4, 1) or (1, 4), the shapes of bias b1"),
    (SPEC + ["--hvp", "numpy_hvp.py:nothing"], "--hvp numpy_hvp.py:nothing: numpy_hvp.py has no function 'nothing'"),
], ids=["no-spec", "gnvp-without-hvp", "direction-without-hvp", "missing-direction", "direction-shape", "returned-key", "returned-shape",
        "no-function"])
def test_bad_input_is_one_line_and_exit_2(folder, capsys, argv, message):
    np.savez(folder / "bad.npz", W1=np.ones((4, 3)), b1=np.ones(4), W2=np.ones((2, 4)), b2=np.ones(3))
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
