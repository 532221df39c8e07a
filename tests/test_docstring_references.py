"""Every cross-reference a docstring of derive/ or verify/ makes names something that exists.

A docstring that sends the reader to ``verify.tolerances`` after the module
moved to ``verify.check.tolerances`` teaches the wrong place.  This test reads
each docstring (module, class, function) with ``ast``, collects the references
it makes -- Sphinx roles (:mod:`...`, :func:`...`, :class:`...`, :meth:`...`,
:attr:`...`, :data:`...`, :exc:`...`), and dotted names of the project written
in double backquotes or plain text (``derive.report.build_report``) -- and
resolves each the way a reader would: import the longest module prefix, then
look the rest up attribute by attribute.  A role's short name (``:func:`derive``)
is looked up where the docstring is: its class, its module, its package.
"""

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("derive", "verify")

ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj):`~?([^`<>]+?)(?:\(\))?`")
#: A dotted name of the project in running text or double backquotes (not a path: no slash before it).
DOTTED = re.compile(r"(?<![\w./-])((?:derive|verify)(?:\.[A-Za-z_]\w*)+)(?![\w/(-])")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _docstrings(path: Path):
    """(docstring, enclosing class names) of the module and of every class and function in it."""
    tree = ast.parse(path.read_text(), filename=str(path))

    def walk(node, classes):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(child)
                inner = classes + [child.name] if isinstance(child, ast.ClassDef) else classes
                if docstring:
                    yield docstring, inner
                yield from walk(child, inner)

    docstring = ast.get_docstring(tree)
    if docstring:
        yield docstring, []
    yield from walk(tree, [])


def _lookup(dotted: str):
    """The object a fully dotted name names, or raise LookupError."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = _attribute(obj, name)
        return obj
    raise LookupError(dotted)


def _attribute(obj, name: str):
    """``getattr``, also for fields a class declares without a class-level value (dataclass fields, annotations,
    attributes its methods set on ``self``)."""
    if hasattr(obj, name):
        return getattr(obj, name)
    if inspect.isclass(obj):
        for klass in obj.__mro__:
            if dataclasses.is_dataclass(klass) and name in {f.name for f in dataclasses.fields(klass)}:
                return name
            if name in getattr(klass, "__annotations__", {}):
                return name
            try:
                source = inspect.getsource(klass)
            except (OSError, TypeError):
                continue
            if re.search(r"\bself\.%s\s*[,:=]" % re.escape(name), source):
                return name
    raise LookupError(name)


def _resolves(reference: str, module: str, classes: list[str]) -> bool:
    if reference.startswith("."):
        package = module if (ROOT / module.replace(".", "/") / "__init__.py").exists() else module.rpartition(".")[0]
        dots = len(reference) - len(reference.lstrip("."))
        base = package.split(".")
        base = base[: len(base) - (dots - 1)]
        candidates = [".".join(base) + "." + reference.lstrip(".")]
    else:
        scopes = [module + "." + ".".join(classes[:depth]) for depth in range(len(classes), 0, -1)]
        package = module.rpartition(".")[0]
        candidates = [scope + "." + reference for scope in scopes]
        candidates += [module + "." + reference, package + "." + reference, reference]
        candidates += ["derive." + reference, "verify." + reference]    # the public API, as README writes it
    for candidate in candidates:
        try:
            _lookup(candidate.strip("."))
            return True
        except (LookupError, AttributeError, ImportError):
            continue
    return False


def _references():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            for docstring, classes in _docstrings(path):
                found = set(ROLE.findall(docstring)) | set(DOTTED.findall(docstring))
                for reference in sorted(found):
                    yield module, classes, reference.strip()


REFERENCES = list(_references())


def test_references_are_found_in_every_form():
    forms = {reference for _, _, reference in REFERENCES}
    assert "derive.model.activations" in forms                       # :mod:`derive.model.activations`
    assert any(reference.startswith(".") for reference in forms)    # :mod:`.shapes`
    assert len(REFERENCES) > 300


def test_a_reference_to_a_moved_module_would_fail():
    assert not _resolves("verify.tolerances", "verify.check.gradient_check", [])
    assert not _resolves("derive.activations.get_activation", "derive.model.network", [])
    assert _resolves("verify.check.tolerances", "verify.check.gradient_check", [])
    assert _resolves(".shapes", "derive.codegen.nodes", [])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_docstring_reference_resolves(package):
    unresolved = sorted({"%s: %s" % (module, reference) for module, classes, reference in REFERENCES
                         if module.split(".")[0] == package and not _resolves(reference, module, classes)})
    assert unresolved == []
