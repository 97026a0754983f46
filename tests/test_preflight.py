"""The checks before any job (vaestudy.core.preflight), called directly: each bad setting or folder
is one PreflightError naming it and the fix; nothing is written. (setup.smk wraps them:
tests/test_workflow.py::test_a_preflight_error_stops_the_workflow_before_any_job.)"""

import copy

import pytest
import yaml
from conftest import MNIST, ROOT

from vaestudy.core import preflight
from vaestudy.core.preflight import PreflightError
from vaestudy.core.userconfig import normalize

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _config(**sections) -> dict:
    """The default config with ``sections`` merged in, defaults filled as the workflow does."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values} if isinstance(values, dict) else values
    from snakemake.utils import validate  # fills in the defaults, as the workflow does

    normalize(config, yaml.safe_load(SCHEMA.read_text()))
    validate(config, str(SCHEMA))
    return copy.deepcopy(config)


@pytest.mark.parametrize(
    "output_dir, message",
    [
        ("", "config 'output_dir' is empty"),
        ("/", "config 'output_dir' = '/' is the filesystem root"),
        ("..", "config 'output_dir' = '..' leaves the working directory"),
        (".", "config 'output_dir' = '.' is or contains the working directory"),
        ("{repository}/..", "is or contains the workflow's repository"),
    ],
)
def test_output_dir_must_be_a_folder_of_its_own(tmp_path, output_dir, message):
    """"" once planned /theory/checks.csv; "/", ".." and the folder holding the repository
    would put the study's folders among other files."""
    with pytest.raises(PreflightError, match="choose a folder of its own, e.g. --config "
                                             "output_dir=results") as err:
        preflight.output_dir_is_its_own(output_dir.format(repository=ROOT), str(tmp_path),
                                        str(ROOT))
    assert message in str(err.value)
    preflight.output_dir_is_its_own("results", str(tmp_path), str(ROOT))  # its own: fine
    assert list(tmp_path.iterdir()) == []


def test_output_dir_must_be_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PreflightError, match=f"'{blocker}/results' is not a writable directory "
                                             rf"\({blocker} is not a writable directory\)"):
        preflight.output_dir_is_writable(str(blocker / "results"))
    preflight.output_dir_is_writable(str(tmp_path / "new" / "results"))  # can be created
    assert not (tmp_path / "new").exists()


def test_data_dirs_must_exist(tmp_path):
    with pytest.raises(PreflightError, match="config 'data.dirs.mnist' is empty"):
        preflight.data_dirs_exist({"mnist": " "}, str(ROOT))
    with pytest.raises(PreflightError, match=rf"'data.dirs.fashion-mnist' = 'nowhere': "
                                             rf"{tmp_path}/nowhere is not an existing folder"):
        preflight.data_dirs_exist({"fashion-mnist": "nowhere"}, str(tmp_path))
    preflight.data_dirs_exist({"mnist": "resources/mnist"}, str(ROOT))


@pytest.mark.parametrize("sections, message", [
    ({"data": {"train_subset": 56000}}, "'data.train_subset' = 56000 is larger than the 55000"),
    ({"training": {"batch_size": 70000}}, "'training.batch_size' = 70000 is larger than"),
    ({"study": {"losses": ["bce", "l1"]}}, "config 'study.losses': unknown loss 'l1'"),
    ({"study": {"losses": ["m"]}, "loss_variants": {"m": {"family": "mse", "data": "levels"}}},
     "config 'study.losses': loss 'm': data 'levels'"),
])
def test_sizes_and_losses(sections, message):
    with pytest.raises(PreflightError, match=message):
        preflight.sizes_and_losses(_config(**sections))


def test_run_returns_each_datasets_verified_folder(tmp_path, mnist_copy):
    work = tmp_path / "work"
    work.mkdir()
    config = _config(data={"dirs": {"mnist": str(mnist_copy)}})
    assert preflight.run(config, str(ROOT), "results", str(work)) == {"mnist": str(mnist_copy)}
    assert list(work.iterdir()) == []  # nothing written
    assert preflight.run(_config(), str(ROOT), "results", str(work)) == {
        "mnist": str(MNIST)}  # the committed copy
    (mnist_copy / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    with pytest.raises(PreflightError, match="t10k-labels-idx1-ubyte.gz: corrupt"):
        preflight.run(config, str(ROOT), "results", str(work))


def test_an_evaluation_override_must_name_losses_that_exist(tmp_path):
    """A misspelt loss would select no run; a loss or budget the grid leaves out is fine (the
    reference config runs a part of its budgets with --config epochs=2,10)."""
    with pytest.raises(PreflightError, match=r"'evaluation.overrides\[1\].losses': unknown "
                                             r"loss 'bcee'"):
        preflight.run(_config(evaluation={"overrides": [
            {"losses": ["bce"], "iwae_samples": 10},
            {"losses": ["mse", "bcee"], "iwae_samples": 10}]}), str(ROOT), "results", str(tmp_path))
    preflight.overrides_name_losses(_config(evaluation={"overrides": [
        {"losses": ["cbern"], "epochs": [300], "datasets": ["fashion-mnist"], "iwae_images": 0}]}))
