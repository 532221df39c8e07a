"""The generated numpy module (derive/codegen.py) against the hand-written engine (verify.Engine).

Three independent oracles: the generated code is printed from the SymPy
derivation, the engine is numpy written by hand, and the complex step
differentiates the generated loss itself.  Every registered activation and
loss is covered (tests parametrize over the registries), plus custom
expression activations: they reach the generated code with no code change,
which is what makes the generator a printer rather than a set of templates.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
import sympy

from derive import ACTIVATIONS, LOSSES, Activation, Network, derive, init_params
from derive.codegen.source import numpy_module, numpy_source
from derive.concrete.scalar_code import scalar_gradients
from verify import Engine

#: Every elementwise activation of the registry plus custom ones given only as expression text.
ACTIVATION_SPECS = [name for name, a in ACTIVATIONS.items() if a.elementwise] + [
    "leaky_relu(0.2)", "x/(1+abs(x))", "x*sigmoid(x)", "atan(x)"]
RTOL = 1e-12


def output_for(activation: str, loss: str) -> str:
    required = LOSSES[loss].requires_output
    return required[0] if required else activation


REGISTRY_CASES = [(activation, output_for(activation, loss), loss) for activation in ACTIVATION_SPECS for loss in LOSSES]
REGISTRY_CASES += [("sigmoid", "softmax", "sse"), ("relu", "softmax", "sse")]
OPTIONS = {
    "sum-bias": dict(),
    "mean-nobias-L2-L1": dict(bias=False, weight_decay=0.05, l1=0.02, reduction="mean"),
}


def data(network: Network, batch: int, seed: int = 0, dtype=np.float64, scale: float = 0.8):
    rng = np.random.default_rng(seed)
    params = init_params(network, seed=seed, scale=scale, dtype=dtype)
    X = rng.standard_normal((batch, network.sizes[0])).astype(dtype)
    T = rng.uniform(0, 1, (batch, network.sizes[-1]))
    if network.activations[-1].name == "softmax":
        T = T / T.sum(axis=1, keepdims=True)
    return params, X, T.astype(dtype)


def assert_gradients_close(actual: dict, expected: dict, rtol: float = RTOL):
    assert list(actual) == list(expected)
    for name in expected:
        assert actual[name].shape == expected[name].shape, name
        scale = np.max(np.abs(expected[name]))
        np.testing.assert_allclose(actual[name], expected[name], rtol=rtol, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
@pytest.mark.parametrize("hidden, output, loss", REGISTRY_CASES, ids=["-".join(c) for c in REGISTRY_CASES])
def test_generated_gradients_equal_the_engine_for_every_activation_and_loss(hidden, output, loss, options):
    network = Network((3, 4, 2), activation=[hidden, output], loss=loss, **options)
    module = numpy_module(derive(network))
    engine = Engine(network)
    params, X, T = data(network, batch=6)
    for workspace in (None, {}):  # the small-array statements, and the in-place ones a workspace takes
        assert_gradients_close(module.gradients(params, X, T, workspace=workspace), engine.gradients(params, X, T))
        np.testing.assert_allclose(module.loss(params, X, T, workspace=workspace), engine.loss(params, X, T), rtol=RTOL)
        np.testing.assert_allclose(module.forward(params, X, workspace=workspace), engine.forward(params, X),
                                   rtol=RTOL, atol=1e-15)


SHAPES = [(1, 1), (3, 1), (1, 1, 1), (2, 2, 1), (4, 1, 3), (3, 5, 4, 2), (2, 3, 3, 3, 2)]


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("sizes", SHAPES, ids=["-".join(map(str, s)) for s in SHAPES])
def test_generated_gradients_equal_the_engine_at_every_depth_and_width(sizes, batch):
    depth = len(sizes) - 1
    activations = [ACTIVATION_SPECS[(depth + layer) % len(ACTIVATION_SPECS)] for layer in range(depth)]
    network = Network(sizes, activation=activations, loss="sse", weight_decay=0.01)
    params, X, T = data(network, batch, seed=depth)
    module, expected = numpy_module(derive(network)), Engine(network).gradients(params, X, T)
    for workspace in (None, {}):  # the small-array statements, and the in-place ones a workspace takes
        assert_gradients_close(module.gradients(params, X, T, workspace=workspace), expected)


@pytest.mark.parametrize("sizes", [(1, 1, 1), (5, 4, 3, 3)], ids=["width-1", "deep"])
def test_softmax_cross_entropy_mean_matches_the_engine_at_batch_one_and_deep(sizes):
    network = Network(sizes, activation=["tanh"] * (len(sizes) - 2) + ["softmax"], loss="cross_entropy",
                      reduction="mean", weight_decay=0.1, l1=0.1)
    params, X, T = data(network, batch=1, seed=3)
    assert_gradients_close(numpy_module(derive(network)).gradients(params, X, T), Engine(network).gradients(params, X, T))


@pytest.mark.parametrize("hidden, output, loss", [("sigmoid", "softmax", "cross_entropy"), ("tanh", "sigmoid", "binary_cross_entropy"),
                                                  ("relu", "linear", "sse"), ("x*sigmoid(x)", "softplus", "sse")])
def test_float32_in_gives_float32_out_close_to_float64(hidden, output, loss):
    network = Network((3, 4, 2), activation=[hidden, output], loss=loss, l1=0.01)
    module = numpy_module(derive(network))
    params, X, T = data(network, batch=5, dtype=np.float32)
    gradients = module.gradients(params, X, T)
    assert {g.dtype for g in gradients.values()} == {np.dtype(np.float32)}
    assert module.loss(params, X, T).dtype == np.float32 and module.forward(params, X).dtype == np.float32
    wide = {name: value.astype(np.float64) for name, value in params.items()}
    reference = Engine(network).gradients(wide, X.astype(np.float64), T.astype(np.float64))
    assert_gradients_close(gradients, reference, rtol=2e-5)


COMPLEX_CASES = [("sigmoid", "softmax", "cross_entropy", {}), ("tanh", "sigmoid", "binary_cross_entropy", {"weight_decay": 0.1}),
                 ("relu", "linear", "sse", {"l1": 0.1}), ("x/(1+abs(x))", "x*sigmoid(x)", "sse", {"reduction": "mean"})]


@pytest.mark.parametrize("hidden, output, loss, options", COMPLEX_CASES, ids=[c[0] for c in COMPLEX_CASES])
def test_complex_step_through_the_generated_loss_equals_the_generated_gradients(hidden, output, loss, options):
    network = Network((2, 3, 2), activation=[hidden, output], loss=loss, **options)
    module = numpy_module(derive(network))
    params, X, T = data(network, batch=4, seed=5)
    gradients = module.gradients(params, X, T)
    step = 1e-30
    for name, value in params.items():
        for index in np.ndindex(value.shape):
            shifted = {key: array.astype(np.complex128) for key, array in params.items()}
            shifted[name][index] += 1j * step
            derivative = module.loss(shifted, X, T).imag / step
            assert derivative == pytest.approx(gradients[name][index], rel=1e-12, abs=1e-13), (name, index)


def test_complex_parameters_give_complex_gradients_whose_real_part_is_the_real_gradient():
    network = Network((2, 3, 2), activation=["tanh", "softmax"], loss="cross_entropy")
    module = numpy_module(derive(network))
    params, X, T = data(network, batch=4)
    complex_gradients = module.gradients({k: v.astype(np.complex128) for k, v in params.items()}, X, T)
    assert all(g.dtype == np.complex128 for g in complex_gradients.values())
    assert_gradients_close({k: g.real for k, g in complex_gradients.items()}, module.gradients(params, X, T))


@pytest.mark.parametrize("hidden, output, loss", [("sigmoid", "softmax", "cross_entropy"), ("tanh", "sigmoid", "binary_cross_entropy"),
                                                  ("softplus", "sigmoid", "sse"), ("relu", "tanh", "sse")])
def test_saturated_units_at_z_1e3_stay_finite_without_warnings(hidden, output, loss):
    network = Network((2, 2, 2), activation=[hidden, output], loss=loss)
    module = numpy_module(derive(network))
    params = {"W1": np.array([[1.0, 0.0], [0.0, -1.0]]), "b1": np.zeros(2),
              "W2": np.array([[1.0, -1.0], [-1.0, 1.0]]), "b2": np.zeros(2)}
    X = np.array([[1000.0, 1000.0], [-1000.0, 500.0]])
    T = np.array([[1.0, 0.0], [0.0, 1.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, gradients = module.loss(params, X, T), module.gradients(params, X, T)
    engine = Engine(network)
    assert np.isfinite(value) and value == pytest.approx(engine.loss(params, X, T), rel=1e-12)
    # Saturated sigmoids are as small as 1e-218: every entry, tiny ones included, agrees to relative 1e-12.
    expected = engine.gradients(params, X, T)
    for name in expected:
        assert np.all(np.isfinite(gradients[name]))
        np.testing.assert_allclose(gradients[name], expected[name], rtol=1e-12, atol=0, err_msg=name)


@pytest.mark.parametrize("sizes, batch", [((2, 2, 1), 1), ((3, 2, 2), 3)])
def test_lambdified_scalar_partials_agree_with_the_vectorized_module(sizes, batch):
    network = Network(sizes, activation=["x*sigmoid(x)", "softmax" if sizes[-1] > 1 else "sigmoid"],
                      loss="cross_entropy" if sizes[-1] > 1 else "sse", weight_decay=0.1, l1=0.05, reduction="mean")
    derivation = derive(network)
    params, X, T = data(network, batch, seed=11)
    scalar = scalar_gradients(derivation, batch=batch)(params, X, T)
    assert_gradients_close(scalar, numpy_module(derivation).gradients(params, X, T))


def _gradients_function(source: str) -> ast.FunctionDef:
    return next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == "gradients")


@pytest.mark.parametrize("any_width", [False, True], ids=["width-specific", "any-width"])
def test_generated_code_has_no_python_loops(any_width):
    """forward, loss and gradients are vectorized; only the copied shape_error helper (bad shapes only) loops."""
    derivation = derive(Network((4, 3, 3, 2), activation=["x/(1+abs(x))", "relu", "softmax"], loss="cross_entropy"))
    tree = ast.parse(numpy_source(derivation, any_width=any_width))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name != "shape_error"]
    assert [f.name for f in functions][-3:] == ["forward", "loss", "gradients"]
    loops = [node for function in functions for node in ast.walk(function)
             if isinstance(node, (ast.For, ast.While, ast.comprehension))]
    assert loops == []


def _branches(function: ast.FunctionDef) -> tuple[list, list]:
    """The statements for small arrays (the ``if workspace is None and N ...:`` branch) and the in-place ones after it."""
    position, small = next((k, node) for k, node in enumerate(function.body)
                           if isinstance(node, ast.If) and ast.unparse(node.test).startswith("workspace is None"))
    return small.body, function.body[position + 1:]


@pytest.mark.parametrize("any_width", [False, True], ids=["width-specific", "any-width"])
def test_each_layer_delta_is_computed_once_and_sigmoid_reuses_the_forward_activation(any_width):
    source = numpy_source(derive(Network((4, 3, 3, 2), activation="sigmoid")), any_width=any_width)
    small, in_place = _branches(_gradients_function(source))
    for branch in (small, in_place):
        assigned = [target.id for statement in branch for node in ast.walk(statement) if isinstance(node, ast.Assign)
                    for target in node.targets]
        for name in ("Z1", "A1", "Z2", "A2", "delta3", "delta2", "delta1", "grad_W1"):
            assert assigned.count(name) == 1, name
        body = "\n".join(ast.unparse(statement) for statement in branch)
        assert body.count("sigmoid(") == 3  # one sigmoid per layer, in the forward pass
    assert "delta1 *= A1" in "\n".join(ast.unparse(statement) for statement in in_place)


def test_module_imports_only_numpy_and_documents_network_loss_and_formulas():
    network = Network((2, 3, 2), activation=["relu", "softmax"], loss="cross_entropy", weight_decay=0.01)
    source = numpy_source(derive(network))
    tree = ast.parse(source)
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(node) for node in imports] == ["import numpy as np"]
    doc = ast.get_docstring(tree)
    assert network.describe() in doc and "cross_entropy" in doc
    assert "Z1[n, j] = " in doc and "delta2[n, j] = " in doc and "dE/dW1[j, i] = " in doc
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)][-3:] == ["forward", "loss", "gradients"]


def test_source_is_identical_when_generated_twice():
    network = Network((3, 2, 2), activation=["x*sigmoid(x)", "softmax"], loss="cross_entropy")
    assert numpy_source(derive(network)) == numpy_source(derive(network))


def test_unsupported_function_in_a_custom_activation_raises_not_implemented_naming_it():
    # Built directly: the expression parser already refuses erf, which numpy cannot evaluate.
    erf = Activation("erf", sympy.erf, np.vectorize(math.erf))
    derivation = derive(Network((2, 2, 1), activation=erf))
    with pytest.raises(NotImplementedError, match="erf"):
        numpy_source(derivation)


@pytest.mark.parametrize("hidden, output, loss", [("sigmoid", "softmax", "cross_entropy"), ("relu", "sigmoid", "sse")])
def test_workspace_keeps_intermediates_but_never_what_is_returned(hidden, output, loss):
    network = Network((4, 5, 3, 3), activation=[hidden, hidden, output], loss=loss, weight_decay=0.01)
    module = numpy_module(derive(network))
    workspace: dict = {}
    calls = [data(network, batch, seed=seed) for seed, batch in enumerate([6, 6, 2])]
    results = [(module.gradients(*call, workspace=workspace), module.forward(*call[:2], workspace=workspace),
                module.loss(*call, workspace=workspace)) for call in calls]
    assert workspace and all(isinstance(array, np.ndarray) for array in workspace.values())
    for (gradients, output, value), call in zip(results, calls):  # earlier results survive later calls
        # a fresh workspace takes the same (in-place) statements, so the results are equal to the last bit
        assert_gradients_close(gradients, module.gradients(*call, workspace={}), rtol=0)
        np.testing.assert_array_equal(output, module.forward(*call[:2], workspace={}))
        assert value == module.loss(*call, workspace={})
        assert_gradients_close(gradients, module.gradients(*call))  # and the small-array statements agree
        kept = list(workspace.values())
        assert not any(np.shares_memory(array, buffer) for array in [output, *gradients.values()] for buffer in kept)


def test_integer_targets_do_not_widen_float32_computation():
    network = Network((3, 2, 2), activation=["tanh", "softmax"], loss="cross_entropy")
    params, X, _ = data(network, batch=4, dtype=np.float32)
    T = np.eye(2, dtype=np.int64)[[0, 1, 1, 0]]
    gradients = numpy_module(derive(network)).gradients(params, X, T)
    assert {g.dtype for g in gradients.values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("network", [
    Network((2, 3, 2), activation=["tanh", "softmax"], loss="cross_entropy"),
    Network((3, 2, 2, 1), activation=["x*sigmoid(x)", "relu", "sigmoid"], loss="binary_cross_entropy", bias=False),
    Network((2, 2, 3, 2), activation=["elu(0.5)", "gelu", "sigmoid"], loss="sse", weight_decay=0.1, l1=0.01),
], ids=["softmax", "swish-relu", "elu-gelu"])
def test_reuse_finds_every_forward_definition_that_pattern_matching_finds(network):
    from derive.codegen.module import Program
    from derive.codegen.stable_forms import stabilize

    def by_pattern(program, expr):  # the oracle: SymPy pattern matching with a Wild per index
        for target, value in program.forward_statements:
            wilds = {index: sympy.Wild("w_%s" % index, properties=[lambda e: isinstance(e, sympy.Symbol)])
                     for index in target.indices}
            expr = expr.replace(value.xreplace(wilds), target.base[tuple(wilds.values())])
        return expr

    derivation = derive(network)
    program = Program(derivation)
    for layer in range(1, network.depth + 1):
        delta = stabilize(derivation.delta(layer))
        assert program.reuse(delta) == by_pattern(program, delta)
    k, m = sympy.symbols("k m", integer=True)
    for target, value in program.forward_statements:  # each definition, at its own and at other indices
        moved = value.xreplace(dict(zip(target.indices, (k, m)[:len(target.indices)])))
        expr = sympy.exp(moved) * sympy.sin(value) + sympy.IndexedBase("X")[k, m]  # each a subtree of expr
        reused = program.reuse(expr)
        assert reused == by_pattern(program, expr)
        assert target.base[tuple((k, m)[:len(target.indices)])] in reused.atoms(sympy.Indexed)
        assert target.base[target.indices] in reused.atoms(sympy.Indexed)
