"""The progress table of a running or finished study, from fake run directories (no TensorFlow):
states, epochs done of N, validation losses, seconds per epoch, the remaining time, the grid's
pending points, files being replaced while read, and the command line."""

import json
import math
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from vaestudy.jobs.progress import (
    COLUMNS,
    format_duration,
    main,
    progress_table,
    summary_line,
)

GRID = {"epochs": [10], "losses": ["bce", "mse", "gauss-learned"], "latent_dims": [2, 16],
        "seeds": [0]}


def make_run(out, loss, latent, seed, *, of=10, history=None, summary=None, metrics=False):
    """A run directory of the budget ``of`` as training writes it: config.json at the start,
    history.csv after every epoch (``history``: (val_neg_elbo, seconds) per epoch), then the
    summary, metrics."""
    run = (out / "runs" / "dataset~mnist" / f"epochs~{of}" / f"loss~{loss}" / f"latent~{latent}"
           / f"seed~{seed}")
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(
        {"loss": loss, "latent_dim": latent, "seed": seed,
         "training": {"epochs": of, "early_stopping_patience": 3}}))
    if history is not None:
        pd.DataFrame([{"epoch": i + 1, "train_neg_elbo": val + 1, "val_neg_elbo": val,
                       "seconds": sec} for i, (val, sec) in enumerate(history)],
                     columns=["epoch", "train_neg_elbo", "val_neg_elbo", "seconds"]
                     ).to_csv(run / "history.csv", index=False)
    if summary is not None:
        (run / "train_summary.json").write_text(json.dumps(summary))
    if metrics:
        (run / "metrics.json").write_text("{}")
    return run


@pytest.fixture
def study(tmp_path):
    """A study in progress: finished, evaluated, diverged, mid-way, just started, not started
    (mse/16/0 and gauss-learned/16/0 have no directory), and one run outside GRID."""
    out = tmp_path / "results"
    trained = {"status": "trained", "epochs_run": 4, "best_epoch": 3, "train_seconds": 40}
    make_run(out, "bce", 2, 0, history=[(9, 10), (7, 10), (6, 10), (6.5, 10)],
             summary=trained, metrics=True)  # early-stopped after 4 of 10
    make_run(out, "bce", 16, 0, history=[(8, 5), (6, 5), (5, 5)], summary=trained)
    make_run(out, "mse", 2, 0, history=[(5, 10), (3, 20), (4, 30)])  # 3 of 10 done
    make_run(out, "gauss-learned", 2, 0, history=[(2, 4), (1, 6)],
             summary={"status": "diverged", "diverged_at": {"epoch": 3, "step": 17},
                      "message": "non-finite loss", "epochs_run": 2, "best_epoch": None,
                      "train_seconds": 12})
    make_run(out, "mse", 16, 1)  # started, first epoch not finished: no history.csv
    make_run(out, "cbern", 2, 0, of=5, history=[(4, 8)])  # outside GRID, 1 of 5 done
    return out


def rows(table):
    return {(r.loss, r.latent, r.seed): r for r in table.itertuples()}


def test_study_in_progress_states_epochs_and_eta(study):
    table = progress_table(study, GRID)
    assert list(table.columns) == COLUMNS
    r = rows(table)
    assert {k: v.state for k, v in r.items()} == {
        ("bce", 2, 0): "evaluated", ("bce", 16, 0): "trained", ("cbern", 2, 0): "training",
        ("gauss-learned", 2, 0): "diverged", ("gauss-learned", 16, 0): "pending",
        ("mse", 2, 0): "training", ("mse", 16, 0): "pending", ("mse", 16, 1): "training"}
    mid = r[("mse", 2, 0)]  # 3 epochs of 10 at a mean 20 s: 7 x 20 s left
    assert (mid.epoch, mid.of, mid.val_neg_elbo, mid.best_val_neg_elbo) == (3, 10, 4, 3)
    assert mid.sec_per_epoch == 20 and mid.eta_s == 140
    assert r[("cbern", 2, 0)].eta_s == 4 * 8
    started = r[("mse", 16, 1)]
    assert (started.epoch, started.of) == (0, 10)
    assert math.isnan(started.eta_s) and math.isnan(started.val_neg_elbo)
    done = r[("bce", 2, 0)]  # early stopping: finished before N, nothing left
    assert (done.epoch, done.of, done.eta_s, done.val_neg_elbo, done.best_val_neg_elbo) == (
        4, 10, 0, 6.5, 6)
    diverged = r[("gauss-learned", 2, 0)]
    assert (diverged.epoch, diverged.eta_s, diverged.sec_per_epoch) == (2, 0, 5)
    pending = r[("mse", 16, 0)]
    assert (pending.epoch, pending.of) == (0, 10) and math.isnan(pending.eta_s)  # its budget


def test_sorted_by_budget_loss_latent_seed_and_grid_adds_only_pending(study):
    table = progress_table(study, GRID)
    keys = list(zip(table.epochs, table.loss, table.latent, table.seed))
    assert keys == sorted(keys) and len(keys) == 8  # cbern's budget of 5 first
    assert keys.index((10, "mse", 2, 0)) < keys.index((10, "mse", 16, 0))  # not "16" < "2"
    without_grid = progress_table(study)
    assert len(without_grid) == 6 and "pending" not in set(without_grid.state)
    assert progress_table(study, {"epochs": [10], "losses": ["bce"], "latent_dims": [2],
                                  "seeds": [0, 1]}).shape[0] == 7  # disk runs + bce/2/1


def test_a_grid_of_two_datasets_adds_the_pending_runs_of_each(study):
    grid = {**GRID, "datasets": ["mnist", "fashion-mnist"]}
    table = progress_table(study, grid)
    assert len(table) == 8 + 6  # the MNIST table above + 3 losses x 2 latents pending
    fashion = table[table.dataset == "fashion-mnist"]
    assert len(fashion) == 6 and set(fashion.state) == {"pending"}
    assert list(table.dataset) == sorted(table.dataset)  # fashion-mnist first


def test_files_replaced_while_read_count_as_not_there(tmp_path):
    out = tmp_path / "results"
    empty = make_run(out, "bce", 2, 0, history=[(5, 10)])
    (empty / "history.csv").write_text("")  # being rewritten
    torn = make_run(out, "bce", 2, 1, history=[(5, 10), (4, 10)])
    (torn / "history.csv").write_text("epoch,val_neg_elbo,seconds\n1,5,10\n2,4,10\n3")
    half = make_run(out, "bce", 2, 2, history=[(5, 10)])
    (half / "train_summary.json").write_text('{"status": "tra')
    (make_run(out, "bce", 2, 3) / "config.json").write_text('{"loss": "b')
    r = rows(progress_table(out))
    assert (r[("bce", 2, 0)].state, r[("bce", 2, 0)].epoch) == ("training", 0)
    assert math.isnan(r[("bce", 2, 0)].eta_s)
    assert (r[("bce", 2, 1)].epoch, r[("bce", 2, 1)].eta_s) == (2, 80)
    assert (r[("bce", 2, 2)].state, r[("bce", 2, 2)].eta_s) == ("training", 90)
    assert r[("bce", 2, 3)].state == "pending"


def test_no_runs_and_non_run_directories(tmp_path):
    (tmp_path / "runs" / "dataset~mnist" / "epochs~2" / "loss~bce" / "latent~x" / "seed~0"
     ).mkdir(parents=True)
    table = progress_table(tmp_path)
    assert table.empty and list(table.columns) == COLUMNS


@pytest.mark.parametrize("seconds, text", [(45, "45 s"), (59.6, "1 min 0 s"),
                                           (200, "3 min 20 s"), (7500, "2 h 05 min"),
                                           (math.nan, "-")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def write_yaml(path, value):
    path.write_text(yaml.safe_dump(value))
    return path


def test_cli_table_and_summary(study, tmp_path, capsys):
    base = write_yaml(tmp_path / "base.yaml", {"output_dir": "elsewhere", "study": {
        "losses": ["bce"], "latent_dims": [2], "seeds": [0], "epochs": [10]}})
    over = write_yaml(tmp_path / "over.yaml", {"output_dir": str(study),
                                               "study": {"losses": GRID["losses"],
                                                         "latent_dims": [2, 16]}})
    assert main(["--config", str(base), "--config", str(over)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, table, summary = lines[0].split(), lines[1:-1], lines[-1]
    assert header == COLUMNS[:-1] + ["eta"]
    assert len(table) == 8  # the merged grid (3 losses x 2 latents x seed 0) + 2 on disk
    mid = next(line.split()[2:] for line in table
               if line.split()[:5] == ["mnist", "10", "mse", "2", "0"])
    assert mid[3:] == ["training", "3", "10", "4.00", "3.00", "20.00", "2", "min", "20", "s"]
    done = next(line.split()[2:] for line in table
                if line.split()[:5] == ["mnist", "10", "bce", "2", "0"])
    assert done[3:6] == ["evaluated", "4", "10"] and done[-1] == "-"
    assert summary == ("8 runs: 2 pending, 3 training, 1 trained, 1 diverged, 1 evaluated; "
                       "sum of remaining epoch time of the runs in training: 2 min 52 s "
                       "(+ 1 without a finished epoch yet); left to train: at most 41 epochs "
                       "of 5 runs, 6 min 59 s of job time at the 10.2 s per epoch measured "
                       "in this study (jobs side by side share it)")
    # 41 = 7 + 10 + 4 left of the runs in training + 2 pending x their budget's 10 epochs;
    # 10.2 s = 133 s of the 13 epochs on disk (not the mean of the runs' means, 9.6 s)


def test_cli_positional_dir_wins_and_missing_study(study, tmp_path, capsys):
    conf = write_yaml(tmp_path / "c.yaml", {"output_dir": str(tmp_path / "nowhere")})
    assert main([str(study), "--config", str(conf)]) == 0
    assert "6 runs:" in capsys.readouterr().out
    assert main(["--config", str(conf)]) == 2
    err = capsys.readouterr().err
    assert f"no study at {tmp_path / 'nowhere'}: run snakemake first" in err
    assert main([str(tmp_path / "gone")]) == 2
    assert str(tmp_path / "gone") in capsys.readouterr().err
    assert main([str(study), "--config", str(tmp_path / "missing.yaml")]) == 2


def test_tool_script_runs_without_tensorflow(study, root):
    done = subprocess.run([sys.executable, str(root / "tools" / "progress.py"), str(study)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1].startswith("6 runs: 0 pending, 3 training")
    check = "import sys, vaestudy.jobs.progress; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True, cwd=root / "src")


def test_a_longer_budget_counts_only_the_epochs_beyond_the_shorter_one(tmp_path):
    """Budgets 10 and 30: the 30-epoch run continues the 10-epoch one, so it has 20 epochs of
    its own to train, not 30 (and the 10-epoch run 8 after its 2 done)."""
    out = tmp_path / "results"
    make_run(out, "bce", 2, 0, history=[(5, 10), (4, 10)])
    table = progress_table(out, {"epochs": [10, 30], "losses": ["bce"], "latent_dims": [2],
                                 "seeds": [0]})
    assert list(zip(table.epochs, table.state, table["of"])) == [(10, "training", 10),
                                                                 (30, "pending", 30)]
    assert "left to train: at most 28 epochs of 2 runs" in summary_line(table)
