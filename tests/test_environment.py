"""The pinned stack has one home, requirements.txt: the conda files are generated from it
(tools/envfiles.py) and must be up to date, and the lock must pin the same versions."""

import importlib.util
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("envfiles", ROOT / "tools" / "envfiles.py")
envfiles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(envfiles)


def _pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = envfiles.PIN.fullmatch(line).groups()
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_conda_files_are_generated_from_the_requirements():
    for path, text in envfiles.expected().items():
        assert (ROOT / path).read_text() == text, f"{path} is stale: run `make envs`"


def test_the_jobs_environment_gets_the_pins_above_the_tools_line(tmp_path):
    (tmp_path / "workflow" / "envs").mkdir(parents=True)
    (tmp_path / "requirements.txt").write_text(
        "numpy==2.0.0\n# --- running the workflow\nsnakemake==9.0.0\n")
    made = envfiles.expected(tmp_path)
    assert "numpy==2.0.0" in made["workflow/envs/vae.yaml"]
    assert "snakemake==" not in made["workflow/envs/vae.yaml"]
    assert "snakemake==9.0.0" in made["environment.yml"]
    with pytest.raises(ValueError, match="not an exact pin: 'numpy>=2'"):
        envfiles.read_pins("numpy>=2\n")


def test_lock_pins_every_requirement_at_the_same_version():
    lock = _pins((ROOT / "requirements.lock").read_text())
    for name, version in _pins((ROOT / "requirements.txt").read_text()).items():
        assert lock.get(name) == version, f"{name}: {version} in requirements.txt, not in the lock"


def test_the_conda_python_is_one_pyproject_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    low, high = re.fullmatch(r">=(\d+\.\d+),<(\d+\.\d+)", project["requires-python"]).groups()
    version = tuple(map(int, envfiles.PYTHON.split(".")))
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement such as ``tf-keras>=2.16``."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group()).lower()


def imported_distributions(package: Path = ROOT / "src" / "vaestudy") -> dict[str, str]:
    """{distribution: the module of ``package`` that imports it} of every third-party
    import anywhere in the package's source (lazy imports included)."""
    import ast
    import importlib.metadata as md
    import sys

    owners = md.packages_distributions()
    found = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names} - {"vaestudy"}:
                if top not in sys.stdlib_module_names:
                    for dist in owners.get(top, [top]):
                        found.setdefault(_name(dist), path.name)
    return found


def test_the_package_declares_every_distribution_it_imports():
    """``pip install .`` alone gives a package that can import every module and render its
    report: what the package imports is in pyproject's dependencies, and each of those is
    pinned in requirements.txt (the one home of the versions)."""
    declared = {_name(d) for d in tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    missing = {d: m for d, m in imported_distributions().items() if d not in declared}
    assert not missing, f"imported but not in pyproject's dependencies: {missing}"
    pinned = _pins((ROOT / "requirements.txt").read_text())
    assert declared <= set(pinned), declared - set(pinned)


def test_an_undeclared_import_is_found(tmp_path):
    (tmp_path / "m.py").write_text("import os\ndef f():\n    import markdown.extensions\n")
    assert imported_distributions(tmp_path) == {"markdown": "m.py"}
