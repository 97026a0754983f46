"""Which code produced a result: the package version and a hash of what its source computes.

Every run's ``train_summary.json`` and ``metrics.json`` and the report record
:func:`code_version`; the report says plainly when the runs of one study came from different
code. A code change does not re-run anything by itself (Snakemake re-runs on changed
params, inputs and rule scripts, not on an edited package module): re-run what a change
affects with ``--forcerun`` (README, "Changing things").

The hash reads each module's syntax tree, not its bytes: comments, docstrings, layout and
the folder a module sits in (the package path of an import) do not change it, so that
tidying the package (moving a module to another stage's folder, rewording a docstring)
keeps a finished training's key (:mod:`vaestudy.jobs.kept_outputs`) and re-trains nothing.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from pathlib import Path

import vaestudy

#: The package's source: every module of ``vaestudy`` (sorted, so the hash is stable).
PACKAGE = Path(vaestudy.__file__).resolve().parent


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _module_name(dotted: str, folders: frozenset[str]) -> str:
    """``vaestudy.vae.train`` and ``vaestudy.train`` -> ``train``; a package folder
    (``vaestudy``, ``vaestudy.core``) -> ``vaestudy``."""
    last = dotted.rsplit(".", 1)[-1]
    return "vaestudy" if last in folders else last


def _imports(statement: ast.stmt, folders: frozenset[str]) -> list[tuple] | None:
    """An import statement as ``(module, name, alias)`` triples (the package's own modules
    named by :func:`_module_name`), or None for any other statement."""
    if isinstance(statement, ast.Import):
        return [(_module_name(a.name, folders) if a.name.startswith("vaestudy") else a.name,
                 "", a.asname or "") for a in statement.names]
    if isinstance(statement, ast.ImportFrom):
        module = statement.module or ""
        if module.startswith("vaestudy"):
            module = _module_name(module, folders)
        return [(module, a.name, a.asname or "") for a in statement.names]
    return None


def normalized(source: str, folders: frozenset[str] = frozenset({"vaestudy"})) -> str:
    """What a module computes, as text: its syntax tree without docstrings, each block's
    imports as one sorted set (their order and grouping do not count) and the package's own
    modules named by module alone, in imports and in strings (``from vaestudy.vae.train
    import fit`` reads as ``from train import fit``; ``folders``: the package's folder
    names). Empty for a module of nothing but a docstring (a stage folder's ``__init__``)."""
    tree = ast.parse(source)
    folder = re.compile(r"\bvaestudy\.(?:%s)\." % "|".join(sorted(folders)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = folder.sub("vaestudy.", node.value)  # a message naming a module
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        if body and _is_docstring(body[0]):
            body = body[1:]
        parsed = [(statement, _imports(statement, folders)) for statement in body]
        imported = sorted({triple for _, triples in parsed for triple in (triples or [])})
        body = [statement for statement, triples in parsed if triples is None]
        if imported:
            body.insert(0, ast.Expr(ast.Constant(repr(imported))))
        node.body = body or [ast.Pass()]
    if all(isinstance(statement, ast.Pass) for statement in tree.body):
        return ""
    return ast.dump(tree)


@functools.cache
def source_hash(package: Path = PACKAGE) -> str:
    """SHA-256 (first 12 hex digits) over the names and :func:`normalized` code of the
    package's modules, each named by its file name (not its folder)."""
    folders = frozenset({package.name} | {p.parent.name for p in package.rglob("__init__.py")})
    modules = {}
    for path in package.rglob("*.py"):
        code = normalized(path.read_text(), folders)
        if code:
            modules[path.parent.name if path.stem == "__init__" else path.stem] = code
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode() + b"\0" + modules[name].encode() + b"\0")
    return digest.hexdigest()[:12]


def code_version() -> str:
    """``<version>+<source hash>``, e.g. ``0.1.0+3f2a9c1b7d40``."""
    return f"{vaestudy.__version__}+{source_hash()}"
