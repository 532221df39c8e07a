"""Mark students' answers to an exercise sheet against its key, the way a good teacher marks by hand.

Each blank is correct (within the sheet's precision), carried forward (wrong
against the key but right given the student's own earlier answers: every
later blank is computed again from the student's numbers, so one slip costs
one blank), wrong (with the mistake that fits it: a missing activation
derivative, the derivative at Z instead of A, a sign, a transposed weight,
δ sent back through the wrong or the already-updated weights, the bias
forgotten, rounding too early, ... or "no common mistake fits"), or
unanswered.  The score counts correct and carried-forward blanks.

KEY is the key of one sheet (key.json) or the CSV of keys of a class
(keys.csv, from --count); each ANSWERS file is a student's answers, .csv (one
line per blank: label,number; the lines sheet,NAME and name,STUDENT first) or
.json.  One answers file prints every blank, its mark and its mistake (--json:
{"score", "out_of", "blanks": [...]}), and -o writes the marked sheet (.html,
.md, .tex, .pdf, .ipynb).  Several print one line per student, and -o
marks.csv writes one row each.

Exit status: 0 when every blank of every student is correct, 1 otherwise, 2
for bad input (unknown labels, a key that is not a key, a word for a number,
answers for another sheet).

Examples:
  backprop mark key.json answers.csv
  backprop mark key.json answers.csv --json
  backprop mark key.json answers.csv -o marked.html
  backprop mark keys.csv answers/*.csv -o marks.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from derive import InputError
from derive.report.writers import check_tools, format_for
from derive.files import atomic_write, check_writable
from verify.exercises import mark, read_answers, read_keys
from verify.exercises.marking import STATUSES

from .options import add_json_option
from .output import write_stdout

MARKS_COLUMNS = ("file", "name", "sheet", "score", "out_of") + STATUSES + ("mistakes",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY", help="key.json (one sheet) or keys.csv (a class)")
    parser.add_argument("answers", metavar="ANSWERS", nargs="+", help="students' answers: .csv or .json files")
    add_json_option(parser, "the marks")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="the marked sheet (.html, .md, .tex, .pdf, .ipynb) for one answers file; marks.csv for "
                             "several")


def run(args: argparse.Namespace) -> int:
    if args.output:
        _check_output(Path(args.output), len(args.answers))
    sheets = read_keys(args.key)
    markings = []
    for path in args.answers:
        answers = read_answers(path)
        markings.append(mark(_sheet_for(sheets, answers, args.key), answers))
    if args.output and len(markings) == 1 and Path(args.output).suffix.lower() != ".csv":
        markings[0].write(args.output)
    elif args.output:
        atomic_write(args.output, _marks_csv(markings))
    if args.json:
        data = [marking.to_dict() | {"file": marking.source} for marking in markings]
        write_stdout(json.dumps(data[0] if len(data) == 1 else data, indent=1))
    elif len(markings) == 1:
        write_stdout(markings[0].text())
    else:
        write_stdout("\n".join("%s: %s" % (marking.source, marking.summary()) for marking in markings))
    return 0 if all(marking.all_correct for marking in markings) else 1


def _check_output(path: Path, answers: int) -> None:
    check_writable(path)
    if path.suffix.lower() == ".csv":
        return
    if answers > 1:
        raise InputError("-o %s: several answers files give one CSV of marks (-o marks.csv), one row per student"
                         % path)
    check_tools(format_for(path))


def _sheet_for(sheets: dict, answers, key: str):
    """The sheet a student's answers are for: the key's only sheet, or the one the answers name."""
    if answers.sheet:
        if answers.sheet not in sheets:
            raise InputError("%s holds answers for sheet %s, but %s has no such sheet (it has %s)" % (
                answers.source, answers.sheet, key, ", ".join(list(sheets)[:5]) + (", ..." if len(sheets) > 5 else "")))
        return sheets[answers.sheet]
    if len(sheets) == 1:
        return next(iter(sheets.values()))
    raise InputError("%s does not say which sheet it answers; %s holds %d sheets: add the line sheet,NAME (e.g. "
                     "sheet,%s)" % (answers.source, key, len(sheets), next(iter(sheets))))


def _marks_csv(markings: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MARKS_COLUMNS)
    for marking in markings:
        mistakes = "; ".join("%s: %s" % (blank.label, blank.mistake) for blank in marking.blanks
                             if blank.status == "wrong")
        writer.writerow([marking.source, marking.student, marking.sheet.name, marking.score, marking.out_of]
                        + [marking.count(status) for status in STATUSES] + [mistakes])
    return out.getvalue()
