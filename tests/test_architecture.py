"""The direction of imports in derive/ and verify/ (docs/architecture.md): the command line imports the
library and never the other way round, derive never imports verify, and no two modules import each other
through any chain -- counting imports written inside functions, which run later but tie the modules just
the same."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("derive", "verify")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules()


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name ``from <level dots><target>`` means inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports_by_name(tree: ast.AST) -> bool:
    """Whether the code calls ``importlib.import_module`` (then the module names it holds as strings count)."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "import_module" for node in ast.walk(tree))


def _imports(module: str) -> set[str]:
    """The project modules ``module`` imports, at any depth of its code.

    ``from pkg import name`` imports ``pkg.name`` when that is a module, else ``pkg`` (a re-export of
    the package's ``__init__``).  A module that imports by name (``importlib.import_module``) imports
    each project module whose full name it holds as a string."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    by_name = _imports_by_name(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if by_name and isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module)
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _is_in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_import_graph_sees_imports_inside_functions_by_name_and_relative_ones():
    # verify.cli imports each subcommand by name, only when it runs
    assert {"verify.cli.check", "verify.cli.proptest"} <= GRAPH["verify.cli"]
    # verify imports the torch reader inside a function, only when it is asked for
    assert "verify.check.torch_models" in GRAPH["verify"]
    assert _resolve("derive.codegen.module", False, 1, "nodes") == "derive.codegen.nodes"
    assert _resolve("derive.codegen", True, 2, "model") == "derive.model"
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_outside_the_command_line_imports_it():
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if not _is_in(module, "verify.cli") and module != "verify.__main__"  # ``python -m verify``
        for target in targets
        if _is_in(target, "verify.cli")
    )
    assert offenders == []


def test_derive_never_imports_verify():
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _is_in(module, "derive")
        for target in targets
        if _is_in(target, "verify")
    )
    assert offenders == []


@pytest.mark.parametrize("package", ["derive.model", "derive.symbolic"])
def test_the_lower_layers_import_nothing_above_them(package):
    above = ("derive.codegen", "derive.concrete", "derive.report", "derive.derivation", "verify")
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _is_in(module, package)
        for target in targets
        if any(_is_in(target, layer) for layer in above)
    )
    assert offenders == []


def test_no_import_cycles_between_modules():
    assert _cycles(GRAPH) == []


#: File names more than one package holds, each for the same subject seen from its layer: second derivatives
#: derived (symbolic), printed (codegen) and reported (report); training done (engine) and reported (report).
SHARED_SUBJECTS = {"__init__.py", "second_order.py", "training.py"}


def test_no_two_modules_share_a_file_name_in_different_meanings():
    by_name: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        by_name.setdefault(path.name, []).append(module)
    shared = {name: sorted(modules) for name, modules in by_name.items() if len(modules) > 1}
    assert set(shared) <= SHARED_SUBJECTS, shared


def test_the_architecture_drawing_shows_every_sub_package():
    drawing = (ROOT / "docs" / "architecture.md").read_text().split("```")[1]
    packages = sorted(module for module, path in MODULES.items() if path.name == "__init__.py" and "." in module)
    assert "derive.report" in packages and "verify.check.pytorch" in packages
    missing = [package for package in packages
               if package.replace(".", "/") not in drawing and "─ %s " % package.rpartition(".")[2] not in drawing
               and "%s/" % package.rpartition(".")[2] not in drawing]
    assert missing == []
