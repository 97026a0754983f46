"""The rules' scripts are the jobs (one layer of glue): each reads its rule's inputs, outputs
and params by name, opens its log the one way (vaestudy.runtime.logged, or runtime.job for a
TensorFlow job) and calls the package; run here without Snakemake, with a fake ``snakemake``
object."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np

from vaestudy import layout
from vaestudy.runtime import USAGE_PREFIX

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


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


def test_every_script_opens_its_log_one_way():
    for script in sorted(SCRIPTS.glob("*.py")):
        if script.name == "_bootstrap.py":
            continue
        text = script.read_text()
        assert "sm = snakemake" in text, script.name
        assert text.count("with logged(sm.log[0])") + text.count("with job(sm.log[0]") == 1, \
            script.name


def test_side_by_side_script_puts_each_loss_in_a_panel(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    samples = {}
    for loss, shade in (("bce", 0), ("mse-sigma0.1", 255)):
        path = Path(layout.run_file(tmp_path, layout.PICTURES["samples"],
                                    layout.run_key(loss, 16, 0)))
        path.parent.mkdir(parents=True)
        iio.imwrite(path, np.full((28, 28), shade, np.uint8))
        samples[loss] = str(path)
    out, log = Path(layout.side_by_side(tmp_path, 16)), tmp_path / "side_by_side.log"
    run_script("side_by_side", input=Named(grid="grid.json", samples=list(samples.values())),
               output=Named(figure=str(out)), log=[str(log)], wildcards=Named(latent="16"))
    picture = iio.imread(out)
    assert picture.shape[1] > picture.shape[0]  # two panels side by side
    half = picture.shape[1] // 2
    assert picture[:, :half].mean() < picture[:, half:].mean()  # bce (black) left of mse
    assert f"wrote {out}" in log.read_text() and USAGE_PREFIX in log.read_text()
