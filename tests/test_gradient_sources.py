"""Gradient functions: one calling convention (with ``network`` and list forms detected), and bad ones in one line.

Bad gradient functions and bad ``--grad`` specs give one line naming the
parameter and what was expected (exit 2 from the CLI); a function that raises
shows the user's own frame.
"""

import re
import textwrap

import numpy as np
import pytest

from derive import InputError, Network, init_params
from verify import Engine, check_gradients
from verify.cli import main
from verify.check.sources import list_form, load_function

NETWORK = Network((2, 3, 1), activation="sigmoid")
PARAMS = init_params(NETWORK, seed=0)
X, T = np.array([[0.1, 0.2]]), np.array([[0.5]])


def engine(params, X, T):
    return Engine(NETWORK).gradients(params, X, T)


def changed(**changes):
    def gradients(params, X, T):
        grads = engine(params, X, T)
        for key, value in changes.items():
            if value is None:
                del grads[key]
            else:
                grads[key] = value(grads.get(key))
        return grads
    return gradients


def raises(params, X, T):
    raise ZeroDivisionError("division by zero")


def with_nan(params, X, T):
    grads = engine(params, X, T)
    grads["W2"][0, 2] = np.nan
    return grads


BAD_FUNCTIONS = [
    ("raises", raises, r"gradient function .*raises raised ZeroDivisionError: division by zero, at "
                       r"tests/test_gradient_sources.py line \d+ in raises: raise ZeroDivisionError\(\"division by zero\"\) "
                       r"\(called for 2-3-1"),
    ("returns-a-string", lambda p, X, T: "W1 b1 W2 b2",
     "returned a str; expected a dict of arrays keyed W1, b1, W2, b2, a list in layer order"),
    ("missing-key", changed(b2=None), "returned no 'b2'; expected one array per parameter: W1, b1, W2, b2"),
    ("extra-key", changed(W3=lambda _: np.zeros(1)), "unexpected key 'W3'; expected exactly the keys W1, b1, W2, b2"),
    ("float16", changed(b1=lambda g: g.astype(np.float16)), "b1 has dtype float16; expected float64 or float32"),
    ("integers", changed(W2=lambda g: g.astype(np.int64)), "W2 has dtype int64; expected float64 or float32"),
    ("wrong-shape", changed(W1=lambda g: g[:, :1]), r"W1 has shape \(3, 1\); expected \(3, 2\), the shape of parameter W1"),
    ("keepdims-bias", changed(b1=lambda g: g[None, :].repeat(2, axis=0)),
     r"b1 has shape \(2, 3\); expected \(3,\), \(3, 1\) or \(1, 3\), the shapes of bias b1"),
    ("strings", changed(b2=lambda g: np.array(["x"])), r"b2 has shape \(1,\); expected \(1,\)|b2 has dtype <U1"),
    ("nan", with_nan, r"W2\[0, 2\] is nan; every gradient entry must be finite"),
    ("inf", changed(b1=lambda g: g + np.inf), r"b1\[0\] is inf; every gradient entry must be finite"),
]


@pytest.mark.parametrize("function, message", [case[1:] for case in BAD_FUNCTIONS],
                         ids=[case[0] for case in BAD_FUNCTIONS])
def test_a_bad_gradient_function_is_one_line_naming_what_was_expected(function, message):
    with pytest.raises(InputError, match=message) as caught:
        check_gradients(NETWORK, PARAMS, X, T, function)
    assert "\n" not in str(caught.value)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "user_grads.py").write_text(textwrap.dedent("""
        NOT_A_FUNCTION = 3
        def gradients(network, params, X, T):
            raise ValueError("not written yet")
        def transposed(network, params, X, T):
            from verify import Engine
            grads = Engine(network).gradients(params, X, T)
            return {k: v.T for k, v in grads.items()}
        def flattened(network, params, X, T):
            from verify import Engine
            return {k: v.ravel() for k, v in Engine(network).gradients(params, X, T).items()}
        def exits(network, params, X, T):
            raise SystemExit(0)
    """))
    (tmp_path / "broken.py").write_text("import no_such_module_anywhere\n")
    return tmp_path


BAD_SPECS = [
    ("no-colon", "user_grads.gradients", "is not MODULE:FUNCTION or path/to/file.py:FUNCTION"),
    ("no-module", "no_such_module_xyz:gradients", "cannot import module 'no_such_module_xyz': ModuleNotFoundError"),
    ("no-file", "missing.py:gradients", "file missing.py does not exist"),
    ("import-fails", "broken.py:gradients", "cannot import broken.py: ModuleNotFoundError"),
    ("no-function", "user_grads:gradient", "has no function 'gradient'; it defines: exits, flattened, gradients, "
                                           "transposed"),
    ("not-callable", "user_grads:NOT_A_FUNCTION", "user_grads.NOT_A_FUNCTION is a int, not a function"),
]


@pytest.mark.parametrize("spec, message", [case[1:] for case in BAD_SPECS], ids=[case[0] for case in BAD_SPECS])
def test_a_bad_grad_spec_is_one_line(user_module, spec, message):
    with pytest.raises(InputError, match=message):
        load_function(spec)


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:gradients", "cannot import module 'no_such_module_xyz'"),
    ("user_grads:gradients", "raised ValueError: not written yet"),
    ("user_grads.py:flattened", r"user_grads.py:flattened: W\d has shape \(\d+,\); expected \(\d, \d\)"),
    ("user_grads:exits", "raised SystemExit: 0"),
], ids=["unimportable", "raises", "wrong-shape", "exits-the-process"])
def test_proptest_exits_2_with_one_line_for_bad_gradient_functions(user_module, capsys, spec, message):
    code = main(["proptest", "--grad", spec, "--examples", "8", "-n", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("backprop proptest: error: ")
    assert re.search(message, err[0])


@pytest.mark.parametrize("argv, message", [
    (["--examples", "0"], "--examples must be at least 1"),
    (["-n", "many"], "-n/--workers must be a number >= 0 or 'auto'"),
    (["--activations", "sigmod"], "unknown activation 'sigmod'"),
    (["--activations", "relu", "--losses", "cross_entropy"], "no loss in losses"),
    (["--max-depth", "0"], "--max-depth=0 must be an integer >= 1"),
], ids=["examples", "workers", "activation", "incompatible", "depth"])
def test_proptest_rejects_bad_options_in_one_line(capsys, argv, message):
    assert main(["proptest"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_proptest_diagnoses_a_transposed_gradient_instead_of_refusing_its_shape(user_module, capsys):
    code = main(["proptest", "--grad", "user_grads.py:transposed", "--examples", "16", "-n", "0"])
    out = capsys.readouterr().out
    assert code == 1 and "FAILED: minimal counterexample" in out
    assert re.search(r"  - W\d: (returned with shape \(\d, \d\), the transpose of W\d's shape|equals the correct "
                     r"gradient transposed)", out)


def engine_gradients(params, X, T, network):
    return Engine(network).gradients(params, X, T)


def network_first(network, params, X, T):
    return Engine(network).gradients(params, X, T)


def network_by_keyword(params, X, T, *, network):
    return Engine(network).gradients(params, X, T)


def as_list(params: list, X, T):
    return list(Engine(NETWORK).gradients(dict(zip(NETWORK.param_shapes(), params)), X, T).values())


def as_string_annotated_list(params: "Sequence[np.ndarray]", X, T, network):
    return list(Engine(network).gradients(dict(zip(network.param_shapes(), params)), X, T).values())


@list_form
def as_marked_list(params, X, T):
    return as_list(params, X, T)


@pytest.mark.parametrize("function", [engine_gradients, network_first, network_by_keyword, as_list,
                                      as_string_annotated_list, as_marked_list],
                         ids=lambda f: f.__name__)
def test_every_calling_form_is_detected_from_the_function(function):
    assert check_gradients(NETWORK, PARAMS, X, T, function).ok


def test_a_list_form_function_with_the_wrong_number_of_arrays_is_one_line():
    with pytest.raises(InputError, match=r"returned 3 arrays; expected 4, in layer order W1, b1, W2, b2"):
        check_gradients(NETWORK, PARAMS, X, T, list_form(lambda params, X, T: as_list(params, X, T)[:3]))


def test_float32_gradients_of_float64_parameters_are_checked_at_float32_tolerances():
    report = check_gradients(NETWORK, PARAMS, X, T, changed(b1=lambda g: g.astype(np.float32)))
    assert report.ok and report.dtype == "float32" and report.tolerance["ulps"] == "float32"
    assert report.warnings[0].endswith("returned float32 gradients (b1) for float64 parameters: checked at float32 "
                                       "tolerances")
