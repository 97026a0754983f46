# Shared helpers: config validation, the grid and its paths.
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


validate(config, workflow.source_path("../schemas/config.schema.yaml"))

OUT = config["output_dir"]


def check_config_and_output_dir():
    """Checks the JSON schema cannot express, run before any job: the batch must fit the
    training split, and the output directory must be a writable directory."""
    data, batch = config["data"], config["training"]["batch_size"]
    n_train = data["train_subset"] or 60000 - data["validation_size"]
    if batch > n_train:
        raise WorkflowError(
            f"config 'training.batch_size' = {batch} is larger than the {n_train} training "
            f"images (data.train_subset / data.validation_size); use at most {n_train}."
        )
    try:
        os.makedirs(OUT, exist_ok=True)
        probe = os.path.join(OUT, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as err:
        raise WorkflowError(
            f"output_dir '{OUT}' is not a writable directory ({err.strerror}); choose another "
            f"with --config output_dir=PATH or free the path."
        ) from err


check_config_and_output_dir()
DATA = config["data"]["dir"]
# One run of the grid; wildcards are readable path parts: loss~bce/latent~16/seed~0.
RUN = f"{OUT}/runs/loss~{{loss}}/latent~{{latent}}/seed~{{seed}}"
GRID = dict(
    loss=config["study"]["losses"],
    latent=config["study"]["latent_dims"],
    seed=config["study"]["seeds"],
)
RES = config["resources"]


wildcard_constraints:
    loss="|".join(GRID["loss"]),
    latent=r"\d+",
    seed=r"\d+",


def run_figure(name, category, ext="png"):
    """A per-run figure, marked for ``snakemake --report`` with the caption
    ``workflow/report/<name>.rst``, a category and the run's labels."""
    return report(
        f"{RUN}/{name}.{ext}",
        caption=f"../report/{name}.rst",
        category=category,
        subcategory="latent {latent}",
        labels={"loss": "{loss}", "latent": "{latent}", "seed": "{seed}", "figure": name},
    )


def for_all_runs(name):
    """The file ``name`` of every run of the grid (loss x latent x seed)."""
    return expand(f"{RUN}/{name}", **GRID)


RUN_PICTURES = [
    "samples.png",
    "reconstructions.png",
    "training.gif",
    "interpolations.png",
    "temperature.png",
    "latent_scatter.png",
    "traversal.png",
]


def run_images():
    """Per-run pictures for the report, plus the manifold of the runs with a 2-D latent
    space."""
    files = [f for name in RUN_PICTURES for f in for_all_runs(name)]
    if 2 in GRID["latent"]:
        files += expand(f"{RUN}/manifold.png", loss=GRID["loss"], latent=[2], seed=GRID["seed"])
    return files


def study_benchmarks():
    """The benchmark file (wall s, CPU s, peak memory) of every job before the report, for
    the report's cost tables. The paths repeat the rules' ``benchmark:`` directives."""
    b, runs = f"{OUT}/benchmarks", dict(**GRID)
    per_run = ("train", "evaluate", "run_figures")
    files = [
        f"{b}/{name}.tsv"
        for name in ("prepare_data", "theory_check", "train_classifier", "aggregate", "plots")
    ]
    files += [
        f
        for rule in per_run
        for f in expand(f"{b}/{rule}/loss~{{loss}}/latent~{{latent}}/seed~{{seed}}.tsv", **runs)
    ]
    files += expand(f"{b}/side_by_side/latent~{{latent}}.tsv", latent=GRID["latent"])
    if 2 in GRID["latent"]:
        files += expand(
            f"{b}/manifold/loss~{{loss}}/seed~{{seed}}.tsv", loss=GRID["loss"], seed=GRID["seed"]
        )
    return files


def study_execution():
    """How this run executes jobs, for the report's efficiency figures: the rules' threads
    (after a profile's set-threads, capped at --cores as Snakemake does locally) and the
    cores of a local run (None when jobs go to a cluster)."""
    local = workflow.local_exec and not workflow.remote_exec
    cores = workflow._cores if local else None
    threads = {}
    for r in workflow.rules:
        t = r.resources.get("_cores")
        if isinstance(t, int):
            threads[r.name] = min(t, cores) if cores else t
    return {"cores": cores, "threads": threads}


def run_params(wildcards):
    """The config sections a training run depends on (a change re-runs the training)."""
    keys = ("data", "model", "likelihood", "training", "evaluation", "figures")
    return {key: config[key] for key in keys}


def train_runtime(wildcards, attempt):
    """Minutes for one training job: generous on a CPU, doubled on each retry."""
    return (15 + 5 * config["training"]["epochs"]) * attempt
