# Shared helpers: config validation, the grid and its paths, what each rule depends on.
import json
import os
import re
import sys

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# The package beside the workflow, first on sys.path: one rule with the jobs, which
# workflow/scripts/_bootstrap.py puts on the same path (docs/architecture.md).
ROOT = os.path.abspath(os.path.join(workflow.current_basedir, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
from vaestudy import config as cfg_lib  # noqa: E402
from vaestudy import layout  # noqa: E402
from vaestudy import pictured as pictured_lib  # noqa: E402
from vaestudy import preflight  # noqa: E402
from vaestudy.userconfig import normalize  # noqa: E402

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
with open(SCHEMA) as schema_file:
    normalize(config, yaml.safe_load(schema_file))
validate(config, SCHEMA)

OUT = config["output_dir"]


# What the schema cannot check (vaestudy.preflight): stopped here, before any job, with one
# message naming the key or folder and the fix; the folder of each dataset, verified.
try:
    DATA_DIRS = preflight.run(config, ROOT, OUT)
except preflight.PreflightError as err:
    raise WorkflowError(str(err)) from None


def limit_local_memory():
    """A local run never starts more jobs than this machine's memory holds: unless
    ``--resources mem_mb=N`` is given, the total of the running jobs' ``mem_mb`` (each rule's
    measured peak plus a margin) is capped at 90 % of the physical memory (docs/clusters.md)."""
    local = workflow.local_exec and not workflow.remote_exec
    if local and "mem_mb" not in workflow.resource_settings.resources:
        physical_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
        workflow.register_resource("mem_mb", int(0.9 * physical_mb))


limit_local_memory()
# One run of the grid; wildcards are readable path parts:
# dataset~mnist/loss~bce/latent~16/seed~0. Every path of a study is named by vaestudy.layout.
RUN_KEY = layout.RUN_KEY


def in_run(file):
    """The file ``file`` (a name from vaestudy.layout) of the run of the job's wildcards."""
    return layout.run_file(OUT, file)


def job_file(kind, rule, key=""):
    """The log (``kind`` "logs") or benchmark file ("benchmarks") of one job of ``rule``
    (``key``: its wildcards, e.g. RUN_KEY): vaestudy.layout.job_file."""
    return layout.job_file(OUT, kind, rule, key)


GRID = dict(
    dataset=config["study"]["datasets"],
    loss=config["study"]["losses"],
    latent=config["study"]["latent_dims"],
    seed=config["study"]["seeds"],
)
# The per-run jobs after training (evaluate, then run_figures, which reads its metrics) share
# one group per run: on a cluster they are one submission.
RUN_GROUP = "run_{dataset}_{loss}_{latent}_{seed}"
# The jobs of one dataset (its data, its classifier, its plots).
DATASET_KEY = layout.DATASET_KEY


wildcard_constraints:
    dataset="|".join(map(re.escape, GRID["dataset"])),
    loss="|".join(map(re.escape, GRID["loss"])),
    latent=r"\d+",
    seed=r"\d+",


def run_figure(name, category):
    """The per-run picture ``name`` (a key of vaestudy.layout.PICTURES), marked for
    ``snakemake --report`` with the caption ``workflow/report/<name>.rst``, a category and
    the run's labels."""
    return report(
        in_run(layout.PICTURES[name]),
        caption=f"../report/{name}.rst",
        category=category,
        subcategory="{dataset}, latent {latent}",
        labels={
            "dataset": "{dataset}",
            "loss": "{loss}",
            "latent": "{latent}",
            "seed": "{seed}",
            "figure": name,
        },
    )


def reconstructions_shown(wildcards):
    """The classes of a run's reconstructions in words (vaestudy.pictured), for the captions
    of the rules run_figures and side_by_side."""
    return pictured_lib.reconstructions_shown(
        config["figures"]["n_reconstructions"], config["data"]["test_subset"], wildcards.dataset
    )


def run_file(name, run):
    """The file ``name`` of one run (a dict of dataset, loss, latent and seed)."""
    return layout.run_file(OUT, name, layout.run_key(**run))


def for_all_runs(name):
    """The file ``name`` of every run of the grid (dataset x loss x latent x seed)."""
    return expand(in_run(name), **GRID)


def trained_latents():
    """(dataset, latent size) with at least one trained run (one side-by-side figure each)."""
    return sorted({(r["dataset"], r["latent"]) for r in trained_runs()})


def side_by_side_figures(wildcards):
    """The side-by-side figures of every dataset and latent size with a trained run."""
    return [
        layout.side_by_side(OUT, d, x, picture)
        for d, x in trained_latents()
        for picture in layout.SIDE_BY_SIDE_PICTURES
    ]


def side_by_side_pictures(picture):
    """An input function: the picture ``picture`` of each loss of ``wildcards.dataset`` at
    latent size ``wildcards.latent``, of its trained run with the lowest seed (losses whose
    runs all diverged are left out)."""
    return lambda wildcards: side_by_side_runs(wildcards, picture)


def side_by_side_runs(wildcards, picture):
    """See side_by_side_pictures."""
    first = {}
    for r in trained_runs():
        if (r["dataset"], r["latent"]) == (wildcards.dataset, int(wildcards.latent)):
            first.setdefault(r["loss"], r)
    return [run_file(layout.PICTURES[picture], r) for r in first.values()]


def run_images(wildcards):
    """Per-run pictures of the trained runs for the report."""
    runs = trained_runs()
    return [run_file(name, r) for name in layout.PICTURES.values() for r in runs]


def study_benchmarks(wildcards):
    """The benchmark file (wall s, CPU s, peak memory) of every job before the report, for
    the report's cost tables."""
    files = [job_file("benchmarks", rule) for rule in ("theory_check", "aggregate")]
    files += [
        job_file("benchmarks", rule, DATASET_KEY.format(dataset=d))
        for rule in ("prepare_data", "train_classifier", "plots")
        for d in GRID["dataset"]
    ]
    files += [
        job_file("benchmarks", "across", DATASET_KEY.format(dataset=d)) for d in GRID["dataset"][1:]
    ]
    files += expand(job_file("benchmarks", "train", RUN_KEY), **GRID)
    trained = trained_runs()
    files += [
        job_file("benchmarks", rule, layout.run_key(**r))
        for r in trained
        for rule in ("evaluate", "run_figures")
    ]
    files += [
        job_file("benchmarks", "side_by_side", layout.SIDE_BY_SIDE_KEY.format(dataset=d, latent=x))
        for d, x in trained_latents()
    ]
    return files


def study_execution():
    """How this run executes jobs, for the report's efficiency figures: the rules' threads
    (after a profile's set-threads, capped at --cores as Snakemake does locally) and the
    cores of a local run (None when jobs go to a cluster)."""
    local = workflow.local_exec and not workflow.remote_exec
    try:
        cores = workflow.cores if local else None
    except WorkflowError:  # no --cores: a run that executes nothing (--report, --lint)
        cores = None
    threads = {}
    for r in workflow.rules:
        t = r.resources.get("_cores")
        if isinstance(t, int):
            threads[r.name] = min(t, cores) if cores else t
    return {"cores": cores, "threads": threads}


# Checkpoint-dependent inputs (below) hide changes of a job's input set from Snakemake until the
# checkpoints have run; every rule that uses them also has a static input that changes with the
# grid (grid.json, or aggregate's tables), so that a new run always re-runs them.
def run_status(wildcards):
    """The training summary of one run (after its ``train`` checkpoint): ``status`` is
    ``trained`` or ``diverged``."""
    summary = checkpoints.train.get(**wildcards).output.summary
    with open(summary) as f:
        return json.load(f)


def trained_runs():
    """The grid points whose training finished with finite losses (a diverged run is a
    result of the study, listed in the report, but has no models to evaluate)."""
    runs = [
        dict(dataset=dataset, loss=loss, latent=latent, seed=seed)
        for dataset in GRID["dataset"]
        for loss in GRID["loss"]
        for latent in GRID["latent"]
        for seed in GRID["seed"]
    ]
    return [r for r in runs if run_status(r)["status"] == "trained"]


def for_trained_runs(name, latent=None):
    """The file ``name`` of every trained run (of latent size ``latent`` if given)."""
    return [run_file(name, r) for r in trained_runs() if latent is None or r["latent"] == latent]


def train_runtime(wildcards, attempt):
    """Minutes for one training job: generous on a CPU, doubled on each retry."""
    return (15 + 5 * config["training"]["epochs"]) * attempt
