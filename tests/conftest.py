"""Shared fixtures: the repository root, copies of MNIST (committed) and Fashion-MNIST (Debian's
package), a quiet TensorFlow."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from vaestudy.core.datasets import FASHION_MNIST

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Every study the tests run keeps its classifier in a cache of this test session, never in the
# user's (vaestudy.jobs.machine_cache); a test of the cache sets its own.
os.environ["VAESTUDY_CACHE"] = tempfile.mkdtemp(prefix="vaestudy-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "resources" / "mnist"
#: Where Debian's dataset-fashion-mnist installs Fashion-MNIST (CI installs that package).
FASHION = Path(FASHION_MNIST.system_dirs[0])


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def mnist_copy(tmp_path) -> Path:
    """A private copy of the four MNIST files that a test may damage."""
    target = tmp_path / "mnist"
    target.mkdir()
    for f in MNIST.glob("*.gz"):
        shutil.copy(f, target / f.name)
    return target


@pytest.fixture()
def fashion_copy(tmp_path) -> Path:
    """A private copy of the four Fashion-MNIST files of Debian's package, which a test may
    damage; skips where the package is not installed."""
    files = sorted(FASHION.glob("*.gz"))
    if len(files) < 4:
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION}: "
                    f"apt-get install dataset-fashion-mnist (CI installs it)")
    target = tmp_path / "fashion-mnist"
    target.mkdir()
    for f in files:
        shutil.copy(f, target / f.name)
    return target


#: A machine without network for urllib: every request goes to a proxy on a closed port.
OFFLINE = {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTP_PROXY",
                                                   "HTTPS_PROXY")} | {"no_proxy": "",
                                                                      "NO_PROXY": ""}


def snakemake(root: Path, *args: str, cwd: Path | None = None, env: dict | None = None,
              timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the workflow's Snakemake (this interpreter's) and capture its output (``env``:
    variables set for it, e.g. :data:`OFFLINE`)."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile",
                           str(root / "Snakefile"), *args],
                          cwd=cwd or root, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def template_source(name: str = "report.html.j2") -> str:
    """The report template ``name`` as one text, its ``{% include %}``s inlined (the template is
    split into parts; tests that read what it says read all of it)."""
    folder = ROOT / "workflow" / "report"
    text = (folder / name).read_text()
    return re.sub(r'\{% include "([^"]+)" %\}', lambda m: template_source(m.group(1)), text)


def write_config(path: Path, **sections) -> Path:
    path.write_text(yaml.safe_dump(sections))
    return path


#: The datasets of the tiny study: both where Debian's Fashion-MNIST is installed (CI installs
#: it), else MNIST alone (the Fashion-MNIST tests of the tiny study then skip).
TINY_DATASETS = ["mnist", "fashion-mnist"] if len(list(FASHION.glob("*.gz"))) == 4 else ["mnist"]
#: The tiny study's grid (config/tiny.yaml) and its number of runs per dataset.
TINY_GRID = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())["study"]
TINY_RUNS_PER_DATASET = (len(TINY_GRID["losses"]) * len(TINY_GRID["latent_dims"])
                         * len(TINY_GRID["seeds"]))


def needs_fashion() -> None:
    """Skip a test of the tiny study's Fashion-MNIST runs where the package is missing."""
    if "fashion-mnist" not in TINY_DATASETS:
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION}: "
                    f"apt-get install dataset-fashion-mnist (CI installs it)")


@pytest.fixture(scope="session")
def tiny_study(root, tmp_path_factory):
    """Run the whole DAG on config/tiny.yaml (on :data:`TINY_DATASETS`) into a temporary
    output directory, given as a relative path (``results``) as in the quick start:
    Snakemake then hands relative paths to the jobs."""
    out = tmp_path_factory.mktemp("study")
    cfg = write_config(out / "override.yaml", output_dir="results",
                       study={"datasets": TINY_DATASETS},
                       data={"dirs": {"mnist": str(root / "resources" / "mnist")}})
    # about 7 minutes on 2 idle cores (both datasets); a busy machine may take twice that
    result = snakemake(root, "--cores", "2", "--configfile", str(root / "config" / "tiny.yaml"),
                       str(cfg), cwd=out, timeout=2400)
    assert result.returncode == 0, result.stderr[-4000:]
    return out / "results"
