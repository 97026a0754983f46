"""Which code produced a result (vaestudy.core.provenance): the hash of what the package
computes, unchanged by where its modules sit, their docstrings and comments, and changed by a
change of code."""

import re
import shutil

from vaestudy.core import provenance

STAGE_IMPORT = re.compile(r"\bvaestudy\.(core|vae|evaluation|theory|analysis|jobs|report)\b"
                          r"(?=[ .])")


def _flat_copy(package, to):
    """The package as it was before its stage folders: every module at the top, imported as
    ``vaestudy.<module>``."""
    to.mkdir(parents=True)
    for path in package.rglob("*.py"):
        if path.parent != package and path.stem == "__init__":
            continue
        text = STAGE_IMPORT.sub("vaestudy", path.read_text())
        (to / path.name).write_text(text)
    return to


def _copy(tmp_path, name="vaestudy"):
    return shutil.copytree(provenance.PACKAGE, tmp_path / name,
                           ignore=shutil.ignore_patterns("__pycache__"))


def test_moving_modules_between_folders_keeps_the_hash(tmp_path):
    """The stage folders (issue 29) kept every finished training's key: the flat package with
    its imports written the old way hashes the same."""
    flat = _flat_copy(provenance.PACKAGE, tmp_path / "flat" / "vaestudy")
    assert "from vaestudy import data, datasets, " in (flat / "preflight.py").read_text()
    assert provenance.source_hash(flat) == provenance.source_hash(provenance.PACKAGE)


def test_docstrings_comments_and_layout_do_not_count_code_does(tmp_path):
    package = _copy(tmp_path)
    layout_ = package / "core" / "layout.py"
    before = provenance.source_hash(package)
    text = layout_.read_text()
    reworded = text.replace('"""', '"""Reworded. ', 1) + "\n# a comment\n"
    layout_.write_text(reworded)
    assert provenance.source_hash.__wrapped__(package) == before
    assert '"sample_rows")' in text
    layout_.write_text(text.replace('"sample_rows")', '"rows")'))  # a string the code uses
    assert provenance.source_hash.__wrapped__(package) != before


def test_importing_another_module_changes_the_hash(tmp_path):
    """The module an import names counts (only its folder does not)."""
    package = _copy(tmp_path)
    preflight = package / "core" / "preflight.py"
    before = provenance.source_hash.__wrapped__(package)
    text = preflight.read_text()
    assert "from vaestudy.core import data, datasets, " in text
    preflight.write_text(text.replace("import data, datasets, ",
                                      "import data, files as datasets, "))
    assert provenance.source_hash.__wrapped__(package) != before


def test_a_stage_folders_docstring_counts_for_nothing():
    assert provenance.normalized('"""Only words."""\n') == ""
    assert provenance.normalized('"""Words."""\nX = 1\n') == provenance.normalized("X = 1\n")
