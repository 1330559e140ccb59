"""The layers of ARCHITECTURE.md, read from the code: imports only go down, no module is
over 500 lines, and every module has the test file that mirrors it."""

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pmfisher"
TESTS = PACKAGE.parent / "tests"

#: Layer of each folder (and of the top-level modules), lowest first.
LAYERS = {
    "errors": 0,
    "testing": 0,
    "_core": 1,
    "fitting": 2,
    "information": 3,
    "approximation": 4,
    "frequentist": 4,
    "geometry": 4,
    "inference": 5,
    "design": 5,
    "reporting": 6,
    "plots": 7,
    "__init__": 7,
}
MAX_LINES = 500


def _modules():
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def _layer(module_path: Path) -> tuple[str, int]:
    relative = module_path.relative_to(PACKAGE)
    top = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    return top, LAYERS[top]


def _imported_tops(path: Path) -> set[str]:
    """The pmfisher folders or top-level modules a module imports from."""
    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pmfisher"):
            parts = node.module.split(".")
            if len(parts) > 1:
                tops.add(parts[1])
            else:  # from pmfisher import x: x is a folder or a top-level module
                tops.update(alias.name for alias in node.names if alias.name in LAYERS)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pmfisher" and len(parts) > 1:
                    tops.add(parts[1])
    return tops


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_only_go_down(path):
    top, layer = _layer(path)
    upward = {
        imported
        for imported in _imported_tops(path)
        if imported != top and LAYERS.get(imported, -1) >= layer
    }
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {top}) imports from {upward}"


def test_every_folder_has_a_layer():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir()} - {"__pycache__"}
    assert folders <= set(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_is_over_500_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """The pmfisher modules a module imports, wherever the import stands (in a function, or
    under ``TYPE_CHECKING``): ``from a.b import c`` imports the module ``a.b.c`` if there is
    one, else the module ``a.b``."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pmfisher"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                imported.add(candidate if candidate in known else node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.startswith("pmfisher"))
    return imported & known


def test_no_import_cycle_between_modules():
    """Folders only go down (above); within a folder, modules must not import each other in
    a circle either, not even inside a function or for type checking only."""
    modules = {_module_name(path): path for path in _modules()}
    graph = {
        name: _imported_modules(path, set(modules)) - {name}
        for name, path in modules.items()
        if not name.endswith("__init__") and path.name != "__init__.py"
    }
    graph = {name: {m for m in imports if m in graph} for name, imports in graph.items()}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' → '.join(error.args[1])}")


def _mirrored_test(module_path: Path) -> Path:
    """``pmfisher/X/m.py`` ↔ ``tests/X/test_m.py``; ``pmfisher/m.py`` ↔ ``tests/test_m.py``."""
    relative = module_path.relative_to(PACKAGE)
    return TESTS / relative.parent / f"test_{relative.name}"


def test_every_module_has_its_mirrored_test_file():
    modules = [path for path in _modules() if path.name not in {"__init__.py", "__main__.py"}]
    missing = {
        str(path.relative_to(PACKAGE)): str(_mirrored_test(path).relative_to(TESTS.parent))
        for path in modules
        if not _mirrored_test(path).is_file()
    }
    assert not missing, "modules without their mirrored test file: " + ", ".join(
        f"{module} (wants {test})" for module, test in sorted(missing.items())
    )
