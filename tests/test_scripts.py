"""The rules' scripts are the jobs (one layer of glue): each reads its rule's inputs, outputs
and params by name, opens its log the one way (vaestudy.jobs.runtime.logged, or runtime.job for a
TensorFlow job) and calls the package; run here without Snakemake, with a fake ``snakemake``
object."""

import re
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np

from vaestudy.core import layout
from vaestudy.jobs.usage import USAGE_PREFIX

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
SRC = ROOT / "src"


class Named(list):
    """Snakemake's named lists: by position, by name, and their items()."""

    def __init__(self, **named):
        super().__init__(named.values())
        self.__dict__.update(named)
        self._named = named

    def __getitem__(self, key):
        return self._named[key] if isinstance(key, str) else super().__getitem__(key)

    def items(self):
        return self._named.items()

    def keys(self):
        return self._named.keys()


def run_script(rule: str, **job) -> None:
    """Run ``workflow/scripts/<rule>.py`` as Snakemake would, with ``job``'s input, output,
    log, params and wildcards."""
    sm = SimpleNamespace(**{"params": Named(), "wildcards": Named(), **job})
    runpy.run_path(str(SCRIPTS / f"{rule}.py"), init_globals={"snakemake": sm})


def test_every_job_loads_the_package_beside_its_workflow(monkeypatch):
    """_bootstrap puts <repo>/src first on sys.path even where another vaestudy comes first,
    as setup.smk does at parse time; every script imports it before the package."""
    src = str(SCRIPTS.parents[1] / "src")
    monkeypatch.setattr(sys, "path", ["/elsewhere/site-packages", *sys.path])
    runpy.run_path(str(SCRIPTS / "_bootstrap.py"))
    assert sys.path[0] == src
    for script in sorted(SCRIPTS.glob("*.py")):
        text = script.read_text()
        if script.name != "_bootstrap.py":
            first = re.search(r"^\s*(from|import) vaestudy", text, re.MULTILINE)
            assert text.index("\nimport _bootstrap") < first.start(), script.name


def test_no_job_advises_huge_pages_for_numpys_arrays(monkeypatch):
    """_bootstrap turns NumPy's huge-page advice off before NumPy is imported (it cost seconds
    of system time per job here: docs/performance.md), and no script imports NumPy first."""
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    code = ("import sys; sys.path.insert(0, %r); import _bootstrap, numpy; "
            "from numpy._core.multiarray import _get_madvise_hugepage as advised; "
            "assert not advised(), 'huge-page advice is on'" % str(SCRIPTS))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    # the one home of the setting is the package: the tools' benchmarks import it first too
    tool = code.replace("import _bootstrap", "import vaestudy").replace(str(SCRIPTS), str(SRC))
    done = subprocess.run([sys.executable, "-c", tool], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("evaluation_benchmark.py", "benchmark.py"):
        head = (ROOT / "tools" / name).read_text().split("def ")[0]
        assert not re.search(r"^(from|import) (numpy|pandas|tensorflow|keras)", head,
                             re.MULTILINE), name
    for script in sorted(SCRIPTS.glob("*.py")):
        head = script.read_text().split("\nimport _bootstrap")[0]
        assert not re.search(r"^\s*(from|import) (numpy|pandas|tensorflow|keras)", head,
                             re.MULTILINE), script.name


def test_every_script_opens_its_log_one_way():
    for script in sorted(SCRIPTS.glob("*.py")):
        if script.name == "_bootstrap.py":
            continue
        text = script.read_text()
        assert "sm = snakemake" in text, script.name
        assert text.count("with logged(sm.log[0])") + text.count("with job(sm.log[0]") == 1, \
            script.name


def test_side_by_side_script_puts_each_loss_in_a_panel(tmp_path, monkeypatch):
    """Square sample grids side by side in a row; wide reconstruction pictures (one row of
    images each) one above the other; each panel is its loss's picture."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    pictures = {"samples": {}, "reconstructions": {}}
    for loss, shade in (("bce", 0), ("mse-sigma0.1", 255)):
        key = layout.run_key("fashion-mnist", 2, loss, 16, 0)
        for name, shape in (("samples", (28, 28)), ("reconstructions", (56, 280))):
            path = Path(layout.run_file(tmp_path, layout.PICTURES[name], key))
            path.parent.mkdir(parents=True, exist_ok=True)
            iio.imwrite(path, np.full(shape, shade, np.uint8))
            pictures[name][loss] = str(path)
    out = {name: layout.side_by_side(tmp_path, "fashion-mnist", 2, 16, name)
           for name in layout.SIDE_BY_SIDE_PICTURES}
    log = tmp_path / "side_by_side.log"
    run_script("side_by_side", input=Named(grid="grid.json", **{
                   name: list(files.values()) for name, files in pictures.items()}),
               output=Named(**out), log=[str(log)],
               wildcards=Named(dataset="fashion-mnist", epochs="2", latent="16"))
    samples, recons = iio.imread(out["samples"]), iio.imread(out["reconstructions"])
    assert samples.shape[1] > samples.shape[0]  # two panels side by side
    half = samples.shape[1] // 2
    assert samples[:, :half].mean() < samples[:, half:].mean()  # bce (black) left of mse
    half = recons.shape[0] // 2
    assert recons[:half].mean() < recons[half:].mean()  # bce (black) above mse
    rows = iio.imread(out["sample_rows"])
    assert rows[:, : rows.shape[1] // 2].mean() < rows[:, rows.shape[1] // 2 :].mean()
    assert all(f"wrote {path}" in log.read_text() for path in out.values())
    assert USAGE_PREFIX in log.read_text()


def test_the_newcomers_map_names_every_rule_its_script_and_a_real_function():
    """docs/architecture.md: one row per rule of the workflow (besides ``all``), the script
    the rule runs, and a package function that exists and that the script calls."""
    import importlib

    rules_dir = SCRIPTS.parents[0] / "rules"
    rules = {}
    for smk in rules_dir.glob("*.smk"):
        pattern = r"^(?:rule|checkpoint) (\w+):.*?script:\s*\n\s*\"[./]*scripts/(\w+\.py)\""
        for rule, script in re.findall(pattern, smk.read_text(), re.DOTALL | re.MULTILINE):
            rules[rule] = script
    rows = re.findall(r"^\| `(\w+)` \(\w+\.smk\) \| [^|]+ \| `(\w+\.py)` \| `([\w.]+)`",
                      (SCRIPTS.parents[1] / "docs" / "architecture.md").read_text(), re.MULTILINE)
    assert {rule: script for rule, script, _ in rows} == rules
    for rule, script, entry in rows:
        module, name = entry.rsplit(".", 1)
        stage, module_name = entry.split(".")[:2]
        obj = importlib.import_module(f"vaestudy.{stage}.{module_name}")
        for part in entry.split(".")[2:]:
            obj = getattr(obj, part)
        assert name in (SCRIPTS / script).read_text(), (rule, entry)
