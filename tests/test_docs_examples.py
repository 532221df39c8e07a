"""Every page of docs/ keeps its Python examples runnable.

For each page, the ```python blocks are run in order, as one script, in a
fresh interpreter inside an empty directory; a ```yaml or ```json block whose
first line names a file (``# net.yaml``) is written there first, so examples
that read it find it.  The generated module shown in docs/codegen.md is
checked separately (tests/test_codegen_module.py), and so are the
property-testing page (tests/test_docs_property_testing.py) and the checking
pages (tests/test_docs_checking.py, tests/test_docs_checking_pytorch.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from doc_helpers import DOCS, blocks

SEPARATELY_TESTED = {"property-testing.md", "checking.md", "checking-pytorch.md"}
PAGES = sorted(p.name for p in DOCS.glob("*.md")
               if p.name not in SEPARATELY_TESTED and "```python" in p.read_text(encoding="utf-8"))
GENERATED_MODULE = '"""Loss and gradients of the network'


@pytest.mark.parametrize("page", PAGES)
def test_python_examples_in_the_docs_run(page, tmp_path):
    text = (DOCS / page).read_text(encoding="utf-8")
    for language in ("yaml", "json"):
        for block in blocks(text, language):
            first = block.splitlines()[0]
            if first.startswith("# ") and first[2:].strip().endswith((".yaml", ".yml", ".json")):
                body = block if language == "yaml" else "\n".join(block.splitlines()[1:])
                (tmp_path / first[2:].strip()).write_text(body.rstrip("\n") + "\n")
    script = "\n\n".join(b for b in blocks(text, "python") if not b.lstrip().startswith(GENERATED_MODULE))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, "%s: %s" % (page, result.stderr[-2000:])
