"""Each command-line option means one thing: a flag that several subcommands take has the same type, metavar
and choices in each (verify/cli/options.py defines it once), and an activation's example parameter in the help
comes from its record."""

import argparse

from derive import ACTIVATIONS
from verify.cli import COMMANDS, build_parser

#: Flags that name different things in different subcommands, kept for users' command lines: ``--steps`` (derive:
#: show the chain-rule steps; exercise: steps of gradient descent), ``--examples`` (check: the example layout's
#: ``--examples columns``; proptest and exercise: a count), ``--example`` (report's worked example may be none),
#: ``-o/--output`` (what is written differs, and so does its metavar), ``--key`` (mark's positional KEY is not it).
DIFFERENT_MEANINGS = {"--steps", "--examples", "--example", "--output", "-o", "-h", "--help"}


def _options(command: str) -> dict[str, argparse.Action]:
    parser = build_parser(command)
    sub = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return {flag: action for action in sub.choices[command]._actions for flag in action.option_strings}


def _kind(action: argparse.Action):
    return (type(action).__name__, getattr(action.type, "__name__", action.type), action.metavar,
            tuple(action.choices) if action.choices else None, action.dest)


def test_a_flag_several_subcommands_take_is_the_same_option_in_each():
    seen: dict[str, dict[tuple, list[str]]] = {}
    for command in COMMANDS:
        for flag, action in _options(command).items():
            if flag not in DIFFERENT_MEANINGS:
                seen.setdefault(flag, {}).setdefault(_kind(action), []).append(command)
    drifted = {flag: kinds for flag, kinds in seen.items() if len(kinds) > 1}
    assert drifted == {}
    assert len(seen["--seed"]) == 1 and len(next(iter(seen["--seed"].values()))) >= 5


def test_seed_and_batch_refuse_what_no_subcommand_takes(capsys):
    from cli_helpers import run
    for command, argv in (("report", ["2-2-1", "-o", "r.html"]), ("exercise", ["2-2-1", "-o", "s.html"]),
                          ("proptest", [])):
        code, out, err = run(capsys, *argv, "--seed", "-1", command=command)
        assert code == 2 and "--seed: expected an integer >= 0, got '-1'" in err and err.count("\n") == 1
    code, out, err = run(capsys, "2-2-1", "--partial", "W1", "0", "0", "--batch", "x", command="derive")
    assert code == 2 and "--batch: expected a positive integer, got 'x'" in err


def test_a_negative_number_with_an_exponent_is_a_value_refused_for_its_sign_not_a_missing_argument(capsys):
    from cli_helpers import run
    code, _, err = run(capsys, "2-2-1", "--data", "xor", "--lr", "-1e-3", "--epochs", "1", command="train")
    assert code == 2 and "learning rate lr must be a finite number > 0, got -0.001" in err and err.count("\n") == 1
    code, _, err = run(capsys, "2-2-1", "--seed", "-1E2", "-o", "r.html", command="report")
    assert code == 2 and "--seed: expected an integer >= 0, got '-1E2'" in err
    code, _, err = run(capsys, "2-2-1", "--lr", "-e3", command="train")
    assert code == 2 and "expected one argument" in err


def test_the_help_shows_each_parameterized_activation_with_its_records_example(capsys):
    from cli_helpers import run
    code, out, err = run(capsys, "--help", command="derive")
    assert code == 0
    text = " ".join(out.split())
    parameterized = [activation for activation in ACTIVATIONS.values() if activation.factory is not None]
    assert {activation.name for activation in parameterized} >= {"leaky_relu", "elu"}
    for activation in parameterized:
        assert "%s(%g)" % (activation.name, activation.example_parameter) in text
    assert "leaky_relu(0.2)" in text and "elu(0.5)" in text
