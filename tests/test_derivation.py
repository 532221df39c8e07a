"""The index-level derivation: textbook identities, the written forms, the API and its errors.

Expected values come from the lecture (o(1 - o)(t - o), h(1 - h) sum_k w_kj delta_k,
the worked example's .086 and .002) or from hand computation; every
comparison is symbolic (``simplify(difference) == 0`` or structural equality),
except the worked example, which the lecture gives to three digits.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy import KroneckerDelta, Piecewise, Rational, Sum

from derive import ACTIVATIONS, LOSSES, Activation, InputError, Loss, Network, derive
from derive.derivation import Derivation, parameter_entry
from derive.model.functions import sigmoid
from derive.concrete.scalar import EXPAND_LIMIT, expanded_size
from derive.symbolic.symbols import N, T, X, activations, biases, deltas, i, j, k, m, n, preactivations, size, weights

A2, Z2, A1, Z1 = activations(2)[n, j], preactivations(2)[n, j], activations(1)[n, j], preactivations(1)[n, j]
TARGET = T[n, j]


def hidden_sum(layer: int) -> Sum:
    """Sum_k W_{l+1}[k, j] * delta_{l+1}[n, k]: what the lecture writes sum_k w_kj delta_k."""
    return Sum(weights(layer + 1)[k, j] * deltas(layer + 1)[n, k], (k, 0, size(layer + 1) - 1))


def is_zero(expr) -> bool:
    return sympy.simplify(expr) == 0


# --- textbook identities --------------------------------------------------------------

def test_sigmoid_sse_output_delta_is_the_lectures_up_to_sign():
    d = derive(Network([2, 2, 1], activation="sigmoid", loss="sse"))
    lecture = A2 * (1 - A2) * (TARGET - A2)  # o_k (1 - o_k)(t_k - o_k)
    assert is_zero(d.delta(2) + lecture)
    assert d.delta(2) == A2 * (1 - A2) * (A2 - TARGET)


def test_sigmoid_hidden_delta_is_h_one_minus_h_times_backpropagated_sum():
    d = derive(Network([2, 2, 1], activation="sigmoid", loss="sse"))
    assert d.delta(1) == A1 * (1 - A1) * hidden_sum(1)


def test_tanh_derivative_gives_one_minus_a_times_one_plus_a():
    d = derive(Network([2, 3, 2], activation="tanh", loss="sse"))
    assert is_zero(d.delta(2) - (1 - A2) * (1 + A2) * (A2 - TARGET))
    assert is_zero(d.delta(1) - (1 - A1) * (1 + A1) * hidden_sum(1))


def test_softmax_cross_entropy_gives_o_sum_t_minus_t_and_o_minus_t_for_one_hot_targets():
    d = derive(Network([3, 4, 3], activation=["relu", "softmax"], loss="cross_entropy"))
    target_sum = Sum(T[n, m], (m, 0, size(2) - 1))
    assert d.delta(2) == A2 * target_sum - TARGET
    assert d.delta(2).subs(target_sum, 1) == A2 - TARGET


def test_sigmoid_binary_cross_entropy_gives_o_minus_t():
    d = derive(Network([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy"))
    assert d.delta(2) == A2 - TARGET


def test_linear_output_with_sse_gives_o_minus_t():
    assert derive(Network([2, 1], activation="linear", loss="sse")).delta(1) == activations(1)[n, j] - T[n, j]


def test_relu_hidden_delta_is_heaviside_of_the_net_input():
    d = derive(Network([2, 2, 1], activation=["relu", "linear"], loss="sse"))
    assert d.delta(1) == sympy.Heaviside(Z1, 0) * hidden_sum(1)


def test_l2_decay_adds_lambda_w_and_l1_adds_mu_sign_w():
    plain = derive(Network([2, 2, 1]))
    decayed = derive(Network([2, 2, 1], weight_decay=0.25, l1=0.5))
    for layer in (1, 2):
        w = weights(layer)[j, i]
        name = "W%d" % layer
        assert decayed.gradient(name) - plain.gradient(name) == Rational(1, 4) * w + Rational(1, 2) * sympy.sign(w)
        assert decayed.gradient("b%d" % layer) == plain.gradient("b%d" % layer)


def test_mean_reduction_puts_one_over_n_in_the_output_delta():
    total = derive(Network([2, 2, 1], reduction="sum"))
    mean = derive(Network([2, 2, 1], reduction="mean"))
    assert mean.delta(2) == total.delta(2) / N
    assert mean.delta(1) == total.delta(1) and mean.gradient("W1") == total.gradient("W1")


def test_lecture_worked_example_error_terms_and_update():
    """Lecture: x = (1, 0), all weights and biases .1, target .9: delta_k = .086, delta_j = .002, Dw_kj = .0095."""
    d = derive(Network([2, 2, 1], activation="sigmoid", loss="sse"))
    values = {X[0, 0]: 1, X[0, 1]: 0, T[0, 0]: Rational(9, 10)}
    for layer, shape in ((1, (2, 2)), (2, (1, 2))):
        values.update({weights(layer)[a, b]: Rational(1, 10) for a in range(shape[0]) for b in range(shape[1])})
        values.update({biases(layer)[a]: Rational(1, 10) for a in range(shape[0])})
    partials = d.partials()
    delta_k = partials.expanded(deltas(2)[0, 0]).xreplace(values)
    delta_j = partials.expanded(deltas(1)[0, 0]).xreplace(values)
    update = -Rational(2, 10) * partials.expanded(partials[("W2", 0, 1)]).xreplace(values)  # -eta dE/dw, eta = .2
    assert round(float(-delta_k), 3) == 0.086 and round(float(-delta_j), 3) == 0.002
    assert round(float(update), 4) == 0.0095


# --- written forms (the code generator's contract) ---------------------------------------

def test_forward_equations_are_the_net_input_and_activation_per_layer():
    d = derive(Network([3, 4, 2], activation=["tanh", "softmax"], loss="cross_entropy"))
    z1, a1, z2, a2 = d.forward_equations
    assert z1 == sympy.Eq(Z1, Sum(weights(1)[j, i] * X[n, i], (i, 0, size(0) - 1)) + biases(1)[j])
    assert a1 == sympy.Eq(A1, sympy.tanh(Z1))
    assert z2.rhs == Sum(weights(2)[j, i] * activations(1)[n, i], (i, 0, size(1) - 1)) + biases(2)[j]
    assert a2.rhs == sympy.exp(Z2) / Sum(sympy.exp(preactivations(2)[n, m]), (m, 0, size(2) - 1))


def test_loss_is_the_sum_over_units_and_examples_plus_penalties():
    d = derive(Network([2, 1], activation="sigmoid", loss="sse", bias=False, weight_decay=0.5, l1=0.25,
                       reduction="mean"))
    o, w = activations(1)[n, k], weights(1)[j, i]
    data = Sum((T[n, k] - o) ** 2 / 2, (k, 0, size(1) - 1), (n, 0, N - 1)) / N
    limits = ((i, 0, size(0) - 1), (j, 0, size(1) - 1))
    assert d.loss == data + Rational(1, 4) * Sum(w**2, *limits) + Rational(1, 4) * Sum(sympy.Abs(w), *limits)
    assert d.forward_equations[0].rhs == Sum(weights(1)[j, i] * X[n, i], (i, 0, size(0) - 1))


def test_gradients_are_sums_over_examples_of_delta_times_input():
    d = derive(Network([3, 4, 2]))
    for layer in (1, 2):
        assert d.gradient("W%d" % layer) == Sum(deltas(layer)[n, j] * activations(layer - 1)[n, i], (n, 0, N - 1))
        assert d.gradient("b%d" % layer) == Sum(deltas(layer)[n, j], (n, 0, N - 1))


def _compatible_pairs():
    for name, activation in ACTIVATIONS.items():
        for loss_name, loss in LOSSES.items():
            if loss.requires_output is None or name in loss.requires_output:
                yield pytest.param(name, loss_name, id="%s-%s" % (name, loss_name))


@pytest.mark.parametrize("output, loss", _compatible_pairs())
def test_results_carry_no_kronecker_delta_no_index_range_and_no_dummy(output, loss):
    hidden = "tanh" if ACTIVATIONS[output].output_only else output
    d = derive(Network([3, 3, 3, 2], activation=[hidden, hidden, output], loss=loss, weight_decay=0.1, l1=0.1))
    for expr in [d.delta(layer) for layer in (1, 2, 3)] + [d.gradient(name) for name in d.parameters]:
        assert not expr.has(KroneckerDelta) and not expr.atoms(sympy.Dummy)
        assert all(not cond.has(size(0), size(1), size(2), size(3), N)
                   for p in expr.atoms(Piecewise) for _, cond in p.args)
    assert d.delta(3).free_symbols & {n, j} == {n, j}
    for layer in (1, 2):  # the recursion: g'(.) * Sum_k W_{l+1}[k, j] delta_{l+1}[n, k]
        factor, remainder = d.delta(layer).as_independent(hidden_sum(layer), as_Add=False)
        assert remainder == hidden_sum(layer) and not factor.has(Sum)


def test_hidden_delta_keeps_g_prime_as_diff_gives_it_for_a_custom_activation():
    d = derive(Network([2, 2, 1], activation=["x/(1+abs(x))", "linear"], loss="sse"))
    z = sympy.Symbol("z", real=True)
    g_prime = sympy.diff(z / (1 + sympy.Abs(z)), z).subs(z, Z1)
    factor = d.delta(1) / hidden_sum(1)
    assert is_zero((factor - g_prime).subs(A1, Z1 / (1 + sympy.Abs(Z1))))


def test_registering_an_activation_is_all_it_takes(monkeypatch):
    swish = Activation("swish", lambda z: z * sigmoid(z), lambda z: z * (1 + np.exp(-z)) ** -1)
    monkeypatch.setitem(ACTIVATIONS, "swish", swish)
    d = derive(Network([2, 2, 1], activation=["swish", "linear"], loss="sse"))
    s = sigmoid(Z1)
    assert is_zero((d.delta(1) / hidden_sum(1) - (s + Z1 * s * (1 - s))).subs(A1, Z1 * s))


def test_registering_a_loss_is_all_it_takes(monkeypatch):
    quartic = Loss("quartic", lambda o, t: (o - t) ** 4 / 4, lambda O, T: (O - T) ** 4 / 4)
    monkeypatch.setitem(LOSSES, "quartic", quartic)
    d = derive(Network([2, 2, 1], activation="sigmoid", loss="quartic"))
    assert is_zero(d.delta(2) - (A2 - TARGET) ** 3 * A2 * (1 - A2))


def test_activations_of_the_same_name_are_derived_separately():
    first = Activation("bump", lambda z: z**2, lambda z: z**2)
    second = Activation("bump", lambda z: z**3, lambda z: z**3)
    delta_of = [derive(Network([1, 1], activation=a, loss="sse")).delta(1) for a in (first, second)]
    z = preactivations(1)[n, j]
    assert delta_of[0] == 2 * z * (activations(1)[n, j] - T[n, j])
    assert delta_of[1] == 3 * z**2 * (activations(1)[n, j] - T[n, j])


def test_index_level_derivation_does_not_depend_on_the_widths():
    small, large = derive(Network([2, 2, 1])), derive(Network([784, 1000, 10]))
    assert [small.delta(1), small.delta(2)] == [large.delta(1), large.delta(2)]
    assert small.steps == large.steps


# --- steps ---------------------------------------------------------------------------

def test_steps_write_out_the_lecture_chain_rule_for_every_layer():
    d = derive(Network([2, 2, 1], activation="sigmoid", loss="sse"))
    labels = [step.label for step in d.steps]
    assert all(isinstance(step.equation, sympy.Eq) and step.label for step in d.steps)
    for piece in ("dE/dA2", "dA2/dZ2", "delta2 = dE/dZ2 by the chain rule", "dZ2/dW2", "dE/dW2",
                  "dZ2/dA1", "dA1/dZ1", "delta1 = dE/dZ1 by the chain rule", "dZ1/dW1", "dE/dW1", "dE/db1"):
        assert any(label.startswith(piece) for label in labels), piece
    factors = {step.label.split(":")[0]: step.equation.rhs for step in d.steps}
    assert factors["dE/dA2"] == activations(2)[n, j] - T[n, j]  # dE/do
    assert factors["dA2/dZ2"] == KroneckerDelta(j, k) * activations(2)[n, k] * (1 - activations(2)[n, k])  # do/dnet
    assert factors["dZ2/dW2"] == KroneckerDelta(j, k) * activations(1)[n, i]  # dnet/dw
    last = {step.label: step.equation.rhs for step in d.steps}
    assert all(last["dE/d%s" % name] == d.gradient(name) for name in d.parameters)


def test_each_chain_rule_sum_collapses_to_the_next_step():
    from derive.symbolic.sums import collapse_deltas

    d = derive(Network([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy"))
    steps, checked = list(d.steps), 0
    for before, after in zip(steps, steps[1:]):
        if "by the chain rule" in before.label and before.equation.lhs == after.equation.lhs:
            # Compare at concrete sizes and indices: the bound indices are named differently.
            difference = collapse_deltas(before.equation.rhs) - after.equation.rhs
            assert is_zero(_instantiated(difference, (2, 3, 2), 2, n=1, j=1, i=0)), before.label
            checked += 1
    assert checked == 2 + 2 * 2  # delta2, delta1, and dE/dW, dE/db of each layer


# --- concrete sizes ------------------------------------------------------------------

def test_partial_is_delta_times_input_as_the_lecture_writes_it():
    d = derive(Network([2, 3, 1]))
    assert d.partial("W1", 2, 0) == deltas(1)[0, 2] * X[0, 0]
    assert d.partial("W2", 0, 1) == deltas(2)[0, 0] * activations(1)[0, 1]
    assert d.partial("b1", 1) == deltas(1)[0, 1]
    assert d.partial("W1", 2, 0, batch=2) == deltas(1)[0, 2] * X[0, 0] + deltas(1)[1, 2] * X[1, 0]
    assert d.partial("W1", 4, 0, sizes=(2, 5, 1)) == deltas(1)[0, 4] * X[0, 0]


def _instantiated(expr, sizes, batch, **indices):
    values = {size(layer): width for layer, width in enumerate(sizes)}
    values.update({N: batch, **{sympy.Symbol(k, integer=True, nonnegative=True): v for k, v in indices.items()}})
    return expr.subs(values).doit()


@pytest.mark.parametrize("options, batch", [
    (dict(sizes=(3, 4, 2)), 1),
    (dict(sizes=(3, 4, 2), activation=["leaky_relu(0.2)", "softmax"], loss="cross_entropy", weight_decay=0.5,
          l1=0.25, reduction="mean"), 2),
    (dict(sizes=(2, 3, 2, 2), activation=["x/(1+abs(x))", "tanh", "softmax"], loss="sse", bias=False), 3),
], ids=["sigmoid", "softmax-decay-mean-batch2", "custom-deep-batch3"])
def test_concrete_partials_and_definitions_are_exactly_subs_and_doit(options, batch):
    d = derive(Network(**options))
    partials = d.partials(batch=batch)
    for name, *index in partials:
        expected = _instantiated(d.gradient(name), options["sizes"], batch, **dict(zip("ji", index)))
        assert partials[(name, *index)] == expected and partials[(name, *index)].args == expected.args
    equations = {eq.lhs.base: eq.rhs for eq in d.forward_equations}
    equations.update({deltas(layer): d.delta(layer) for layer in range(1, d.depth + 1)})
    for entry, value in partials.definitions():
        expected = _instantiated(equations[entry.base], options["sizes"], batch, n=entry.indices[0], j=entry.indices[1])
        assert value == expected, entry


def test_partials_is_a_mapping_over_every_parameter_entry():
    d = derive(Network([3, 4, 2], weight_decay=0.1))
    partials = d.partials()
    assert len(partials) == d.network.n_params == len(list(partials))
    assert list(partials)[:2] == [("W1", 0, 0), ("W1", 0, 1)]
    assert partials.array("W1").shape == (4, 3) and partials.array("W1")[3, 2] == partials["W1", 3, 2]
    assert partials["W2", 1, 3] == d.partial("W2", 1, 3) == deltas(2)[0, 1] * activations(1)[0, 3] + \
        Rational(1, 10) * weights(2)[1, 3]


def test_definitions_come_in_evaluation_order():
    partials = derive(Network([2, 2, 1])).partials()
    order = [str(entry.base) for entry, _ in partials.definitions()]
    assert order == ["Z1", "Z1", "A1", "A1", "Z2", "A2", "delta2", "delta1", "delta1"]
    needed = partials.dependencies(partials["W1", 1, 0])
    assert [entry for entry, _ in needed][-1] == deltas(1)[0, 1]
    assert dict(needed)[activations(1)[0, 1]] == sigmoid(preactivations(1)[0, 1])


def test_expand_substitutes_every_named_entry():
    d = derive(Network([2, 2, 1]))
    expanded = d.partial("W2", 0, 1, expand=True)
    assert {e.base for e in expanded.atoms(sympy.Indexed)} <= {X, T, weights(1), weights(2), biases(1), biases(2)}
    h = sigmoid(weights(1)[1, 0] * X[0, 0] + weights(1)[1, 1] * X[0, 1] + biases(1)[1])
    assert expanded.has(h)


def test_expand_is_refused_above_the_limit_with_what_to_use_instead():
    d = derive(Network([784, 100, 10]))
    assert expanded_size(d.network, (784, 100, 10), 1) > EXPAND_LIMIT
    with pytest.raises(InputError, match="expand=True refused.*784-100-10.*limit of 20,000.*expand=False"):
        d.partial("W1", 0, 0, expand=True)
    assert expanded_size(d.network, (32, 32, 1), 1) < EXPAND_LIMIT


def test_expanded_size_estimate_counts_symbol_occurrences():
    network = Network([2, 2, 1])  # Z1: 2*(1 + 1) + 1 = 5; Z2: 2*(1 + 5) + 1 = 13; loss (t - o)^2/2: 13 + 1
    assert expanded_size(network, (2, 2, 1), 1) == 14
    output = derive(network).partials().expanded(activations(2)[0, 0])
    occurrences = sum(isinstance(node, sympy.Indexed) for node in sympy.preorder_traversal(output))
    assert occurrences + 1 == 14  # plus the target
    assert expanded_size(network, (2, 2, 1), 3) == 3 * 14


# --- bad input ------------------------------------------------------------------------

NETWORK = Network([2, 3, 1], bias=False)


@pytest.mark.parametrize("call, message", [
    (lambda d: d.gradient("W3"), "unknown parameter 'W3'; this network has: W1, W2"),
    (lambda d: d.gradient("b1"), r"unknown parameter 'b1' \(the network has no biases\); this network has: W1, W2"),
    (lambda d: d.partial("Q1", 0, 0), "unknown parameter 'Q1'"),
    (lambda d: d.partial("W1", 0), r"W1 takes 2 index\(es\) \(j, i\), got 1"),
    (lambda d: d.partial("W1", 3, 0), r"index j=3 of W1 is out of range 0..2 \(W1 has shape \(3, 2\) at sizes 2-3-1\)"),
    (lambda d: d.partial("W1", 0, -1), "index i=-1 of W1 is out of range"),
    (lambda d: d.partial("W1", 0, 1.0), "index i=1.0 of W1 is out of range"),
    (lambda d: d.partial("W1", True, 0), "index j=True of W1"),
    (lambda d: d.partial("W1", 0, 0, sizes=(2, 3)), "sizes .* must be 3 widths n_0..n_2"),
    (lambda d: d.partial("W1", 0, 0, sizes=(2, 0, 1)), "size 0 at position 1 is not a positive integer"),
    (lambda d: d.partial("W1", 0, 0, batch=0), "batch must be a positive integer"),
    (lambda d: d.partials(sizes="2-3-1"), "sizes '2-3-1' must be 3 widths"),
    (lambda d: d.delta(0), "layer 0 has no delta; layers are 1..2"),
    (lambda d: d.delta(3), "layer 3 has no delta"),
    (lambda d: d.partials()["W1"], r"look a partial up as \(name, \*index\)"),
    (lambda d: d.partials().definition(activations(1)[0, 3]), r"A1\[0, 3\] is not an entry at sizes 2-3-1"),
    (lambda d: d.partials().definition(deltas(1)[n, 0]), r"delta1\[n, 0\] is not an entry .* integer indices"),
    (lambda d: d.partial("W1", 0, 0, sizes=(900, 900, 900), expand=True), "expand=True refused"),
], ids=lambda value: value if isinstance(value, str) else "call")
def test_bad_input_is_one_line_that_says_what_and_what_is_accepted(call, message):
    with pytest.raises(InputError, match=message) as error:
        call(derive(NETWORK))
    assert "\n" not in str(error.value)


def test_derive_accepts_a_spec_and_refuses_anything_else():
    assert derive("2-2-1").network == Network([2, 2, 1])
    assert derive(Network([2, 2, 1])) is derive(Network([2, 2, 1]))  # cached per network
    with pytest.raises(InputError, match="needs a Network or a spec"):
        derive(42)
    with pytest.raises(InputError, match="not sizes joined by dashes"):
        derive("two-layers")


def test_module_examples_run_as_written():
    import doctest

    import derive.derivation

    assert doctest.testmod(derive.derivation).failed == 0


def test_derivation_reports_depth_parameters_and_entries():
    d = Derivation(Network([2, 3, 1]))
    assert d.depth == 2 and d.parameters == ("W1", "b1", "W2", "b2")
    assert parameter_entry("W2") == weights(2)[j, i] and parameter_entry("b1") == biases(1)[j]
    assert "2-3-1" in repr(d) and len(d.equations()) == 2 + 4


def test_networks_of_one_structure_share_one_symbolic_derivation():
    small, large = derive(Network((3, 4, 2), activation="tanh")), derive(Network((784, 100, 10), activation="tanh"))
    assert small.network.sizes == (3, 4, 2) and large.network.sizes == (784, 100, 10)
    assert small.delta(1) is large.delta(1) and small.steps is large.steps
    assert Network((3, 4, 2)).structure == Network((784, 100, 10)).structure != Network((3, 4, 2), bias=False).structure


def test_pieces_shared_between_structures_give_what_a_fresh_derivation_gives():
    from derive import clear_caches

    networks = [Network((2, 3, 3, 1), activation=["relu", "tanh", "sigmoid"], loss="binary_cross_entropy"),
                Network((2, 3, 3, 2), activation=["relu", "tanh", "softmax"], loss="cross_entropy", bias=False,
                        weight_decay=0.5, reduction="mean")]
    shared = [derive(network) for network in networks]  # the second reuses the first's hidden deltas
    clear_caches()
    for network, reused in zip(networks, shared):
        fresh = derive(network)
        assert fresh is not reused and fresh.equations() == reused.equations()
        assert [(s.label, s.equation, s.layer) for s in fresh.steps] == [(s.label, s.equation, s.layer) for s in reused.steps]
        clear_caches()
