"""The activation-expression parser: whitelisted, never evaluates user text, fuzzed with hypothesis."""

from __future__ import annotations

import builtins
import contextlib
from unittest import mock

import numpy as np
import pytest
import sympy
import sympy.parsing.sympy_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from derive import InputError, get_activation, parse_activation
from derive.codegen.printing import activation_derivative, activation_forward
from derive.model.expression import VARIABLE as x
from derive.model.functions import sigmoid

HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "().__class__.__bases__[0]",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: 0",
    "[x for x in ()]",
    '"a"*9**9',
    "9**9**9",
    "x**9**9**9",
    "exec('import os')",
    "eval('1')",
    "open('/etc/passwd')",
    "globals()",
    "x if x else 0",
    "x; import os",
    "import os",
    "x := 1",
    "(x := 1)",
    "f'{x}'",
    "x[0]",
    "{x: 1}",
    "x.real",
    "exp(x, base=2)",
    "exp(*[x])",
    "sympify('x')",
    "Symbol('y')",
    "y",
    "1/0",
    "log(0)",
    "3",
    "x" * 1000,
    "(" * 500 + "x" + ")" * 500,
    "-" * 5000 + "x",
    "\x00",
    "x\n+ 1",
    "True",
    "None",
    "...",
    "b'x'",
    "1e999 * x",
    "nan * x",
]

#: Text that looks like formulas: names, numbers, operators, parentheses, commas.
FORMULA_LIKE = st.from_regex(r"\A[-+*/() x0-9.,a-z_]{0,40}\Z")


class Forbidden(AssertionError):
    pass


@contextlib.contextmanager
def evaluation_forbidden():
    """While active, eval/exec of text and parse_expr (sympify's route for text) raise Forbidden.

    (exec of code objects stays allowed: Python's import machinery runs modules that way.)
    """
    def refuse_text(name, original=None):
        def call(*args, **kwargs):
            if original is not None and not isinstance(args[0] if args else None, (str, bytes)):
                return original(*args, **kwargs)
            raise Forbidden("%s was called with %r" % (name, args[:1]))
        return call
    with mock.patch.object(builtins, "eval", refuse_text("eval", builtins.eval)), \
            mock.patch.object(builtins, "exec", refuse_text("exec", builtins.exec)), \
            mock.patch.object(sympy.parsing.sympy_parser, "parse_expr", refuse_text("parse_expr")):
        yield


def assert_expression_or_input_error(text: str) -> None:
    try:
        with evaluation_forbidden():
            result = parse_activation(text)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(result, sympy.Expr)
    assert result.free_symbols == {x}


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_refused_without_being_evaluated(text):
    with pytest.raises(InputError), evaluation_forbidden():
        parse_activation(text)


def test_hostile_text_leaves_no_trace():
    import os
    before = os.path.exists("/tmp/pwned")
    for text in HOSTILE:
        with pytest.raises(InputError):
            parse_activation(text)
    assert os.path.exists("/tmp/pwned") == before


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_gives_an_expression_or_input_error(text):
    assert_expression_or_input_error(text)


@settings(max_examples=400, deadline=None)
@given(FORMULA_LIKE)
def test_formula_like_text_gives_an_expression_or_input_error(text):
    assert_expression_or_input_error(text)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(HOSTILE), st.text(max_size=10), st.sampled_from(["+", "*", "(", ")", ",", ".", " "]))
def test_hostile_text_mixed_with_noise_is_still_refused(hostile, noise, glue):
    assert_expression_or_input_error(hostile + glue + noise)
    assert_expression_or_input_error(noise + glue + hostile)


@pytest.mark.parametrize("text, expected", [
    ("x/(1+abs(x))", x / (1 + sympy.Abs(x))),
    ("x*sigmoid(x)", x * sigmoid(x)),
    ("max(x, 0) + 0.5*min(x, 0)", sympy.Max(x, 0) + sympy.Float(0.5) * sympy.Min(x, 0)),
    ("tanh(x)**2 - exp(-x**2/2)", sympy.tanh(x) ** 2 - sympy.exp(-x ** 2 / 2)),
    ("  -x + pi*e ", -x + sympy.pi * sympy.E),
])
def test_formulas_parse_to_the_expected_sympy_expression(text, expected):
    assert parse_activation(text) == expected


def test_custom_activation_is_usable_numerically_and_its_derivative_comes_from_sympy():
    activation = get_activation("x/(1+abs(x))")
    z = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_allclose(activation_forward(activation)(z), z / (1 + np.abs(z)))
    np.testing.assert_allclose(activation_derivative(activation)(z), 1 / (1 + np.abs(z)) ** 2)
    assert activation.kinks == (0.0,)


@pytest.mark.parametrize("text, message", [
    ("x.__class__", "Attribute syntax is not accepted"),
    ("y + x", "the name 'y' is not accepted"),
    ("foo(x)", "a call to 'foo' is not accepted"),
    ("x ^ 2", "write powers as x**2"),
    ("exp(x, 2)", "exp() with 2 arguments (it takes 1)"),
    ("2 + 3", "does not use x"),
    ("1/(x-x)", "not finite"),
    ("x +", "is not a valid formula"),
    ("'x'", "the literal 'x' is not accepted"),
    ("x" * 300, "at most 200 are accepted"),
])
def test_refusals_name_what_was_found_and_what_is_accepted(text, message):
    with pytest.raises(InputError) as caught:
        parse_activation(text)
    assert message in str(caught.value)


def test_the_evaluation_guard_itself_catches_sympify_eval_and_exec_of_text():
    for run in (lambda: sympy.sympify("x + 1"), lambda: eval("1"), lambda: exec("y = 1")):
        with pytest.raises(Forbidden), evaluation_forbidden():
            run()
