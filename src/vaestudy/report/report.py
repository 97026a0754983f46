"""The self-contained HTML report: every plot and picture is embedded as a data URI, so the file can be
read offline, mailed, or archived with the study."""

from __future__ import annotations

import base64
import importlib.metadata as md
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from vaestudy.analysis import budgets as budgets_lib
from vaestudy.analysis.study_plots import summary_table
from vaestudy.core import layout
from vaestudy.core.atomic import atomic_path
from vaestudy.core.provenance import code_version
from vaestudy.report import benchmarks
from vaestudy.report.mathdoc import render_markdown
from vaestudy.report.report_parts import across_part, dataset_part, design, table_html

PACKAGES = ["tensorflow", "tensorflow-probability", "tf-keras", "keras", "snakemake", "numpy",
            "pandas", "seaborn", "matplotlib", "imageio"]
COST_TABLE = ["train_seconds", "epochs_run", "best_epoch", "eval_seconds", "iwae_seconds"]
COST_COLUMNS = {"seconds": "wall s", "max_seconds": "max s", "cpu_seconds": "CPU s",
                "cpu_per_thread": "CPU / thread", "peak_mb": "peak MB"}
RUN_COLUMNS_DROPPED = ["likelihood", "split", "log_px_data", "log_px_images_text"]


def data_uri(path: Path | str) -> str:
    """``data:image/png;base64,...`` for a PNG (or ``image/gif`` for a GIF) file."""
    kind = "gif" if str(path).endswith(".gif") else "png"
    return f"data:image/{kind};base64," + base64.b64encode(Path(path).read_bytes()).decode()


def versions() -> dict[str, str]:
    """Installed versions of the study's stack (and Python)."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict[str, str]:
    return {"platform": platform.platform(), "processor": platform.machine(),
            "cpus": str(os.cpu_count())}


def shown_images(run_images: dict[tuple, dict[str, str]]) -> dict[tuple, dict[str, str]]:
    """The pictures the report shows, embedded: {(dataset, epochs, loss, latent, seed): {name:
    path}} -> {(dataset, epochs, loss, latent): {name: data URI}} of the lowest trained seed
    of each."""
    shown: dict[tuple, dict[str, str]] = {}
    for (*place, _seed), imgs in sorted(run_images.items()):
        if tuple(place) not in shown:
            shown[tuple(place)] = {name: data_uri(p) for name, p in imgs.items()}
    return shown


def code_provenance(runs: pd.DataFrame, metrics: pd.DataFrame) -> dict:
    """Which code (``vaestudy.core.provenance.code_version``) trained and evaluated the runs, and
    whether they differ: ``{"report": version, "codes": {version: [what ran with it]},
    "mixed": bool}``."""
    codes: dict[str, list[str]] = {}
    for frame, column, step in ((runs, "train_code", "training"),
                                (metrics, "eval_code", "evaluation")):
        for row in frame.itertuples():
            label = (f"{step} of {row.dataset}/{row.epochs} epochs/{row.loss}/latent "
                     f"{row.latent_dim}/seed {row.seed}")
            codes.setdefault(str(getattr(row, column, None)), []).append(label)
    return {"report": code_version(), "codes": codes, "mixed": len(codes) > 1}


def diverged_runs(runs: pd.DataFrame) -> list[dict]:
    """The runs whose training loss became non-finite, with where it happened."""
    bad = runs[runs.status == "diverged"]
    return [{"dataset": r.dataset, "epochs": r.epochs, "loss": r.loss, "latent": r.latent_dim,
             "seed": r.seed,
             "epoch": int(r.diverged_epoch), "step": int(r.diverged_step),
             "last_finite": r.last_finite_losses if isinstance(r.last_finite_losses, str)
             else None} for r in bad.itertuples()]


def divergence_advice(diverged: list[dict], training: dict) -> list[str]:
    """What to change after the runs in ``diverged`` (:func:`diverged_runs`) diverged with
    the ``training`` settings: a run that had finite steps before calls for a lower learning
    rate; one whose very first loss was not finite (before any update) does not."""
    advice = []
    later = sum(d["last_finite"] is not None for d in diverged)
    if later:
        lr = training["learning_rate"]
        advice.append(f"Lower training.learning_rate (now {lr:g}), e.g. to {lr / 10:g}: "
                      f"{later} run(s) diverged after finite steps.")
    if later < len(diverged):
        advice.append(f"{len(diverged) - later} run(s) had a non-finite loss at their first "
                      f"step, before any update, so the learning rate is not the cause: check "
                      f"the loss's settings under loss_variants (with a sigma so small that "
                      f"the squared error / (2 sigma^2) overflows float32 every loss is "
                      f"infinite) and the data.")
    if training.get("precision") == "mixed_bfloat16":
        advice.append("Training computed in bfloat16: try training.precision: float32.")
    return advice


def budgets_section(comparisons: pd.DataFrame, runs: pd.DataFrame, names: list[str],
                    epochs: list[int], plots: dict[str, str]) -> list[dict]:
    """:func:`vaestudy.analysis.budgets.section` with each step's table as HTML."""
    out = budgets_lib.section(comparisons, runs, names, epochs, plots)
    for entry in out:
        for step in entry["steps"]:
            step["table"] = table_html(step["table"])
    return out


def render_all_diverged(template: Path | str, runs: pd.DataFrame, config_text: str,
                        config: dict) -> str:
    """The report of a study whose every run diverged (Jinja2 ``template``): the grid, where
    each run diverged and what to change, every run's row of ``runs``
    (:func:`vaestudy.analysis.aggregate.collect_runs`), the versions and the ``config``."""
    diverged = diverged_runs(runs)
    return _environment(template).get_template(Path(template).name).render(
        generated=_now(), study=config["study"], n_runs=len(runs), n_evaluated=0,
        diverged=diverged, advice=divergence_advice(diverged, config["training"]),
        runs=table_html(runs), config_text=config_text, versions=versions(),
        machine=machine(), code={"report": code_version()})


def _environment(template: Path | str) -> jinja2.Environment:
    """Jinja2 loading the templates beside ``template`` (HTML autoescaped), with the filter
    ``epochs`` (a training budget in words: 1 epoch, 10 epochs)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(template).parent),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    env.filters["epochs"] = budgets_lib.budget_text
    return env


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def render(template: Path | str, metrics: pd.DataFrame, pictures: dict, config_text: str,
           study: dict, extra: dict) -> str:
    """Fill the Jinja2 ``template`` with the study's tables, plots and images: one part per dataset
    and training budget (:func:`dataset_part`; ``pictures`` by (dataset, epochs)), with
    several datasets the cross-dataset section at each budget (:func:`across_part`), and
    with several budgets the section across budgets (:func:`budgets_section`). ``extra``
    holds the theory notes and checks (``theory``: html, checks), the paired comparisons
    (``comparisons``), the classifier summaries by dataset (``classifiers``), every run's
    training status (``runs``: :func:`vaestudy.analysis.aggregate.collect_runs`) and the
    study's cost per rule and efficiency (``costs``: rules, efficiency; see
    :mod:`vaestudy.report.benchmarks`)."""
    env = _environment(template)
    theory, comparisons = extra["theory"], extra["comparisons"]
    names = [d for d in study["datasets"] if d in set(metrics.dataset)]
    budgets = [e for e in study["epochs"] if e in set(metrics.epochs)]
    sections = [(d, e) for d in names for e in budgets
                if ((metrics.dataset == d) & (metrics.epochs == e)).any()]

    def rows(table: pd.DataFrame, d: str, e: int) -> pd.DataFrame:
        return table[(table.dataset == d) & (table.epochs == e)]

    several = (len(names) > 1, len(budgets) > 1)
    parts = [dataset_part(d, e, rows(metrics, d, e), rows(comparisons, d, e), pictures[(d, e)],
                          extra["classifiers"][d], study, several, budgets_lib.budget_text(e))
             for d, e in sections]
    return env.get_template(Path(template).name).render(
        generated=_now(),
        study={**study, **design(metrics)},
        parts=parts,
        across=[x for e in budgets
                for x in across_part(comparisons[comparisons.epochs == e], names,
                                     pictures.get("across", {}).get(e, {}),
                                     e if len(budgets) > 1 else None)],
        budgets=budgets_section(comparisons, extra["runs"], names, budgets,
                                pictures.get("budgets", {})),
        cost=table_html(summary_table(metrics, COST_TABLE)),
        runs=table_html(metrics.drop(columns=RUN_COLUMNS_DROPPED, errors="ignore")),
        config_text=config_text,
        theory_html=theory["html"],
        theory_checks=table_html(theory["checks"]),
        theory_passed=bool(theory["checks"].passed.all()),
        theory_count=len(theory["checks"]),
        versions=versions(),
        machine=machine(),
        total_train_seconds=float(metrics.train_seconds.sum()),
        rule_costs=table_html(extra["costs"]["rules"].rename(columns=COST_COLUMNS)),
        efficiency=extra["costs"]["efficiency"],
        n_runs=len(extra["runs"]),
        n_evaluated=len(metrics),
        diverged=diverged_runs(extra["runs"]),
        advice=divergence_advice(diverged_runs(extra["runs"]), study["training"]),
        code=code_provenance(extra["runs"], metrics),
    )


def write_report(inputs: dict, image_files: list[str], config: dict, out_html: str,
                 execution: dict) -> None:
    """Render the self-contained HTML report of the study to ``out_html``. ``inputs`` (the
    report rule's inputs by name) holds the template (and ``all_diverged``, the one of a study
    whose every run diverged), metrics (CSV), plots (every dataset's comparison plots:
    :data:`vaestudy.core.layout.PLOTS`), side_by_side (per dataset and latent size), theory
    (Markdown), theory_checks, comparisons and runs (CSV), classifiers (one JSON summary per
    dataset) and benchmarks (the Snakemake benchmark files of the jobs before the report);
    ``image_files`` are the trained runs' pictures (:data:`vaestudy.core.layout.PICTURES`);
    ``execution`` holds the run's ``cores`` (None on a cluster) and each rule's ``threads``."""
    metrics = pd.read_csv(inputs["metrics"])
    config_text = yaml.safe_dump(config, sort_keys=False)
    if metrics.empty:  # every run diverged: where, and what to change
        html = render_all_diverged(inputs["all_diverged"], pd.read_csv(inputs["runs"]),
                                   config_text, config)
    else:
        html = render(inputs["template"], metrics, _pictures(inputs, image_files),
                      config_text, _study(config), _extra(inputs, execution))
    with atomic_path(out_html) as tmp:
        tmp.write_text(html)


def _pictures(inputs: dict, image_files: list[str]) -> dict:
    """{(dataset, epochs): {"plots": {name: data URI}, "shown": {(loss, latent): {picture:
    URI}}}}: the comparison plots (side_by_side_<latent> and reconstructions_<latent> among
    them) and the run pictures the report shows, by dataset and budget; "across": {epochs:
    {dataset: URI}} the forest plots; "budgets": {dataset: URI} the metrics against the budget."""
    out: dict = {}

    def of(section: tuple[str, int]) -> dict:
        return out.setdefault(section, {"plots": {}, "shown": {}})

    for path in inputs.get("across", []):  # the forest plots, by the dataset after the first
        dataset, epochs = layout.plot_key(path)
        out.setdefault("across", {}).setdefault(epochs, {})[dataset] = data_uri(path)
    for path in inputs.get("budgets", []):
        out.setdefault("budgets", {})[Path(path).parent.name] = data_uri(path)
    names = {file: name for name, file in layout.PLOTS.items()}
    for path in inputs["plots"]:
        of(layout.plot_key(path))["plots"][names[Path(path).name]] = data_uri(path)
    for path in inputs["side_by_side"]:
        dataset, epochs, picture, latent = layout.side_by_side_key(path)
        name = "side_by_side" if picture == "samples" else picture
        of((dataset, epochs))["plots"][f"{name}_{latent}"] = data_uri(path)
    images: dict[tuple, dict[str, str]] = {}
    for path in image_files:
        key = tuple(layout.parse_run_path(path))
        images.setdefault(key, {})[layout.picture_name(path)] = str(path)
    for (dataset, epochs, loss, latent), uris in shown_images(images).items():
        of((dataset, epochs))["shown"][(loss, latent)] = uris
    return out


def _study(config: dict) -> dict:
    """The design of the study: its grid and the settings the report names."""
    return {**config["study"], "epochs": sorted(config["study"]["epochs"]),
            "training": config["training"], "model": config["model"],
            "binarization": config["data"]["binarization"],
            "knn_k": config["evaluation"]["knn_k"],
            "n_reconstructions": config["pictures"]["n_reconstructions"]}


def _extra(inputs: dict, execution: dict) -> dict:
    """The theory, comparisons, runs, classifiers and costs sections (see :func:`render`)."""
    jobs = benchmarks.read_benchmarks(inputs["benchmarks"])
    return {"theory": {"html": render_markdown(inputs["theory"]),
                       "checks": pd.read_csv(inputs["theory_checks"])},
            "comparisons": pd.read_csv(inputs["comparisons"]),
            "runs": pd.read_csv(inputs["runs"]),
            "classifiers": {Path(p).parent.name: json.loads(Path(p).read_text())
                            for p in inputs["classifiers"]},
            "costs": {"rules": benchmarks.rule_costs(jobs, execution["threads"]),
                      "efficiency": benchmarks.efficiency(jobs, execution["threads"],
                                                     execution["cores"])}}
