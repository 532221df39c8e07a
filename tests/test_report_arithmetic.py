"""A student can redo the worked example by hand: every printed line adds up from the numbers printed in it.

The Markdown of a report is read as a student reads it: each line of a
step, ``lhs = formula with numbers = value``, is evaluated here from the
printed numbers only (the LaTeX turned into arithmetic by this file, with
the activations' textbook definitions), and rounded to as many significant
digits as the printed value shows; it must give that value.  The lecture's
"0.1004 + 0 + 0.1004 = 0.2009" (by hand 0.2008) is the kind of line this
catches.
"""

from __future__ import annotations

import math
import re

import pytest

from derive import Network
from derive.report import lecture_example, random_example, render
from verify.report_writers import report_document

def elu(arguments) -> float:
    """elu(z, alpha), printed as elu((z, alpha))."""
    z, alpha = arguments
    return z if z > 0 else alpha * (math.exp(z) - 1)


NAMESPACE = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
             "relu": lambda z: max(z, 0.0), "elu": elu}

NETWORKS = {
    "lecture": None,
    "tanh-softmax-ce": Network((2, 2, 2), activation=["tanh", "softmax"], loss="cross_entropy"),
    "relu-linear-decay": Network((2, 2, 1), activation=["relu", "linear"], weight_decay=0.01),
    "elu-sigmoid-bce": Network((2, 2, 1), activation=["elu", "sigmoid"], loss="binary_cross_entropy"),
}


def markdown(name: str) -> str:
    if NETWORKS[name] is None:
        network, start = lecture_example()
    else:
        network, start = NETWORKS[name], random_example(NETWORKS[name], seed=4)
    return render(report_document(network, start, verify=False), "markdown", "r.md")["r.md"].decode()


def worked_lines(page: str) -> list[str]:
    """Every row of the displays of the steps, continuation lines joined."""
    steps = page[page.index("### Step 1"):page.index("The lecture's numbers") if "The lecture's numbers" in page
                 else page.index("## Summary")]
    rows = []
    for display in re.findall(r"\$\$\n\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}\n\$\$", steps, re.S):
        for line in display.split(" \\\\\n"):
            if line.startswith("&") and rows:
                rows[-1] += " " + line.replace(r"&\quad", "").replace("&=", "=", 1)
            else:
                rows.append(line)
    return rows


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the group opening at ``text[start] == "{"``, and the index after it."""
    depth = 0
    for position in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[start + 1:position], position + 1
    raise ValueError("unbalanced braces in %r" % text)


def cases(tex: str) -> str:
    """``\\begin{cases} a & \\text{for}\\: c \\\\ b & \\text{otherwise} \\end{cases}`` as ``(a if c else b)``."""
    def one(found):
        branches = [branch.split("&") for branch in found.group(1).split("\\\\")]
        text = "%s" % branches[-1][0]
        for value, condition in reversed(branches[:-1]):
            text = "(%s) if (%s) else (%s)" % (value, condition.replace(r"\text{for}\:", ""), text)
        return "(%s)" % text
    return re.sub(r"\\begin\{cases\}(.*?)\\end\{cases\}", one, tex, flags=re.S)


def python(tex: str) -> str:
    """A formula of printed numbers as Python arithmetic."""
    tex = cases(tex)
    for command, name in ((r"\operatorname{relu}", "relu"), (r"\operatorname{elu}", "elu"), (r"\tanh", "tanh"),
                          (r"\sigma", "sigmoid"), (r"\log", "log"), (r"\left", ""), (r"\right", ""),
                          (r"\cdot", "*"), ("[", "("), ("]", ")")):
        tex = tex.replace(command, name)
    while r"\frac{" in tex:
        start = tex.index(r"\frac{")
        top, after = _braced(tex, start + len(r"\frac"))
        bottom, end = _braced(tex, after)
        tex = tex[:start] + "((%s)/(%s))" % (top, bottom) + tex[end:]
    while "e^{" in tex:
        start = tex.index("e^{")
        power, end = _braced(tex, start + 2)
        tex = tex[:start] + "exp(%s)" % power + tex[end:]
    while "^{" in tex:
        start = tex.index("^{")
        power, end = _braced(tex, start + 1)
        tex = tex[:start] + "**(%s)" % power + tex[end:]
    tex = tex.replace("{", "(").replace("}", ")")
    tex = re.sub(r"\)\s*(?=\(|\d|(?!(?:if|else)\b)[A-Za-z])", ")*", tex)  # juxtaposition is multiplication
    return tex


def significant(printed: str) -> int:
    digits = re.sub(r"e.*$", "", printed.lstrip("-")).replace(".", "").lstrip("0")  # 6.509e-5: 4
    return max(len(digits), 1)


def check(row: str) -> tuple[str, float, float] | None:
    """(line, value from its printed numbers, printed value), or None for a line with no arithmetic."""
    lhs, _, rest = row.partition("&=") if "&=" in row else row.partition(r"&\leftarrow")
    pieces = [piece.strip() for piece in re.split(r"(?<![<>])=(?![^()]*\))", rest)]
    if len(pieces) < 2 or re.search(r"\\(delta|partial)|[A-Z]\^", pieces[0]):
        return None  # a value alone, or an entry and its value (∂E/∂b = δ = value)
    printed = pieces[-1].replace(r"\cdot 10^{", "e").rstrip("}").replace(" ", "")  # 6.509 \cdot 10^{-5}
    value = eval(python(pieces[0]), dict(NAMESPACE))  # noqa: S307 -- the report's own numbers
    return row, float("%.*g" % (significant(printed), value)), float(printed)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_line_of_the_worked_example_adds_up_from_its_printed_numbers(name):
    rows = worked_lines(markdown(name))
    checked = [found for found in map(check, rows) if found is not None]
    assert len(checked) > 20 and len(checked) >= 0.6 * len(rows)
    wrong = [(row, got, printed) for row, got, printed in checked if got != printed]
    assert not wrong, wrong[:3]


def test_the_lecture_update_that_rounded_operands_get_wrong_is_printed_with_the_digits_it_needs():
    rows = worked_lines(markdown("lecture"))
    update = next(row for row in rows if row.startswith(r"W^{(1)}_{0,0}&\leftarrow 0.1004"))
    # 0.1004 + 0.0008383 would be 0.1012; the full numbers give 0.1013, so the line shows more digits
    assert update.endswith("= 0.1013") and "0.10043" in update
