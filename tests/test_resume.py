"""Never lose work: checkpoints, resume after an interruption (in-process stop, SIGTERM, and
SIGKILL of a training job inside a running study), bit-identical results."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from vaestudy import runtime
from vaestudy.config import run_config
from vaestudy.data import load_split

runtime.configure(threads=1)

from vaestudy import train as train_mod  # noqa: E402

from conftest import snakemake, write_config  # noqa: E402

TINY = {"data": {"train_subset": 512, "validation_size": 256, "test_subset": 64},
        "training": {"epochs": 3, "batch_size": 64}, "figures": {"grid_size": 2}}


@pytest.fixture(scope="module")
def data(root):
    return load_split(root / "resources" / "mnist", 256, 0, "dynamic", 1234, 512, 64)


def _weights(result):
    return result.encoder.get_weights() + result.decoder.get_weights()


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_interrupted_run_resumes_bit_identically(data, tmp_path, precision):
    cfg = run_config({**TINY, "training": {**TINY["training"], "precision": precision}},
                     "gauss-learned", 2, 3)
    whole = train_mod.train(cfg, data, checkpoint=tmp_path / "a.npz")
    calls = iter(range(1000))
    with pytest.raises(train_mod.Interrupted, match="epoch 2, step 4"):
        train_mod.train(cfg, data, checkpoint=tmp_path / "b.npz",
                        should_stop=lambda: next(calls) == 8 + 4)  # mid epoch 2
    resumed = train_mod.train(cfg, data, checkpoint=tmp_path / "b.npz")
    cols = [c for c in whole.history.columns if c != "seconds"]
    pd.testing.assert_frame_equal(whole.history[cols], resumed.history[cols])
    for a, b in zip(_weights(whole), _weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert whole.sigma == resumed.sigma
    np.testing.assert_array_equal(whole.epoch_samples, resumed.epoch_samples)


def test_checkpoint_of_another_config_is_not_resumed(data, tmp_path):
    path = tmp_path / "c.npz"
    calls = iter(range(1000))
    with pytest.raises(train_mod.Interrupted):
        train_mod.train(run_config(TINY, "bce", 2, 0), data, checkpoint=path,
                        should_stop=lambda: next(calls) == 10)
    other = run_config({**TINY, "training": {"epochs": 1, "batch_size": 64}}, "bce", 2, 0)
    result = train_mod.train(other, data, checkpoint=path)
    assert list(result.history.epoch) == [1]


def train_job_code(root, run, epochs=2) -> tuple[str, dict]:
    """Python code that runs ``vaestudy.jobs.train_job`` on 4,096 images into ``run``, and
    the paths of its outputs."""
    out = {k: str(run / f) for k, f in (("model", "model"), ("history", "history.csv"),
           ("summary", "train_summary.json"), ("config", "config.json"),
           ("epoch_samples", "epoch_samples.npy"))}
    manifest = run.parent / "manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"dir": str(root / "resources" / "mnist")}))
    settings = {**TINY, "data": {**TINY["data"], "train_subset": 4096},
                "training": {"epochs": epochs, "batch_size": 32}}
    settings.pop("test_subset", None)
    code = (f"from vaestudy.jobs import train_job; train_job(settings={settings!r}, "
            f"manifest={str(manifest)!r}, loss='bce', latent=2, seed=0, out={out!r}, threads=1)")
    return code, out


def wait_for(path, proc, seconds=120):
    deadline = time.time() + seconds
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert path.exists(), proc.stderr.read() if proc.poll() is not None else f"no {path}"


def test_sigterm_saves_the_position_and_exits(root, tmp_path):
    """A training job that receives SIGTERM (what a cluster sends before SIGKILL) saves its
    exact position, writes no output, exits non-zero; the next start resumes."""
    run = tmp_path / "run"
    code, out = train_job_code(root, run)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    ckpt = run / "checkpoint.npz"
    wait_for(ckpt, proc)
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode != 0 and "checkpoint saved" in stderr
    assert not (run / "model" / "encoder.keras").exists()
    with np.load(ckpt) as saved:
        meta = json.loads(saved["meta"].tobytes().decode())
    assert meta["epoch"] == 2 and meta["step"] > 0  # mid-epoch position
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_csv(out["history"])) == 2 and not ckpt.exists()


def test_a_run_is_never_trained_by_two_processes_at_once(root, tmp_path):
    """A second training process of the same run (a job left running by a killed Snakemake,
    and its re-run) stops at once with a message naming the first, which carries on."""
    run = tmp_path / "run"
    code, out = train_job_code(root, run, epochs=50)
    first = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    wait_for(run / "checkpoint.npz", first)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    still_running = first.poll() is None
    first.send_signal(signal.SIGTERM)  # the first stops cleanly at its next step
    first.communicate(timeout=120)
    assert still_running, "the first process ended before the second started"
    assert second.returncode != 0
    assert f"pid {first.pid}" in second.stderr and "already running" in second.stderr
    assert first.returncode != 0 and (run / "checkpoint.npz").exists()  # its work is kept


def _study(root, directory, config):
    cfg = write_config(directory / "override.yaml", **config)
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--snakefile",
                             str(root / "Snakefile"), "--cores", "2", "--configfile",
                             str(root / "config" / "tiny.yaml"), str(cfg)],
                            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


METRICS = ["test_neg_elbo", "test_log_px", "recon_mse", "fid_classifier", "knn_accuracy"]


def test_study_survives_a_killed_training_job(root, tmp_path):
    """SIGKILL the training job (and Snakemake) mid-epoch, re-run with --rerun-incomplete:
    the study completes with the same numbers as an uninterrupted one."""
    config = {"study": {"losses": ["bce"], "latent_dims": [2], "seeds": [0]},
              "data": {"dir": str(root / "resources" / "mnist"), "train_subset": 4096},
              "training": {"epochs": 3, "batch_size": 32}}
    results = {}
    for name in ("clean", "killed"):
        directory = tmp_path / name
        directory.mkdir()
        cfg = {**config, "output_dir": str(directory / "results")}
        proc = _study(root, directory, cfg)
        if name == "killed":
            ckpt = directory / "results/runs/loss~bce/latent~2/seed~0/checkpoint.npz"
            deadline = time.time() + 300
            while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert ckpt.exists(), "training never checkpointed"
            # the progress command sees the run in training, an epoch done, with time left
            from vaestudy.progress import progress_table

            row = progress_table(directory / "results").iloc[0]
            assert row.state == "training" and row.epoch >= 1 and row["of"] == 3
            assert row.eta_s > 0 or row.epoch == 3
            os.killpg(proc.pid, signal.SIGKILL)  # the job and Snakemake: a node crash
            proc.wait()
            # A killed Snakemake leaves its lock behind: --unlock, then re-run.
            args = ("--configfile", str(root / "config" / "tiny.yaml"),
                    str(directory / "override.yaml"))
            assert snakemake(root, "--unlock", *args, cwd=directory).returncode == 0
            result = snakemake(root, "--cores", "2", "--rerun-incomplete", *args,
                               cwd=directory)
            assert result.returncode == 0, result.stderr[-3000:]
        else:
            assert proc.wait(timeout=600) == 0, proc.stderr.read()[-3000:]
        results[name] = pd.read_csv(directory / "results" / "metrics.csv")
    pd.testing.assert_frame_equal(results["clean"][METRICS], results["killed"][METRICS])
