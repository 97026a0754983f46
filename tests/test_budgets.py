"""Training budgets as an axis of the grid (``study.epochs``): a longer budget continues the
final state of the shorter one's run, bit for bit the run trained straight to it; a shorter
run's divergence is the longer one's result; tables, tests and the report keep budgets apart."""

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from vaestudy.analysis import budgets
from vaestudy.analysis.stats import paired_comparisons
from vaestudy.core import layout
from vaestudy.core.config import RUN_FIELDS, run_config
from vaestudy.core.data import load_split
from vaestudy.jobs import runtime
from vaestudy.jobs.training_run import train_run

runtime.configure(threads=1)

from vaestudy.vae import train as train_mod  # noqa: E402

TINY = {"data": {"train_subset": 512, "validation_size": 256, "test_subset": 64},
        "training": {"batch_size": 64}, "pictures": {"grid_size": 2}}


def tiny(epochs: int, loss: str = "gauss-learned", **training):
    return run_config({**TINY, "training": {**TINY["training"], "epochs": epochs, **training}},
                      loss, 2, 3)


@pytest.fixture(scope="module")
def data(root):
    return load_split(root / "resources" / "mnist", 256, 0, "dynamic", 1234, 512, 64)


def _weights(result) -> list:
    return result.encoder.get_weights() + result.decoder.get_weights()


def test_a_longer_budget_continues_the_shorter_run_bit_for_bit(data, tmp_path):
    """2 epochs continued from the final state of a 1-epoch run = 2 epochs straight: the same
    weights, learned sigma, history and per-epoch samples (a learned scale, so that the
    likelihood's variable is carried over too)."""
    train_mod.train(tiny(1), data, checkpoint=tmp_path / "one.npz")
    shutil.copyfile(tmp_path / "one.npz", tmp_path / "two.npz")
    steps = []
    continued = train_mod.train(tiny(2), data, checkpoint=tmp_path / "two.npz",
                                should_stop=lambda: steps.append(1) or False)
    assert len(steps) == 512 // 64  # one epoch trained: the first one was continued
    straight = train_mod.train(tiny(2), data)
    cols = [c for c in straight.history.columns if c != "seconds"]
    pd.testing.assert_frame_equal(straight.history[cols], continued.history[cols])
    assert len(straight.history) == 2 and straight.sigma == continued.sigma
    for a, b in zip(_weights(straight), _weights(continued), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(straight.epoch_samples, continued.epoch_samples)


def test_a_state_of_another_setting_is_not_continued(data, tmp_path):
    """Only the budget may differ: a final state trained at another learning rate is not
    resumed (the run trains from its first epoch, as a run without it)."""
    train_mod.train(tiny(1, learning_rate=0.002), data, checkpoint=tmp_path / "other.npz")
    result = train_mod.train(tiny(2), data, checkpoint=tmp_path / "other.npz")
    for a, b in zip(_weights(train_mod.train(tiny(2), data)), _weights(result), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_state_past_the_budget_is_refused(data, tmp_path):
    train_mod.train(tiny(2, loss="bce"), data, checkpoint=tmp_path / "two.npz")
    with pytest.raises(ValueError, match="epoch 2, past this run's budget of 1 epochs"):
        train_mod.train(tiny(1, loss="bce"), data, checkpoint=tmp_path / "two.npz")


def _settings(root, epochs: int) -> dict:
    """A run's settings as the train rule passes them (config.json without the grid point,
    the data folder filled in)."""
    saved = tiny(epochs, loss="bce").training_dict()
    settings = {k: v for k, v in saved.items() if k not in RUN_FIELDS}
    return {**settings, "data": {**settings["data"], "dir": str(root / "resources" / "mnist")}}


def _job(root, tmp_path, epochs: int, name: str, continues=None) -> dict:
    out = layout.train_outputs(tmp_path / name)
    train_run(_settings(root, epochs), "bce", 2, 3, out, logging.getLogger("test"),
              continues=continues)
    return out


def _arrays(path) -> dict:
    with np.load(path) as state:
        return {k: state[k] for k in state.files if k != "meta"}


def test_the_train_job_continues_the_shorter_budgets_final_state(root, tmp_path):
    """The train rule's job with the shorter budget's outputs ends where the job trained
    straight to its budget ends: the same final state (weights, optimizer, generator, best
    weights, samples) and history; its summary counts both budgets' epochs."""
    one = _job(root, tmp_path, 1, "e1")
    assert not (tmp_path / "e1" / layout.CHECKPOINT).exists()  # it became the state output
    continued = _job(root, tmp_path, 2, "e2", continues=one)
    straight = _job(root, tmp_path, 2, "straight")
    a, b = _arrays(straight["state"]), _arrays(continued["state"])
    assert a.keys() == b.keys() and any(k.startswith("best/") for k in a)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    histories = [pd.read_csv(out["history"]) for out in (straight, continued, one)]
    pd.testing.assert_frame_equal(*(h.drop(columns="seconds") for h in histories[:2]))
    # its first epoch is the shorter run's, not trained again (a second one takes other seconds)
    assert histories[1].seconds[0] == histories[2].seconds[0]
    summary = json.loads(open(continued["summary"]).read())
    assert summary["epochs_run"] == 2 and summary["stopped_early_at"] is None


def test_a_shorter_budgets_divergence_is_the_longer_ones_result(root, tmp_path):
    """A run that diverged at a shorter budget diverges at the same step on the way to a
    longer one: the job records that divergence (and which budget found it) without
    training."""
    shorter = layout.train_outputs(tmp_path / "e1")
    (tmp_path / "e1" / "model").mkdir(parents=True)
    pd.DataFrame({"epoch": [], "val_neg_elbo": []}).to_csv(shorter["history"], index=False)
    np.save(shorter["epoch_samples"], np.zeros((0, 0, 28, 28), np.uint8))
    open(shorter["state"], "wb").close()
    open(shorter["config"], "w").write(json.dumps(tiny(1, loss="bce").training_dict()))
    open(shorter["summary"], "w").write(json.dumps({
        "status": "diverged", "diverged_at": {"epoch": 1, "step": 3}, "epochs_run": 0,
        "last_finite_losses": [1.0, 1.0, 0.0], "best_epoch": None}))
    out = _job(root, tmp_path, 2, "e2", continues=shorter)
    summary = json.loads(open(out["summary"]).read())
    assert summary["status"] == "diverged" and summary["diverged_at"] == {"epoch": 1, "step": 3}
    assert summary["diverged_in_budget"] == 1 and summary["work"]["attempts"] == 1
    assert json.loads(open(out["config"]).read())["training"]["epochs"] == 2
    assert not any((tmp_path / "e2" / "model").iterdir())


def _metrics(diffs: dict[int, float], seeds: int = 8) -> pd.DataFrame:
    """Two losses on one dataset at the budgets of ``diffs``: loss b is a's value plus the
    budget's difference (and some noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for epochs, diff in diffs.items():
        for seed in range(seeds):
            base = 10 + rng.normal(0, 0.1)
            rows += [{"dataset": "mnist", "epochs": epochs, "loss": loss, "latent_dim": 16,
                      "seed": seed, "fid_classifier": value}
                     for loss, value in (("a", base), ("b", base + diff + rng.normal(0, 0.1)))]
    return pd.DataFrame(rows)


def test_runs_of_different_budgets_are_never_paired():
    table = paired_comparisons(_metrics({2: 1.0, 10: 0.0}), ["fid_classifier"])
    assert list(table.epochs) == [2, 10] and list(table.family_size) == [1, 1]
    assert list(table.verdict) == ["different", "not separated"]
    assert list(table.n_pairs) == [8, 8]  # each over its own budget's seeds


@pytest.mark.parametrize("later, outcome", [(1.0, "holds"), (-1.0, "reverses"),
                                            (0.0, "not separated")])
def test_a_difference_at_the_shortest_budget_is_followed_to_the_longer_ones(later, outcome):
    comparisons = paired_comparisons(_metrics({2: 1.0, 30: later}), ["fid_classifier"])
    (step,) = budgets.budget_parts(comparisons, "mnist", [2, 30])
    assert (step["reference"], step["other"]) == (2, 30)
    assert list(step["table"].outcome) == [outcome] and step["counts"][outcome] == 1
    (line,) = step["sentences"]
    assert "at 2 epochs" in line and "at 30 epochs" in line


def test_runs_that_early_stopping_ended_are_named_with_their_epoch():
    runs = pd.DataFrame({"dataset": ["mnist", "mnist", "fashion-mnist"], "epochs": [30, 10, 30],
                         "loss": ["bce", "mse", "bce"], "latent_dim": [16] * 3,
                         "seed": [0, 1, 0], "stopped_early_at": [23, np.nan, 12]})
    assert budgets.stopped_early(runs, "mnist") == ["bce latent 16 seed 0: stopped at epoch 23 "
                                                    "of 30"]
    assert budgets.budget_text(1) == "1 epoch" and budgets.budget_text(30) == "30 epochs"


def test_runs_that_trained_the_whole_longest_budget_are_named():
    """At the longest budget, the trained runs early stopping did not end (they may still
    improve): not those it ended, not a diverged one, not a shorter budget's or another
    dataset's."""
    runs = pd.DataFrame({
        "dataset": ["mnist"] * 5 + ["fashion-mnist"], "epochs": [100, 100, 100, 30, 100, 100],
        "loss": ["bce", "mse", "mse-sigma0.1", "bce", "cbern", "bce"], "latent_dim": [16] * 6,
        "seed": [0, 0, 1, 0, 0, 0], "stopped_early_at": [64] + [np.nan] * 5,
        "status": ["trained"] * 4 + ["diverged", "trained"]})
    assert budgets.ran_whole_budget(runs, "mnist", 100) == ["mse latent 16 seed 0",
                                                            "mse-sigma0.1 latent 16 seed 1"]
    assert budgets.ran_whole_budget(runs, "fashion-mnist", 100) == ["bce latent 16 seed 0"]


def test_the_tables_name_each_runs_budget_first_and_where_early_stopping_ended_it(tmp_path):
    """runs.csv and history.csv take a run's budget from its config.json (training.epochs)
    into the column ``epochs``, with the other grid coordinates first in every row."""
    from vaestudy.analysis.aggregate import KEYS, collect_histories, collect_runs

    summaries, configs, histories = [], [], []
    for epochs, stopped in ((10, None), (30, 23)):
        run = tmp_path / f"e{epochs}"
        run.mkdir()
        cfg = tiny(epochs, loss="bce").training_dict()
        (run / "config.json").write_text(json.dumps(cfg))
        (run / "train_summary.json").write_text(json.dumps(
            {"status": "trained", "epochs_run": stopped or epochs, "stopped_early_at": stopped}))
        pd.DataFrame({"epoch": [1, 2], "val_neg_elbo": [2.0, 1.0]}).to_csv(run / "h.csv")
        summaries.append(run / "train_summary.json")
        configs.append(run / "config.json")
        histories.append(run / "h.csv")
    runs = collect_runs(summaries, configs)
    assert KEYS[1] == "epochs" and list(runs.columns[:len(KEYS)]) == KEYS
    assert list(runs.epochs) == [10, 30] and list(runs.epochs_run) == [10, 23]
    assert runs.stopped_early_at.isna().tolist() == [True, False]
    history = collect_histories(histories, [json.loads(p.read_text()) for p in configs])
    assert list(history.columns[:len(KEYS)]) == KEYS and list(history.epochs) == [10, 10, 30, 30]


@pytest.mark.parametrize("whole, patience, said", [
    (["mse-sigma0.1 latent 16 seed 1"], 5, "1 run(s) trained the whole budget without early "
     "stopping ending it (mse-sigma0.1 latent 16 seed 1): its numbers are those of a run that "
     "may still improve, not of a converged one."),
    (["bce latent 16 seed 0"], 0, "(early stopping is off:"),
    ([], 5, None)])
def test_the_section_says_which_runs_trained_the_whole_longest_budget(root, whole, patience,
                                                                      said):
    """The report's section across budgets names the runs that reached the cap, and says why
    their numbers are not converged ones (or that early stopping is off); nothing if none."""
    from vaestudy.report.report import _environment

    template = _environment(root / "workflow" / "report" / "report.html.j2").get_template(
        "_budgets.html.j2")
    html = " ".join(template.render(
        budgets=[{"name": "mnist", "title": "MNIST", "steps": [], "stopped": [], "whole": whole,
                  "plot": None}],
        study={"epochs": [2, 100], "datasets": ["mnist"], "seeds": [0, 1, 2],
               "training": {"early_stopping_patience": patience}}).split())
    if said is None:
        assert "whole budget" not in html
    else:
        assert "At 100 epochs, " in html and said in html
