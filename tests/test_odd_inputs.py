"""Odd inputs, as a sweep of a user's (and their code's) mistakes finds them: never a file destroyed that was not
asked to be replaced, never exit status 0 without a verdict, never a verdict on NaN, always one line.

One table per command: each row builds what it needs in a temporary directory, runs the real CLI entry point
and states the exit status, words of the one stderr line (or of stdout), and the state of any output path after.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import textwrap
import time

import pytest

from cli_helpers import backprop

USER_CODE = textwrap.dedent('''
    import numpy as np

    def right(params, X, T):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        H = np.tanh(X @ W1.T + b1)
        O = 1 / (1 + np.exp(-(H @ W2.T + b2)))
        delta2 = (O - T) * O * (1 - O)
        delta1 = (delta2 @ W2) * (1 - H ** 2)
        return {"W1": delta1.T @ X, "b1": delta1.sum(axis=0), "W2": delta2.T @ H, "b2": delta2.sum(axis=0)}

    def exits_quietly(params, X, T):
        import sys
        sys.exit(0)

    def ends_the_process(params, X, T):
        import os
        os._exit(0)

    def ends_with_three(params, X, T):
        import os
        os._exit(3)

    def raises_keyboard_interrupt(params, X, T):
        raise KeyboardInterrupt

    def crashes(params, X, T):
        import ctypes
        ctypes.string_at(0)

    def hangs(params, X, T):
        open("started", "w").close()
        while True:
            pass

    def closes_stdout(params, X, T):
        import os, sys
        sys.stdout.close()
        os.close(1)
        return right(params, X, T)

    def talks(params, X, T):
        print("epoch 1: loss 0.25")
        return right(params, X, T)

    def nan_for_some_data(params, X, T):
        grads = right(params, X, T)
        if X[0, 0] > 0:
            grads["W1"][0, 0] = float("nan")
        return grads

    def zeros_hvp(params, X, T, V):
        return {k: 0 * v for k, v in params.items()}
''')

NETWORK = ["3-4-2", "--activation", "tanh,sigmoid"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "user.py").write_text(USER_CODE)
    return tmp_path


# --- backprop check: the user's code ends the process, hangs, raises, or prints -------------------------------

CHECK_CASES = {
    "sys-exit-0": (NETWORK + ["--grad", "user.py:exits_quietly"], "raised SystemExit: 0"),
    "os-exit-0": (NETWORK + ["--grad", "user.py:ends_the_process"],
                  "--grad user.py:ends_the_process ended the process with exit code 0 (os._exit?) before the check "
                  "finished: no verdict"),
    "os-exit-3": (NETWORK + ["--grad", "user.py:ends_with_three"], "ended the process with exit code 3"),
    "keyboard-interrupt-raised": (NETWORK + ["--grad", "user.py:raises_keyboard_interrupt"],
                                  "raised KeyboardInterrupt (raised by the code, not a Ctrl-C)"),
    "segfault": (NETWORK + ["--grad", "user.py:crashes"], "ended the process with SIGSEGV, a segmentation fault"),
    "hang": (NETWORK + ["--grad", "user.py:hangs", "--timeout", "1"],
             "--grad user.py:hangs did not finish within 1 s (--timeout 1): no verdict"),
    "negative-timeout": (NETWORK + ["--grad", "user.py:right", "--timeout", "-1"], "--timeout must be a number of "
                                                                                   "seconds >= 0"),
    "nan-gradient": (NETWORK + ["--grad", "user.py:nan_for_some_data", "--seed", "0"],
                     "W1[0, 0] is nan; every gradient entry must be finite"),
    "sqrt-undefined": (["3-4-2", "--activation", "sqrt(x),sigmoid", "--grad", "user.py:right"],
                       "no verdict: the loss is not finite, because sqrt(x) in layer 1 is not real at net input"),
    "log-undefined": (["3-4-2", "--activation", "log(x),sigmoid", "--grad", "user.py:right"],
                      "no verdict: the loss is not finite, because log(x) in layer 1 is not real at net input"),
    "zero-direction": (NETWORK + ["--hvp", "user.py:zeros_hvp", "--direction", "zero.json"],
                       "the direction V is zero everywhere"),
    "layout-without-grad": (["--torch", "model.py:m", "--weights", "in-out"],
                            "--weights describes your numpy code's layout: it goes with --grad or --hvp"),
}


@pytest.mark.parametrize("name", CHECK_CASES)
def test_check_ends_with_one_line_and_exit_2_never_a_silent_pass(name, folder, capsys):
    argv, words = CHECK_CASES[name]
    zeros = {"W1": [[0] * 3] * 4, "b1": [0] * 4, "W2": [[0] * 4] * 2, "b2": [0] * 2}
    (folder / "zero.json").write_text(json.dumps(zeros))
    code, out, err = backprop(capsys, "check", *argv)
    lines = err.strip().splitlines()
    assert code == 2, out + err
    assert len(lines) == 1 and lines[0].startswith("backprop check: error: ") and words in lines[0], err
    assert "Traceback" not in out + err


def test_what_the_code_prints_stays_out_of_the_json(folder, capsys):
    code, out, err = backprop(capsys, "check", *NETWORK, "--grad", "user.py:talks", "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] and document["output"] == "epoch 1: loss 0.25\n"


def test_code_that_closes_stdout_does_not_close_the_report(folder, capsys):
    code, out, err = backprop(capsys, "check", *NETWORK, "--grad", "user.py:closes_stdout")
    assert code == 0 and "entries: OK" in out, err


def test_json_is_strict_json_even_when_numbers_are_not_finite(folder, capsys):
    code, out, _ = backprop(capsys, "check", *NETWORK, "--grad", "user.py:right", "--json")
    assert code == 0
    json.loads(out, parse_constant=lambda name: pytest.fail("bare %s in the JSON" % name))


def test_a_report_to_a_full_stdout_is_one_line_exit_2(folder):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "verify", "check", *NETWORK, "--grad", "user.py:right"],
                                stdout=full, stderr=subprocess.PIPE, text=True, cwd=folder)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["backprop check: error: cannot write the output to standard output: No "
                                          "space left on device"]


def test_a_real_ctrl_c_still_exits_130(folder):
    process = subprocess.Popen([sys.executable, "-m", "verify", "check", *NETWORK, "--grad", "user.py:hangs"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder)
    deadline = time.monotonic() + 120
    while not (folder / "started").exists() and time.monotonic() < deadline:  # the user's code is running
        time.sleep(0.05)
    process.send_signal(2)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.strip() == "backprop check: interrupted"


# --- output paths: regular files replaced atomically, links written through, devices and pipes written to -------


def make_output(kind: str, folder):
    path = folder / "out.py"
    if kind == "symlink":
        (folder / "real.py").write_text("old\n")
        path.symlink_to("real.py")
    elif kind == "dangling-symlink":
        path.symlink_to("made.py")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
        except PermissionError:
            pytest.skip("making a device node needs root")
    return path


@pytest.mark.parametrize("kind", ["symlink", "dangling-symlink", "fifo", "device"])
def test_derive_output_to_a_link_a_pipe_or_a_device_keeps_what_is_there(kind, folder, capsys):
    path = make_output(kind, folder)
    read = []
    reader = threading.Thread(target=lambda: read.append(open(path).read())) if kind == "fifo" else None
    if reader:
        reader.start()
    code, out, err = backprop(capsys, "derive", "2-2-1", "-o", str(path))
    if reader:
        reader.join(timeout=60)
    assert code == 0, err
    mode = os.lstat(path).st_mode
    if kind == "symlink":
        assert stat.S_ISLNK(mode) and "def gradients" in (folder / "real.py").read_text()
    elif kind == "dangling-symlink":
        assert stat.S_ISLNK(mode) and "def gradients" in (folder / "made.py").read_text()
    elif kind == "fifo":
        assert stat.S_ISFIFO(mode) and "def gradients" in read[0]
    else:
        assert stat.S_ISCHR(mode)


def test_derive_output_to_a_full_device_is_one_line(folder, capsys):
    code, out, err = backprop(capsys, "derive", "2-2-1", "-o", "/dev/full")
    assert code == 2 and err.strip() == "backprop derive: error: cannot write /dev/full: No space left on device"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize("kind", ["symlink", "device"])
def test_report_output_to_a_link_or_a_device_keeps_what_is_there(kind, folder, capsys):
    path = make_output(kind, folder).rename(folder / "out.html")
    code, out, err = backprop(capsys, "report", "2-2-1", "--example", "none", "-o", str(path))
    assert code == 0, err
    mode = os.lstat(path).st_mode
    if kind == "symlink":
        assert stat.S_ISLNK(mode) and (folder / "real.py").read_text().startswith("<!DOCTYPE html>")
    else:
        assert stat.S_ISCHR(mode)


def test_a_report_with_figure_files_to_a_device_is_refused_and_nothing_is_written(folder, capsys):
    path = make_output("device", folder)
    code, out, err = backprop(capsys, "report", "2-2-1", "-o", str(path), "--format", "md")
    assert code == 2 and "it is not a file, and a markdown report writes its 2 figure files beside it" in err
    assert {p.name for p in folder.iterdir()} == {"out.py", "user.py"}


def test_report_of_an_activation_undefined_on_its_example_is_one_line(folder, capsys):
    code, out, err = backprop(capsys, "report", "3-4-2", "--activation", "log(x),sigmoid", "-o", "r.html")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "log(x) in layer 1 is not real at net input" in err and not (folder / "r.html").exists()


def test_report_reads_a_state_dict_as_check_does(folder, capsys):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1)).double()
               .state_dict(), folder / "model.pt")
    code, out, err = backprop(capsys, "report", "2-2-1", "--params", "model.pt", "-o", "r.md")
    assert code == 0, err
    assert "parameters from model.pt" in (folder / "r.md").read_text()
