"""The workflow as a research instrument: on a finished study, a change re-runs exactly what
depends on it (dry runs on the tiny study), and a diverged run is a reported result."""

import json
import re
import shutil

import pandas as pd
import pytest
from conftest import (
    TINY_DATASETS,
    TINY_GRID,
    TINY_RUNS_PER_DATASET,
    needs_fashion,
    snakemake,
    write_config,
)

from vaestudy.core import layout

# config/tiny.yaml: losses x latent sizes (2, 4) x seed 0, on each of the N datasets
N = len(TINY_DATASETS)
RUNS, LOSSES = TINY_RUNS_PER_DATASET * N, len(TINY_GRID["losses"]) * N
STUDY = {"aggregate": 1, "plots": N, "report": 1, "default": 1,
         **({"across": N - 1} if N > 1 else {})}  # the forest plot of each later dataset


def planned_jobs(root, study, *configfiles: str, config: tuple = ()) -> dict[str, int]:
    """The jobs ``snakemake -n`` plans on the finished tiny study with more config files and
    ``--config`` items."""
    out = study.parent
    extra = ("--config", *config) if config else ()
    result = snakemake(root, "-n", "--cores", "2", "--configfile",
                       str(root / "config" / "tiny.yaml"), str(out / "override.yaml"),
                       *configfiles, *extra, cwd=out)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    stats = text[text.index("Job stats"):]
    return {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE)
            if name != "total"}


def override(study, name: str, **sections) -> str:
    return str(write_config(study.parent / f"{name}.yaml", **sections))


def test_finished_study_has_nothing_to_do(root, tiny_study):
    assert planned_jobs(root, tiny_study) == {}


def test_an_edited_data_script_or_package_retrains_nothing(root, tiny_study, tmp_path):
    """Moving or renaming the package's modules edits the scripts' imports, prepare_data's
    among them, and a finished study's next run re-runs an edited script's jobs; the
    trainings, the classifier and the evaluations after it re-run nothing (they read the
    data's manifest as ancient: without it, the dry run planned every training, the
    classifier and the evaluations again; a package edit alone re-runs no job)."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("Snakefile", "workflow", "src", "config", "profiles", "docs"):
        if (root / name).is_dir():  # copy2 keeps modification times: nothing else is new
            shutil.copytree(root / name, copy / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".snakemake"))
        else:
            shutil.copy2(root / name, copy / name)
    with open(copy / "workflow" / "scripts" / "prepare_data.py", "a") as script:
        script.write("# an import renamed\n")
    for module in (copy / "src").rglob("*.py"):
        module.write_text(module.read_text() + "# moved\n")
    # the report shows what each job cost, prepare_data's new benchmark among them
    assert planned_jobs(copy, tiny_study) == {"prepare_data": N, "report": 1, "default": 1}


def test_evaluation_change_reruns_evaluations_only(root, tiny_study):
    cfg = override(tiny_study, "eval", evaluation={"iwae_samples": 20})
    assert planned_jobs(root, tiny_study, cfg) == \
        {"evaluate": RUNS, **STUDY}


def test_an_evaluation_override_reruns_the_evaluations_it_selects_only(root, tiny_study):
    """evaluation.overrides for bce: its runs are evaluated again, no other run's."""
    cfg = override(tiny_study, "eval_bce",
                   evaluation={"overrides": [{"losses": ["bce"], "iwae_samples": 20}]})
    bce_runs = len(TINY_GRID["latent_dims"]) * len(TINY_GRID["seeds"]) * N
    assert planned_jobs(root, tiny_study, cfg) == {"evaluate": bce_runs, **STUDY}


def test_figure_change_reruns_figures_only(root, tiny_study):
    cfg = override(tiny_study, "fig", pictures={"n_reconstructions": 5})
    assert planned_jobs(root, tiny_study, cfg) == \
        {"run_pictures": RUNS, "side_by_side": 2 * N, "report": 1, "default": 1}


def test_classifier_change_retrains_the_classifier_not_the_vaes(root, tiny_study):
    cfg = override(tiny_study, "clf", classifier={"epochs": 2})
    assert planned_jobs(root, tiny_study, cfg) == \
        {"train_classifier": N, "evaluate": RUNS, **STUDY}


def test_training_change_retrains_every_run(root, tiny_study):
    cfg = override(tiny_study, "train", training={"learning_rate": 0.002})
    # evaluations and pictures are planned once the train checkpoints have run
    assert planned_jobs(root, tiny_study, cfg) == {"train": RUNS, **STUDY}


def test_a_variant_change_retrains_that_variant_only(root, tiny_study):
    """sigma of mse-sigma0.3 is a setting of that loss: its 2 runs per dataset re-train, the
    other 6 (and the variants the study does not run) are untouched."""
    cfg = override(tiny_study, "variant",
                   loss_variants={"mse-sigma0.3": {"family": "mse", "sigma": 0.2},
                                  "unused": {"family": "mse", "sigma": 5.0}})
    assert planned_jobs(root, tiny_study, cfg) == {"train": 2 * N, **STUDY}


def test_adding_a_dataset_to_a_finished_study_trains_only_its_runs(root, tiny_study, tmp_path):
    """A finished MNIST-only study (a copy of the tiny study, its study-level outputs remade
    for MNIST alone and its Fashion-MNIST runs, classifier and data check deleted): asking
    for both datasets plans Fashion-MNIST's trainings, its data check and classifier, the
    study-level jobs, and no MNIST training, evaluation or classifier."""
    needs_fashion()
    copy = tmp_path / "study"
    shutil.copytree(tiny_study.parent, copy, symlinks=True)
    results = copy / tiny_study.name
    mnist_only = snakemake(root, "--cores", "2", "--configfile",
                           str(root / "config" / "tiny.yaml"), str(copy / "override.yaml"),
                           "--config", "datasets=mnist", cwd=copy)
    assert mnist_only.returncode == 0, mnist_only.stderr[-3000:]
    for path in (results / "runs" / "dataset~fashion-mnist",
                 results / "classifier" / "fashion-mnist"):
        shutil.rmtree(path)
    (results / "data" / "fashion-mnist_manifest.json").unlink()
    assert planned_jobs(root, results, config=("datasets=mnist",)) == {}
    planned = planned_jobs(root, results, config=("datasets=mnist,fashion-mnist",))
    assert planned == {"grid": 1, "prepare_data": 1, "train": TINY_RUNS_PER_DATASET,
                       "train_classifier": 1, **STUDY}


def test_a_longer_budget_plans_only_its_continuations_and_the_study_level(root, tiny_study):
    """``--config epochs=1,2`` on the finished 1-epoch tiny study: one training per grid point
    that continues its 1-epoch run (their evaluations and pictures follow once they have
    run), the new budget's plots, the budgets plots, the tables and the report; no job of
    the finished budget is planned again."""
    (budget,) = TINY_GRID["epochs"]
    planned = planned_jobs(root, tiny_study, config=(f"epochs={budget},{budget + 1}",))
    # the study level of both budgets: each plot reads the tables that aggregate rewrites
    both = {"plots": 2 * N, **({"across": 2 * (N - 1)} if N > 1 else {})}
    assert planned == {"grid": 1, "train": RUNS, "budgets": N, **STUDY, **both}
    plan = snakemake(root, "-n", "--cores", "2", "--configfile",
                     str(root / "config" / "tiny.yaml"), str(tiny_study.parent / "override.yaml"),
                     "--config", f"epochs={budget},{budget + 1}", cwd=tiny_study.parent)
    outputs = re.findall(r"^\s+output: (.*)$", plan.stdout, re.MULTILINE)
    runs = [o for o in outputs if "/runs/" in o]
    assert len(runs) == RUNS and all(f"epochs~{budget + 1}/" in o for o in runs)
    inputs = re.findall(r"^\s+input: (.*)$", plan.stdout, re.MULTILINE)
    assert sum(f"epochs~{budget}/" in i and "final_state.npz" in i for i in inputs) == RUNS


def test_a_trained_run_is_evaluated_beside_the_trainings_left(root, tiny_study):
    """A run is evaluated as soon as its training has finished, not after the study's last
    training: on the finished tiny study with one run's metrics gone and a longer budget
    asked, the dry run plans that evaluation beside the continuations (aggregate's ``ready``,
    common.smk ``evaluated_so_far``); without it, the evaluation waited for them all."""
    (budget,) = TINY_GRID["epochs"]
    key = layout.run_key("*", budget, "*", "*", "*")
    metrics = next(tiny_study.glob(f"{layout.RUNS}/{key}/{layout.METRICS}"))
    aside = metrics.with_name("metrics.aside")
    metrics.rename(aside)
    try:
        planned = planned_jobs(root, tiny_study, config=(f"epochs={budget},{budget + 1}",))
    finally:
        aside.rename(metrics)
    assert (planned["evaluate"], planned["train"]) == (1, RUNS)


@pytest.mark.parametrize("grid, new_runs", [("seeds=0,1", RUNS), ("latent_dims=2,4,8", LOSSES),
                                            ("losses=bce,mse-sigma0.3", 0),
                                            ("losses=bce,mse-mean", 2 * N)])
def test_grid_change_on_the_command_line_adds_only_new_runs(root, tiny_study, grid, new_runs):
    planned = planned_jobs(root, tiny_study, config=(grid,))
    assert planned.get("train", 0) == new_runs and "evaluate" not in planned
    assert "train_classifier" not in planned and planned["aggregate"] == planned["grid"] == 1


def test_runs_record_the_settings_and_code_they_came_from(tiny_study):
    run = tiny_study / "runs" / "dataset~mnist" / "epochs~1" / "loss~bce" / "latent~2" / "seed~0"
    config = json.loads((run / "config.json").read_text())
    assert set(config) == {"dataset", "loss", "latent_dim", "seed", "data", "model",
                           "likelihood", "training", "pictures"}
    assert config["dataset"] == "mnist" and "dir" not in config["data"]  # where is not what
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["evaluation"]["iwae_samples"] == 10
    summary = json.loads((run / "train_summary.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{12}", summary["train_code"])
    assert metrics["eval_code"] == summary["train_code"]


def _diverging(root, out, losses: list[str]):
    """Run the tiny study of ``losses`` at latent 2 in ``out``, where ``mse-tiny`` is a
    Gaussian loss whose scale is so small (sigma^2 underflows to 0 in float32) that its first
    loss is infinite; it must succeed. Returns the results folder."""
    cfg = write_config(out / "override.yaml", output_dir=str(out / "results"),
                       study={"losses": losses, "latent_dims": [2], "seeds": [0]},
                       loss_variants={"mse-tiny": {"family": "mse", "sigma": 1.0e-30}})
    result = snakemake(root, "--cores", "2", "--configfile", str(root / "config" / "tiny.yaml"),
                       str(cfg), cwd=out)
    assert result.returncode == 0, result.stderr[-4000:]
    return out / "results"


@pytest.fixture(scope="module")
def all_diverged_study(root, tmp_path_factory) -> dict:
    """A study whose every run diverges (mse-tiny alone): what it wrote, read before
    ``diverging_study`` adds bce in the same folder."""
    out = tmp_path_factory.mktemp("diverging")
    results = _diverging(root, out, ["mse-tiny"])
    return {"folder": out, "runs": pd.read_csv(results / "runs.csv"),
            "metrics": pd.read_csv(results / "metrics.csv"),
            "html": (results / "report.html").read_text()}


@pytest.fixture(scope="module")
def diverging_study(root, all_diverged_study):
    """bce beside mse-tiny: the all-diverged study with bce added (only bce trains)."""
    return _diverging(root, all_diverged_study["folder"], ["bce", "mse-tiny"])


def test_a_study_whose_every_run_diverged_reports_it(all_diverged_study):
    """Zero trained runs: the study completes (exit 0) with runs.csv, an empty metrics table
    and a report that lists every run as diverged, where, and what to change."""
    runs, html = all_diverged_study["runs"], all_diverged_study["html"]
    assert list(runs.status) == ["diverged"] and all_diverged_study["metrics"].empty
    assert "every run diverged" in html and "1 of 1 runs diverged" in html
    assert "<code>mse-tiny</code>, latent 2, seed 0: at epoch 1,\nstep 0" in html
    assert "no finite step before" in html and "the learning rate is not the cause" in html
    assert "sigma: 1.0e-30" in html  # the config, as validated


def test_a_diverged_run_is_a_reported_result(diverging_study):
    runs = pd.read_csv(diverging_study / "runs.csv").set_index("loss")
    assert runs.loc["mse-tiny", "status"] == "diverged" and runs.loc["bce", "status"] == "trained"
    assert runs.loc["mse-tiny", "diverged_epoch"] == 1 and runs.loc["mse-tiny", "diverged_step"] == 0
    assert list(pd.read_csv(diverging_study / "metrics.csv").loss) == ["bce"]
    mse = diverging_study / "runs" / "dataset~mnist" / "epochs~1" / "loss~mse-tiny" / "latent~2" / "seed~0"
    assert not list((mse / "model").glob("*.keras")) and not (mse / "samples.png").exists()
    assert (diverging_study / "runs/dataset~mnist/epochs~1/loss~bce/latent~2/seed~0/samples.png").exists()
    html = (diverging_study / "report.html").read_text()
    assert "1 of 2 runs diverged" in html and "at epoch 1,\nstep 0" in html
    assert 'id="mixed-data"' not in html  # bce alone: one kind of data
    log = (diverging_study / "logs/train/dataset~mnist/epochs~1/loss~mse-tiny/latent~2/seed~0.log"
           ).read_text()
    assert "ERROR diverged: non-finite loss" in log


def test_progress_of_finished_studies(root, tiny_study, diverging_study, capsys):
    from vaestudy.jobs.progress import main, progress_table

    table = progress_table(tiny_study)
    assert len(table) == RUNS and set(table.state) == {"evaluated"}
    assert (table.epoch == 1).all() and (table["of"] == 1).all() and (table.eta_s == 0).all()
    grid = {"epochs": [1], "losses": ["bce", "mse-tiny"], "latent_dims": [2, 16], "seeds": [0]}
    states = progress_table(diverging_study, grid).set_index(["loss", "latent"]).state
    assert states.to_dict() == {("bce", 2): "evaluated", ("mse-tiny", 2): "diverged",
                                ("bce", 16): "pending", ("mse-tiny", 16): "pending"}
    assert main([str(diverging_study)]) == 0
    assert "diverged" in capsys.readouterr().out


def test_what_to_change_after_a_divergence_depends_on_where_it_happened():
    """A run with finite steps before it diverged calls for a lower learning rate; a first
    loss that is already infinite (before any update) does not."""
    from vaestudy.report.report import divergence_advice

    first, later = {"last_finite": None}, {"last_finite": "[180.2, 170.1, 10.1]"}
    training = {"learning_rate": 0.01, "precision": "float32"}
    assert divergence_advice([later], training) == [
        "Lower training.learning_rate (now 0.01), e.g. to 0.001: 1 run(s) diverged after "
        "finite steps."]
    (advice,) = divergence_advice([first, first], training)
    assert advice.startswith("2 run(s) had a non-finite loss at their first step")
    both = divergence_advice([first, later], {**training, "precision": "mixed_bfloat16"})
    assert len(both) == 3 and "training.precision: float32" in both[2]
