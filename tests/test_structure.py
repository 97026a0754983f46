"""The package's import graph (read from the source, nothing imported): no module imports more
than 8 of its siblings, there is no import cycle, and the layers do not borrow sideways
(the pictures of a run from training, the study's plots from the prose)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "vaestudy"
MAX_SIBLINGS = 8


def sibling_imports(source: str, modules: set[str]) -> set[str]:
    """The modules of the package that ``source`` imports (at any depth of the code)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "vaestudy":
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vaestudy."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("vaestudy.")}
    return found & modules


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = {p.stem for p in package.glob("*.py")} - {"__init__"}
    return {m: sibling_imports((package / f"{m}.py").read_text(), modules) - {m}
            for m in modules}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path of modules, or None."""
    state: dict[str, str] = {}

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return path + [m, n]
            if n not in state and (found := visit(n, path + [m])):
                return found
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [])):
            return found
    return None


GRAPH = import_graph()


def test_no_module_imports_more_than_eight_siblings():
    crowded = {m: sorted(d) for m, d in GRAPH.items() if len(d) > MAX_SIBLINGS}
    assert not crowded


def test_the_package_has_no_import_cycle():
    assert cycle(GRAPH) is None


@pytest.mark.parametrize("module, forbidden", [
    ("evaluate", "train"), ("run_pictures", "train"), ("images", "train"),
    ("latent_pictures", "train"), ("study_plots", "findings"), ("theory_data", "theory")])
def test_no_sideways_borrowing(module, forbidden):
    assert forbidden not in GRAPH[module]


def test_the_checks_see_a_cycle_and_a_crowded_module(tmp_path):
    (tmp_path / "a.py").write_text("from vaestudy import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from vaestudy.c import x\n")
    (tmp_path / "c.py").write_text("import vaestudy.a\n")
    assert cycle(import_graph(tmp_path)) == ["a", "b", "c", "a"]
    many = "".join(f"from vaestudy import m{i}\n" for i in range(9))
    assert len(sibling_imports(many, {f"m{i}" for i in range(9)})) == 9


def test_code_the_report_and_docs_name_exists(root):
    """The report points from its numbers and figures to the code that makes them, and the
    docs name code everywhere: every ``vaestudy.module.name`` they mention exists (a rename
    that leaves a pointer stale fails here)."""
    import importlib
    import re

    texts = [*(root / "workflow" / "report").glob("*"), *(root / "docs").glob("*.md"),
             root / "README.md", root / "config" / "README.md"]
    named = {m for path in texts for m in re.findall(r"\bvaestudy(?:\.\w+)+",
                                                     path.read_text(encoding="utf-8"))}
    assert len(named) > 20
    missing = []
    for name in sorted(named):
        parts = name.split(".")
        try:
            obj = importlib.import_module(".".join(parts[:2]))
        except ImportError:
            missing.append(name)
            continue
        for attr in parts[2:]:
            if not hasattr(obj, attr):
                missing.append(name)
                break
            obj = getattr(obj, attr)
    assert missing == []
