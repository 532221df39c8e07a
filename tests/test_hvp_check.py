"""Second-order products: the generated code against PyTorch, and ``check_hvp`` on users' products.

* The generated ``hvp`` and ``hessian`` against ``torch.autograd.functional.hvp``
  and ``torch.func.hessian`` of a loss written here in torch (double backward:
  shares nothing with SymPy, the engine or the differences).
* ``check_hvp`` passes a right hand-written R-operator (``tests/buggy/numpy_hvp.py``)
  and a torch double-backward product, fails the planted bugs and names them.
* Bad input: a direction or a returned product with a wrong key or shape, an
  unknown kind, a custom activation SymPy cannot differentiate twice.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from buggy import numpy_hvp
from helpers import flat, problem
from derive import InputError, Network, derive, init_params
from derive.model.activations import Activation
from verify import check_hvp
from verify.check.hvp_check import dense_hessian
from verify.check.product_oracles import gauss_newton_differences

torch = pytest.importorskip("torch")

NETWORKS = [
    dict(sizes=(2, 3, 1), activation="sigmoid", loss="sse"),
    dict(sizes=(3, 4, 3), activation=["tanh", "softmax"], loss="cross_entropy", weight_decay=0.1),
    dict(sizes=(2, 3, 2, 1), activation=["softplus", "tanh", "sigmoid"], loss="binary_cross_entropy",
         reduction="mean"),
    dict(sizes=(2, 3, 3, 2), activation=["tanh", "sigmoid", "linear"], loss="sse", bias=False, weight_decay=0.05),
    dict(sizes=(3, 2, 2), activation=["softplus", "tanh"], loss="sse", reduction="mean"),
]
IDS = ["%s-%s" % ("/".join(o["activation"]) if isinstance(o["activation"], list) else o["activation"], o["loss"])
       for o in NETWORKS]
TORCH_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus,
                     "linear": lambda z: z}


def torch_parts(network, X, T):
    """(output at the Gauss-Newton split, loss of that output, penalty) in torch, from the textbook definitions.

    Each takes the flat parameter vector (the output loss: the split output);
    the split is at Z_L for cross-entropy after softmax and BCE after a
    sigmoid, else at A_L.
    """
    shapes = network.param_shapes()
    X, T = torch.as_tensor(X), torch.as_tensor(T)
    scale = 1.0 / len(X) if network.reduction == "mean" else 1.0

    def unflatten(flat):
        params, start = {}, 0
        for name, shape in shapes.items():
            size = int(np.prod(shape))
            params[name], start = flat[start:start + size].reshape(shape), start + size
        return params

    def output(flat):
        params, A = unflatten(flat), X
        for layer, activation in enumerate(network.activation_names, start=1):
            Z = A @ params["W%d" % layer].T + (params["b%d" % layer] if network.bias else 0)
            A = Z if layer == network.depth and network.loss.name != "sse" else TORCH_ACTIVATIONS[activation](Z)
        return A

    def output_loss(out):
        if network.loss.name == "sse":
            return scale * ((out - T) ** 2 / 2).sum()
        if network.loss.name == "cross_entropy":
            return -scale * (T * torch.log_softmax(out, dim=1)).sum()
        logsigmoid = torch.nn.functional.logsigmoid
        return -scale * (T * logsigmoid(out) + (1 - T) * logsigmoid(-out)).sum()

    def penalty(flat):
        params = unflatten(flat)
        return sum(network.weight_decay / 2 * (params["W%d" % l] ** 2).sum() for l in range(1, network.depth + 1))

    return output, output_loss, penalty


def torch_loss(network, X, T):
    """E(theta) in torch, as a function of the flat parameter vector."""
    output, output_loss, penalty = torch_parts(network, X, T)
    return lambda flat: output_loss(output(flat)) + penalty(flat)


@pytest.mark.parametrize("options", NETWORKS, ids=IDS)
def test_generated_hvp_and_hessian_match_torch_double_backward(options):
    network, params, X, T, V = problem(options)
    module = derive(network).numpy_module(order=2)
    loss = torch_loss(network, X, T)
    theta = torch.as_tensor(flat(params))
    _, torch_hv = torch.autograd.functional.hvp(loss, theta, torch.as_tensor(flat(V)))
    np.testing.assert_allclose(flat(module.hvp(params, X, T, V)), torch_hv.numpy(), rtol=1e-10, atol=1e-12)
    torch_hessian = torch.func.hessian(loss)(theta).numpy()
    np.testing.assert_allclose(module.hessian(params, X, T), torch_hessian, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", NETWORKS, ids=IDS)
def test_gauss_newton_differences_match_torch_jacobians(options):
    """The G V oracle against J^T H_out J V from torch.func (jacobian of the split output, hessian of the loss)."""
    network, params, X, T, V = problem(options)
    output, output_loss, penalty = torch_parts(network, X, T)
    theta, v = torch.as_tensor(flat(params)), torch.as_tensor(flat(V))
    out = output(theta)
    J = torch.func.jacrev(output)(theta).reshape(out.numel(), -1)
    H_out = torch.func.hessian(output_loss)(out).reshape(out.numel(), out.numel())
    expected = (J.T @ H_out @ J @ v + torch.func.hessian(penalty)(theta) @ v).numpy()
    estimate = gauss_newton_differences(network, params, X, T, V)
    np.testing.assert_allclose(flat(estimate.values), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(flat(derive(network).numpy_module(order=2).gnvp(params, X, T, V)), expected,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", NETWORKS, ids=IDS)
def test_a_right_hand_written_r_operator_passes(options):
    network, params, X, T, V = problem(options)
    report = check_hvp(network, params, X, T, numpy_hvp.correct, V)
    assert report.ok, report
    assert report.culprit is None and not report.diagnosis
    assert [a.second for a in report.agreements][:3] == ["reference", "fd", "fd"]
    assert all(a.entries == sum(v.size for v in params.values()) for a in report.agreements)


def test_a_torch_double_backward_product_passes_and_the_default_direction_is_seeded():
    network, params, X, T, _ = problem(NETWORKS[2])
    loss = torch_loss(network, X, T)

    def torch_hvp(params, X, T, V):
        _, product = torch.autograd.functional.hvp(loss, torch.as_tensor(flat(params)), torch.as_tensor(flat(V)))
        parts = np.split(product.numpy(), np.cumsum([v.size for v in params.values()])[:-1])
        return {name: part.reshape(params[name].shape) for name, part in zip(params, parts)}

    report = check_hvp(network, params, X, T, torch_hvp, seed=3)
    assert report.ok, report
    assert "seed 3" in str(report) and str(report).startswith("Hessian-vector product check of")


@pytest.mark.parametrize("bug", sorted(numpy_hvp.BUGS))
@pytest.mark.parametrize("options", [NETWORKS[0], NETWORKS[2], NETWORKS[3]], ids=[IDS[0], IDS[2], IDS[3]])
def test_planted_bugs_fail_and_are_named(bug, options):
    network, params, X, T, V = problem(options)
    report = check_hvp(network, params, X, T, getattr(numpy_hvp, bug), V)
    kind, spoiled = numpy_hvp.BUGS[bug]
    assert not report.ok and report.culprit == "candidate", report
    wrong = {row.name for row in report.rows if row.over}
    assert [d.kind for d in report.diagnosis] == [kind] + (["right"] if wrong != set(params) else []), report
    assert set(report.diagnosis[0].parameters) == wrong
    if spoiled is not None:
        assert wrong == set(spoiled)
    over = [f for f in report.worst if f.abs_error > f.allowed]
    assert over and all(f.verdict == "candidate wrong" for f in over)


def test_gauss_newton_checks_pass_a_right_product_and_name_the_hessian_passed_off_as_it():
    network, params, X, T, V = problem(NETWORKS[2])
    assert check_hvp(network, params, X, T, numpy_hvp.gauss_newton, V, kind="gauss_newton").ok
    report = check_hvp(network, params, X, T, numpy_hvp.correct, V, kind="gauss_newton")
    assert not report.ok and [d.kind for d in report.diagnosis if d.kind != "right"] == ["hessian"]
    assert "Gauss-Newton-vector product check" in str(report)


def test_the_missing_curvature_variant_is_derived_per_hidden_layer():
    network, params, X, T, V = problem(NETWORKS[3])  # tanh, sigmoid hidden layers
    passes = derive(network).second_order
    flat2 = passes.without_activation_curvature(2)
    assert flat2.deltas[2] != passes.hessian.deltas[2] and flat2.deltas[1] == passes.hessian.deltas[1]
    assert not flat2.deltas[2].has(sympy.Symbol("RZ2")) and "RA2" not in str(flat2.deltas[2])

    report = check_hvp(network, params, X, T, numpy_hvp.no_curvature_in_layer_2, V)
    assert [(d.kind, d.layer) for d in report.diagnosis if d.kind != "right"] == [("missing_curvature", 2)], report
    assert "hidden layer 2 (sigmoid)" in report.diagnosis[0].text


def bump_network():
    class bump(sympy.Function):  # a first derivative SymPy cannot differentiate again
        def fdiff(self, argindex=1):
            return sympy.Function("bump_slope")(self.args[0])

    act = Activation("bump", lambda z: bump(z), np.tanh, backward=lambda z, a, u: u * (1 - a ** 2), function=bump,
                     helper=np.tanh)
    return Network((2, 2, 1), activation=[act, "linear"])


@pytest.mark.parametrize("change, message", [
    (lambda V: V.pop("b1"), r"V has no 'b1'; expected one array per parameter: W1, b1, W2, b2"),
    (lambda V: V.update(W3=np.zeros(1)), r"V has an unexpected key 'W3'"),
    (lambda V: V.update(W1=np.zeros((2, 3))), r"V\['W1'\] has shape \(2, 3\); expected \(3, 2\), the shape of "
                                              r"parameter W1"),
    (lambda V: V.update(b2=np.array([np.nan])), r"V\['b2'\] must hold finite real numbers"),
], ids=["missing", "unexpected", "shape", "nan"])
def test_a_bad_direction_is_one_line_naming_the_key(change, message):
    network, params, X, T, V = problem(NETWORKS[0])
    change(V)
    with pytest.raises(InputError, match=message):
        check_hvp(network, params, X, T, numpy_hvp.correct, V)


@pytest.mark.parametrize("function, message", [
    (numpy_hvp.returns_wrong_key, r"hvp function .*returns_wrong_key returned no 'W1'"),
    (numpy_hvp.returns_wrong_shape, r"hvp function .*returns_wrong_shape: b1 has shape \(2,\); expected \(3,\)"),
], ids=["key", "shape"])
def test_a_product_function_returning_the_wrong_keys_or_shapes_is_one_line(function, message):
    network, params, X, T, V = problem(NETWORKS[0])
    with pytest.raises(InputError, match=message):
        check_hvp(network, params, X, T, function, V)


def test_unknown_kind_and_an_activation_without_a_second_derivative_are_refused():
    network, params, X, T, V = problem(NETWORKS[0])
    with pytest.raises(InputError, match="unknown kind 'newton'; choose one of: hessian, gauss_newton"):
        check_hvp(network, params, X, T, numpy_hvp.correct, V, kind="newton")
    network = bump_network()
    params = init_params(network, seed=1)
    with pytest.raises(InputError, match="SymPy cannot give the second derivative"):
        check_hvp(network, params, X, T[:, :1], lambda p, X, T, V: p)


def test_a_dense_hessian_is_refused_up_front_above_the_memory_limit(monkeypatch):
    network, params, X, T, _ = problem(NETWORKS[1])
    H = dense_hessian(network, params, X, T)
    assert H.shape == (network.n_params, network.n_params) and np.allclose(H, H.T)
    big = Network((50, 40, 2))
    big_params = init_params(big, seed=0)
    X, T = np.zeros((2, 50)), np.zeros((2, 2))
    monkeypatch.setenv("BACKPROP_MEMORY_LIMIT", "30000000")
    with pytest.raises(InputError, match=r"^a dense 2,122 x 2,122 Hessian of 50-40-2.* would need about 52.8 MB of "
                                         r"memory, above the limit of 30 MB .*; check products H V instead"):
        dense_hessian(big, big_params, X, T)


@pytest.mark.parametrize("change, kind, parameters, words", [
    (lambda hv: {k: -v for k, v in hv.items()}, "scale", ("W1", "b1", "W2", "b2", "W3", "b3"),
     "equal -1 x the correct products"),
    (lambda hv: {k: v / 2 if k.startswith("b") else v for k, v in hv.items()}, "scale", ("b1", "b2", "b3"),
     "every entry of b1, b2 and b3 is 0.5 x the reference (a factor 1/2 too few)"),
    (lambda hv: dict(hv, W2=hv["W2"].T), "transposed", ("W2",), "equals the correct product transposed"),
], ids=["sign", "half-biases", "transposed"])
def test_signs_factors_and_transposed_blocks_are_named(change, kind, parameters, words):
    network, params, X, T, V = problem(dict(sizes=(2, 3, 3, 1), activation="tanh", loss="sse", bias=True))
    report = check_hvp(network, params, X, T, lambda p, X, T, V: change(numpy_hvp.correct(p, X, T, V, network)), V)
    assert [(d.kind, d.parameters) for d in report.diagnosis if d.kind != "right"] == [(kind, parameters)], report
    assert words in report.diagnosis[0].text
