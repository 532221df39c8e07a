"""Exercise sheets: deterministic per seed, fair numbers, and keys that three independent sources agree on.

The key's numbers come from the worked example of the report; here they are
checked against the hand-written engine with its optimizer (every forward
value, error term, gradient and parameter after each step) and against the
generated code (the output, the loss, the gradients, and with one example the
error terms, which are the bias gradients).  The lecture's sheet asks for the
numbers on the lecture's slides.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from derive import Network, derive
from verify import Engine, GradientDescent
from verify.cli import main
from verify.exercises import lecture_sheet, make_sheet, make_sheets, read_key, read_keys, write_key, write_keys_csv

NETWORKS = {
    "2-2-1 sigmoid sse": Network((2, 2, 1)),
    "3-3-2 tanh/sigmoid": Network((3, 3, 2), activation=["tanh", "sigmoid"]),
    "2-3-2 relu/softmax ce": Network((2, 3, 2), activation=["relu", "softmax"], loss="cross_entropy"),
    "2-2-2 sigmoid bce decay": Network((2, 2, 2), activation="sigmoid", loss="binary_cross_entropy",
                                       weight_decay=0.1),
    "3-2 linear mse": Network((3, 2), activation="linear", loss="mse"),
    "2-2-2-1 tanh": Network((2, 2, 2, 1), activation=["tanh", "tanh", "sigmoid"]),
}


def entries(label_prefix: str, array) -> dict:
    return {"%s[%s]" % (label_prefix, ",".join(map(str, index))): float(value)
            for index, value in np.ndenumerate(np.asarray(array))}


def engine_answers(network: Network, start, steps: int, sign: str) -> dict:
    """Every blank from the engine and its optimizer, labelled as a sheet labels them."""
    engine, optimizer = Engine(network), GradientDescent(start.lr, start.momentum)
    params, found = {k: np.asarray(v, dtype=float) for k, v in start.params.items()}, {}
    lecture = -1.0 if sign == "lecture" else 1.0
    for step in range(1, steps + 1):
        prefix = "%d:" % step if steps > 1 else ""
        Z, A = engine.forward_layers(params, start.X)
        deltas = engine.deltas(params, start.X, start.T)
        loss, gradients = engine.loss_and_gradients(params, start.X, start.T)
        after = optimizer.step(params, gradients)
        for layer in range(1, network.depth + 1):
            found.update(entries(prefix + "Z%d" % layer, Z[layer][0]))
            found.update(entries(prefix + "A%d" % layer, A[layer][0]))
            found.update(entries(prefix + "delta%d" % layer, lecture * deltas[layer][0]))
        found[prefix + "E"] = loss
        for name in params:
            if sign == "lecture":
                found.update(entries(prefix + "Delta" + name, after[name] - params[name]))
            else:
                found.update(entries(prefix + "dE/d" + name, gradients[name]))
            found.update({label + "'": value for label, value in entries(prefix + name, after[name]).items()})
        params = after
    return found


@pytest.mark.parametrize("sign", ["ours", "lecture"])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_key_value_is_the_engines_and_the_generated_codes(name, sign):
    network = NETWORKS[name]
    sheet = make_sheet(network, seed=11, sign=sign, steps=2, momentum=0.5)
    key = sheet.key()["answers"]
    engine = engine_answers(network, sheet.start, 2, sign)
    assert set(key) == set(engine)
    for label, value in key.items():
        assert value == pytest.approx(engine[label], rel=1e-9, abs=1e-12), label
    module = derive(network).numpy_module()
    start = sheet.start
    assert key["1:E"] == pytest.approx(module.loss(start.params, start.X, start.T), rel=1e-12)
    output = module.forward(start.params, start.X)[0]
    for unit, value in enumerate(output):
        assert key["1:A%d[%d]" % (network.depth, unit)] == pytest.approx(value, rel=1e-12)
    gradients = module.gradients(start.params, start.X, start.T)
    for parameter, array in gradients.items():
        if sign == "ours":
            for label, value in entries("1:dE/d" + parameter, array).items():
                assert key[label] == pytest.approx(value, rel=1e-9, abs=1e-15), label
        if parameter.startswith("b"):  # with one example, dE/db_l is the error term δ_l
            flip = -1.0 if sign == "lecture" else 1.0
            for label, value in entries("1:delta" + parameter[1:], array).items():
                assert key[label] == pytest.approx(flip * value, rel=1e-9, abs=1e-15), label


def test_the_same_seed_gives_the_same_sheet_and_another_seed_another(tmp_path):
    first, again, other = (make_sheet("3-3-2", seed=seed) for seed in (5, 5, 6))
    assert first.key() == again.key()
    assert first.key()["given"] != other.key()["given"]
    for n, sheet in enumerate((first, again)):
        (tmp_path / str(n)).mkdir()
    for fmt in ("html", "md", "tex", "ipynb"):
        pages = [sheet.write(tmp_path / str(n) / ("sheet." + fmt))[0].read_bytes()
                 for n, sheet in enumerate((first, again))]
        assert pages[0] == pages[1], fmt


@pytest.mark.parametrize("name", ["2-2-1 sigmoid sse", "3-3-2 tanh/sigmoid", "2-3-2 relu/softmax ce"])
def test_drawn_numbers_have_one_decimal_and_every_blank_is_worth_computing(name):
    network = NETWORKS[name]
    for seed in range(4):
        sheet = make_sheet(network, seed=seed)
        start = sheet.start
        for array in [start.X, start.T] + list(start.params.values()):
            tenths = np.asarray(array) * 10
            assert np.allclose(tenths, np.round(tenths), atol=1e-9)
        for array in [start.X] + list(start.params.values()):
            assert np.all(np.asarray(array) != 0) and np.all(np.abs(array) <= 1)
        Z, A = Engine(network).forward_layers(start.params, start.X)
        if network.activations[0].name == "relu":  # every ReLU unit on, away from its kink
            assert np.all(Z[1] > 0.09)
        if network.activations[-1].elementwise:
            assert np.all(np.abs(A[-1] - start.T) > 0.09) and np.all((start.T > 0) & (start.T < 1))
        else:  # a softmax output asks for one class
            assert sorted(start.T[0]) == [0.0] * (network.sizes[-1] - 1) + [1.0]
        gradients = Engine(network).gradients(start.params, start.X, start.T)
        after = GradientDescent(start.lr).step(start.params, gradients)
        for parameter, value in after.items():  # each parameter moves by 3 units of its 4th digit at least
            moved = np.abs(value - start.params[parameter])
            unit = 10.0 ** (np.floor(np.log10(np.abs(value))) - 3)
            assert np.all(moved >= 3 * unit - 1e-15), (seed, parameter)


def test_the_lecture_sheet_asks_for_the_lecture_slides_numbers():
    sheet = lecture_sheet(sign="lecture")
    answers = sheet.answers
    slides = {"Z1[0]": 0.2, "A1[0]": 0.55, "A2[0]": 0.552, "delta2[0]": 0.086, "delta1[0]": 0.002,
              "DeltaW2[0,0]": 0.0095, "Deltab2[0]": 0.0172, "DeltaW1[0,0]": 0.0004, "DeltaW1[0,1]": 0.0,
              "W2[0,0]'": 0.1095, "b2[0]'": 0.1172, "W1[0,0]'": 0.1004, "W1[0,1]'": 0.1}
    for label, printed in slides.items():
        decimals = len(repr(printed).split(".")[1]) if printed else 4
        assert round(answers[label], decimals) == printed, label
    ours = lecture_sheet()
    assert ours.answers["delta2[0]"] == pytest.approx(-answers["delta2[0]"])
    assert ours.answers["dE/dW2[0,0]"] == pytest.approx(-answers["DeltaW2[0,0]"] / 0.2)


def test_keys_come_back_from_json_and_csv_as_the_same_sheets(tmp_path):
    sheet = make_sheet("2-2-1", seed=3, sign="lecture", steps=2, momentum=0.9, digits=3)
    back = read_key(write_key(sheet, tmp_path / "key.json"))
    assert back.key() == sheet.key()
    sheets = make_sheets(Network((3, 2, 2), activation="tanh"), 3, seed=4, examples=2)
    found = read_keys(write_keys_csv(sheets, tmp_path / "keys.csv"))
    assert list(found) == ["4-1", "4-2", "4-3"]
    for original in sheets:
        assert found[original.name].key() == original.key()


def test_count_writes_distinct_sheets_named_by_index_and_one_csv_of_keys(tmp_path, capsys):
    out = tmp_path / "sheet.md"
    assert main(["exercise", "2-2-1", "--count", "12", "--seed", "9", "-o", str(out)]) == 0
    names = sorted(path.name for path in tmp_path.glob("sheet-*.md"))
    assert names == ["sheet-%02d.md" % index for index in range(1, 13)]
    with open(tmp_path / "sheet-keys.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["sheet"] for row in rows] == ["9-%02d" % index for index in range(1, 13)]
    givens = {tuple(value for column, value in row.items() if column.startswith(("X[", "W1[", "b1["))) for row in rows}
    assert len(givens) == 12
    assert "sheet 9-07" in (tmp_path / "sheet-07.md").read_text()
    assert "wrote 12 sheets" in capsys.readouterr().out


def test_the_key_says_what_the_issue_asks(tmp_path):
    assert main(["exercise", "2-2-1", "--seed", "1", "-o", str(tmp_path / "s.html"), "--key",
                 str(tmp_path / "k.json")]) == 0
    key = json.loads((tmp_path / "k.json").read_text())
    assert set(key["given"]) == {"X", "T", "W1", "b1", "W2", "b2", "lr", "momentum"}
    assert list(key["answers"])[:6] == ["Z1[0]", "Z1[1]", "A1[0]", "A1[1]", "Z2[0]", "A2[0]"]
    assert {"E", "delta2[0]", "delta1[1]", "dE/dW2[0,1]", "dE/db2[0]", "dE/dW1[1,0]", "dE/db1[1]", "W2[0,1]'",
            "b2[0]'", "W1[1,0]'", "b1[1]'"} <= set(key["answers"])
    assert all(isinstance(value, float) and math.isfinite(value) for value in key["answers"].values())
