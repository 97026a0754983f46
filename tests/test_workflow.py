"""The Snakemake workflow: config validation before any job, the full grid's plan, lint, and
the whole DAG end to end on the tiny config."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    OFFLINE,
    TINY_DATASETS,
    TINY_GRID,
    TINY_RUNS_PER_DATASET,
    snakemake,
    write_config,
)

from vaestudy.core import layout


@pytest.mark.parametrize(
    "config, message",
    [
        ({"trainig": {"epochs": 1}}, "'trainig' was unexpected"),
        ({"study": {"losses": ["bce", "l1"]}},
         "config 'study.losses': unknown loss 'l1': built-in losses are .*'loss_variants'"),
        ({"study": {"losses": ["bce", "L1"]}}, "'L1' does not match"),
        ({"loss_variants": {"g": {"family": "mse", "scale": 2}}},
         "Additional properties are not allowed \\('scale' was unexpected\\)"),
        ({"loss_variants": {"bce": {"family": "bce", "data": "gray"}}},
         "loss_variants \\['bce'\\] redefine built-in losses"),
        ({"study": {"latent_dims": [0]}}, "0 is less than the minimum of 1"),
        ({"study": {"epochs": [-2]}}, "-2 is less than the minimum of 1"),
        ({"study": {"epochs": [2, 2]}}, "has non-unique elements"),
        ({"training": {"epochs": 3}},
         "config key 'training.epochs' is no longer read: the training budget is an axis of "
         "the grid: study.epochs"),
        ({"study": {"seeds": []}}, "should be non-empty"),
        ({"study": {"seeds": [0.5]}}, "0.5 is not of type 'integer'"),
        ({"training": {"batch_size": 70000}}, "'training.batch_size' = 70000 is larger than"),
        ({"loss_variants": {"g": {"family": "bce", "data": "grey"}}}, "'grey' is not one of"),
        ({"study": {"seeds": [2**32]}}, "4294967296 is greater than the maximum"),
        ({"data": {"train_subset": 56000}},
         "'data.train_subset' = 56000 is larger than the 55000 images of that split"),
        ({"data": {"test_subset": 10001}}, "10001 is greater than the maximum of 10000"),
        ({"training": {"learning_rate": "fast"}}, "'fast' is not of type 'number'"),
        ({"data": {"dirs": {"mnist": ""}}}, "config 'data.dirs.mnist' is empty"),
        ({"data": {"dirs": {"cifar": "x"}}}, "'cifar' is not one of"),
        ({"data": {"dir": "resources/mnist"}}, "config key 'data.dir' is no longer read: the "
                                               "folder of each dataset is given by name in "
                                               "'data.dirs'"),
        ({"study": {"datasets": ["emnist"]}}, "'emnist' is not one of"),
    ],
)
def test_bad_config_stops_before_any_job(root, tmp_path, config, message):
    cfg = write_config(tmp_path / "bad.yaml", output_dir=str(tmp_path / "out"), **config)
    result = snakemake(root, "-n", "--configfile", str(cfg))
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stderr[-2000:]
    assert not (tmp_path / "out").exists()


#: One damage per data file (a flipped byte in the deflate stream, in the CRC-32, in the length,
#: a truncation): library tests (tests/test_datasets.py) cover every damage of every file.
DAMAGED = [("train-images-idx3-ubyte", "middle"), ("train-labels-idx1-ubyte", -8),
           ("t10k-images-idx3-ubyte", -1), ("t10k-labels-idx1-ubyte", "truncate")]


@pytest.mark.parametrize("name, damage", DAMAGED)
def test_a_damaged_data_file_stops_the_workflow_before_any_job(root, tmp_path, mnist_copy,
                                                               name, damage):
    """Not inside prepare_data between tracebacks: one message naming the file and the fix,
    before any job (a real run, not a dry run: nothing is written)."""
    path = mnist_copy / f"{name}.gz"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 2 if damage == "middle" else damage] ^= 0xFF
    path.write_bytes(bytes(raw))
    cfg = write_config(tmp_path / "c.yaml", output_dir=str(tmp_path / "out"),
                       data={"dirs": {"mnist": str(mnist_copy)}})
    result = snakemake(root, "--cores", "1", "--configfile", str(cfg))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{path}: corrupt, not the official MNIST file (" in output, output[-3000:]
    assert "Delete it and re-run" in output and "Traceback" not in output
    assert output.count("corrupt") == 1 and not (tmp_path / "out").exists()


def test_what_users_write_is_accepted(root, tmp_path):
    """``1e-4`` (a string in YAML 1.1) is a learning rate; the grid's short form works."""
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\ntraining:\n  learning_rate: 1e-4\n")
    result = snakemake(root, "-n", "--configfile", str(cfg), "--config", "losses=bce",
                       "latent_dims=2,4", "seeds=0,1,2")
    assert result.returncode == 0, result.stderr[-2000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.MULTILINE))
    assert counts["train"] == "6"


def test_the_workflow_finds_its_config_and_data_from_another_directory(root, tmp_path):
    """``snakemake -s /path/to/Snakefile`` elsewhere reads config/config.yaml of the workflow
    (its epochs E, not the schema's default 10: a training job asks for 15 + 5 E minutes) and
    the committed MNIST."""
    out = tmp_path / "out"
    plan = snakemake(root, "-n", "--cores", "1", "--config", f"output_dir={out}", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr[-2000:]
    (epochs,) = yaml.safe_load((root / "config" / "config.yaml").read_text())["study"]["epochs"]
    assert epochs != 10 and f"runtime={15 + 5 * epochs}," in plan.stdout
    assert "runtime=65" not in plan.stdout
    manifest = out / "data" / "mnist_manifest.json"
    done = snakemake(root, str(manifest), "--cores", "1", "--config", f"output_dir={out}",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(manifest.read_text())["dir"] == str(root / "resources" / "mnist")


def test_local_runs_never_schedule_more_memory_than_the_machine_has(root, tmp_path):
    """Unless --resources mem_mb is given, the jobs' mem_mb are capped at 90 % of the physical
    memory (8 evaluations of 4.5 GB each no longer start at once on a 24 GB machine)."""
    out = tmp_path / "out"
    target = str(out / "data" / "mnist_manifest.json")
    physical_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    run = snakemake(root, target, "--cores", "8", "--config", f"output_dir={out}", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f'mem_mb=Resource("mem_mb", {int(0.9 * physical_mb)})' in run.stdout + run.stderr
    given = snakemake(root, target, "--cores", "8", "--resources", "mem_mb=3000", "--forcerun",
                      "prepare_data", "--config", f"output_dir={out}", cwd=tmp_path)
    assert 'mem_mb=Resource("mem_mb", 3000)' in given.stdout + given.stderr


def test_a_gpu_job_on_a_machine_without_gpu_stops_at_once_with_the_fix(root, tmp_path):
    import time

    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", output_dir=str(out))
    target = str(out / "runs/dataset~mnist/epochs~1/loss~bce/latent~2/seed~0/history.csv")
    t0 = time.perf_counter()
    result = snakemake(root, target, "--cores", "1", "--set-resources", "train:gpu=1",
                       "--configfile", str(root / "config" / "tiny.yaml"), str(cfg), cwd=tmp_path)
    assert result.returncode != 0 and time.perf_counter() - t0 < 120
    log = (out / "logs/train/dataset~mnist/epochs~1/loss~bce/latent~2/seed~0.log").read_text()
    assert "requests the resource gpu=1 but TensorFlow sees no GPU" in log
    assert "tensorflow[and-cuda]" in log and "set-resources" in log
    assert "epoch 1" not in log  # it never trained on the CPU
    assert "job failed: " in log  # a failing job writes its error to its own log


def test_a_preflight_error_stops_the_workflow_before_any_job(root, tmp_path):
    """setup.smk turns vaestudy.core.preflight's error into one WorkflowError before any job (the
    checks themselves: tests/test_preflight.py)."""
    work = tmp_path / "work"
    work.mkdir()
    cfg = write_config(tmp_path / "c.yaml", output_dir=".")
    result = snakemake(root, "-n", "--configfile", str(cfg), cwd=work)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in output and "Traceback" not in output
    assert "config 'output_dir' = '.' is or contains the working directory" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "work"]


def test_a_missing_data_dir_stops_before_any_job_and_says_how_to_fill_it(root, tmp_path):
    """A data.dirs folder that does not exist (a typo, or nowhere to download into) is refused
    at once; the folder once created is where prepare_data downloads what it lacks, so
    offline it is refused too, before any job, with the three ways to get the data."""
    missing = tmp_path / "nonexistent" / "mnist"
    cfg = write_config(tmp_path / "c.yaml", output_dir=str(tmp_path / "out"),
                       data={"dirs": {"mnist": str(missing)}})
    result = snakemake(root, "-n", "--configfile", str(cfg))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in output
    assert (f"config 'data.dirs.mnist' = '{missing}': {missing} is not an existing folder"
            in output)
    assert "create the folder: the rule prepare_data then downloads the missing" in output
    assert not (tmp_path / "out").exists()
    missing.mkdir(parents=True)
    result = snakemake(root, "-n", "--configfile", str(cfg), env=OFFLINE)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in output
    assert (f"MNIST is not on this machine ({missing} lacks train-images-idx3-ubyte.gz, "
            f"train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
            f"and cannot be downloaded: offline, no mirror answered") in output
    assert all(way in output for way in ("(1) use the copy this repository commits in "
                                         "resources/mnist", "(2) set data.dirs.mnist to a",
                                         "(3) go online: the workflow downloads them"))
    assert not (tmp_path / "out").exists()


def test_full_config_plans_one_training_per_grid_point(root):
    result = snakemake(root, "-n", "--cores", "8", "--configfile", "config/full.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.MULTILINE))
    assert counts["train"] == str(4 * 6 * 3)
    assert counts["train_classifier"] == "1"
    # a run's evaluation and pictures are planned once its training (a checkpoint) finished
    assert "evaluate" not in counts and "run_pictures" not in counts


def test_lint_and_format_are_clean(root):
    lint = snakemake(root, "--lint")
    assert lint.returncode == 0 and "good condition" in lint.stdout + lint.stderr, lint.stdout
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/Snakefile",
                          "workflow/rules"], cwd=root, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr


def test_tiny_study_metrics_have_one_finite_row_per_run(tiny_study):
    metrics = pd.read_csv(tiny_study / "metrics.csv")
    grid = yaml.safe_load((Path(__file__).parents[1] / "config" / "tiny.yaml").read_text())
    n_runs = N_DATASETS * math.prod(len(grid["study"][k])
                                    for k in ("losses", "latent_dims", "seeds"))
    assert len(metrics) == n_runs and set(metrics.dataset) == set(TINY_DATASETS)
    assert not metrics.duplicated(["dataset", "epochs", "loss", "latent_dim", "seed"]).any()
    numeric = metrics[["test_neg_elbo", "test_recon", "test_kl", "test_log_px", "recon_mse",
                       "recon_bce", "fid_classifier", "knn_accuracy", "recon_accuracy"]]
    assert numeric.map(math.isfinite).all().all()
    binary, levels = metrics.data == "binary", metrics.data == "levels"
    gray = ~binary & ~levels
    assert set(metrics.loss[binary]) == {"bce", "mse-sigma0.3"}
    assert set(metrics.loss[levels]) == {"dlogistic", "dgauss"}
    assert (metrics.binarization[binary] == "dynamic").all()
    assert (metrics.binarization[gray] == "dequantized").all()
    assert (metrics.binarization[levels] == "none").all()
    # exact bits/dim on the levels only; the bound and the mass inside [0, 1] on dequantized
    assert metrics.bits_per_dim[levels].gt(0).all() and metrics.bits_per_dim[~levels].isna().all()
    assert metrics.bits_per_dim_bound[gray].gt(0).all()
    assert metrics.bits_per_dim_bound[~gray].isna().all()
    assert metrics.mass_inside[gray].between(0, 1).all() and metrics.mass_inside[~gray].isna().all()
    assert (metrics.n_test == 256).all() and (metrics.iwae_images == 256).all()
    drawn = {"n": 256, "of": 10000, "population": "official test images", "drawn": True,
             "seed": 0, "stratified_by": "label"}  # data.split_seed: a draw, not the first 256
    paths = list(tiny_study.glob(f"{layout.RUNS}/{layout.run_key(*'*****')}/{layout.METRICS}"))
    assert len(paths) == n_runs
    for path in paths:
        record = json.loads(path.read_text())
        assert record["test_images"] == drawn and record["log_px_images"] == drawn
        assert record["knn_reference"]["n"] == 512 and record["knn_reference"]["drawn"]
    assert (metrics.log_px_images_text == "256 of the 10,000 official test images (seeded "
            "draw, seed 0, stratified by label)").all()
    # ELBO and log p(x) of every run on the same images (all 256): the bound holds within the
    # Monte Carlo noise of the ELBO. Before the gray losses were trained, validated and tested
    # on the same dequantized images, cbern's ELBO exceeded its log p(x) by hundreds of nats.
    assert (metrics.test_log_px >= -metrics.test_neg_elbo - 1.0).all(), metrics[
        ["loss", "latent_dim", "test_log_px", "test_neg_elbo"]]
    assert np.allclose(metrics.sigma[metrics.loss == "mse-sigma0.3"], 0.3)  # float32 sigma
    assert metrics.sigma[metrics.family.isin(["bce", "cbern"])].isna().all()


def test_tiny_study_runs_keep_their_config_and_history(tiny_study):
    run = tiny_study / "runs" / "dataset~mnist" / "epochs~1" / "loss~mse-sigma0.3" / "latent~2" / "seed~0"
    saved = yaml.safe_load((run / "config.json").read_text())
    assert saved["loss"] == "mse-sigma0.3" and saved["likelihood"] == {
        "name": "mse-sigma0.3", "family": "mse", "settings": {"sigma": 0.3}, "data": "binary"}
    assert list(pd.read_csv(run / "history.csv").epoch) == [1]
    assert (run / "model" / "encoder.keras").stat().st_size > 0


N_DATASETS = len(TINY_DATASETS)  # mnist, and fashion-mnist where it is installed
RUNS = TINY_RUNS_PER_DATASET * N_DATASETS  # config/tiny.yaml's grid, per dataset
# per dataset: its comparison plots and the side-by-side pictures of each latent size (tiny.yaml:
# 2); the forest plot of each dataset after the first
LATENTS = len(TINY_GRID["latent_dims"])
STUDY_PNGS = (N_DATASETS * (len(layout.PLOTS) + len(layout.SIDE_BY_SIDE_PICTURES) * LATENTS)
              + N_DATASETS - 1)
SFX = "-mnist" if N_DATASETS > 1 else ""  # the anchors of MNIST's sections
RUN_PNGS = sum(f.endswith(".png") for f in layout.PICTURES.values())  # all but the GIF


def test_tiny_study_figures_decode(tiny_study):
    pngs = list(tiny_study.rglob("*.png"))
    assert len(pngs) == STUDY_PNGS + RUNS * RUN_PNGS
    for png in pngs:
        assert iio.imread(png).size > 0
    gifs = list(tiny_study.rglob("training.gif"))
    assert len(gifs) == RUNS
    frames = iio.imread(gifs[0], index=None)
    assert frames.shape[0] == 1  # one frame per epoch (the tiny config trains one epoch)


def test_each_side_by_side_picture_holds_every_trained_loss(tiny_study, tmp_path):
    """Each side-by-side picture shows every loss trained at its dataset, budget and latent
    size (a picture planned before the trainings ended would hold fewer panels): its shape is
    that of the same picture drawn from all of them (the lowest seed of each)."""
    from vaestudy.analysis.study_plots import plot_side_by_side

    runs = pd.read_csv(tiny_study / "runs.csv")
    runs = runs[runs.status == "trained"].sort_values("seed")
    places = runs.groupby(["dataset", "epochs", "latent_dim"])
    assert len(places) == N_DATASETS * LATENTS
    for (dataset, epochs, latent), group in places:
        first = group.drop_duplicates("loss")
        assert len(first) == len(TINY_GRID["losses"])
        pictures = {r.loss: layout.run_file(tiny_study, layout.PICTURES["samples"], layout.run_key(
            dataset, epochs, r.loss, latent, r.seed)) for r in first.itertuples()}
        plot_side_by_side(pictures, "every trained loss", tmp_path / "all.png")
        made = layout.side_by_side(tiny_study, dataset, epochs, latent, "samples")
        assert iio.imread(made).shape == iio.imread(tmp_path / "all.png").shape, made


def test_tiny_study_report_is_self_contained(tiny_study):
    html = (tiny_study / "report.html").read_text()
    # The report shows the side-by-side picture instead of each run's sample grid, and the one
    # row of samples per loss of the largest latent size only (in the answer).
    shown = STUDY_PNGS - N_DATASETS * (LATENTS - 1)
    assert html.count('src="data:image/png;base64,') == shown + RUNS * (RUN_PNGS - 1)
    assert html.count('src="data:image/gif;base64,') == RUNS
    assert 'src=""' not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for section in ("What changes when the loss changes", "Study design", "Results",
                    "Samples and reconstructions", "Latent space", "Theory", "Reproducibility"):
        assert section in html
    assert html.index(f'id="changes{SFX}"') < html.index(f'id="design{SFX}"')  # question first
    # one Gaussian loss (no sigma sweep) beside bce; binary and gray losses side by side
    assert "mse-sigma0.3 − bce (one seed: no interval, no test): KL per image" in html
    assert "Along the Gaussian" not in html
    assert f'id="mixed-data{SFX}"' in html
    assert "mse-sigma0.3</code> &beta; = 0.18" in html
    # the note on log-likelihoods names each loss's data (a Gaussian may be on gray levels)
    assert "<code>mse-sigma0.3</code> dynamic-binarized." in html
    assert "<code>gauss-learned</code> dequantized 8-bit grayscale (i + u)/256;" in html
    assert "<code>dlogistic</code> 8-bit levels i/255" in html
    assert "and its variants on the same binarized images" not in html
    # only the likelihoods of the levels are ranked in bits/dim; the dequantized ones are not
    assert re.search(r"Not ranked with them:\s+<code>cbern</code>, <code>gauss-learned</code>",
                     html)
    # the answer first, with its plot and the verdicts at a glance (tests/test_answer.py)
    assert html.index('<ul class="answer">') < html.index(f'id="design{SFX}"')
    assert html.count('alt="what the KL weight does"') == N_DATASETS
    assert html.count('<table class="verdicts">') == N_DATASETS * LATENTS * 8
    # Cost per rule from every job's benchmark file, and the efficiency of this 2-core run.
    for rule in ("prepare_data", "train", "evaluate", "run_pictures", "plots"):
        assert f"<td>{rule}</td>" in html
    assert re.search(r"On 2 cores the ideal wall time is\s+[\d,]+&nbsp;s", html)
    assert re.search(r"wall / ideal = \d+\.\d\d", html)


def test_tiny_study_comparisons_pair_every_two_losses(tiny_study):
    comp = pd.read_csv(tiny_study / "comparisons.csv")
    n_losses = len(TINY_GRID["losses"])
    assert len(comp.drop_duplicates(["loss_a", "loss_b"])) == n_losses * (n_losses - 1) // 2
    assert set(comp.latent_dim) == {2, 4}  # one family per metric and latent size
    assert (comp.n_pairs == 1).all() and (comp.verdict == "too few seeds").all()  # one seed


def test_snakemake_report_has_categories_and_labels(root, tiny_study):
    out = tiny_study.parent
    target = out / "snakemake-report.zip"
    result = snakemake(root, "--configfile", str(root / "config" / "tiny.yaml"),
                       str(out / "override.yaml"), "--report", str(target), cwd=out)
    assert result.returncode == 0, result.stderr[-3000:]
    import zipfile

    names = zipfile.ZipFile(target).namelist()
    assert sum(n.endswith(".png") for n in names) >= STUDY_PNGS + RUNS * RUN_PNGS
    assert sum(n.endswith(".gif") for n in names) >= RUNS


def test_each_dataset_has_a_classifier_and_its_test_features(tiny_study):
    """One classifier per dataset; its test features (computed once, read by every
    evaluation) are the features of exactly the evaluation's test images."""
    import keras

    from vaestudy.core.data import prepared_dir
    from vaestudy.core.trained_run import load_trained_run
    from vaestudy.evaluation.classifier import features_and_predictions

    for dataset in TINY_DATASETS:
        folder = tiny_study / "classifier" / dataset
        summary = json.loads((folder / "classifier.json").read_text())
        assert summary["n_test"] == 256 and summary["test_accuracy"] > 0.3  # 10 classes
        run = tiny_study / "runs" / f"dataset~{dataset}" / "epochs~1" / "loss~bce" / "latent~2" / "seed~0"
        manifest = tiny_study / "data" / f"{dataset}_manifest.json"
        cfg = load_trained_run(run / "config.json", {"test_subset": 256}, prepared_dir(manifest))
        assert cfg.dataset == dataset and json.loads(manifest.read_text())["dataset"] == dataset
        model = keras.models.load_model(folder / "classifier.keras", compile=False)
        feats, _ = features_and_predictions(model, cfg.load_data().x_test_gray)
        np.testing.assert_allclose(np.load(folder / "test_features.npy"), feats, rtol=1e-5,
                                   atol=1e-5)
