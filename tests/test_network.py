"""The network description: Python, compact strings, YAML/JSON files, overrides, equality."""

from __future__ import annotations

import json

import pytest

from derive import InputError, Network
from derive.model.network import split_activation_list


def test_python_construction_has_the_lecture_defaults():
    network = Network(sizes=(2, 2, 1))
    assert network.sizes == (2, 2, 1) and network.depth == 2
    assert network.activation_names == ("sigmoid", "sigmoid")
    assert network.loss.name == "sse" and network.reduction == "sum"
    assert network.bias and network.weight_decay == 0.0 and network.l1 == 0.0


def test_param_shapes_follow_w_ji_from_unit_i_to_unit_j():
    network = Network((784, 100, 10))
    assert network.param_shapes() == {"W1": (100, 784), "b1": (100,), "W2": (10, 100), "b2": (10,)}
    assert network.n_params == 79510
    assert Network((3, 1), bias=False).param_shapes() == {"W1": (1, 3)}


def test_from_string_with_options():
    network = Network.from_string("784-100-10", activation=["relu", "softmax"], loss="cross_entropy",
                                  weight_decay=1e-4, reduction="mean")
    assert network.sizes == (784, 100, 10)
    assert network.activation_names == ("relu", "softmax")
    assert network.describe() == "784-100-10, relu/softmax, cross_entropy (mean), bias, L2 0.0001"


def test_from_string_accepts_spaces_around_dashes():
    assert Network.from_string(" 2 - 3 - 1 ").sizes == (2, 3, 1)


def test_yaml_file_with_every_key(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("sizes: [4, 8, 8, 3]\nactivation: [tanh, leaky_relu(0.2), softmax]\nloss: cross_entropy\n"
                    "bias: false\nweight_decay: 0.01\nl1: 0.001\nreduction: mean\n")
    network = Network.from_file(path)
    assert network == Network((4, 8, 8, 3), activation=["tanh", "leaky_relu(0.2)", "softmax"], loss="cross_entropy",
                              bias=False, weight_decay=0.01, l1=0.001, reduction="mean")
    assert network.activations[1].parameter == ("slope", 0.2)


def test_json_file_and_sizes_as_a_string(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"sizes": "2-2-1", "activation": "x/(1+abs(x))"}))
    network = Network.from_spec(str(path))
    assert network.sizes == (2, 2, 1)
    assert network.activation_names == ("x/(1+abs(x))", "x/(1+abs(x))")


def test_to_dict_round_trips_through_a_file(tmp_path):
    original = Network((3, 5, 2), activation=["relu", "softmax"], loss="cross_entropy", weight_decay=0.5)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(original.to_dict()))
    assert Network.from_file(path) == original


def test_overrides_replace_file_values_and_none_leaves_them(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("sizes: [2, 3, 1]\nactivation: tanh\nweight_decay: 0.1\n")
    network = Network.from_spec(str(path), activation="relu", loss=None, weight_decay=None, bias=False)
    assert network.activation_names == ("relu", "relu")
    assert network.weight_decay == 0.1 and network.bias is False
    assert Network.from_spec("2-3-1", activation=None).activation_names == ("sigmoid", "sigmoid")


def test_replace_returns_a_changed_copy():
    network = Network((2, 2, 1))
    changed = network.replace(reduction="mean", weight_decay=0.2)
    assert changed.reduction == "mean" and changed.weight_decay == 0.2
    assert network.reduction == "sum" and network.weight_decay == 0.0


def test_equality_and_hash_follow_the_description():
    a = Network((2, 2, 1), activation="sigmoid")
    b = Network.from_string("2-2-1", activation=["sigmoid", "sigmoid"])
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Network((2, 2, 1), activation="tanh")
    assert a != Network((2, 2, 1), bias=False)
    assert a != Network((2, 3, 1))
    assert a != "2-2-1"


def test_repr_is_readable():
    assert repr(Network((2, 1))).startswith("Network(sizes=(2, 1), activation='sigmoid', loss='sse'")


@pytest.mark.parametrize("text, parts", [
    ("relu", "relu"),
    ("relu,softmax", ["relu", "softmax"]),
    ("leaky_relu(x, 0.1), tanh", ["leaky_relu(x, 0.1)", "tanh"]),
    ("max(x, 0),sigmoid", ["max(x, 0)", "sigmoid"]),
])
def test_activation_lists_split_on_top_level_commas(text, parts):
    assert split_activation_list(text) == parts


@pytest.mark.parametrize("build, message", [
    (lambda: Network((2,)), "at least an input and an output"),
    (lambda: Network((2, 0, 1)), "size 0 at position 1"),
    (lambda: Network((2, 1.5)), "size 1.5"),
    (lambda: Network((2, True)), "size True"),
    (lambda: Network("2-2-1"), "sizes must be a list"),
    (lambda: Network((2, 2, 1), activation=["relu"]), "1 activations given for 2 layers"),
    (lambda: Network((2, 2, 1), activation=7), "activation must be a name or a list"),
    (lambda: Network((2, 2, 1), loss="cross_entropy"), "needs output activation softmax"),
    (lambda: Network((2, 2, 1), bias="yes"), "bias must be true or false"),
    (lambda: Network((2, 2, 1), weight_decay=float("nan")), "weight_decay must be a finite number"),
    (lambda: Network((2, 2, 1), l1=-0.1), "l1 must be a finite number >= 0"),
    (lambda: Network((2, 2, 1), reduction="max"), "unknown reduction 'max'; choose one of: sum, mean"),
    (lambda: Network.from_string("2-2-"), "not sizes joined by dashes"),
    (lambda: Network.from_dict({"sizes": "2x2"}), "sizes '2x2' is not widths joined by dashes"),
    (lambda: Network.from_file("net.txt"), "must end in .yaml, .yml, .json"),
], ids=["one-size", "zero", "float", "bool", "string-sizes", "activation-count", "activation-type", "loss-output",
        "bias-type", "decay-nan", "l1-negative", "reduction", "string-dash", "dict-sizes-string", "file-suffix"])
def test_invalid_descriptions_say_what_is_accepted(build, message):
    with pytest.raises(InputError) as caught:
        build()
    assert message in str(caught.value)


def test_networks_differing_only_in_leaky_slope_are_different_and_round_trip_exactly():
    a = Network((2, 3, 1), activation=["leaky_relu(0.1234567)", "linear"])
    b = Network((2, 3, 1), activation=["leaky_relu(0.1234568)", "linear"])
    assert a != b and hash(a) != hash(b)
    assert Network.from_dict(a.to_dict()) == a
    assert a.activations[0].parameter == ("slope", 0.1234567)


def test_custom_activations_with_one_name_but_different_definitions_are_different_networks():
    from derive.model.activation_specs import custom_activation
    from derive.model.expression import VARIABLE

    square = Network((2, 1), activation=custom_activation("f", VARIABLE**2))
    cube = Network((2, 1), activation=custom_activation("f", VARIABLE**3))
    assert square != cube
