"""One generated module for every width of a structure (``any_width=True``), against the hand-written engine.

The oracle is ``verify.Engine`` (numpy written by hand, no SymPy) at each
width, never the width-specific module.  One module object
(:func:`derive.structure_module`) serves 1-1-1, 3-4-2, 7-5-3 and so on; it
reads N and n_0..n_L from the arrays, and refuses arrays that do not fit
together with one ValueError naming the array and the shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_codegen import OPTIONS, REGISTRY_CASES, assert_gradients_close, data
from test_codegen_module import run_with_only_numpy

from derive import Network, derive, init_params, structure_module
from verify import Engine
from verify.cli import main as backprop

WIDTHS = [(1, 1, 1), (3, 4, 2), (7, 5, 3)]
DEEP_WIDTHS = [(2, 3, 4, 2), (5, 1, 6, 3), (1, 2, 2, 1)]


def assert_matches_the_engine(module, network: Network, batch: int, seed: int = 0):
    """gradients, loss and forward of ``module`` equal the engine's, without and with a workspace."""
    engine = Engine(network)
    params, X, T = data(network, batch, seed=seed)
    expected = engine.gradients(params, X, T)
    for workspace in (None, {}):  # the small-array statements, and the in-place ones a workspace takes
        assert_gradients_close(module.gradients(params, X, T, workspace=workspace), expected)
        np.testing.assert_allclose(module.loss(params, X, T, workspace=workspace), engine.loss(params, X, T), rtol=1e-12)
        np.testing.assert_allclose(module.forward(params, X, workspace=workspace), engine.forward(params, X),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("structure", [dict(activation="sigmoid", loss="sse"),
                                       dict(activation=["tanh", "softmax"], loss="cross_entropy", weight_decay=0.05)],
                         ids=["sigmoid-sse", "tanh-softmax-L2"])
def test_one_module_serves_every_width_of_its_structure(structure):
    networks = [Network(sizes, **structure) for sizes in WIDTHS]
    module = structure_module(networks[0])
    assert all(structure_module(network) is module for network in networks)  # printed once per structure
    assert derive(networks[1]).numpy_module(any_width=True) is module
    for batch, network in zip((1, 6, 3), networks):
        assert_matches_the_engine(module, network, batch)
    assert_matches_the_engine(module, Network((3, 300, 2), **structure), batch=40)  # past the small-array branch


def test_one_workspace_follows_the_widths_from_call_to_call():
    networks = [Network(sizes, activation=["sigmoid", "softmax"], loss="cross_entropy")
                for sizes in ((30, 20, 10), (3, 40, 2), (30, 20, 10))]
    module, workspace = structure_module(networks[0]), {}
    for seed, network in enumerate(networks):
        params, X, T = data(network, batch=50, seed=seed)  # 50 x 20 entries: the in-place statements
        assert_gradients_close(module.gradients(params, X, T, workspace=workspace), Engine(network).gradients(params, X, T))
        assert workspace["Z1"].shape == (50, network.sizes[1])


def test_one_module_serves_every_width_of_a_three_layer_structure():
    networks = [Network(sizes, activation=["relu", "tanh", "sigmoid"], loss="binary_cross_entropy", reduction="mean",
                        l1=0.01) for sizes in DEEP_WIDTHS]
    module = structure_module(networks[0])
    for batch, network in zip((1, 4, 9), networks):
        assert structure_module(network) is module
        assert_matches_the_engine(module, network, batch, seed=batch)


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
@pytest.mark.parametrize("hidden, output, loss", REGISTRY_CASES, ids=["-".join(c) for c in REGISTRY_CASES])
def test_every_activation_and_loss_at_two_widths_of_one_module(hidden, output, loss, options):
    small, wide = (Network(sizes, activation=[hidden, output], loss=loss, **options) for sizes in ((3, 4, 2), (2, 6, 3)))
    module = derive(small).numpy_module(any_width=True)
    assert_matches_the_engine(module, small, batch=6)
    assert_matches_the_engine(module, wide, batch=2, seed=1)


def test_float32_stays_float32_and_complex_parameters_give_complex_gradients_as_width_specific():
    network = Network((3, 5, 2), activation=["sigmoid", "softmax"], loss="cross_entropy", l1=0.01)
    module = structure_module(Network((1, 1, 1), activation=["sigmoid", "softmax"], loss="cross_entropy", l1=0.01))
    params, X, T = data(network, batch=5, dtype=np.float32)
    wide = {name: value.astype(np.float64) for name, value in params.items()}
    reference = Engine(network).gradients(wide, X.astype(np.float64), T.astype(np.float64))
    for workspace in (None, {}):
        gradients = module.gradients(params, X, T, workspace=workspace)
        assert {g.dtype for g in gradients.values()} == {np.dtype(np.float32)}
        assert module.loss(params, X, T, workspace=workspace).dtype == np.float32
        assert_gradients_close(gradients, reference, rtol=2e-5)
    mixed = module.gradients(params, X.astype(np.float64), T)  # the common dtype of X and the parameters
    assert {g.dtype for g in mixed.values()} == {np.dtype(np.float64)}
    T_int = np.eye(2, dtype=np.int64)[[0, 1, 1, 0, 1]]  # integer targets do not widen float32
    assert {g.dtype for g in module.gradients(params, X, T_int).values()} == {np.dtype(np.float32)}
    params, X, T = data(network, batch=4)
    complex_gradients = module.gradients({k: v.astype(np.complex128) for k, v in params.items()}, X, T)
    assert all(g.dtype == np.complex128 for g in complex_gradients.values())
    assert_gradients_close({k: g.real for k, g in complex_gradients.items()}, Engine(network).gradients(params, X, T))


def _good():
    network = Network((2, 3, 1), activation="sigmoid", loss="sse")
    params, X, T = data(network, batch=4)
    return params, X, T


SHAPES = "the arrays must have the shapes X (N, n_0), W1 (n_1, n_0), b1 (n_1,), W2 (n_2, n_1), b2 (n_2,), T (N, n_2)"
INCONSISTENT = {
    "W2-columns": (lambda p, X, T: ({**p, "W2": np.ones((1, 4))}, X, T), "W2 has shape (1, 4), but n_1 = 3 from W1"),
    "b1-length": (lambda p, X, T: ({**p, "b1": np.ones(2)}, X, T), "b1 has shape (2,), but n_1 = 3 from W1"),
    "X-width": (lambda p, X, T: (p, np.ones((4, 5)), T), "W1 has shape (3, 2), but n_0 = 5 from X"),
    "T-rows": (lambda p, X, T: (p, X, np.ones((3, 1))), "T has shape (3, 1), but N = 4 from X"),
    "T-width": (lambda p, X, T: (p, X, np.ones((4, 2))), "T has shape (4, 2), but n_2 = 1 from W2"),
    "X-1d": (lambda p, X, T: (p, np.ones(2), T), "X has shape (2,) (1 axes), expected (N, n_0)"),
    "b2-2d": (lambda p, X, T: ({**p, "b2": np.ones((1, 1))}, X, T), "b2 has shape (1, 1) (2 axes), expected (n_2,)"),
}


@pytest.mark.parametrize("function", ["gradients", "loss", "forward"])
@pytest.mark.parametrize("case", list(INCONSISTENT), ids=list(INCONSISTENT))
def test_arrays_that_do_not_fit_together_raise_one_value_error_naming_them(case, function):
    change, message = INCONSISTENT[case]
    module = structure_module(Network((1, 1, 1), activation="sigmoid", loss="sse"))
    params, X, T = change(*_good())
    arguments = (params, X) if function == "forward" else (params, X, T)
    if function == "forward" and "T" in case:
        module.forward(*arguments)  # forward reads no targets
        return
    with pytest.raises(ValueError) as raised:
        getattr(module, function)(*arguments)
    text = str(raised.value)
    assert message in text and "\n" not in text
    assert (SHAPES if function != "forward" else SHAPES.replace(", T (N, n_2)", "")) in text


def test_the_width_specific_module_keeps_checking_the_exact_widths():
    network = Network((2, 3, 1), activation="sigmoid", loss="sse")
    module = derive(network).numpy_module()
    params, X, T = _good()
    module.gradients(params, X[:1], T[:1])  # any batch size
    bigger = Network((2, 4, 1), activation="sigmoid", loss="sse")
    wide_params, wide_X, wide_T = data(bigger, batch=4)
    with pytest.raises(ValueError, match=r"W1 has shape \(4, 2\), expected \(3, 2\); the arrays must have the shapes "
                                         r"X \(N, 2\), W1 \(3, 2\), b1 \(3,\), W2 \(1, 3\), b2 \(1,\), T \(N, 1\)$"):
        module.gradients(wide_params, wide_X, wide_T)
    assert_gradients_close(structure_module(network).gradients(wide_params, wide_X, wide_T),
                           Engine(bigger).gradients(wide_params, wide_X, wide_T))


def test_second_order_functions_serve_every_width_and_check_directions():
    structure = dict(activation=["tanh", "softmax"], loss="cross_entropy", weight_decay=0.1)
    module = structure_module(Network((1, 1, 1), **structure), order=2)
    assert module is derive(Network((4, 2, 3), **structure)).numpy_module(order=2, any_width=True)
    for sizes, batch in (((2, 3, 2), 3), ((3, 2, 4), 1)):
        network = Network(sizes, **structure)
        params, X, T = data(network, batch, seed=batch)
        rng = np.random.default_rng(batch)
        V = {name: rng.normal(size=value.shape) for name, value in params.items()}
        engine, step = Engine(network), 1e-5
        up = engine.gradients({k: params[k] + step * V[k] for k in params}, X, T)
        down = engine.gradients({k: params[k] - step * V[k] for k in params}, X, T)
        for workspace in (None, {}):
            product = module.hvp(params, X, T, V, workspace=workspace)
            for name in params:
                expected = (up[name] - down[name]) / (2 * step)
                np.testing.assert_allclose(product[name], expected, rtol=1e-6, atol=1e-8 * max(1, np.abs(expected).max()))
            gauss_newton = module.gnvp(params, X, T, V, workspace=workspace)
            assert sum(float(np.sum(V[k] * gauss_newton[k])) for k in params) >= 0  # G is positive semidefinite
        H = module.hessian(params, X, T)
        assert H.shape == (network.n_params, network.n_params)  # sized from the actual widths
        flat = lambda arrays: np.concatenate([np.ravel(arrays[k]) for k in params])  # noqa: E731
        np.testing.assert_allclose(H @ flat(V), flat(module.hvp(params, X, T, V)), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"V\['W2'\] has shape \(3, 3\), but n_2 = 4 from W2"):
        module.hvp(params, X, T, {**V, "W2": np.ones((3, 3))})


def test_the_source_is_the_same_for_every_width_and_says_it_serves_any_width():
    structure = dict(activation=["x*sigmoid(x)", "softmax"], loss="cross_entropy", l1=0.02)
    source = derive(Network((3, 4, 2), **structure)).numpy_source(any_width=True)
    assert source == derive(Network((784, 100, 10), **structure)).numpy_source(any_width=True)
    assert source.startswith('"""Loss and gradients of every network n_0-n_1-n_2, x*sigmoid(x)/softmax, '
                             'cross_entropy (sum), bias, L1 0.02.\n\nOne module for every width')
    assert "784" not in source and '"W1": (n_1, n_0)' in source
    assert derive(Network((3, 4, 2), **structure)).numpy_source() != source


def test_the_any_width_file_runs_with_only_numpy_at_a_width_other_than_the_spec(tmp_path, capsys):
    target = tmp_path / "grads.py"
    arguments = ["derive", "2-2-1", "--activation", "x*sigmoid(x),softmax", "--loss", "cross_entropy",
                 "--weight-decay", "0.01", "--any-width", "-o", str(target)]
    assert backprop(arguments) == 0
    assert capsys.readouterr().out == ("wrote %s: forward, loss and gradients of every width of n_0-n_1-n_2, "
                                       "x*sigmoid(x)/softmax, cross_entropy (sum), bias, L2 0.01\n" % target)
    network = Network((4, 6, 3), activation=["x*sigmoid(x)", "softmax"], loss="cross_entropy", weight_decay=0.01)
    assert target.read_text(encoding="utf-8") == derive(network).numpy_source(any_width=True)
    params, X, T = data(network, batch=5, seed=2)
    result = run_with_only_numpy(tmp_path, params, X, T)  # python -I, only numpy importable
    engine = Engine(network)
    assert_gradients_close({k: np.array(v) for k, v in result["gradients"].items()}, engine.gradients(params, X, T))
    assert result["loss"] == pytest.approx(float(engine.loss(params, X, T)), rel=1e-12)


@pytest.mark.parametrize("arguments, message", [
    (["2-2-1", "--any-width"], "--any-width prints a module for every width: give it with -o FILE"),
    (["2-2-1", "--any-width", "--latex"], "--any-width prints a module for every width: give it with -o FILE"),
    (["2-2-1", "--any-width", "--partial", "W1", "0", "0", "-o", "{target}"], "cannot be combined"),
], ids=["without-output", "with-latex", "with-partial"])
def test_cli_any_width_refusals_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, arguments, message):
    target = tmp_path / "grads.py"
    assert backprop(["derive", *[a.format(target=target) for a in arguments]]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    assert list(tmp_path.iterdir()) == []
