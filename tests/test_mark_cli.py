"""``backprop mark`` and ``backprop exercise`` from the command line: exit codes, outputs, a class, bad input.

Bad input is one table: each row is a command and what it must say; every
one exits 2 with one line on stderr, no traceback, and writes nothing.
"""

from __future__ import annotations

import csv
import json

import pytest

from exercise_students import answers
from verify.cli import main
from verify.exercises import read_key, read_keys, write_answers


@pytest.fixture
def folder(tmp_path, monkeypatch, capsys):
    """A working folder with a sheet, its key, and the answers of three students."""
    monkeypatch.chdir(tmp_path)
    assert main(["exercise", "2-2-1", "--seed", "7", "-o", "sheet.html", "--key", "key.json"]) == 0
    sheet = read_key("key.json")
    write_answers(answers(sheet), "ada.csv", sheet="7", name="Ada")
    write_answers(answers(sheet, "missing_derivative"), "bob.csv", sheet="7", name="Bob")
    (tmp_path / "cy.json").write_text(json.dumps({"sheet": "7", "name": "Cy", "answers": {
        label: str(value) for label, value in answers(sheet, "bias_forgotten").items()}}))
    capsys.readouterr()
    return tmp_path


def test_all_correct_answers_score_full_and_exit_zero(folder, capsys):
    assert main(["mark", "key.json", "ada.csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Ada, sheet 7: 28 of 28\n")
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_wrong_answer_exits_one_and_prints_its_mistake_under_it(folder, capsys):
    assert main(["mark", "key.json", "bob.csv"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Bob, sheet 7: 27 of 28 (20 carried forward, 1 wrong)"
    row = next(n for n, line in enumerate(lines) if line.startswith("delta2[0]"))
    assert lines[row].endswith("✗ wrong") and "sigmoid derivative A2*(1 - A2) is missing" in lines[row + 1]
    assert lines[row + 2].startswith("delta1[0]") and lines[row + 2].endswith("✓ carried forward")


def test_json_marks_have_the_fields_the_issue_names(folder, capsys):
    assert main(["mark", "key.json", "cy.json", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["score"], data["out_of"], data["name"]) == (26, 28, "Cy")
    first = data["blanks"][0]
    assert set(first) >= {"label", "status", "expected", "given", "mistake"}
    assert (first["label"], first["status"], first["mistake"]) == ("Z1[0]", "wrong",
                                                                   "the bias b1[0] is left out of the net input")


def test_a_class_is_marked_into_one_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["exercise", "2-2-1", "--count", "3", "--seed", "5", "-o", "sheet.md", "--key",
                 "keys.csv"]) == 0
    sheets = read_keys("keys.csv")
    for student, (name, sheet) in zip(("ann", "ben", "col"), sheets.items()):
        write_answers(answers(sheet, None if student == "ann" else "sign"), "%s.csv" % student, sheet=name,
                      name=student.title())
    capsys.readouterr()
    assert main(["mark", "keys.csv", "ann.csv", "ben.csv", "col.csv", "-o", "marks.csv"]) == 1
    assert capsys.readouterr().out.splitlines() == ["ann.csv: Ann, sheet 5-1: 28 of 28",
                                                    "ben.csv: Ben, sheet 5-2: 27 of 28 (20 carried forward, 1 wrong)",
                                                    "col.csv: Col, sheet 5-3: 27 of 28 (20 carried forward, 1 wrong)"]
    with open("marks.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["name"], row["sheet"], row["score"], row["wrong"]) for row in rows] == [
        ("Ann", "5-1", "28", "0"), ("Ben", "5-2", "27", "1"), ("Col", "5-3", "27", "1")]
    assert rows[1]["mistakes"].startswith("delta2[0]: the sign is flipped")
    assert main(["mark", "keys.csv", "ann.csv"]) == 0  # the answers name their sheet among the class's
    (tmp_path / "anon.csv").write_text("Z1[0],0.1\n")
    capsys.readouterr()
    assert main(["mark", "keys.csv", "anon.csv"]) == 2
    assert capsys.readouterr().err == ("backprop mark: error: anon.csv does not say which sheet it answers; keys.csv "
                                       "holds 3 sheets: add the line sheet,NAME (e.g. sheet,5-1)\n")


def test_the_marked_sheet_is_written_in_the_format_of_its_name(folder):
    assert main(["mark", "key.json", "bob.csv", "-o", "marked.md"]) == 1
    page = (folder / "marked.md").read_text()
    assert "Marked: sheet 7 (Bob)" in page and "✗ wrong" in page and "✓ carried forward" in page


def _write(folder, name: str, text: str) -> str:
    (folder / name).write_text(text)
    return name


BAD = [
    ("unknown label", lambda f: ["mark", "key.json", _write(f, "a.csv", "Z3[0],0.5\n")],
     "a.csv: unknown label 'Z3[0]'; the sheet's labels are Z1[0], Z1[1], A1[0], A1[1], …"),
    ("not a number", lambda f: ["mark", "key.json", _write(f, "a.csv", "Z1[0],half\n")],
     "a.csv: the answer for Z1[0] is 'half', not a number"),
    ("decimal comma", lambda f: ["mark", "key.json", _write(f, "a.csv", 'Z1[0],"0,5"\n')],
     "(use a decimal point, not a comma)"),
    ("decimal comma, unquoted", lambda f: ["mark", "key.json", _write(f, "a.csv", "Z1[0],0,5\n")],
     "a.csv: the answer for Z1[0] looks like a decimal comma (0,5); use a decimal point"),
    ("nan", lambda f: ["mark", "key.json", _write(f, "a.json", '{"Z1[0]": NaN}')], "write a finite decimal number"),
    ("answered twice", lambda f: ["mark", "key.json", _write(f, "a.csv", "Z1[0],0.1\nZ1[0],0.2\n")],
     "a.csv line 2: Z1[0] is answered twice"),
    ("another sheet", lambda f: ["mark", "key.json", _write(f, "a.csv", "sheet,8\nZ1[0],0.1\n")],
     "a.csv holds answers for sheet 8, but key.json has no such sheet"),
    ("key that is not a key", lambda f: ["mark", _write(f, "k.json", '{"answers": {}}'), "ada.csv"],
     "k.json is not a key: a key is a JSON object with \"given\" and \"answers\""),
    ("a key for another network", lambda f: ["mark", _write(f, "k.json", (f / "key.json").read_text().replace(
        '"b2": [', '"b2": [0.125, ')), "ada.csv"], "k.json: given b2 must be finite numbers of shape 1, got shape 2"),
    ("answers changed in the key", lambda f: ["mark", _write(f, "k.json", json.dumps(
        dict(json.loads((f / "key.json").read_text()), answers={**json.loads((f / "key.json").read_text())["answers"],
                                                                 "E": 0.5}))), "ada.csv"],
     "k.json is not the key of its numbers: E is 0.5, but the given numbers give"),
    ("answers file type", lambda f: ["mark", "key.json", _write(f, "a.txt", "Z1[0],0.1\n")],
     "give a .csv (one line per blank: label,number) or a .json file"),
    ("several answers to a page", lambda f: ["mark", "key.json", "ada.csv", "bob.csv", "-o", "marked.html"],
     "several answers files give one CSV of marks (-o marks.csv)"),
    ("sign", lambda f: ["exercise", "2-2-1", "--sign", "mine", "-o", "s.html"], "invalid choice: 'mine'"),
    ("keys of a class as json", lambda f: ["exercise", "2-2-1", "--count", "2", "-o", "s.html", "--key", "k.json"],
     "with --count the keys are one CSV, one row per sheet: give --key k.csv"),
    ("lecture's numbers for another network", lambda f: ["exercise", "3-3-2", "--example", "lecture", "-o", "s.html"],
     "--example lecture is the lecture's one 2-2-1 sheet"),
    ("too many blanks", lambda f: ["exercise", "20-20-10", "-o", "s.html"], "too many to do by hand"),
    ("digits", lambda f: ["exercise", "2-2-1", "--digits", "1", "-o", "s.html"],
     "digits must be a whole number from 2"),
    ("folder missing", lambda f: ["exercise", "2-2-1", "-o", "nowhere/s.html"], "directory nowhere does not exist"),
]


@pytest.mark.parametrize("command, message", [(c, m) for _, c, m in BAD], ids=[name for name, _, _ in BAD])
def test_bad_input_is_one_line_and_exit_two_and_nothing_written(command, message, folder, capsys):
    argv = command(folder)
    before = sorted(path.name for path in folder.iterdir())
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and message in err, err
    assert sorted(path.name for path in folder.iterdir()) == before
