"""A student's answers, as a dict or a file, checked against the sheet they answer.

Answers are ``label -> number`` (None, or an empty cell, for a blank left
empty), with optionally the sheet's name and the student's.  On disk:

* **CSV**, one blank per line, label, comma, number (split at the last comma,
  so ``dE/dW2[0,1],0.5`` needs no quotes); the lines ``sheet,7`` and
  ``name,Ada`` say whose answers for which sheet (an optional header
  ``label,answer`` is skipped)::

      sheet,7
      name,Ada Lovelace
      Z1[0],0.2
      A1[0],0.5498

* **JSON**, ``{"sheet": "7", "name": "Ada", "answers": {"Z1[0]": 0.2, ...}}``
  or the answers alone, ``{"Z1[0]": 0.2, ...}``.

Numbers are decimal numbers as a student writes them (``0.5498``, ``.086``,
``−2.1e-3`` with a typographic minus); a label is matched without its spaces
(``dE/dW2[0, 1]``) and with any prime (’, ′) read as '.  Anything else is one
line of :class:`~derive.InputError`: an unknown label (with the labels of the
sheet), a label given twice, a word where a number belongs, answers that name
another sheet.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from derive import InputError
from derive.files import atomic_write, check_readable

#: A number as a student writes it: a decimal, with an optional exponent.
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
#: The rows of an answers file that are not blanks.
FIELDS = ("sheet", "name")


@dataclass
class Answers:
    """A student's answers: ``values`` (label -> number, None if left empty), the ``sheet`` they name, the
    student's ``name``, and the file they came from (``source``)."""

    values: dict = field(default_factory=dict)
    sheet: str | None = None
    name: str = ""
    source: str = "answers"


def read_answers(path: str | Path) -> Answers:
    """Read a student's answers from a .csv or .json file (see the module docstring).

    Raises:
        InputError: a file that cannot be read or is not answers (one line saying where and why).
    """
    path = check_readable(path, "answers")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("cannot read answers file %s: it is not text (UTF-8); save it as .csv or .json" % path) \
            from None
    if path.suffix.lower() == ".json":
        return _from_json(text, str(path))
    if path.suffix.lower() == ".csv":
        return _from_csv(text, str(path))
    raise InputError("cannot read answers file %s: give a .csv (one line per blank: label,number) or a .json file"
                     % path)


def _from_json(text: str, source: str) -> Answers:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError("%s is not valid JSON: %s" % (source, exc)) from None
    if not isinstance(data, dict):
        raise InputError("%s must hold a JSON object of answers, {\"Z1[0]\": 0.2, ...}" % source)
    values = data.get("answers", {k: v for k, v in data.items() if k not in FIELDS})
    if not isinstance(values, dict):
        raise InputError("%s: \"answers\" must be an object of label: number" % source)
    return Answers({str(label): value for label, value in values.items()}, _text(data.get("sheet")),
                   _text(data.get("name")) or "", source)


def _from_csv(text: str, source: str) -> Answers:
    """One blank per line, ``label,number``: split at the last comma, so that ``dE/dW2[0,1],0.5`` needs no quotes."""
    answers = Answers(source=source)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or (number == 1 and line.replace(" ", "").lower() == "label,answer"):
            continue
        if "," not in line:
            raise InputError("%s line %d: %r has no comma; each line is a label, a comma and a number, e.g. "
                             "Z1[0],0.5498" % (source, number, line.strip()))
        cells = next(csv.reader([line])) if '"' in line else line.rsplit(",", 1)  # quoted: a CSV line
        if len(cells) != 2:
            raise InputError("%s line %d: %d cells; each line is a label and a number, e.g. Z1[0],0.5498"
                             % (source, number, len(cells)))
        label, value = (cell.strip() for cell in cells)
        if label.lower() in FIELDS:
            setattr(answers, label.lower(), value)
            continue
        if label in answers.values:
            raise InputError("%s line %d: %s is answered twice" % (source, number, label))
        answers.values[label] = value
    return answers


def _text(value) -> str | None:
    return None if value is None else str(value)


def normal_label(label: str) -> str:
    """A label as the key writes it: no spaces, and ' for a typographic prime."""
    return re.sub(r"\s+", "", label).replace("’", "'").replace("′", "'")


def number(value, label: str, source: str) -> float | None:
    """An answer as a float (None for an empty one).

    Raises:
        InputError: anything but a finite decimal number.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError("%s: the answer for %s is %r, not a number; write a decimal number such as 0.5498 "
                         "(or leave it empty)" % (source, label, value))
    if isinstance(value, str):
        text = value.strip().replace("−", "-")
        if not NUMBER.match(text):
            hint = " (use a decimal point, not a comma)" if re.match(r"^[+-]?\d*,\d+$", text) else ""
            raise InputError("%s: the answer for %s is %r, not a number%s; write a decimal number such as 0.5498 "
                             "(or leave it empty)" % (source, label, value, hint))
        value = float(text)
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError("%s: the answer for %s is %r; write a finite decimal number" % (source, label, value))
    return value


def checked_answers(labels: list[str], answers: Answers | dict, sheet: str | None = None) -> dict[str, float | None]:
    """``label -> number or None`` for every label of a sheet, from a student's answers.

    Args:
        labels: The sheet's labels, in order.
        answers: The student's :class:`Answers` (or a plain dict of label -> number).
        sheet: The sheet's name, to refuse answers that name another sheet.

    Raises:
        InputError: an unknown label, a label given twice, a word for a number, or answers for another sheet.
    """
    if not isinstance(answers, Answers):
        if not isinstance(answers, dict):
            raise InputError("answers must be a dict of label -> number, got %s" % type(answers).__name__)
        answers = Answers(dict(answers))
    if sheet is not None and answers.sheet not in (None, "") and answers.sheet != sheet:
        raise InputError("%s holds answers for sheet %s, but the key is for sheet %s; mark them with that sheet's key"
                         % (answers.source, answers.sheet, sheet))
    known = set(labels)
    values: dict[str, float | None] = {}
    for label, value in answers.values.items():
        written = normal_label(str(label))
        comma = re.match(r"^(.*),(\d+)$", written)
        if written not in known and comma and comma.group(1) in known:
            raise InputError("%s: the answer for %s looks like a decimal comma (%s,%s); use a decimal point"
                             % (answers.source, comma.group(1), comma.group(2), value))
        if written not in known:
            shown = ", ".join(labels[:4] + ["…"] + labels[-2:]) if len(labels) > 6 else ", ".join(labels)
            raise InputError("%s: unknown label %r; the sheet's labels are %s" % (answers.source, label, shown))
        if written in values:
            raise InputError("%s: %s is answered twice" % (answers.source, written))
        values[written] = number(value, written, answers.source)
    return {label: values.get(label) for label in labels}


def write_answers(answers: dict, path: str | Path, *, sheet: str, name: str = "") -> Path:
    """Write a student's answers (label -> number or None) as the CSV file ``backprop mark`` reads."""
    lines = ["sheet,%s" % sheet] + (["name,%s" % name] if name else [])
    lines += ["%s,%s" % (label, "" if value is None else repr(float(value))) for label, value in answers.items()]
    atomic_write(path, "\n".join(lines) + "\n")
    return Path(path)
