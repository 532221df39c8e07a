"""Property runs at scale: shards that together are the whole run, merged into one verdict, and run on Dask.

A run is split into parts (each one seeded Hypothesis test over a group of
structures); ``--shard K/N`` runs every N-th part, ``--json`` prints what a
shard checked (with a digest of its examples, in order), ``--merge`` checks
that the results are the shards of one run and gives the verdict over all of
them, ``--dask`` runs the parts on a Dask cluster, ``--database`` keeps the
failing examples for the next run.
"""

import json
import sys
import textwrap

import pytest

from verify.cli import main
from verify.testing.runs import PropertyRun

#: Random tanh/linear networks of depth 1 or 2 with sse: six structures, so the shards split them.
POOL = ["--activations", "tanh,linear", "--losses", "sse", "--max-depth", "2", "--decay", "no", "--bias", "yes",
        "--reduction", "sum"]
EXAMPLES = 80

#: A hand-written backprop for those networks, wrong only for the structure linear -> tanh (tanh' = 1 - a).
PLANTED = textwrap.dedent('''
    import numpy as np

    def gradients(params, X, T, network):
        names = network.activation_names
        wrong = names == ("linear", "tanh")
        A = [X]
        for layer, name in enumerate(names, start=1):
            Z = A[-1] @ params["W%d" % layer].T + params["b%d" % layer]
            A.append(np.tanh(Z) if name == "tanh" else Z)
        slope = lambda name, a: (1 - a if wrong else 1 - a ** 2) if name == "tanh" else np.ones_like(a)
        delta = (A[-1] - T) * slope(names[-1], A[-1])
        grads = {}
        for layer in range(network.depth, 0, -1):
            grads["W%d" % layer] = delta.T @ A[layer - 1]
            grads["b%d" % layer] = delta.sum(axis=0)
            if layer > 1:
                delta = (delta @ params["W%d" % layer]) * slope(names[layer - 2], A[layer - 1])
        return grads
''')


def proptest_json(capsys, *argv) -> tuple[int, dict]:
    code = main(["proptest", *argv, "--json", "-n", "0"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The whole run and its three shards, as --json results written to files."""
    folder = tmp_path_factory.mktemp("shards")
    capture = pytest.MonkeyPatch()
    documents = {}
    for name, extra in (("whole", []), ("1", ["--shard", "1/3"]), ("2", ["--shard", "2/3"]), ("3", ["--shard", "3/3"])):
        out = folder / ("%s.json" % name)
        with open(out, "w") as stream:
            capture.setattr(sys, "stdout", stream)
            code = main(["proptest", *POOL, "--examples", str(EXAMPLES), "--json", "-n", "0", *extra])
            capture.undo()
        assert code == 0
        documents[name] = (out, json.loads(out.read_text()))
    return documents


def test_the_shards_together_check_exactly_the_examples_of_the_whole_run(results):
    whole = results["whole"][1]
    shards = [results[k][1] for k in "123"]
    assert whole["examples"] == EXAMPLES == sum(shard["examples"] for shard in shards)
    by_part = [{part["part"]: part for part in shard["parts"]} for shard in shards]
    assert sum(len(parts) for parts in by_part) == len(whole["parts"]) == PropertyRun(EXAMPLES).parts
    for part in whole["parts"]:
        owners = [parts for parts in by_part if part["part"] in parts]
        assert len(owners) == 1  # every part in exactly one shard
        mine = owners[0][part["part"]]
        assert (mine["digest"], mine["examples"]) == (part["digest"], part["examples"])  # the same examples, in order
    structures = [set().union(*(p["structures"] for p in shard["parts"])) for shard in shards]
    assert not (structures[0] & structures[1] or structures[0] & structures[2] or structures[1] & structures[2])


def test_a_shards_result_says_what_it_checked_and_how_to_run_it_again(results):
    shard = results["2"][1]
    assert shard["format"] == "backprop-proptest-result/1" and shard["verdict"] == "ok"
    assert shard["shard"] == {"index": 2, "count": 3}
    assert shard["toolkit"]["version"] and shard["toolkit"]["source"]
    assert shard["command"].startswith("backprop proptest --examples 80") and shard["command"].endswith("--shard 2/3")
    assert shard["seconds"] > 0 and all(part["seconds"] > 0 for part in shard["parts"])
    assert shard["counterexamples"] == [] and shard["disagreements"] == 0 and shard["structures"] >= 1


def test_merged_shards_give_the_verdict_of_the_whole_run(results, capsys):
    paths = [str(results[k][0]) for k in "312"]
    assert main(["proptest", "--merge", *paths]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proptest: %d examples on " % EXAMPLES) and "3 shards merged" in out
    assert out.rstrip().endswith("OK: the engine, the generated code and finite differences agree on every example.")
    assert main(["proptest", "--merge", *paths, "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    whole = results["whole"][1]
    assert [(p["part"], p["digest"]) for p in merged["parts"]] == [(p["part"], p["digest"]) for p in whole["parts"]]


def _edited(results, tmp_path, name, change):
    document = json.loads(json.dumps(results[name][1]))
    change(document)
    path = tmp_path / ("edited-%s.json" % name)
    path.write_text(json.dumps(document))
    return str(path)


def _other_version(document):
    document["toolkit"]["version"] = "0.0.1"
    document["fingerprint"] = "f" * 64  # what another toolkit computes for the same options


def _other_seed(document):
    document["run"]["seed"] = 7
    document["fingerprint"] = PropertyRun.from_dict(document["run"]).fingerprint


@pytest.mark.parametrize("pick, message", [
    (lambda r, t: [r["1"][0], r["2"][0]], "shard 3 of 3 is missing (given: 1, 2); run it with --shard 3/3 --json"),
    (lambda r, t: [r["1"][0], r["2"][0], r["2"][0], r["3"][0]], "shard 2/3 is given twice"),
    (lambda r, t: [r["1"][0], r["whole"][0]], "shards of one run share N"),
    (lambda r, t: [r["1"][0], _edited(r, t, "2", _other_seed), r["3"][0]], "are not shards of one run: --seed 0 vs 7"),
    (lambda r, t: [r["1"][0], _edited(r, t, "2", _other_version), r["3"][0]],
     "are not shards of one run: toolkit 0.1.0"),
    (lambda r, t: [r["1"][0], t / "missing.json"], "cannot read"),
    (lambda r, t: [r["1"][0], __file__], "is not JSON"),
], ids=["missing", "repeated", "other-count", "other-seed", "other-toolkit", "no-file", "not-json"])
def test_merge_refuses_results_that_are_not_the_shards_of_one_run_in_one_line(results, tmp_path, capsys, pick,
                                                                              message):
    assert main(["proptest", "--merge", *map(str, pick(results, tmp_path))]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and message in err, err


def test_merge_takes_only_result_files(results, capsys):
    assert main(["proptest", "3-4-2", "--merge", str(results["1"][0])]) == 2
    assert "--merge takes only result files (and --json), not SPEC" in capsys.readouterr().err


def test_a_planted_bug_found_in_one_shard_fails_the_merged_verdict(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "planted.py").write_text(PLANTED)
    argv = [*POOL, "--grad", "planted.py:gradients", "--examples", str(EXAMPLES)]
    run = PropertyRun(EXAMPLES, seed=0, networks={"activations": ["tanh", "linear"], "losses": ["sse"],
                                                  "max_depth": 2, "decay": False, "bias": True, "reduction": "sum"})
    buggy = [p for p in range(run.parts) if any(n.activation_names == ("linear", "tanh") for n in run.part_networks(p))]
    assert len({index for index in (1, 2) if set(buggy) & set(run.shard(index, 2))}) == 1  # one shard has the bug
    paths = []
    for index in (1, 2):
        code, document = proptest_json(capsys, *argv, "--shard", "%d/2" % index)
        has_bug = buggy[0] in run.shard(index, 2)
        assert (code, document["verdict"]) == ((1, "disagree") if has_bug else (0, "ok"))
        paths.append(tmp_path / ("%d.json" % index))
        paths[-1].write_text(json.dumps(document))
    assert main(["proptest", "--merge", *map(str, paths)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: minimal counterexample\ngradients disagree on " in out and "linear/tanh" in out
    assert "the CANDIDATE is wrong" in out and "Reproduce the search:  backprop proptest --examples 80" in out


def test_a_counterexample_is_kept_in_the_database_and_replayed_first_next_time(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "planted.py").write_text(PLANTED)
    argv = ["2-3-2", "--activation", "linear,tanh", "--grad", "planted.py:gradients", "--examples", "40",
            "--database", "examples-db"]
    code, first = proptest_json(capsys, *argv)
    assert code == 1 and any((tmp_path / "examples-db").rglob("*"))
    code, again = proptest_json(capsys, *argv)
    assert code == 1
    failed = [part for part in again["parts"] if part["counterexample"]]
    assert failed[0]["examples"] == 1  # the saved example, replayed first, fails at once
    case = failed[0]["counterexample"].split("\n\n")[0]  # the network, parameters and data
    assert case == [p for p in first["parts"] if p["counterexample"]][0]["counterexample"].split("\n\n")[0]
    assert not (tmp_path / ".hypothesis").exists()


def test_a_local_dask_cluster_of_two_workers_runs_the_same_parts(results, capsys):
    pytest.importorskip("dask.distributed")
    assert main(["proptest", *POOL, "--examples", str(EXAMPLES), "--shard", "2/3", "--dask", "local:2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["workers"] == "dask local:2"
    expected = results["2"][1]
    assert sorted((p["part"], p["digest"]) for p in document["parts"]) == [(p["part"], p["digest"])
                                                                           for p in expected["parts"]]


def test_dask_options_are_checked_in_one_line(capsys, monkeypatch):
    for argv, message in ((["--dask", "local:0"], "--dask local:W needs a number of workers W >= 1"),
                          (["--dask", "local:2", "-n", "2"], "-n sets the workers on this machine")):
        assert main(["proptest", "--examples", "8", *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if Dask were not installed
    assert main(["proptest", "--examples", "8", "--dask", "local:2"]) == 2
    assert "pip install 'backprop[dask]'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--shard", "4/3"], "--shard takes K/N with 1 <= K <= N"),
    (["--shard", "one"], "--shard takes K/N"),
    (["--shard", "1/99"], "this run of 80 examples has 24 parts, so it splits into at most 24 shards"),
    (["--shard", "1/2", "--profile", "dev"], "--shard needs the same examples in every shard: give --seed S"),
], ids=["k-over-n", "not-k-n", "more-shards-than-parts", "random-profile"])
def test_bad_shards_are_refused_in_one_line(capsys, argv, message):
    assert main(["proptest", "--examples", "80", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


#: A gradient function that ends its worker process the first time it runs (a crash, an OOM kill), then works.
DIES_ONCE = textwrap.dedent('''
    import os
    from pathlib import Path

    from verify.engine import Engine

    def gradients(params, X, T, network):
        marker = Path(__file__).with_name("died")
        if not marker.exists():
            marker.write_text("once")
            os._exit(1)
        return Engine(network).gradients(params, X, T)
''')


@pytest.mark.slow
def test_a_dask_worker_that_dies_has_its_part_run_again_elsewhere(tmp_path):
    pytest.importorskip("dask.distributed")
    from verify.testing.distributed import run_on_dask
    from verify.testing.runs import Execution

    (tmp_path / "dies.py").write_text(DIES_ONCE)
    run = PropertyRun(40, seed=0, networks={"activations": ["tanh"], "losses": ["sse"], "max_depth": 1},
                      candidate="dies.py:gradients")
    parts = run_on_dask(run, Execution(directory=str(tmp_path)), "local:2", progress=False)
    assert (tmp_path / "died").exists()  # a worker did die
    assert sorted(part["part"] for part in parts) == list(range(run.parts))
    assert sum(part["examples"] for part in parts) == 40 and not any(part["counterexample"] for part in parts)


@pytest.mark.slow
def test_ctrl_c_cancels_a_dask_run(tmp_path):
    pytest.importorskip("dask.distributed")
    import os
    import signal
    import subprocess
    import time

    (tmp_path / "slow.py").write_text(textwrap.dedent('''
        import time
        from pathlib import Path

        from derive import Network
        from verify.engine import Engine

        def gradients(params, X, T):
            tried = Path(__file__).with_name("tried")
            if tried.exists():  # the workers' calls; the first call is backprop proptest trying the function
                time.sleep(30)
            tried.write_text("yes")
            return Engine(Network((2, 2, 1))).gradients(params, X, T)
    '''))
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "verify", "proptest", "2-2-1", "--grad", "slow.py:gradients",
                              "--examples", "200", "--dask", "local:2"], cwd=tmp_path, stderr=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                 sys.path)})
    time.sleep(15)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130 and "backprop proptest: interrupted" in err
    assert time.monotonic() - started < 75  # 10 parts of 20 examples at 30 s each would take minutes


CONSTANTS = "WEIGHTS = (0.4242, -0.8125, 0.333, 0.0625, 17, 3)\n"
DIGESTS = textwrap.dedent('''
    import json, sys
    if sys.argv[1] == "with":
        import lots_of_constants  # a local module: Hypothesis would mine its constants into its draws
    from verify.testing.part import run_part
    from verify.testing.runs import PropertyRun
    run = PropertyRun(60, seed=3)
    print(json.dumps([run_part(run, part)["digest"] for part in (0, 5)]))
''')


def test_a_part_draws_the_same_examples_whatever_modules_its_process_has_loaded(tmp_path):
    import os
    import subprocess

    (tmp_path / "lots_of_constants.py").write_text(CONSTANTS)
    (tmp_path / "digests.py").write_text(DIGESTS)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path)] + sys.path)}
    digests = [subprocess.run([sys.executable, "digests.py", which], cwd=tmp_path, capture_output=True, text=True,
                              env=environment, check=True).stdout for which in ("with", "without")]
    assert json.loads(digests[0]) == json.loads(digests[1])
