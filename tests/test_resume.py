"""Never lose work: checkpoints, resume after an interruption (in-process stop, SIGTERM, and
SIGKILL of a training job inside a running study), bit-identical results."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vaestudy.core import layout
from vaestudy.core.config import run_config
from vaestudy.core.data import load_split
from vaestudy.jobs import runtime, usage
from vaestudy.jobs.kept_outputs import QUOTE

runtime.configure(threads=1)

from conftest import snakemake, write_config  # noqa: E402

from vaestudy.vae import train as train_mod  # noqa: E402

TINY = {"data": {"train_subset": 512, "validation_size": 256, "test_subset": 64},
        "training": {"epochs": 3, "batch_size": 64}, "pictures": {"grid_size": 2}}


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
    other = run_config({**TINY, "training": {**TINY["training"], "learning_rate": 0.002}},
                       "bce", 2, 0)
    result = train_mod.train(other, data, checkpoint=path)
    straight = train_mod.train(other, data)
    for a, b in zip(_weights(straight), _weights(result), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_an_unreadable_checkpoint_is_set_aside_and_the_run_finishes(data, tmp_path, caplog,
                                                                    damage):
    """A checkpoint damaged after the write (a kill -9 of a copy, a bad disk) is renamed, never
    deleted nor unpickled, with a warning that names it; the run then trains from scratch to
    the same result as a run that never had a checkpoint."""
    path = tmp_path / "checkpoint.npz"
    calls = iter(range(1000))
    cfg = run_config(TINY, "bce", 2, 0)
    with pytest.raises(train_mod.Interrupted):
        train_mod.train(cfg, data, checkpoint=path, should_stop=lambda: next(calls) == 10)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2] if damage == "truncated"
                     else np.random.default_rng(0).bytes(len(good)))
    with caplog.at_level("WARNING"):
        result = train_mod.train(cfg, data, checkpoint=path)
    assert list(result.history.epoch) == [1, 2, 3]
    aside = list(tmp_path.glob("checkpoint.npz.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes() != good  # kept, as it was
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert str(path) in warning and str(aside[0]) in warning and "from scratch" in warning
    straight = train_mod.train(cfg, data)
    for a, b in zip(_weights(straight), _weights(result), strict=True):
        np.testing.assert_array_equal(a, b)


def train_job_code(root, run, epochs=2) -> tuple[str, dict]:
    """Python code that runs ``vaestudy.jobs.training_run.train_run`` (the train rule's job) on
    4,096 images into ``run``, logging to stderr, and the paths of its outputs."""
    out = layout.train_outputs(run)
    data = {**TINY["data"], "train_subset": 4096, "dir": str(root / "resources" / "mnist")}
    settings = {**TINY, "data": data, "training": {"epochs": epochs, "batch_size": 32}}
    settings.pop("test_subset", None)
    code = ("from vaestudy.jobs.runtime import job_logger; from vaestudy.jobs.training_run import "
            f"train_run; train_run({settings!r}, 'bce', 2, 0, {out!r}, job_logger(None))")
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
    first = json.loads((run / layout.ATTEMPTS).read_text())  # the killed process's cost
    assert len(first) == 1 and first[0]["wall_seconds"] > 0
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_csv(out["history"])) == 2 and not ckpt.exists()
    # the cost of the outputs sums both processes (the report's cost table reads the line)
    work = json.loads(Path(out["summary"]).read_text())["work"]
    assert work["attempts"] == 2 and work["wall_seconds"] > first[0]["wall_seconds"]
    assert work["cpu_seconds"] > first[0]["cpu_seconds"]
    assert usage.work_line(work) in done.stderr and not (run / layout.ATTEMPTS).exists()
    # started again (Snakemake interrupted before it recorded the job): restored, and its
    # log names the original work, not the fraction of a second the restore takes
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "outputs are restored" in again.stderr
    assert usage.work_line(work, restored=True) in again.stderr


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
    config = {"study": {"losses": ["bce"], "latent_dims": [2], "seeds": [0], "epochs": [3]},
              "data": {"dirs": {"mnist": str(root / "resources" / "mnist")}, "train_subset": 4096},
              "training": {"batch_size": 32}}
    results = {}
    for name in ("clean", "killed"):
        directory = tmp_path / name
        directory.mkdir()
        cfg = {**config, "output_dir": str(directory / "results")}
        proc = _study(root, directory, cfg)
        if name == "killed":
            ckpt = directory / "results/runs/dataset~mnist/epochs~3/loss~bce/latent~2/seed~0/checkpoint.npz"
            deadline = time.time() + 300
            while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert ckpt.exists(), "training never checkpointed"
            # the progress command sees the run in training, an epoch done, with time left
            from vaestudy.jobs.progress import progress_table

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


# A Snakemake interrupted while a training job runs must not make its next run train again.
# One short run (1,024 images, 5 epochs) and the classifier; the training job is paused
# (SIGSTOP) while Snakemake is interrupted, so that it is still running, whatever the speed.
def _micro_study(root, directory) -> tuple[list[str], Path]:
    """The Snakemake command of a one-run study in ``directory`` that stops after training
    (the run's outputs and the classifier), and the run's folder."""
    out = directory / "results"
    cfg = write_config(directory / "override.yaml", output_dir=str(out),
                       study={"losses": ["bce"], "latent_dims": [2], "seeds": [0],
                              "epochs": [5]},
                       data={"dirs": {"mnist": str(root / "resources" / "mnist")},
                             "train_subset": 1024},
                       training={"batch_size": 32})
    run = out / "runs" / "dataset~mnist" / "epochs~5" / "loss~bce" / "latent~2" / "seed~0"
    targets = [run / "config.json", run / "train_summary.json",
               out / "classifier/mnist/classifier.json"]
    return (["--cores", "2", "--configfile", str(root / "config" / "tiny.yaml"), str(cfg),
             "--", *map(str, targets)], run)


def _start(root, directory, args) -> subprocess.Popen:
    """Snakemake in the background, as from a terminal: SIGINT at its default (a test suite
    started as a background job of a shell inherits SIGINT ignored, and Python then never
    turns it into KeyboardInterrupt: the SIGINT test failed so in a backgrounded CI run)."""
    log = open(directory / "snakemake.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--snakefile",
                             str(root / "Snakefile"), *args], cwd=directory, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _paused_training_job(run, proc) -> int:
    """Wait until the training job of ``run`` has checkpointed an epoch, pause it (SIGSTOP)
    and return its pid (from its lock file)."""
    wait_for(run / "checkpoint.npz", proc, seconds=300)
    pid = int((run / ".train.lock").read_text().split()[1])
    os.kill(pid, signal.SIGSTOP)
    return pid


def _wait_until_gone(pid, seconds=300) -> None:
    """Wait for a process that is not our child (an orphan) to end."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still running after {seconds} s")


def _outputs(run) -> dict[str, bytes]:
    """Every output of the run's training and of the classifier, by name."""
    study = run.parents[5]  # results/runs/dataset~D/epochs~E/loss~L/latent~Z/seed~S
    files = [*run.glob("[!.]*.*"), *(run / "model").glob("*.keras"),
             *(study / "classifier" / "mnist").glob("classifier.*")]
    return {str(f.relative_to(study)): f.read_bytes() for f in files}


def _logs(run) -> dict[str, str]:
    study = run.parents[5]
    logs, key = study / "logs", run.relative_to(study / layout.RUNS)
    return {"train": Path(layout.job_file(study, "logs", "train", str(key))).read_text(),
            "classifier": (logs / "train_classifier/dataset~mnist.log").read_text()}


def _assert_nothing_trained_again(before: dict, after: dict) -> None:
    """Each training job either did not run again (its log unchanged) or restored its kept
    outputs without training a step."""
    for job, log in after.items():
        own = "\n".join(line for line in log.splitlines() if not line.startswith(QUOTE))
        assert log == before[job] or ("nothing is trained" in own and "epoch 1" not in own
                                      and "test accuracy" not in own), (job, log[-2000:])


def test_a_job_left_by_a_killed_snakemake_keeps_its_training(root, tmp_path):
    """kill -9 of Snakemake alone: its training job goes on as an orphan. A second Snakemake
    started meanwhile stops at the run's lock, and deletes the job's outputs (config.json,
    written at the start, too) when it starts the job and when the job fails. The orphan then
    finishes, and the third run trains nothing: the files are the orphan's."""
    args, run = _micro_study(root, tmp_path)
    first = _start(root, tmp_path, args)
    job = _paused_training_job(run, first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert snakemake(root, "--unlock", *args[2:5], cwd=tmp_path).returncode == 0
    second = snakemake(root, *args, cwd=tmp_path)
    assert second.returncode != 0 and f"pid {job}" in second.stdout + second.stderr
    assert not (run / "config.json").exists()  # deleted by Snakemake under the running job
    os.kill(job, signal.SIGCONT)
    # the classifier's job may be an orphan too: a lock holds "pid N on host" while held
    for lock in (run / ".train.lock", run.parents[4] / "classifier" / "mnist" / ".train.lock"):
        holder = lock.read_text().split() if lock.exists() else []
        if holder:
            _wait_until_gone(int(holder[1]))
    before, logs = _outputs(run), _logs(run)
    for name in ("config.json", "train_summary.json", "model/encoder.keras"):
        assert (run / name).exists(), f"the orphan's finished run has no {name}"
    third = snakemake(root, *args, cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    _assert_nothing_trained_again(logs, _logs(run))
    assert _outputs(run) == before


def test_sigint_to_snakemake_keeps_the_training_it_waited_for(root, tmp_path):
    """SIGINT to Snakemake alone (a scheduler, a terminal multiplexer): it waits for the
    running training to finish but exits without recording it; the next run (forced by
    --rerun-incomplete) restores the finished outputs and trains nothing."""
    args, run = _micro_study(root, tmp_path)
    first = _start(root, tmp_path, args)
    job = _paused_training_job(run, first)
    first.send_signal(signal.SIGINT)
    log, deadline = tmp_path / "snakemake.log", time.time() + 120
    while "Terminating processes on user request" not in log.read_text():
        assert time.time() < deadline, log.read_text()[-3000:]  # taken while the job runs
        time.sleep(0.1)
    os.kill(job, signal.SIGCONT)
    assert first.wait(timeout=300) != 0
    before, logs = _outputs(run), _logs(run)
    assert "done in" in logs["train"]  # Snakemake waited for the training to finish
    again = snakemake(root, *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Forced execution" in again.stdout + again.stderr  # what --rerun-incomplete does
    assert "nothing is trained" in _logs(run)["train"]
    _assert_nothing_trained_again(logs, _logs(run))
    assert _outputs(run) == before
