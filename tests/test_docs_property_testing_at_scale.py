"""The examples in docs/property-testing-at-scale.md run as written.

The page's ``backprop proptest`` commands run here (in this process, with one
worker for the shards): the three shards write their JSON results, the merge
gives the verdict the page shows (figures aside: timings, and errors that
depend on the machine), a merge without a shard is refused with the page's
line, the JSON result has the keys of the page's table, the GitHub Actions
workflow shards the run as the commands do, and the Dask command runs on a
local cluster.
"""

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from doc_helpers import blocks
from verify.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "property-testing-at-scale.md"

def commands():
    return [line for body in blocks(PAGE, "bash") for line in body.splitlines() if line.startswith("backprop proptest")]


def outputs():
    return blocks(PAGE, "text")


def run_command(line, capsys, folder, extra=()):
    """A ``backprop proptest ...`` line of the page, ``> FILE`` redirection included: (exit status, stdout, stderr)."""
    words = shlex.split(line)
    target = None
    if ">" in words:
        target = folder / words[words.index(">") + 1]
        words = words[:words.index(">")]
    code = main(words[1:] + list(extra))
    out, err = capsys.readouterr()
    if target is not None:
        target.write_text(out)
    return code, out, err


def masked(text):
    """The text with its figures (timings, errors, counts that depend on the machine) as #."""
    return re.sub(r" +", " ", re.sub(r"\d+(\.\d+)?(e[-+]\d+)?", "#", text))


def json_keys_of_the_table():
    table = [row for row in PAGE.read_text().split("## The JSON result")[1].split("##")[0].splitlines()
             if row.startswith("| `")]
    return {key for row in table for key in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_the_shards_merge_into_the_verdict_the_page_shows_and_a_missing_one_is_refused(tmp_path, capsys,
                                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = commands()
    assert [line.split("--shard ")[1].split()[0] for line in lines[:3]] == ["1/3", "2/3", "3/3"]
    for line in lines[:3]:
        code, _, _ = run_command(line, capsys, tmp_path, extra=["-n", "0"])
        assert code == 0
    code, out, _ = run_command(lines[3], capsys, tmp_path)
    assert code == 0
    page = outputs()[0]
    assert masked(out.splitlines()[0]) == masked(page.splitlines()[0])
    assert out.splitlines()[1:4] == page.splitlines()[1:4]  # seed, activations and losses covered
    assert [masked(line) for line in out.splitlines()[4:]] == [masked(line) for line in page.splitlines()[4:]]

    assert main(["proptest", "--merge", "shard-1.json", "shard-3.json"]) == 2
    assert capsys.readouterr().err.strip() == outputs()[1].strip()

    document = json.loads((tmp_path / "shard-2.json").read_text())
    assert json_keys_of_the_table() == set(document)
    assert {"examples", "shrinks", "networks", "structures", "max_errors", "digest", "seconds"} <= set(
        document["parts"][0])


def test_the_ci_workflow_shards_and_merges_the_run_as_the_commands_do():
    workflow = yaml.safe_load(blocks(PAGE, "yaml")[0].split("\n", 1)[1])
    shard_job, merge_job = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    count = len(shard_job["strategy"]["matrix"]["shard"])
    run = [step["run"] for step in shard_job["steps"] if "backprop proptest" in step.get("run", "")][0]
    assert "--shard ${{ matrix.shard }}/%d --json" % count in run
    merge = [step["run"] for step in merge_job["steps"] if "--merge" in step.get("run", "")][0]
    assert merge.split("--merge ")[1].split() == ["shard-%d.json" % k for k in range(1, count + 1)]
    assert merge_job["needs"] == "shard" and merge_job["if"] == "always()"


def test_the_dask_command_runs_on_a_local_cluster(capsys, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.chdir(tmp_path)
    line = [line for line in commands() if "--dask local:" in line][0]
    code, out, _ = run_command(line, capsys, tmp_path)
    assert code == 0
    page = [text for text in outputs() if "dask local" in text][0]
    assert masked(out.splitlines()[0]) == masked(page.splitlines()[0])
    assert out.rstrip().endswith("OK: the engine, the generated code and finite differences agree on every example.")
