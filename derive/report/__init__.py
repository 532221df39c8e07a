"""Derivation reports: the lecture's derivation, written out for any network.

A report is built once as content (:func:`build_report`: a
:class:`~derive.report.document.Document` of sections whose mathematics are
the derivation's own SymPy objects, in the order of
:mod:`derive.report.build`) and written by one writer per format
(:func:`render`): standalone HTML with MathML, Markdown that GitHub renders,
a LaTeX document, a PDF through pdflatex, or a Jupyter notebook.  Each
writer is a :class:`~derive.report.renderer.Renderer` with one
``_render_<Block>`` method per kind of block, found by name, as SymPy's
printers find ``_print_<Node>``.  The exercises a report ends with come from
:mod:`derive.report.exercises`, one source of questions for reports and
exercise sheets.

>>> from derive import derive
>>> from derive.report import build_report, lecture_example, render, worked_example
>>> network, start = lecture_example()
>>> derivation = derive(network)
>>> document = build_report(derivation, worked_example(derivation, start))
>>> files = render(document, "html", "report.html")     # {"report.html": b"<!DOCTYPE html>..."}

Verification results and training histories come from :mod:`verify` as
plain data (``derive`` never imports ``verify``); :func:`verify.write_report`
does everything at once, and ``backprop report`` is its command.
"""

from .build import build_report
from .document import Document, Section
from .example import ExampleInput, WorkedExample, lecture_example, random_example, worked_example
from .writers import FORMATS, format_for, render

__all__ = ["Document", "ExampleInput", "FORMATS", "Section", "WorkedExample", "build_report", "format_for",
           "lecture_example", "random_example", "render", "worked_example"]
