# Shared helpers: config validation, the grid and its paths.
from snakemake.utils import min_version, validate

min_version("9.0")


validate(config, workflow.source_path("../schemas/config.schema.yaml"))

OUT = config["output_dir"]
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


def for_all_runs(name):
    """The file ``name`` of every run of the grid (loss x latent x seed)."""
    return expand(f"{RUN}/{name}", **GRID)


def run_images():
    """Per-run PNGs for the report: samples and reconstructions, plus the manifold of the
    runs with a 2-D latent space."""
    files = for_all_runs("samples.png") + for_all_runs("reconstructions.png")
    if 2 in GRID["latent"]:
        files += expand(f"{RUN}/manifold.png", loss=GRID["loss"], latent=[2], seed=GRID["seed"])
    return files


def run_params(wildcards):
    """The config sections a training run depends on (a change re-runs the training)."""
    keys = ("data", "model", "likelihood", "training", "evaluation", "figures")
    return {key: config[key] for key in keys}


def train_runtime(wildcards, attempt):
    """Minutes for one training job: generous on a CPU, doubled on each retry."""
    return (15 + 5 * config["training"]["epochs"]) * attempt
