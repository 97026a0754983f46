"""The self-contained HTML report: every figure is embedded as a data URI, so the file can be
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

from vaestudy import costs, layout
from vaestudy.files import atomic_path
from vaestudy.losses import by_falling_beta
from vaestudy.findings import findings
from vaestudy.mathdoc import render_markdown
from vaestudy.study_plots import summary_table
from vaestudy.provenance import code_version

PACKAGES = ["tensorflow", "tensorflow-probability", "tf-keras", "keras", "snakemake", "numpy",
            "pandas", "seaborn", "matplotlib", "imageio"]
COMPARABLE_TABLE = ["fid_classifier", "class_entropy", "classes_covered", "recon_accuracy",
                    "recon_mse", "recon_bce", "knn_accuracy", "active_units", "test_kl"]
LIKELIHOOD_TABLE = ["test_log_px", "test_neg_elbo", "test_recon", "iwae_gap", "bits_per_dim"]
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
    """The pictures the report shows, embedded: {(loss, latent, seed): {name: path}} ->
    {(loss, latent): {name: data URI}} of the lowest trained seed of each (loss, latent)."""
    shown: dict[tuple, dict[str, str]] = {}
    for (loss, latent, _seed), imgs in sorted(run_images.items()):
        if (loss, latent) not in shown:
            shown[(loss, latent)] = {name: data_uri(p) for name, p in imgs.items()}
    return shown


def code_provenance(runs: pd.DataFrame, metrics: pd.DataFrame) -> dict:
    """Which code (``vaestudy.provenance.code_version``) trained and evaluated the runs, and
    whether they differ: ``{"report": version, "codes": {version: [what ran with it]},
    "mixed": bool}``."""
    codes: dict[str, list[str]] = {}
    for frame, column, step in ((runs, "train_code", "training"),
                                (metrics, "eval_code", "evaluation")):
        for row in frame.itertuples():
            label = f"{step} of {row.loss}/latent {row.latent_dim}/seed {row.seed}"
            codes.setdefault(str(getattr(row, column, None)), []).append(label)
    return {"report": code_version(), "codes": codes, "mixed": len(codes) > 1}


def diverged_runs(runs: pd.DataFrame) -> list[dict]:
    """The runs whose training loss became non-finite, with where it happened."""
    bad = runs[runs.status == "diverged"]
    return [{"loss": r.loss, "latent": r.latent_dim, "seed": r.seed,
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


def render_all_diverged(template: Path | str, runs: pd.DataFrame, config_text: str,
                        config: dict) -> str:
    """The report of a study whose every run diverged (Jinja2 ``template``): the grid, where
    each run diverged and what to change, every run's row of ``runs``
    (:func:`vaestudy.aggregate.collect_runs`), the versions and the ``config``."""
    diverged = diverged_runs(runs)
    return _environment(template).get_template(Path(template).name).render(
        generated=_now(), study=config["study"], n_runs=len(runs), n_evaluated=0,
        diverged=diverged, advice=divergence_advice(diverged, config["training"]),
        runs=_table_html(runs), config_text=config_text, versions=versions(),
        machine=machine(), code={"report": code_version()})


def _environment(template: Path | str) -> jinja2.Environment:
    """Jinja2 loading the templates beside ``template`` (HTML autoescaped)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(template).parent),
                              autoescape=jinja2.select_autoescape(["html", "j2"]))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def likelihood_table(metrics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The log-likelihood table: mean ± CI per (loss, latent size), with the data each number
    is measured on and the importance samples K x test images of log p(x)."""
    table = summary_table(metrics, columns)
    first = metrics.groupby(["loss", "latent_dim"]).first()
    keys = list(zip(table.loss, table.latent_dim))
    table.insert(3, "data", [first.loc[k, "log_px_data"] for k in keys])
    table.insert(4, "K x images", [f"{first.loc[k, 'iwae_samples']} x "
                                   f"{first.loc[k, 'iwae_images']:,}" for k in keys])
    return table


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="metrics", border=0, float_format="{:.4g}".format,
                         na_rep="")


def render(template: Path | str, metrics: pd.DataFrame, plots: dict[str, str],
           images: dict[tuple, dict[str, str]], config_text: str, study: dict,
           extra: dict) -> str:
    """Fill the Jinja2 ``template`` with the study's tables, plots and images. ``extra``
    holds the theory notes and checks (``theory``: html, checks), the paired comparisons
    (``comparisons``), the classifier summary (``classifier``), every run's training status
    (``runs``: :func:`vaestudy.aggregate.collect_runs`) and the study's cost per rule and
    efficiency (``costs``: rules, efficiency; see :mod:`vaestudy.costs`)."""
    env = _environment(template)
    losses = list(dict.fromkeys(metrics.loss))
    theory, comparisons = extra["theory"], extra["comparisons"]
    ll_cols = [c for c in LIKELIHOOD_TABLE if metrics[c].notna().any()]
    return env.get_template(Path(template).name).render(
        generated=_now(),
        study=study,
        losses=losses,
        latents=sorted(set(metrics.latent_dim)),
        first_seed=min(metrics.seed),
        likelihoods=dict(zip(metrics.loss, metrics.likelihood)),  # as the evaluation wrote it
        data_per_loss=dict(zip(metrics.loss, metrics.log_px_data)),
        mixed_data=metrics.data.nunique() > 1,  # binary and gray losses side by side
        betas={loss: metrics[metrics.loss == loss].beta.iloc[0]
               for loss in by_falling_beta(metrics)},
        comparable=_table_html(summary_table(metrics, COMPARABLE_TABLE)),
        loglik=_table_html(likelihood_table(metrics, ll_cols)),
        cost=_table_html(summary_table(metrics, COST_TABLE)),
        comparisons=_table_html(comparisons.rename(columns={"effect_size_dz": "d_z"})),
        findings=findings(metrics, comparisons),
        classifier=extra["classifier"],
        runs=_table_html(metrics.drop(columns=RUN_COLUMNS_DROPPED, errors="ignore")),
        plots={name: data_uri(path) for name, path in plots.items()},
        shown=shown_images(images),
        config_text=config_text,
        theory_html=theory["html"],
        theory_checks=_table_html(theory["checks"]),
        theory_passed=bool(theory["checks"].passed.all()),
        theory_count=len(theory["checks"]),
        versions=versions(),
        machine=machine(),
        total_train_seconds=float(metrics.train_seconds.sum()),
        rule_costs=_table_html(extra["costs"]["rules"].rename(columns=COST_COLUMNS)),
        efficiency=extra["costs"]["efficiency"],
        n_runs=len(extra["runs"]),
        n_evaluated=len(metrics),
        diverged=diverged_runs(extra["runs"]),
        advice=divergence_advice(diverged_runs(extra["runs"]), study["training"]),
        code=code_provenance(extra["runs"], metrics),
    )


def write_report(inputs: dict[str, str], image_files: list[str], config: dict, out_html: str,
                 execution: dict) -> None:
    """Render the self-contained HTML report of the study to ``out_html``. ``inputs`` (the
    report rule's inputs by name) holds the template (and ``all_diverged``, the one of a study
    whose every run diverged), metrics (CSV), the plots (comparable, loglik, training,
    heatmap, side_by_side: one per latent size), theory (Markdown), theory_checks,
    comparisons and runs (CSV), classifier (JSON summary) and benchmarks (the Snakemake
    benchmark files of the jobs before the report); ``image_files`` are the trained runs'
    pictures (:data:`vaestudy.layout.PICTURES`); ``execution`` holds the run's ``cores``
    (None on a cluster) and each rule's ``threads``."""
    metrics = pd.read_csv(inputs["metrics"])
    config_text = yaml.safe_dump(config, sort_keys=False)
    if metrics.empty:  # every run diverged: where, and what to change
        html = render_all_diverged(inputs["all_diverged"], pd.read_csv(inputs["runs"]),
                                   config_text, config)
    else:
        html = render(inputs["template"], metrics, _plots(inputs), _run_images(image_files),
                      config_text, _study(config, metrics), _extra(inputs, execution))
    with atomic_path(out_html) as tmp:
        tmp.write_text(html)


def _run_images(image_files: list[str]) -> dict[tuple, dict[str, str]]:
    """{(loss, latent, seed): {picture name: path}} of the runs' picture files."""
    images: dict[tuple, dict[str, str]] = {}
    for path in image_files:
        key = tuple(layout.parse_run_path(path))
        images.setdefault(key, {})[layout.picture_name(path)] = str(path)
    return images


def _plots(inputs: dict[str, str]) -> dict[str, str]:
    """The study's plots by the name the template uses (side_by_side_<latent> for each)."""
    plots = {name: inputs[name] for name in ("comparable", "loglik", "training", "heatmap")}
    plots.update({f"side_by_side_{layout.side_by_side_latent(p)}": p
                  for p in inputs["side_by_side"]})
    return plots


def _study(config: dict, metrics: pd.DataFrame) -> dict:
    """The design of the study: its grid and settings, and the evaluation's sizes as the
    metrics recorded them."""
    first = metrics.iloc[0]
    return {**config["study"], "training": config["training"], "model": config["model"],
            "n_train": int(first.n_train), "n_val": int(first.n_val),
            "test_split": first.split, "binarization": config["data"]["binarization"],
            "elbo_samples": int(first.elbo_samples), "iwae_samples": int(first.iwae_samples),
            "iwae_images": int(first.iwae_images), "n_generated": int(first.n_generated),
            "log_px_images": first.log_px_images_text, "n_test": int(first.n_test),
            "knn_k": config["evaluation"]["knn_k"]}


def _extra(inputs: dict[str, str], execution: dict) -> dict:
    """The theory, comparisons, runs, classifier and costs sections (see :func:`render`)."""
    jobs = costs.read_benchmarks(inputs["benchmarks"])
    return {"theory": {"html": render_markdown(inputs["theory"]),
                       "checks": pd.read_csv(inputs["theory_checks"])},
            "comparisons": pd.read_csv(inputs["comparisons"]),
            "runs": pd.read_csv(inputs["runs"]),
            "classifier": json.loads(Path(inputs["classifier"]).read_text()),
            "costs": {"rules": costs.rule_costs(jobs, execution["threads"]),
                      "efficiency": costs.efficiency(jobs, execution["threads"],
                                                     execution["cores"])}}
