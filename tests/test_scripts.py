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
    """Square sample grids side by side in a row; wide reconstruction pictures (one row of
    images each) one above the other; each panel is its loss's picture."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    pictures = {"samples": {}, "reconstructions": {}}
    for loss, shade in (("bce", 0), ("mse-sigma0.1", 255)):
        key = layout.run_key("fashion-mnist", loss, 16, 0)
        for name, shape in (("samples", (28, 28)), ("reconstructions", (56, 280))):
            path = Path(layout.run_file(tmp_path, layout.PICTURES[name], key))
            path.parent.mkdir(parents=True, exist_ok=True)
            iio.imwrite(path, np.full(shape, shade, np.uint8))
            pictures[name][loss] = str(path)
    out = {name: layout.side_by_side(tmp_path, "fashion-mnist", 16, name) for name in pictures}
    log = tmp_path / "side_by_side.log"
    run_script("side_by_side", input=Named(grid="grid.json", **{
                   name: list(files.values()) for name, files in pictures.items()}),
               output=Named(**out), log=[str(log)],
               wildcards=Named(dataset="fashion-mnist", latent="16"))
    samples, recons = iio.imread(out["samples"]), iio.imread(out["reconstructions"])
    assert samples.shape[1] > samples.shape[0]  # two panels side by side
    half = samples.shape[1] // 2
    assert samples[:, :half].mean() < samples[:, half:].mean()  # bce (black) left of mse
    half = recons.shape[0] // 2
    assert recons[:half].mean() < recons[half:].mean()  # bce (black) above mse
    assert all(f"wrote {path}" in log.read_text() for path in out.values())
    assert USAGE_PREFIX in log.read_text()
