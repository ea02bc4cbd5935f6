"""The house: saved model folders of the previous release still load, the package has no import circle, its
modules and functions stay small, and the README's "Layout" section names every folder."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from tests.conftest import REPO

PACKAGE = REPO / "rwkv_mteb"
FIXTURES = Path(__file__).parent / "fixtures" / "saved_models"


@pytest.mark.parametrize("folder", ["glove", "layerwise_rwkv6"])
def test_a_folder_saved_by_the_previous_release_loads_and_encodes_identically(folder):
    """Written by commit d28cb9a (before the subpackage layout): modules.json names rwkv_mteb.glove.GloveEmbedding
    and rwkv_mteb.rwkv.layerwise.LayerwiseEncoder, which now live in models/ and layerwise/."""
    modules = json.loads((FIXTURES / folder / "modules.json").read_text())
    assert modules[0]["type"] in {"rwkv_mteb.glove.GloveEmbedding", "rwkv_mteb.rwkv.layerwise.LayerwiseEncoder"}
    expected = json.loads((FIXTURES / "expected.json").read_text())
    model = SentenceTransformer(str(FIXTURES / folder), device="cpu", trust_remote_code=True)
    np.testing.assert_allclose(model.encode(expected["texts"]), np.array(expected[folder]), atol=1e-6)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The package's own modules a file imports, anywhere in it (a function-local import is still an edge)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rwkv_mteb"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                out.add(target if target in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("rwkv_mteb"))
    return out & known


def test_the_package_has_no_import_circle():
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(files)) - {name} for name, path in files.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_modules_and_functions_stay_small():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        assert source.count("\n") <= 400, f"{path} has {source.count(chr(10))} lines; split it"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno - node.lineno < 60 + 1, f"{path}:{node.lineno} {node.name} is over 60 lines"


def test_the_readme_layout_names_every_folder():
    readme = (REPO / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    folders = {p.parent.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py")}
    folders |= {"tasks", "tests", "benchmarks", "scripts", "leaderboard"}
    missing = sorted(f for f in folders if f"{f}/" not in layout)
    assert not missing, f"the README's Layout section does not name {missing}"
