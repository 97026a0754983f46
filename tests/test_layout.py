"""The run layout (vaestudy.core.layout): paths built from a key parse back to it, and the workflow
writes exactly the files the layout names."""

import json
from pathlib import Path

import pytest
from conftest import TINY_DATASETS, TINY_RUNS_PER_DATASET

from vaestudy.core import layout
from vaestudy.core.layout import RunKey


def test_a_run_path_parses_back_to_its_key():
    key = layout.run_key("fashion-mnist", 30, "mse-sigma0.1", 16, 2)
    assert key == "dataset~fashion-mnist/epochs~30/loss~mse-sigma0.1/latent~16/seed~2"
    run = layout.run_dir("out/results", key)
    expected = RunKey("fashion-mnist", 30, "mse-sigma0.1", 16, 2)
    assert layout.parse_run_path(run) == expected
    assert layout.parse_run_path(layout.run_file("out", layout.PICTURES["manifold"], key)) \
        == expected
    assert layout.parse_run_path(layout.job_file("out", "logs", "train", key)) == expected
    assert layout.parse_run_path("out/runs/dataset~mnist/epochs~2/loss~bce/latent~x/seed~0") \
        is None
    assert layout.parse_run_path("out/runs/dataset~mnist/loss~bce/latent~2/seed~0") is None
    assert layout.parse_run_path("out/runs/epochs~2/loss~bce/latent~2/seed~0") is None
    assert layout.parse_run_path("out/plots/comparable.png") is None


@pytest.mark.parametrize("key", ["", "dataset~mnist/epochs~2/loss~bce/latent~2/seed~0",
                                 "dataset~mnist/epochs~2/latent~4", "dataset~fashion-mnist"])
def test_a_benchmark_file_names_its_rule_key_and_log(key):
    bench = layout.job_file("/tmp/logs/out", "benchmarks", "side_by_side", key)
    assert layout.parse_job_file(bench) == (Path("/tmp/logs/out"), "side_by_side", key)
    assert layout.log_of(bench) == Path(layout.job_file("/tmp/logs/out", "logs",
                                                          "side_by_side", key))


def test_find_runs_lists_run_folders_only(tmp_path):
    for key in ("dataset~mnist/epochs~2/loss~bce/latent~2/seed~0",
                "dataset~fashion-mnist/epochs~10/loss~mse/latent~16/seed~1",
                "dataset~mnist/epochs~2/loss~bce/latent~x/seed~0",
                "dataset~mnist/epochs~x/loss~bce/latent~2/seed~0"):
        Path(layout.run_dir(tmp_path, key)).mkdir(parents=True)
    a_file = Path(layout.run_dir(tmp_path, "dataset~mnist/epochs~2/loss~a/latent~1/seed~1"))
    a_file.parent.mkdir(parents=True)
    a_file.write_text("a file")
    assert sorted(layout.find_runs(tmp_path)) == [RunKey("fashion-mnist", 10, "mse", 16, 1),
                                                   RunKey("mnist", 2, "bce", 2, 0)]


def test_pictures_and_side_by_side_names_parse_back():
    for name, file in layout.PICTURES.items():
        assert layout.picture_name(f"x/{file}") == name
    for picture in layout.SIDE_BY_SIDE_PICTURES:
        path = layout.side_by_side("out", "fashion-mnist", 10, 32, picture)
        assert layout.side_by_side_key(path) == ("fashion-mnist", 10, picture, 32)
    for name in layout.PLOTS:
        assert layout.plot_key(layout.plot_file("out", name, "fashion-mnist", 30)) \
            == ("fashion-mnist", 30)
    assert layout.plot_key(layout.across_plot("out", "fashion-mnist", 2)) == ("fashion-mnist", 2)


def test_the_workflow_writes_the_files_the_layout_names(tiny_study):
    """Every run folder of the tiny study holds exactly the layout's files (the Snakefile's
    outputs come from it), and every job's log is where the layout says."""
    runs = layout.find_runs(tiny_study)
    assert len(runs) == TINY_RUNS_PER_DATASET * len(TINY_DATASETS)
    assert {key.dataset for key in runs} == set(TINY_DATASETS)
    names = {*layout.TRAIN_FILES.values(), layout.METRICS, *layout.PICTURES.values(),
             layout.PICTURED_IMAGES}
    for key, run in runs.items():
        assert {p.name for p in run.iterdir() if not p.name.startswith(".")} == names
        assert Path(layout.job_file(tiny_study, "logs", "run_pictures",
                                    layout.run_key(*key))).is_file()
    (epochs,) = {key.epochs for key in runs}  # the tiny study has one budget
    for dataset in TINY_DATASETS:
        assert Path(layout.manifest(tiny_study, dataset)).is_file()
        for name in layout.PLOTS:
            assert Path(layout.plot_file(tiny_study, name, dataset, epochs)).is_file()
        for picture in layout.SIDE_BY_SIDE_PICTURES:
            assert Path(layout.side_by_side(tiny_study, dataset, epochs, 2, picture)).is_file()


def test_every_run_of_a_dataset_pictures_the_same_test_images(tiny_study):
    """The record of each run of the tiny study: ten reconstructions, one of each class read
    0 to 9, and interpolation ends of different classes, the same in every run of a dataset
    (the side-by-side picture of the losses compares the same images)."""
    runs = layout.find_runs(tiny_study)
    for dataset in TINY_DATASETS:
        records = [json.loads((run / layout.PICTURED_IMAGES).read_text())
                   for key, run in runs.items() if key.dataset == dataset]
        assert len(records) > 1 and all(record == records[0] for record in records)
        assert [image["label"] for image in records[0]["reconstructions"]] == list(range(10))
        assert all(a["label"] != b["label"] for a, b in records[0]["interpolations"])
