"""Marking names each mistake, planted afresh, and follows the student's own numbers: one slip costs one blank.

The answers come from a student who works the sheet by hand with the
lecture's textbook formulas (tests/exercise_students.py), writing four
significant digits and carrying on with them, and who makes one mistake on
purpose: the blanks that mistake touches must be marked wrong *with that
mistake named*, every other blank right or carried forward.
"""

from __future__ import annotations

import pytest

from derive import Network
from exercise_students import answers, written
from verify.exercises import lecture_sheet, make_sheet, mark

#: mistake -> (network, the blanks it makes wrong, the kind marking must name).
PLANTED = {
    "bias_forgotten": ("2-2-1", ["Z1[0]", "Z1[1]"], "bias_forgotten"),
    "transposed_weights": ("2-2-1", ["Z1[0]", "Z1[1]"], "transposed_weights"),
    "activation_missing": ("2-2-1", ["A1[0]", "A1[1]"], "activation_missing"),
    "missing_derivative": ("2-2-1", ["delta2[0]"], "missing_derivative"),
    "derivative_at_preactivation": ("2-2-1", ["delta2[0]"], "derivative_at_preactivation"),
    "sign": ("2-2-1", ["delta2[0]"], "sign"),
    "untransposed_weights": ("2-2-2", ["delta1[0]", "delta1[1]"], "untransposed_weights"),
    "wrong_layer_weights": ("2-2-2", ["delta1[0]", "delta1[1]"], "wrong_layer_weights"),
    "updated_weights": ("2-2-1", ["delta1[0]", "delta1[1]"], "updated_weights"),
    "rounding": ("2-2-1", ["delta1[0]", "delta1[1]"], "rounding"),
    "net_input_for_output": ("2-2-1", ["dE/dW2[0,0]", "dE/dW2[0,1]"], "net_input_for_output"),
    "uphill": ("2-2-1", ["W2[0,0]'", "W2[0,1]'", "b2[0]'", "W1[0,0]'", "W1[0,1]'", "W1[1,0]'", "W1[1,1]'", "b1[0]'",
                         "b1[1]'"], "sign"),
}


@pytest.mark.parametrize("seed", [3, 8])
@pytest.mark.parametrize("mistake", sorted(PLANTED))
def test_each_mistake_planted_afresh_is_named_and_the_rest_is_carried_forward(mistake, seed):
    spec, wrong, kind = PLANTED[mistake]
    sheet = make_sheet(spec, seed=seed)
    marking = mark(sheet, answers(sheet, mistake))
    found = {blank.label: blank for blank in marking.blanks}
    assert sorted(label for label, blank in found.items() if blank.status == "wrong") == sorted(wrong)
    assert {found[label].kind for label in wrong} == {kind}
    assert all(found[label].mistake and "\n" not in found[label].mistake for label in wrong)  # one line each
    assert all(blank.status in ("correct", "carried forward") for label, blank in found.items() if label not in wrong)
    assert marking.score == marking.out_of - len(wrong)


def test_a_mistake_followed_by_correct_work_costs_exactly_one_blank():
    sheet = make_sheet("2-2-1", seed=7)
    marking = mark(sheet, answers(sheet, "missing_derivative"))
    statuses = [blank.status for blank in marking.blanks]
    assert statuses.count("wrong") == 1 and marking.score == marking.out_of - 1 == 27
    assert statuses.count("carried forward") == 20  # δ1, every gradient and every parameter after the step
    wrong = next(blank for blank in marking.blanks if blank.status == "wrong")
    assert wrong.label == "delta2[0]"
    assert "sigmoid derivative A2*(1 - A2) is missing" in wrong.mistake
    assert wrong.follows == pytest.approx(wrong.expected, rel=1e-3)  # the student's numbers up to here were right


def test_the_momentum_term_forgotten_in_step_two_is_named_in_both_conventions():
    for sign in ("ours", "lecture"):
        sheet = make_sheet("2-2-1", seed=3, sign=sign, steps=2, momentum=0.9)
        marking = mark(sheet, answers(sheet, "momentum_forgotten"))
        wrong = [blank for blank in marking.blanks if blank.status == "wrong"]
        assert {blank.label.split(":")[0] for blank in wrong} == {"2"}  # step 1 has no momentum term
        assert {blank.kind for blank in wrong} == {"momentum_forgotten"} and len(wrong) == 9
        assert all(blank.status != "wrong" for blank in marking.blanks if blank.label.startswith("1:"))


def test_answers_in_the_lecture_convention_are_all_correct_on_a_lecture_sheet():
    sheet = make_sheet("2-2-1", seed=12, sign="lecture", steps=2, momentum=0.9)
    marking = mark(sheet, answers(sheet))
    assert marking.all_correct and marking.score == marking.out_of == 56
    ours = make_sheet("2-2-1", seed=12, steps=2, momentum=0.9)
    on_our_sheet = mark(ours, {label.replace("DeltaW", "dE/dW").replace("Deltab", "dE/db"): value
                               for label, value in answers(sheet).items() if "Delta" not in label})
    signs = [blank for blank in on_our_sheet.blanks if blank.kind == "sign"]
    assert [blank.label for blank in signs] == ["1:delta2[0]", "2:delta2[0]"]


def test_the_lecture_slides_marked_as_a_students_answers():
    sheet = lecture_sheet(sign="lecture")
    slides = {"Z1[0]": .2, "Z1[1]": .2, "A1[0]": .55, "A1[1]": .55, "A2[0]": .552, "delta2[0]": .086,
              "delta1[0]": .002, "delta1[1]": .002, "DeltaW2[0,0]": .0095, "DeltaW2[0,1]": .0095, "Deltab2[0]": .0172,
              "DeltaW1[0,0]": .0004, "DeltaW1[0,1]": 0, "DeltaW1[1,0]": .0004, "DeltaW1[1,1]": 0,
              "Deltab1[0]": .0004, "Deltab1[1]": .0004, "W2[0,0]'": .1095, "W2[0,1]'": .1095, "b2[0]'": .1172,
              "W1[0,0]'": .1004, "W1[0,1]'": .1, "W1[1,0]'": .1004, "W1[1,1]'": .1004, "b1[0]'": .1004,
              "b1[1]'": .1004}
    marks = {blank.label: blank for blank in mark(sheet, slides).blanks}
    assert marks["Z2[0]"].status == marks["E"].status == "unanswered"
    assert marks["A1[0]"].status == "correct"  # .55 is within 2 units of the 4th digit of 0.5498
    for label in ("A2[0]", "delta2[0]", "delta1[0]"):  # .552, .086, .002: the slides round early
        assert marks[label].status == "wrong" and marks[label].kind == "rounding", label
    assert marks["DeltaW1[0,0]"].status == "carried forward"  # (.2)(.002)(1) = .0004 follows from δ_j = .002
    assert marks["W1[1,1]'"].status == "wrong"  # the slide's .1 + .0004 where Δw = 0: nothing common fits
    assert marks["W1[1,1]'"].mistake == "no common mistake fits this number"
    assert marks["W1[0,1]'"].status == marks["b2[0]'"].status == "correct"


def test_unanswered_blanks_score_nothing_and_later_ones_follow_the_students_own_numbers():
    sheet = make_sheet("2-2-1", seed=7)
    given = answers(sheet, "bias_forgotten")
    for label in ("A1[0]", "A1[1]", "E"):
        given[label] = None
    marking = mark(sheet, given)
    found = {blank.label: blank for blank in marking.blanks}
    assert [found[label].status for label in ("Z1[0]", "A1[0]", "E", "Z2[0]")] == [
        "wrong", "unanswered", "unanswered", "carried forward"]
    assert marking.score == marking.out_of - 5


def test_rounding_every_answer_to_fewer_digits_is_rounding_too_early():
    sheet = make_sheet("2-2-1", seed=4)
    marking = mark(sheet, {label: float(written(value, 2)) for label, value in sheet.answers.items()})
    wrong = [blank for blank in marking.blanks if blank.status == "wrong"]
    assert wrong and {blank.kind for blank in wrong} == {"rounding"}
    assert all(blank.mistake.startswith("rounded too early: ") and "where the sheet asks for 4" in blank.mistake
               for blank in wrong)


GENERIC = {
    "3-3-2 tanh/sigmoid": Network((3, 3, 2), activation=["tanh", "sigmoid"]),
    "2-3-2 relu/softmax ce": Network((2, 3, 2), activation=["relu", "softmax"], loss="cross_entropy"),
    "2-2-2 sigmoid bce decay": Network((2, 2, 2), loss="binary_cross_entropy", weight_decay=0.1),
    "3-2 linear mse no bias": Network((3, 2), activation="linear", loss="mse", bias=False),
    "2-2-2-1 elu": Network((2, 2, 2, 1), activation=["elu", "elu", "sigmoid"]),
}


@pytest.mark.parametrize("sign", ["ours", "lecture"])
@pytest.mark.parametrize("name", sorted(GENERIC))
def test_on_any_network_the_key_written_to_four_digits_scores_full_and_one_slip_is_the_only_blank_lost(name, sign):
    sheet = make_sheet(GENERIC[name], seed=2, sign=sign, steps=2, momentum=0.5, examples=2)
    written_key = {label: float(written(value, 4)) for label, value in sheet.answers.items()}
    assert mark(sheet, written_key).all_correct
    label = "2:delta%d[1,0]" % sheet.network.depth
    slipped = dict(written_key, **{label: -3 * written_key[label]})
    marks = {blank.label: blank for blank in mark(sheet, slipped).blanks}
    assert marks[label].status == "wrong" and marks[label].mistake
    assert [blank.label for blank in marks.values() if blank.status != "correct"] == [label]


def test_a_sheet_and_a_marking_show_themselves_in_jupyter():
    sheet = make_sheet("2-2-1", seed=7)
    assert sheet._repr_html_().count('class="answer-box"') == 28
    shown = mark(sheet, answers(sheet, "sign"))._repr_html_()
    assert shown.count('class="mark"') == 28 and "the sign is flipped" in shown
