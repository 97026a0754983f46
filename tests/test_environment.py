"""The pinned stack has one home, requirements.txt: the conda files are generated from it
(tools/envfiles.py) and must be up to date, and the lock must pin the same versions."""

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

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
