"""Check a gradient you wrote, entry by entry, against the symbolic reference and finite differences.

The candidate is one of:

  --grad FN      your gradient function FN(params, X, T) -> {"W1": dW1, "b1": db1, ...}, named
                 MODULE:FN (importable from here) or path/to/file.py:FN; a parameter named
                 `network` receives the network; annotate `params: list` to take and return
                 the arrays in layer order [W1, b1, W2, b2] instead
  --hvp FN       your Hessian-vector product FN(params, X, T, V) -> {"W1": ..., ...}, named as
                 for --grad; with --gnvp, your generalized Gauss-Newton product instead; checked
                 against the derivation's hvp/gnvp and differences of the engine's gradients,
                 along V from --direction FILE (keys and shapes of the parameters: .npz or .json)
                 or a seeded random unit direction
  --torch OBJ    a PyTorch model, MODULE:OBJECT or path/to/file.py:FACTORY (an nn.Module, a
                 pair (forward, params) of a function forward(X, params) and raw tensors, or a
                 function returning either): the gradients of its autograd; its architecture is
                 read from what its forward computes (torch.fx), so give no SPEC; --loss takes
                 PyTorch's names (CrossEntropyLoss, NLLLoss, "MSELoss(reduction='sum')", BCELoss,
                 BCEWithLogitsLoss), --activation names activations the registry does not know;
                 with --order 2, the Hessian-vector product of its double backward

Parameters come from --params FILE (.npz, .json, or a PyTorch state_dict .pt, read with
weights_only=True; pickles are refused), else are drawn at random from --seed (uniform in
±1/sqrt(fan-in); a --torch model's own parameters are used).  Data come from --data FILE
(.npz with X and T, or .csv), else --batch random examples.

Prints the three-way comparison (candidate, symbolic reference, finite differences) and,
when the candidate is wrong, what kind of bug fits its numbers (and, when your gradients are
right for another loss convention, the options that say so); --json prints it all as JSON
(non-finite numbers as null).  Exit status: 0 when every entry agrees, 1 when one does not,
2 for bad input (or code that ends the process, or output that cannot be written).

Code written in other layouts is read as it is (one line says what was read):

  --weights in-out     W_l stored (n_{l-1}, n_l), for X @ W code (cs231n, the PyTorch tutorials)
  --examples columns   X is (n_0, N), T (n_L, N), biases (n_l, 1) (Ng's course, Nielsen's book)
  --names 'w{l},b{l}'  the parameters' own names ({l} is the layer 1..L, {l-1} counts from 0);
                       gradient keys dW1, grad_W1, W1_grad are read without it
  --per-example        FN is called once per example (x, t as columns with --examples columns)
  --update LR          FN returns the parameters after one gradient-descent step of rate LR
                       (or the step, or updates them in place); the gradient is recovered

Targets may be integer class labels (N,).  What FN prints is shown apart from the report
(a field of --json).  FN runs in a child process: if it exits, crashes or runs longer than
--timeout SECONDS (default 600), that is said in one line, exit status 2.

Examples::

    backprop check 3-4-2 --activation tanh,sigmoid --grad mlp.py:gradients
    backprop check 784-100-10 --activation relu,softmax --loss cross_entropy --grad mlp:gradients \\
        --params weights.npz --data batch.npz
    backprop check --torch model.py:make_model --loss CrossEntropyLoss --json
    backprop check --torch net.py:two_layer_net --loss "MSELoss(reduction='sum')" --activation "relu,linear"
    backprop check 3-4-2 --activation tanh,sigmoid --hvp mlp.py:hvp --direction v.npz
"""

from __future__ import annotations

import argparse
import json
import shlex

import numpy as np

from derive import InputError
from verify.check.gradient_check import check_gradients
from verify.check.hvp_check import check_hvp
from verify.check.inputs import (arrays_from_user, load_parameters, params_from_arrays, random_data, random_params,
                                 read_data, read_param_file)
from verify.check.pytorch.loss_names import parse_loss
from verify.check.sources import load_function

from .isolation import DEFAULT_TIMEOUT, run_isolated
from .options import (add_batch_option, add_data_option, add_function_options, add_json_option, add_labels_option,
                      add_layout_options, add_network_arguments, add_order_option, add_params_option, add_seed_option,
                      given_network_options, layout_from_args, network_from_args, refuse_layout_without_function)
from .output import write_stdout

DEFAULT_BATCH = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, spec_help="layer sizes such as 3-4-2, or a .yaml/.json spec file "
                          "(not with --torch, which reads the model's)")
    candidate = parser.add_mutually_exclusive_group()
    add_function_options(candidate)
    candidate.add_argument("--torch", metavar="OBJ", help="a PyTorch model: MODULE:OBJECT or path/to/file.py:FACTORY "
                           "(an nn.Module, or (forward, params) for raw tensors)")
    parser.add_argument("--gnvp", action="store_true", help="--hvp FN computes the generalized Gauss-Newton "
                        "product G V, not H V")
    parser.add_argument("--direction", metavar="FILE", help="the direction V for --hvp or --order 2: .npz or .json "
                        "keyed like the parameters (default: a random unit direction from --seed)")
    add_order_option(parser, "with --torch, check the Hessian-vector product of the model's double backward")
    add_params_option(parser, "the parameters (default: random from --seed, or the --torch model's own)")
    add_data_option(parser, "the examples (default: --batch random examples)")
    add_batch_option(parser, "random examples without --data; default %d" % DEFAULT_BATCH)
    add_labels_option(parser, "random targets")
    parser.add_argument("--soft-targets", action="store_true",
                        help="random targets of a softmax output as probability rows (soft labels, label smoothing) "
                             "instead of one-hot rows: for code that takes any target distribution")
    add_seed_option(parser, "the random parameters, data and finite-difference samples")
    parser.add_argument("--dtype", choices=("float64", "float32"),
                        help="dtype of the parameters and data given to --grad (default: the --params file's, "
                             "else float64)")
    parser.add_argument("--rtol", type=float, metavar="R", help="per-entry relative tolerance (default by dtype)")
    parser.add_argument("--floor", type=float, metavar="F",
                        help="absolute floor, as a fraction of each parameter's largest entry (default by dtype)")
    add_json_option(parser, "the report")
    add_layout_options(parser, examples_flags=("--examples", "--examples-as"))
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="give up on your code after SECONDS (default %g; 0 for no limit)" % DEFAULT_TIMEOUT)


def run(args: argparse.Namespace) -> int:
    _check_options(args)
    code = args.grad or args.hvp or args.torch
    what = "%s %s" % ("--torch" if args.torch else "--hvp" if args.hvp else "--grad", code)
    outcome = run_isolated(lambda printed: _verdict(args, printed), args.timeout or None, what)
    if outcome.error:
        raise InputError(outcome.error + (_printed_hint(outcome.printed, code) if outcome.ended else ""))
    write_stdout(outcome.text)
    return outcome.status


def _verdict(args, printed) -> tuple[int, str]:
    """In the child: (exit status, the text to print): the report, its sources, what the user's code printed."""
    report, sources = _check_torch(args) if args.torch else _check_function(args)
    report.output = printed() + report.output
    if report.convention is not None and report.convention.options and not args.torch:
        report.rerun = rerun_command(getattr(args, "argv", None), report.convention.options)
    if args.soft_targets and not report.ok:
        report.notes.append("the targets were soft probability rows (--soft-targets): if your code takes each "
                            "example's class as T.argmax(1), it is right only for one-hot rows, the default")
    if args.json:
        return (0 if report.ok else 1), json.dumps(dict(report.to_dict(), **sources), indent=2, allow_nan=False)
    lines = ["%s: %s" % (key, sources[key]) for key in ("parameters", "data", "direction") if key in sources]
    return (0 if report.ok else 1), "%s\n\n%s" % ("\n".join(lines), report)


def _printed_hint(printed: str, code: str) -> str:
    lines = [line for line in printed.splitlines() if line.strip()]
    if not lines:
        return ""
    return " (it printed %d line%s, the last: %s)" % (len(lines), "" if len(lines) == 1 else "s",
                                                      " ".join(lines[-1].split())[:160])


def rerun_command(argv: list[str] | None, options: list[str]) -> str:
    """``backprop check ...`` as given, with ``options`` (``--loss squared_error``) set: the run that passes."""
    if argv is None:
        return ""
    words, flags = list(argv), {options[i]: options[i + 1] for i in range(0, len(options), 2)}
    for flag, value in flags.items():
        if flag in words:
            words[words.index(flag) + 1] = value
        else:
            words += [flag, value]
    return " ".join(["backprop"] + [shlex.quote(word) for word in words])


def _check_options(args) -> None:
    if not args.grad and not args.torch and not args.hvp:
        raise InputError("give the gradient to check: --grad MODULE:FN (with SPEC) or --torch MODULE:OBJECT, "
                         "or a Hessian-vector product: --hvp MODULE:FN (with SPEC)")
    if args.gnvp and not args.hvp:
        raise InputError("--gnvp is for --hvp FN, a Gauss-Newton product you wrote")
    if args.order == 2 and not args.torch:
        raise InputError("--order 2 is for --torch models; check your own second-order code with --hvp FN")
    if args.direction and not (args.hvp or args.order == 2):
        raise InputError("--direction is for a second-order product: --hvp FN, or --torch OBJ --order 2")
    if args.hvp and args.spec is None:
        raise InputError("--hvp needs SPEC, the architecture your function computes (e.g. backprop check 3-4-2 "
                         "--hvp %s)" % args.hvp)
    if args.data and args.labels:
        raise InputError("--labels draws random integer class labels; with --data the file's targets (T) or labels "
                         "(y) are used")
    if args.soft_targets and (args.data or args.labels or args.torch):
        raise InputError("--soft-targets draws random probability rows as a softmax output's targets; not with %s"
                         % ("--data (the file's targets are used)" if args.data else "--labels" if args.labels else
                            "--torch (its random targets are as its loss is trained on)"))
    if args.data and args.batch:
        raise InputError("--batch sets the number of random examples; with --data the file's examples are used")
    refuse_layout_without_function(args)
    if args.timeout is not None and (args.timeout < 0 or args.timeout != args.timeout):
        raise InputError("--timeout must be a number of seconds >= 0 (0: no limit), got %g" % args.timeout)
    if args.grad and args.spec is None:
        raise InputError("--grad needs SPEC, the architecture your function computes (e.g. backprop check 3-4-2 "
                         "--grad %s)" % args.grad)
    if args.torch:
        given = given_network_options(args, ("--no-bias", "--weight-decay", "--l1"))
        if args.spec is not None or given or args.dtype:
            what = "SPEC" if args.spec is not None else (given or ["--dtype"])[0]
            raise InputError("--torch reads the architecture and dtype from the model: drop %s (give --loss, and "
                             "--activation for activations the registry does not know)" % what)
        if args.loss is not None:
            parse_loss(args.loss, args.reduction)  # PyTorch's loss names are checked before torch is imported


def _check_function(args) -> tuple:
    network = network_from_args(args)
    function = load_function(args.hvp or args.grad, "--hvp" if args.hvp else "--grad")
    names = {}
    if args.params:
        where = "parameter file %s" % args.params
        params, names = params_from_arrays(network, arrays_from_user(network, layout_from_args(args), read_param_file(
            args.params), where), where)
        if args.dtype:
            params = {k: v.astype(args.dtype) for k, v in params.items()}
        source = "from %s" % args.params
    else:
        params = random_params(network, args.seed, args.dtype or np.float64)
        source = "random, uniform in [-1/sqrt(n_in), 1/sqrt(n_in)] (seed %d)" % args.seed
    dtype = next(iter(params.values())).dtype
    X, T, data = _data(args, network, dtype)
    options = dict(rtol=args.rtol, floor=args.floor, seed=args.seed, parameter_names=names,
                   layout=layout_from_args(args))
    if not args.hvp:
        return check_gradients(network, params, X, T, function, **options), {
            "parameters": "%s, %s" % (source, dtype), "data": data}
    V, direction = _direction(args, network)
    report = check_hvp(network, params, X, T, function, V, "gauss_newton" if args.gnvp else "hessian", **options)
    return report, {"parameters": "%s, %s" % (source, dtype), "data": data, "direction": direction}


def _check_torch(args) -> tuple:
    try:
        from verify.check import torch_models  # optional: only --torch needs PyTorch
    except ImportError:
        raise InputError("--torch needs PyTorch: pip install 'backprop[torch]'") from None
    model = torch_models.load_model(args.torch)
    read = torch_models.read_module(model, args.loss, args.reduction, activation=args.activation)
    params, source = None, "the model's own"
    if args.params:
        arrays = read_param_file(args.params)
        if set(arrays) >= set(read.names.values()):  # the model's own names (a state_dict), its layout
            arrays = read.network_arrays(arrays)
        params, _ = params_from_arrays(read.network, arrays, "parameter file %s" % args.params)
        source = "from %s" % args.params
    dtype = next(iter(read.params.values())).dtype
    if args.data:
        X, T, data = _data(args, read.network, dtype)
    else:  # targets as the loss is trained on: class labels for a class loss, 0 and 1 for a binary one
        batch, classes = args.batch or DEFAULT_BATCH, args.labels or read.loss.takes_classes
        X, T = random_data(read.network, batch, args.seed, dtype, labels=classes)
        binary = None if classes else torch_models.binary_targets(read.loss, read.network, batch, args.seed, dtype)
        T = T if binary is None else binary
        data = "%d random examples%s (seed %d)" % (batch, ", integer class labels" if classes else ", 0/1 targets"
                                                   if binary is not None else "", args.seed)
    options = dict(params=params, activation=args.activation, rtol=args.rtol, floor=args.floor, seed=args.seed)
    if args.order == 1:
        report = torch_models.check_torch_module(model, X, T, args.loss, args.reduction, **options)
        return report, {"parameters": "%s, %s" % (source, dtype), "data": data}
    V, direction = _direction(args, read.network)
    report = torch_models.check_torch_hvp(model, X, T, args.loss, args.reduction, V=V, **options)
    return report, {"parameters": "%s, %s" % (source, dtype), "data": data, "direction": direction}


def _direction(args, network) -> tuple:
    """(V or None, how the report names it)."""
    if not args.direction:
        return None, "random unit direction (seed %d)" % args.seed
    V, _ = load_parameters(args.direction, network, what="direction file")
    return V, "from %s" % args.direction


def _data(args, network, dtype) -> tuple:
    if args.data:
        X, T = read_data(args.data, network)
        T = T.astype(dtype) if T.dtype.kind == "f" else T
        return X.astype(dtype), T, "from %s (%d examples)" % (args.data, len(X))
    batch = args.batch or DEFAULT_BATCH
    rows = not network.activations[-1].elementwise and not args.labels
    if args.soft_targets and not rows:
        raise InputError("--soft-targets draws probability rows for a softmax output; this network's output is %s, "
                         "whose random targets are values it can take" % network.activations[-1].name)
    X, T = random_data(network, batch, args.seed, dtype, labels=args.labels, soft=args.soft_targets)
    targets = (", integer class labels" if args.labels else ", soft targets (probability rows)" if rows and
               args.soft_targets else ", one-hot targets" if rows else "")
    return X, T, "%d random examples%s (seed %d)" % (batch, targets, args.seed)
