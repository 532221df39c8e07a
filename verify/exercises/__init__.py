"""Exercise sheets and their marking: the lecture's worked example as exercises a teacher hands out and marks.

A sheet is a small network with given numbers and blanks to fill in, in the
order a student computes them: the forward pass, the loss, every error term,
every gradient (or, with the lecture's sign, every change Δw) and every
parameter after the step.  Its key is the worked example of the report for
those numbers (:func:`derive.report.exercises.step_blanks`).  Marking follows
the student's own numbers: an answer that correctly uses an earlier wrong one
is *carried forward*, not wrong, and each wrong one is named by the mistake
that fits it (a missing σ′, the derivative at Z instead of A, a sign, a
transposed weight, the updated weights used to send δ back, the bias
forgotten, rounding too early, ...), found as the gradient check finds a bug:
from the derivation's own variants.

>>> from verify.exercises import make_sheet, mark
>>> sheet = make_sheet("2-2-1", seed=7)                 # numbers with one decimal, drawn from seed 7
>>> files = sheet.write("sheet-7.html")                 # also .md, .tex, .pdf, .ipynb; answers=True: the key
>>> key = sheet.key()                                   # {"given": ..., "answers": {"Z1[0]": ..., ...}}
>>> marking = mark(sheet, {"Z1[0]": 0.2, "A1[0]": 0.55})  # the rest unanswered
>>> marking.to_dict()["score"]

* :func:`make_sheet`, :func:`make_sheets` (one per student), :func:`lecture_sheet`; :class:`Sheet`
  (``key()``, ``blanks``, ``answers``, ``document()``, ``write(path, answers=False)``; shows itself in Jupyter);
* :func:`mark` -> :class:`Marking` (``score``, ``out_of``, ``blanks``, ``to_dict()``, ``text()``,
  ``write(path)`` for the marked sheet; shows itself in Jupyter);
* :func:`read_key`, :func:`read_keys`, :func:`write_key`, :func:`write_keys_csv`; :func:`read_answers`,
  :func:`write_answers`.

``backprop exercise`` and ``backprop mark`` are the commands (docs/exercises.md).
"""

from .answers import Answers, read_answers, write_answers
from .keys import read_key, read_keys, write_key, write_keys_csv
from .marking import MarkedBlank, Marking, mark
from .sheets import Sheet, lecture_sheet, make_sheet, make_sheets

__all__ = ["Answers", "MarkedBlank", "Marking", "Sheet", "lecture_sheet", "make_sheet", "make_sheets", "mark",
           "read_answers", "read_key", "read_keys", "write_answers", "write_key", "write_keys_csv"]
