"""PyTorch's loss names as ``--loss`` reads them: a strict whitelist, no torch needed, no text ever evaluated.

The table is what a user types (``CrossEntropyLoss``, ``nn.MSELoss(reduction='sum')``)
and what it means (the record, the reduction, what the loss takes of the model);
anything else is one line naming what was wrong.  Hostile text is never passed
to ``eval`` (a fuzz test runs with ``eval``, ``exec`` and ``ast.literal_eval`` made to fail).
"""

import ast
import builtins
from unittest import mock

import pytest
from hypothesis import given, settings, strategies as st

from derive import InputError
from verify.check.pytorch.loss_names import TorchLoss, parse_loss

ACCEPTED = [
    ("MSELoss", "MSELoss", "mean", "mse", "outputs"),
    ("MSELoss()", "MSELoss", "mean", "mse", "outputs"),
    ("nn.MSELoss(reduction='sum')", "MSELoss", "sum", "squared_error", "outputs"),
    ('torch.nn.MSELoss(reduction="mean")', "MSELoss", "mean", "mse", "outputs"),
    (" CrossEntropyLoss ( reduction = 'sum' ) ", "CrossEntropyLoss", "sum", "cross_entropy", "logits"),
    ("CrossEntropyLoss", "CrossEntropyLoss", "mean", "cross_entropy", "logits"),
    ("NLLLoss()", "NLLLoss", "mean", "cross_entropy", "log_probabilities"),
    ("BCELoss", "BCELoss", "mean", "mean_binary_cross_entropy", "outputs"),
    ("BCELoss(reduction='sum')", "BCELoss", "sum", "binary_cross_entropy", "outputs"),
    ("BCEWithLogitsLoss", "BCEWithLogitsLoss", "mean", "mean_binary_cross_entropy", "logits"),
]


@pytest.mark.parametrize("text, name, reduction, record, takes", ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_each_pytorch_loss_name_reads_as_its_record_and_reduction(text, name, reduction, record, takes):
    loss = parse_loss(text)
    assert loss == TorchLoss(name, reduction)
    assert (loss.record, loss.takes) == (record, takes)


@pytest.mark.parametrize("text", ["sse", "cross_entropy", "mse", "squared_error", "binary_cross_entropy"])
def test_the_records_own_names_are_left_to_the_registry(text):
    assert parse_loss(text) is None


REFUSED = [
    ("HuberLoss", r"unknown PyTorch loss 'HuberLoss'; backprop reads MSELoss, CrossEntropyLoss, NLLLoss, BCELoss, "
                  r"BCEWithLogitsLoss"),
    ("nn.mseloss()", r"unknown PyTorch loss 'mseloss'; did you mean MSELoss\?"),
    ("MSELoss(reduction='none')", r"reduction='none' gives one loss per example"),
    ("MSELoss(reduction='avg')", r"unknown reduction 'avg'; use 'sum' or 'mean'"),
    ("MSELoss('sum')", r"only reduction='sum' or reduction='mean' here, not the argument \"'sum'\""),
    ("CrossEntropyLoss(weight=w)", r"not the argument weight"),
    ("CrossEntropyLoss(reduction='sum', label_smoothing=0.1)", r"not the argument"),
    ("MSELoss(reduction=sum)", r"not the argument"),
    ("MSELoss(reduction='sum'", r"is not a PyTorch loss as code writes it: NAME or NAME\(reduction='sum'\|'mean'\)"),
]


@pytest.mark.parametrize("text, message", REFUSED, ids=[row[0] for row in REFUSED])
def test_anything_else_is_one_line_naming_what_was_wrong(text, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_loss(text)
    assert "\n" not in str(caught.value)


def test_a_reduction_given_beside_a_pytorch_name_is_refused_with_the_way_to_write_it():
    with pytest.raises(InputError, match=r"--loss BCELoss carries its reduction: write --loss "
                                         r"\"BCELoss\(reduction='sum'\)\" instead of --reduction"):
        parse_loss("BCELoss", reduction="sum")


def _never(*args, **kwargs):
    raise AssertionError("user text reached an evaluator")


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.one_of(st.text(max_size=60), st.sampled_from([
    "__import__('os').system('echo hacked')", "MSELoss(reduction=__import__('os').getcwd())",
    "nn.MSELoss(reduction='sum'); import os", "(lambda: 0)()", "MSELoss(**{'reduction': 'sum'})",
    "nn.__class__", "torch.nn.functional.mse_loss"])))
def test_no_text_reaches_an_evaluator(text):
    with mock.patch.object(builtins, "eval", _never), mock.patch.object(builtins, "exec", _never), \
            mock.patch.object(ast, "literal_eval", _never):
        try:
            result = parse_loss(text)
        except InputError as exc:
            result = exc
    assert isinstance(result, (type(None), TorchLoss, InputError))
    assert "\n" not in str(result)
