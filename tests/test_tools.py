"""The tools run: the benchmark times the package's own training (a broken import or a
renamed function in the package fails here, not in a user's hands)."""

import json
import subprocess
import sys


def test_benchmark_times_the_packages_training(root, tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(root / "tools" / "benchmark.py"), "--threads", "1", "--images",
         "512", "--batch", "128", "--no-fit", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "vaestudy.vae.train.train, fp32" in done.stdout
    result = json.loads(out.read_text())["results"][0]
    assert result["step_seconds"] > 0 and result["images_per_s"] > 0
    assert result["val_neg_elbo"] > 0 and result["epoch_seconds"] > 3 * result["step_seconds"]


def test_study_efficiency_reads_rules_and_checkpoints_from_the_snakemake_log(root, tmp_path):
    """A checkpoint's resources belong to it, not to the rule logged before it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("eff", root / "tools" / "study_efficiency.py")
    eff = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eff)
    log = tmp_path / "snakemake.log"
    log.write_text("localrule train_classifier:\n    threads: 1\n"
                   "    resources: tmpdir=/tmp, gpu=0, mem_mb=2000, mem=2 GB\n"
                   "localcheckpoint train:\n    threads: 1\n"
                   "    resources: tmpdir=/tmp, gpu=0, mem_mb=2500, mem=3 GB\n"
                   "Elapsed time: 0:18:51.5\n")
    threads, mem_mb, elapsed = eff.parse_log(log)
    assert mem_mb == {"train_classifier": 2000, "train": 2500}
    assert threads == {"train_classifier": 1, "train": 1} and elapsed == 1131.5


def test_subset_bias_estimates_every_test_image_once(root, tiny_study, tmp_path):
    """docs/reference.md's first-vs-drawn-vs-all table: every one of the 10,000 official test
    images gets an estimate (not only the study's test_subset), the estimates are cached, and
    a second call computes none."""
    import shutil

    import numpy as np

    run = tmp_path / "run"  # a copy: the cache must not change the shared study's run folder
    shutil.copytree(tiny_study / "runs" / "dataset~mnist" / "epochs~1" / "loss~bce" / "latent~2" / "seed~0",
                    run)
    command = [sys.executable, str(root / "tools" / "subset_bias.py"), str(run), "--k", "2",
               "--n", "20", "--threads", "1"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    log_px = np.load(run / "log_px_per_image_K2.npy")
    assert log_px.shape == (10_000,) and np.isfinite(log_px).all() and (log_px < 0).all()
    rows = [line for line in first.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[1] for row in rows[1:]] == ["20", "20", "10,000", "5,000", "5,000"]
    assert f"| {log_px.mean():.2f} |" in rows[3]
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 s of estimates" in again.stdout
    assert "images done" not in again.stdout


def test_evaluation_benchmark_times_every_part_and_reproduces_the_metrics(root, tiny_study):
    """tools/evaluation_benchmark.py on a finished run of the tiny study (read only): one row
    per part of the evaluation, and the whole evaluate() call gives the run's metrics.json
    again (the check any faster evaluation must pass)."""
    run = tiny_study / "runs" / "dataset~mnist" / "epochs~1" / "loss~bce" / "latent~2" / "seed~0"
    done = subprocess.run([sys.executable, str(root / "tools" / "evaluation_benchmark.py"),
                           str(run)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    parts = [line.split(" | ")[0][2:] for line in done.stdout.splitlines()
             if line.startswith("| ") and "---" not in line][1:]
    assert parts == ["import TensorFlow, set threads", "load the data",
                     "load the models and classifier", "negative ELBO",
                     "reconstructions (encode + decode)", "log p(x), importance-weighted",
                     "latent metrics", "sample metrics (classifier)", "whole evaluate() call"]
    assert "metrics.json reproduced (relative 1e-6): yes" in done.stdout


def test_data_benchmark_measures_both_settings_of_the_huge_page_advice(root):
    done = subprocess.run([sys.executable, str(root / "tools" / "data_benchmark.py"),
                           "--epochs", "1", "--repeats", "1"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CPU: ") and "transparent huge pages" in lines[0]
    rows = [line.split("|") for line in lines[2:]]
    assert [r[0].strip() for r in rows] == ["1", "0"]
    assert all(float(v) >= 0 for r in rows for v in r[1:])
