"""Keys on disk: one sheet's key as JSON, a class's keys as one CSV, read back into sheets to mark against.

A key (:meth:`Sheet.key <verify.exercises.Sheet.key>`) holds the network, the
given numbers, the convention and the answers.  Reading one rebuilds the sheet
from its network and given numbers, and refuses what is not a key: a file
without ``given`` and ``answers``, a network or numbers that do not fit, labels
that are not the sheet's, or answers that are not what the given numbers give
(a key is computed, never typed).

The CSV of a class has one row per sheet: ``sheet``, ``seed``, ``network``
(the network as JSON), ``sign``, ``steps``, ``digits``, ``examples``, ``lr``,
``momentum``, then the given numbers (``X[0,0]``, ``T[0,0]``, ``W1[0,0]``,
``b1[0]``, ...) and the answers, one column per blank label.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from derive import InputError, Network
from derive.files import atomic_write, check_readable
from derive.report import ExampleInput

from .sheets import KEY_FORMAT, Sheet

#: Columns of a CSV of keys before the given numbers.
SETTINGS = ("sheet", "seed", "network", "sign", "steps", "digits", "examples", "lr", "momentum")
#: Answers of a key agree with what its given numbers give to this relative precision.
AGREE = 1e-9


def read_keys(path: str | Path) -> dict[str, Sheet]:
    """The sheets of a key file by name: one from a .json key, one per row from a .csv of keys.

    Raises:
        InputError: the file cannot be read, or is not a key (one line saying where and why).
    """
    path = check_readable(path, "key")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        sheets = [sheet_from_key(key, "%s row %d" % (path, row)) for row, key in _csv_keys(text, str(path))]
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError("%s is not a key: not valid JSON (%s)" % (path, exc)) from None
        sheets = [sheet_from_key(data, str(path))]
    else:
        raise InputError("cannot read key file %s: give the .json key or the .csv of keys backprop exercise wrote"
                         % path)
    found: dict[str, Sheet] = {}
    for sheet in sheets:
        if sheet.name in found:
            raise InputError("%s holds sheet %s twice" % (path, sheet.name))
        found[sheet.name] = sheet
    return found


def read_key(path: str | Path) -> Sheet:
    """The sheet of a .json key (or of a .csv of keys holding one sheet)."""
    sheets = read_keys(path)
    if len(sheets) != 1:
        raise InputError("%s holds %d keys; read them with read_keys" % (path, len(sheets)))
    return next(iter(sheets.values()))


def sheet_from_key(data, source: str) -> Sheet:
    """Rebuild the sheet a key is for, checking that it is one (see the module docstring).

    Raises:
        InputError: naming what is wrong and where.
    """
    if not isinstance(data, dict) or not isinstance(data.get("given"), dict) or not isinstance(
            data.get("answers"), dict):
        raise InputError("%s is not a key: a key is a JSON object with \"given\" and \"answers\" (backprop exercise "
                         "... --key key.json writes one)" % source)
    if data.get("format", KEY_FORMAT) != KEY_FORMAT:
        raise InputError("%s is not a key: its format is %r, not %r" % (source, data.get("format"), KEY_FORMAT))
    if not isinstance(data.get("network"), dict):
        raise InputError("%s is not a key: it has no \"network\" (sizes, activation, loss, ...)" % source)
    network = Network.from_dict(data["network"], where="%s network" % source)
    given = data["given"]
    params = {name: _array(given, name, shape, source) for name, shape in network.param_shapes().items()}
    X = _array(given, "X", (None, network.sizes[0]), source)
    T = _array(given, "T", (len(X), network.sizes[-1]), source)
    lr, momentum = (_setting(given, name, source) for name in ("lr", "momentum"))
    start = ExampleInput(params, X, T, lr, momentum, "the numbers of %s" % source)
    steps, digits = data.get("steps", 1), data.get("digits", 4)
    sheet = Sheet(network, start, data.get("sign", "ours"), steps, digits, str(data.get("sheet", "1")),
                  data.get("seed"))
    _check_answers(sheet, data["answers"], source)
    return sheet


def _array(given: dict, name: str, shape: tuple, source: str) -> np.ndarray:
    if name not in given:
        raise InputError("%s is not a key for this network: \"given\" has no %s" % (source, name))
    try:
        array = np.asarray(given[name], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("%s: given %s must be numbers" % (source, name)) from None
    expected = tuple(array.shape[0] if size is None else size for size in shape) if array.ndim == len(shape) else shape
    if array.shape != expected or array.size == 0 or not np.isfinite(array).all():
        raise InputError("%s: given %s must be finite numbers of shape %s, got shape %s"
                         % (source, name, "×".join("N" if s is None else str(s) for s in shape),
                            "×".join(map(str, array.shape)) or "()"))
    return array


def _setting(given: dict, name: str, source: str) -> float:
    value = given.get(name, 0.0 if name == "momentum" else None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InputError("%s: given %s must be a number, got %r" % (source, name, value))
    return float(value)


def _check_answers(sheet: Sheet, answers: dict, source: str) -> None:
    expected = sheet.answers
    missing = [label for label in expected if label not in answers]
    extra = [label for label in answers if label not in expected]
    if missing or extra:
        raise InputError("%s is not the key of its sheet: %s" % (source, "; ".join(
            part for part in ("no answer for %s" % ", ".join(missing[:3]) if missing else "",
                              "unknown label %s" % ", ".join(map(repr, extra[:3])) if extra else "") if part)))
    for label, value in expected.items():
        given = answers[label]
        if isinstance(given, bool) or not isinstance(given, (int, float)) or abs(given - value) > AGREE * max(
                abs(value), 1e-3):
            raise InputError("%s is not the key of its numbers: %s is %r, but the given numbers give %.6g"
                             % (source, label, given, value))


def write_key(sheet: Sheet, path: str | Path) -> Path:
    """Write a sheet's key as JSON (atomically)."""
    atomic_write(path, json.dumps(sheet.key(), indent=1) + "\n")
    return Path(path)


def given_columns(sheet: Sheet) -> list[tuple[str, float]]:
    """The given numbers of a sheet as (column, value): ``X[0,0]``, ``T[0,0]``, ``W1[0,0]``, ``b1[0]``, ..."""
    arrays = {"X": sheet.start.X, "T": sheet.start.T, **sheet.start.params}
    return [("%s[%s]" % (name, ",".join(map(str, index))), float(value))
            for name, array in arrays.items() for index, value in np.ndenumerate(np.asarray(array))]


def write_keys_csv(sheets: list[Sheet], path: str | Path) -> Path:
    """Write the keys of several sheets (of one network) as one CSV, one row per sheet (atomically)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    first = sheets[0]
    writer.writerow(list(SETTINGS) + [column for column, _ in given_columns(first)] + first.labels)
    for sheet in sheets:
        start = sheet.start
        writer.writerow([sheet.name, json.dumps(sheet.seed), json.dumps(sheet.network.to_dict()), sheet.sign,
                         sheet.steps, sheet.digits, len(start.X), repr(start.lr), repr(start.momentum)]
                        + [repr(value) for _, value in given_columns(sheet)]
                        + [repr(value) for value in sheet.answers.values()])
    atomic_write(path, out.getvalue())
    return Path(path)


def _csv_keys(text: str, source: str):
    """(row number, key dict) for each row of a CSV of keys."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0][:len(SETTINGS)]) != SETTINGS:
        raise InputError("%s is not a CSV of keys: its first line must be the header %s, ..." % (
            source, ",".join(SETTINGS)))
    header = rows[0]
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError("%s row %d has %d cells, the header %d" % (source, number, len(row), len(header)))
        cells = dict(zip(header, row))
        where = "%s row %d" % (source, number)
        try:
            network = Network.from_dict(json.loads(cells["network"]), where="%s network" % where)
            numbers = {column: float(cells[column]) for column in header[len(SETTINGS):]}
            key = {"sheet": cells["sheet"], "seed": json.loads(cells["seed"]) if cells["seed"] else None,
                   "network": network.to_dict(), "sign": cells["sign"], "steps": int(cells["steps"]),
                   "digits": int(cells["digits"])}
            examples, lr, momentum = int(cells["examples"]), float(cells["lr"]), float(cells["momentum"])
        except (ValueError, TypeError) as exc:
            raise InputError("%s is not a key: %s" % (where, exc)) from None
        shapes = {"X": (examples, network.sizes[0]), "T": (examples, network.sizes[-1]), **network.param_shapes()}
        given = {"lr": lr, "momentum": momentum}
        for name, shape in shapes.items():
            columns = ["%s[%s]" % (name, ",".join(map(str, index))) for index in np.ndindex(shape)]
            missing = [column for column in columns if column not in numbers]
            if missing:
                raise InputError("%s is not a key for its network: no column %s" % (where, missing[0]))
            given[name] = np.reshape([numbers.pop(column) for column in columns], shape).tolist()
        yield number, {**key, "given": given, "answers": numbers}
