"""Write a backpropagation exercise sheet (and its key) for a small network, to do by hand.

The sheet holds a network small enough to do by hand, its numbers (one
decimal each, drawn from --seed; different seeds give different but equally
hard sheets), the lecture's notation beside ours, the sign convention, the
precision expected, and the blanks in the order a student computes them: the
forward pass, the loss, every error term, every gradient (with --sign lecture
the lecture's δ = −∂E/∂net and its changes Δw = ηδx + αΔw) and every
parameter after the step.  The key (--key, JSON: the given numbers and every
answer) is what backprop mark marks against; --answers-sheet writes the
answer sheet: the blanks filled in and the worked example of the report for
the same numbers.  The format follows the extension of -o: .html, .md, .tex,
.pdf or .ipynb (a notebook with a cell to fill in and save the answers).

--count K writes K distinct sheets, one per student, named by index
(sheet-1.html ... for -o sheet.html; sheet-01.html ... from ten sheets)
and one CSV of their keys (--key, default <name>-keys.csv).  backprop mark
marks the answers (docs/exercises.md).

Examples:
  backprop exercise 2-2-1 --seed 7 -o sheet.html --key key.json --answers-sheet answers.pdf
  backprop exercise 3-3-2 --activation tanh,sigmoid --count 30 --seed 2024 -o sheet.pdf --key keys.csv
  backprop exercise 2-2-1 --example lecture --sign lecture --steps 2 -o lecture.html
"""

from __future__ import annotations

import argparse
from pathlib import Path

from derive import InputError
from derive.report.example import LECTURE_SIZES
from derive.report.exercises import SIGNS
from derive.report.writers import FORMATS, check_tools, format_for
from derive.files import check_writable
from .options import (add_format_option, add_network_arguments, add_seed_option, add_step_options, network_from_args,
                      positive_int)
from verify.exercises import lecture_sheet, make_sheet, make_sheets, write_key, write_keys_csv
from verify.exercises.sheets import SHEET_LR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="SHEET",
                        help="the sheet: .html, .md, .tex, .pdf or .ipynb")
    add_format_option(parser, FORMATS)
    parser.add_argument("--key", metavar="KEY", help="the key: .json (default <name>-key.json), or with --count the "
                                                     "CSV of keys (default <name>-keys.csv)")
    parser.add_argument("--answers-sheet", metavar="FILE", help="also write the answer sheet (any format)")
    add_seed_option(parser, "the numbers")
    parser.add_argument("--count", type=positive_int, default=1, metavar="K", help="K distinct sheets, one per student")
    parser.add_argument("--example", choices=("random", "lecture"), default="random",
                        help="the numbers: drawn from --seed (default), or the lecture's Backprop Example (2-2-1)")
    parser.add_argument("--sign", choices=SIGNS, default="ours",
                        help="ours: δ = ∂E/∂Z, w ← w − η∂E/∂w (default); lecture: δ = −∂E/∂net, Δw = ηδx + αΔw")
    parser.add_argument("--steps", type=positive_int, default=1, help="steps of gradient descent (default 1)")
    parser.add_argument("--examples", type=positive_int, default=1, help="examples in the batch (default 1)")
    add_step_options(parser, "the sheet's steps", None, "default %g; the lecture's 0.2 with --example lecture"
                     % SHEET_LR, None, "default 0; the lecture's 0.9 with --example lecture")
    parser.add_argument("--digits", type=int, default=4, help="significant digits of the answers (default 4)")


def run(args: argparse.Namespace) -> int:
    network = network_from_args(args)
    outputs = _outputs(args)
    if args.example == "lecture":
        if args.count > 1 or network.sizes != LECTURE_SIZES or args.examples != 1:
            raise InputError("--example lecture is the lecture's one 2-2-1 sheet: give SPEC 2-2-1, no --count and no "
                             "--examples")
        sheet = lecture_sheet(sign=args.sign, steps=args.steps, digits=args.digits)
        if sheet.network != network:
            raise InputError("--example lecture is the lecture's sigmoid network with sse; leave out --activation, "
                             "--loss and the other network options")
        if args.lr is not None or args.momentum is not None:
            raise InputError("--example lecture uses the lecture's η = 0.2 and α = 0.9; leave out --lr and --momentum")
        sheets = [sheet]
    else:
        options = dict(sign=args.sign, steps=args.steps, examples=args.examples, digits=args.digits,
                       lr=SHEET_LR if args.lr is None else args.lr, momentum=args.momentum or 0.0)
        sheets = (make_sheets(network, args.count, args.seed, **options) if args.count > 1
                  else [make_sheet(network, args.seed, **options)])
    written = []
    for sheet, (path, answers) in zip(sheets, outputs):
        written += sheet.write(path, fmt=args.format)[:1]
        if answers is not None:
            written += sheet.write(answers, answers=True)[:1]
    key = write_keys_csv(sheets, args.key_path) if args.count > 1 else write_key(sheets[0], args.key_path)
    first, last = sheets[0], sheets[-1]
    if len(sheets) == 1:
        print("wrote %s: sheet %s for %s (%d blanks, sign: %s)" % (written[0], first.name, network.describe(),
                                                                 len(first.blanks), first.sign))
    else:
        print("wrote %d sheets, %s to %s: sheets %s to %s for %s (%d blanks each, sign: %s)" % (
            len(sheets), outputs[0][0], outputs[-1][0], first.name, last.name, network.describe(), len(first.blanks),
            first.sign))
    if outputs[0][1] is not None:
        print("wrote the answer sheet: %s" % outputs[0][1] if len(sheets) == 1
              else "wrote the answer sheets: %s to %s" % (outputs[0][1], outputs[-1][1]))
    print("wrote the key%s: %s (keep it from the students; mark with: backprop mark %s ANSWERS)"
          % ("s" * (len(sheets) > 1), key, key))
    return 0


def _outputs(args: argparse.Namespace) -> list[tuple[Path, Path | None]]:
    """Every file to write, checked before any work: (sheet, answer sheet or None) per sheet; sets args.key_path."""
    output = Path(args.output)
    format_for(output, args.format)
    check_tools(format_for(output, args.format))
    answers = Path(args.answers_sheet) if args.answers_sheet else None
    if answers is not None:
        check_tools(format_for(answers))
    if args.count > 1:
        width = len(str(args.count))
        pairs = [(_indexed(output, index, width), _indexed(answers, index, width) if answers else None)
                 for index in range(1, args.count + 1)]
        key = Path(args.key) if args.key else output.with_name(output.stem + "-keys.csv")
        if key.suffix.lower() != ".csv":
            raise InputError("with --count the keys are one CSV, one row per sheet: give --key %s"
                             % key.with_suffix(".csv"))
    else:
        pairs = [(output, answers)]
        key = Path(args.key) if args.key else output.with_name(output.stem + "-key.json")
        if key.suffix.lower() != ".json":
            raise InputError("the key of one sheet is JSON: give --key %s (with --count, a .csv of keys)"
                             % key.with_suffix(".json"))
    paths = [key] + [path for pair in pairs for path in pair if path is not None]
    for path in paths:
        check_writable(path)
    if len({path.resolve() for path in paths}) != len(paths):
        raise InputError("the sheet, the answer sheet and the key must be different files")
    args.key_path = key
    return pairs


def _indexed(path: Path, index: int, width: int) -> Path:
    """``sheet.html`` -> ``sheet-07.html``."""
    return path.with_name("%s-%0*d%s" % (path.stem, width, index, path.suffix))
