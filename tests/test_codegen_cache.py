"""The disk cache of printed modules (derive.codegen.cache): a hit is the source printing would give, and
nothing that could make it wrong is ever read from it."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from derive import Network, derive
from derive.codegen import cache, numpy_source

ROOT = Path(__file__).resolve().parent.parent

# In a fresh process: the structure's module, how many structures it had to derive, and whether the source is
# what printing the derivation gives (printed here directly, around the cache).
SCRIPT = textwrap.dedent('''
    import json, sys
    from derive import Network, derive, structure_module
    from derive.codegen import numpy_source
    from derive.derivation import _derived
    network = Network([3, 4, 2], activation=["x/(1+abs(x))", "softmax"], loss="cross_entropy", weight_decay=0.1)
    module = structure_module(network, 2)
    misses = _derived.cache_info().misses
    printed = numpy_source(derive(network), 2, any_width=True)
    print(json.dumps({"misses": misses, "same": module.__doc__ is not None and
                      open(sys.argv[1]).read().endswith(printed) if sys.argv[1] != "-" else None}))
''')


def run(directory, cached_file="-"):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{cache.CACHE_VARIABLE: str(directory)})
    result = subprocess.run([sys.executable, "-c", SCRIPT, cached_file], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_second_process_reads_the_module_instead_of_deriving_it_and_gets_the_printed_source(tmp_path):
    assert run(tmp_path)["misses"] >= 1  # cold: derived and printed
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".py"
    warm = run(tmp_path, str(files[0]))
    assert warm == {"misses": 0, "same": True}  # nothing derived, and the stored text is what printing gives


def test_a_file_that_does_not_carry_its_key_is_ignored_and_rewritten(tmp_path):
    run(tmp_path)
    (stored,) = tmp_path.iterdir()
    stored.write_text("def gradients(params, X, T):\n    return {}\n")
    assert run(tmp_path, str(stored)) == {"misses": 1, "same": True}
    assert stored.read_text().startswith("# backprop module cache ")


def test_the_cache_is_off_when_the_variable_is_empty_and_silent_when_it_cannot_be_written(tmp_path, monkeypatch):
    network = Network([2, 3, 1], activation="softplus")
    key = cache.structure_key(network, 1)
    monkeypatch.setenv(cache.CACHE_VARIABLE, "")
    assert cache.cached_source(key, lambda: "printed") == "printed" and cache.cache_directory() is None
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.CACHE_VARIABLE, str(blocker / "below-a-file"))
    assert cache.cached_source(key, lambda: "printed") == "printed"  # no error: the cache is an optimisation
    monkeypatch.delenv(cache.CACHE_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/folder")  # as ~ is when there is no home: no cache in the cwd
    assert cache.cache_directory() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_directory() == tmp_path / "backprop" / "modules"


def test_the_key_tells_structures_orders_and_custom_definitions_apart_but_not_widths():
    base = Network([3, 4, 2], activation="tanh")
    assert cache.structure_key(base, 1) == cache.structure_key(Network([784, 100, 10], activation="tanh"), 1)
    others = [cache.structure_key(base, 2), cache.structure_key(Network([3, 4, 2], activation="sigmoid"), 1),
              cache.structure_key(Network([3, 4, 2], activation="tanh", bias=False), 1),
              cache.structure_key(Network([3, 4, 2], activation="tanh", reduction="mean"), 1),
              cache.structure_key(Network([3, 4, 2], activation="x/(1+abs(x))"), 1),
              cache.structure_key(Network([3, 4, 2], activation="x/(2+abs(x))"), 1)]
    assert len(set(others + [cache.structure_key(base, 1)])) == len(others) + 1


def test_a_record_carrying_a_users_own_function_is_never_cached():
    network = Network([2, 2, 1], activation="sigmoid")
    mine = dataclasses.replace(network.activations[0], numpy=lambda z: 1 / (1 + np.exp(-z)))
    assert cache.structure_key(network, 1) is not None
    assert cache._describe(mine) is None


def test_after_clear_caches_the_process_no_longer_reads_the_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_VARIABLE, str(tmp_path))
    # Trusted for this test, whatever an earlier test in this worker did (distrust() is process-wide), and
    # restored after it: clear_caches() below distrusts the disk for the rest of the process.
    monkeypatch.setattr(cache, "_trusted", True)
    key = cache.structure_key(Network([2, 2, 1], activation="elu"), 1)
    assert cache.cached_source(key, lambda: "first") == "first"
    assert cache.cached_source(key, lambda: "second") == "first"  # read back
    from derive import clear_caches
    clear_caches()
    assert cache.cached_source(key, lambda: "third") == "third"
    assert numpy_source(derive(Network([2, 2, 1], activation="elu")), 1, any_width=True).startswith('"""')


def test_a_record_is_described_the_same_in_every_process_and_each_setting_counts():
    record = Network([2, 2, 1], activation="tanh").activations[0]
    text = cache._describe(record)
    assert "0x" not in text and "backward=derive.model.activations." in text  # no memory addresses
    assert cache._describe(dataclasses.replace(record, output_range=(0.0, 1.0))) != text
    assert cache._describe(dataclasses.replace(record, kinks=(0.0,))) != text
