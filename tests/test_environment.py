"""The pinned stack: requirements.txt, requirements.lock, environment.yml and the rules'
conda environment must not drift apart."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    """{package: version} of the ``name==version`` lines; anything else is an error."""
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([\w.+\-]+)", line)
        assert match, f"not an exact pin: {line!r}"
        found[_canon(match.group(1))] = match.group(2)
    return found


def conda_pins(path: Path) -> dict[str, str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return pins(pip)


def test_environment_yml_pins_exactly_the_requirements():
    assert conda_pins(ROOT / "environment.yml") == pins((ROOT / "requirements.txt").open())


def test_lock_contains_every_requirement_at_the_same_version():
    lock = pins((ROOT / "requirements.lock").open())
    for name, version in pins((ROOT / "requirements.txt").open()).items():
        assert lock.get(name) == version, f"{name}: requirements.txt {version}, lock {lock.get(name)}"


def test_rule_environment_is_a_subset_of_the_requirements():
    reqs = pins((ROOT / "requirements.txt").open())
    for name, version in conda_pins(ROOT / "workflow" / "envs" / "vae.yaml").items():
        assert reqs.get(name) == version, name


def test_python_version_agrees():
    for path in (ROOT / "environment.yml", ROOT / "workflow" / "envs" / "vae.yaml"):
        deps = yaml.safe_load(path.read_text())["dependencies"]
        assert "python=3.11" in deps, path
