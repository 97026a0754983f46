"""The package's architecture (read from the source, nothing imported): one folder per stage,
imports pointing only down the stages (never up, never sideways to a stage of the same level),
no module importing more than 8 others, no import cycle, and the layers not borrowing sideways
inside a stage (the pictures of a run from training, the study's plots from the prose)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "vaestudy"
MAX_SIBLINGS = 8
#: Each stage's level: a module may import its own stage and the stages of lower levels.
#: Stages of one level are independent (evaluation and theory both build on the VAE; the
#: study's analysis and the jobs around the library both on evaluation); docs/architecture.md.
LEVELS = {"core": 0, "vae": 1, "evaluation": 2, "theory": 2, "analysis": 3, "jobs": 3,
          "report": 4}


def modules_of(package: Path = PACKAGE) -> dict[str, str]:
    """Module name -> its stage (the folder it sits in; ``""`` for one at the top)."""
    return {p.stem: (p.parent.name if p.parent != package else "")
            for p in package.rglob("*.py") if p.stem != "__init__"}


def sibling_imports(source: str, modules: set[str]) -> set[str]:
    """The modules of the package that ``source`` imports (at any depth of the code), in any
    form: ``from vaestudy.core import layout``, ``from vaestudy.core.layout import x``,
    ``import vaestudy.core.layout``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vaestudy"):
            parts = node.module.split(".")
            if parts == ["vaestudy"] or (len(parts) == 2 and parts[1] in LEVELS):
                found |= {a.name for a in node.names}  # from vaestudy(.stage) import module
            else:
                found.add(parts[-1])  # from vaestudy(.stage).module import name
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[-1] for a in node.names
                      if a.name.startswith("vaestudy.")}
    return found & modules


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = modules_of(package)
    return {m: sibling_imports(next(package.rglob(f"{m}.py")).read_text(), set(modules)) - {m}
            for m in modules}


def misplaced_imports(package: Path = PACKAGE) -> list[str]:
    """``a (stage) -> b (stage)`` for every import that points up or sideways between
    stages, or from or to a module outside the stage folders."""
    stage, graph = modules_of(package), import_graph(package)
    wrong = []
    for m, deps in sorted(graph.items()):
        for d in sorted(deps):
            if stage[m] == stage[d] != "":
                continue
            if stage[m] not in LEVELS or stage[d] not in LEVELS \
                    or LEVELS[stage[d]] >= LEVELS[stage[m]]:
                wrong.append(f"{m} ({stage[m]}) -> {d} ({stage[d]})")
    return wrong


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


def test_every_module_sits_in_a_stage_folder_whose_init_says_what_it_holds():
    assert sorted(set(modules_of().values())) == sorted(LEVELS)
    for stage in LEVELS:
        init = ast.parse((PACKAGE / stage / "__init__.py").read_text())
        assert ast.get_docstring(init) and len(init.body) == 1, stage  # a docstring only


def test_imports_point_down_the_stages():
    assert misplaced_imports() == []


def test_the_stage_the_snakefile_imports_needs_no_tensorflow():
    """``core`` is what setup.smk imports at parse time: no TensorFlow, Keras or TFP at the
    top of its modules (parse time stays fast and works without them)."""
    heavy = {"tensorflow", "keras", "tensorflow_probability"}
    for path in (PACKAGE / "core").glob("*.py"):
        top = ast.parse(path.read_text()).body
        named = {a.name.split(".")[0] for node in top if isinstance(node, ast.Import)
                 for a in node.names}
        named |= {(node.module or "").split(".")[0] for node in top
                  if isinstance(node, ast.ImportFrom)}
        assert not named & heavy, path.name


def test_no_module_imports_more_than_eight_siblings():
    crowded = {m: sorted(d) for m, d in GRAPH.items() if len(d) > MAX_SIBLINGS}
    assert not crowded


def test_the_package_has_no_import_cycle():
    assert cycle(GRAPH) is None


@pytest.mark.parametrize("module, forbidden", [
    ("evaluate", "train"), ("run_pictures", "train"), ("picture_files", "train"),
    ("latent_pictures", "train"), ("study_plots", "findings"), ("theory_data", "theory")])
def test_no_sideways_borrowing(module, forbidden):
    assert forbidden not in GRAPH[module]


def _package(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_checks_see_an_upward_and_a_sideways_import_a_cycle_and_a_crowded_module(tmp_path):
    package = _package(tmp_path, {
        "core/a.py": "from vaestudy.vae import b\n",               # up
        "vae/b.py": "def f():\n    from vaestudy.core.c import x\n",  # down: fine
        "core/c.py": "import vaestudy.core.a\n",
        "evaluation/d.py": "from vaestudy.theory.e import y\n",     # sideways
        "theory/e.py": "from vaestudy.vae import b\n",              # down: fine
        "f.py": "from vaestudy.core import c\n"})                  # outside the stages
    assert misplaced_imports(package) == ["a (core) -> b (vae)", "d (evaluation) -> e (theory)",
                                          "f () -> c (core)"]
    assert cycle(import_graph(package)) == ["a", "b", "c", "a"]
    many = "".join(f"from vaestudy.core import m{i}\n" for i in range(9))
    assert len(sibling_imports(many, {f"m{i}" for i in range(9)})) == 9


def test_code_the_report_and_docs_name_exists(root):
    """The report points from its numbers, plots and pictures to the code that makes them, and the
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
        depth = 2 + (len(parts) > 2 and parts[1] in LEVELS)  # vaestudy.<stage>.<module>
        try:
            obj = importlib.import_module(".".join(parts[:depth]))
        except ImportError:
            missing.append(name)
            continue
        for attr in parts[depth:]:
            if not hasattr(obj, attr):
                missing.append(name)
                break
            obj = getattr(obj, attr)
    assert missing == []
