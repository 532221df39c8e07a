"""The proof that it is right: verification results, received as plain data, written as a report section.

``derive`` never imports ``verify``: the numbers come from
:mod:`verify.check.evidence` as dicts, lists and floats:

* ``check``: :meth:`verify.CheckReport.display_data` of the three-way gradient
  check (the engine against the symbolic reference, finite differences as
  referee), with the display names of its sources and method;
* ``engine``: rows ``{"quantity", "difference", "largest", "agree"}``, the
  worked example's numbers against the hand-written engine's;
* ``step_study``: finite-difference error against step size for one entry
  (see :func:`derive.report.plots.step_size_plot`).

:func:`check_blocks` alone is what a :class:`~verify.CheckReport` shows in Jupyter.
"""

from __future__ import annotations

from .document import Section, Table, paragraph
from .plots import step_size_plot

def verification_sections(data: dict, code: str | None = None) -> list[Section]:
    """The verification section of a report.

    Args:
        data: Plain data with the keys ``check``, ``engine`` and ``step_study`` (each optional).
        code: Python that reruns the check in a notebook.
    """
    blocks = [paragraph("Three independent sources compute the same gradients: the code generated from this "
                        "derivation (the symbolic reference), the hand-written numpy engine, which uses no SymPy, "
                        "and finite differences of the loss. They must agree entry by entry.")]
    if data.get("check"):
        blocks += check_blocks(data["check"])
    if data.get("engine"):
        blocks += [paragraph("The worked example's numbers against the engine's (same parameters, data, η and α; "
                             "its forward pass, gradients and two momentum steps):"),
                   Table(("quantity", "largest |difference|", "largest |value|", "agree"),
                         tuple((row["quantity"], float(row["difference"]), float(row["largest"]),
                                "yes" if row["agree"] else "NO") for row in data["engine"]))]
    study = data.get("step_study")
    if study:
        blocks += [paragraph("Why finite differences need a well-chosen step: the error of the central difference "
                             "of ∂E/∂%s against the symbolic value, for steps from %.0e to %.0e. The chosen step "
                             "%.2g gives a relative error of %.1e." % (study["entry"], max(study["steps"]),
                                                                        min(study["steps"]), study["chosen_step"],
                                                                        study["chosen_error"])),
                   step_size_plot(study)]
    return [Section("verification", "Verification", blocks, code=code)]


def check_blocks(check: dict) -> list:
    """The three-way agreement table, the per-parameter table and the worst entries of one check."""
    method, names = check["method_name"], check["source_names"]
    verdict = "OK" if check["ok"] else "FAILED"
    blocks = [paragraph("%s of %s (%s) on %s: %s. %s." % (
        check.get("title", "Gradient check"), check["candidate_name"], check["dtype"], check["network"], verdict, _sentence(check["summary"]))),
              Table(("sources", "entries", "directions", "disagree", "flagged", "largest relative error"),
                    tuple(("%s vs %s" % (names[a["first"]], names[a["second"]]), a["entries"], a["directions"],
                           a["disagreements"], a["flagged"], float(a["max_rel_error"])) for a in check["agreements"]),
                    "Agreement of each pair of sources over every entry compared and along seeded random "
                    "directions (%s, %d %s)." % (method, check["evaluations"], check.get("evaluated", "loss evaluations"))),
              Table(("parameter", "shape", "largest |gradient|", "largest abs error", "largest rel error",
                     "over tolerance"),
                    tuple((row["name"], "×".join(map(str, row["shape"])), float(row["largest"]),
                           float(row["max_abs_error"]), float(row["max_rel_error"]), row["over"])
                          for row in check["rows"]),
                    "The candidate (%s) against the symbolic reference, every entry." % check["candidate_name"])]
    if check["worst"]:
        blocks.append(Table(("entry", "where", "candidate", "symbolic", "finite differences", "rel error", "verdict"),
                            tuple((w["label"], w["meaning"], float(w["candidate"]), float(w["reference"]),
                                   "-" if w["fd"] is None else float(w["fd"]), float(w["rel_error"]), w["verdict"])
                                  for w in check["worst"]),
                            "The entries with the largest errors, each with all three values."))
    notes = list(check.get("kinks", [])) + list(check.get("warnings", []))
    blocks += [paragraph(note, note=True) for note in notes]
    return blocks


def _sentence(text: str) -> str:
    text = text.rstrip(".")
    return text[:1].upper() + text[1:]
