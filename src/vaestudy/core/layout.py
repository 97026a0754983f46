"""Where every file of a study lives: the one home of the run layout (no TensorFlow).

A study under ``OUT`` (the config's ``output_dir``) keeps one folder per grid point,
``OUT/runs/dataset~N/epochs~E/loss~L/latent~D/seed~S/`` (readable path parts that are also
Snakemake's wildcards; ``epochs`` is the training budget), whose files are named here; each job
has a log and a benchmark file, ``OUT/logs/<rule>/<key>.log`` and
``OUT/benchmarks/<rule>/<key>.tsv`` (``<rule>.log`` for a rule with one job). The workflow
(``common.smk``), the progress table, the cost table and the report build and parse these paths
only through this module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

#: The key of one run; its fields are the Snakemake wildcards of the per-run rules.
RUN_KEY = "dataset~{dataset}/epochs~{epochs}/loss~{loss}/latent~{latent}/seed~{seed}"
#: The path parts of a run key, in order.
RUN_PARTS = ("dataset", "epochs", "loss", "latent", "seed")
RUNS = "runs"

#: The outputs of training (rule ``train``), by the rule's output names.
#: ``state``: the loop's state after the last epoch (a checkpoint, :mod:`vaestudy.vae.checkpoint`),
#: which the run of the next longer budget continues.
TRAIN_FILES = {"model": "model", "history": "history.csv", "summary": "train_summary.json",
               "config": "config.json", "epoch_samples": "epoch_samples.npy",
               "state": "final_state.npz"}
METRICS = "metrics.json"  # rule evaluate
#: The pictures of a run (rule ``run_pictures``), by picture name (= the output's name).
PICTURES = {"samples": "samples.png", "reconstructions": "reconstructions.png",
            "training": "training.gif", "temperature": "temperature.png",
            "interpolations": "interpolations.png", "latent_scatter": "latent_scatter.png",
            "traversal": "traversal.png", "manifold": "manifold.png"}
#: Which test images the pictures show (rule ``run_pictures``,
#: :func:`vaestudy.core.pictured.record`).
PICTURED_IMAGES = "pictured_images.json"
#: Beside the outputs while a run trains: its checkpoint, the lock of its one process and the
#: cost of each process that trained it so far (:func:`vaestudy.jobs.usage.usage`).
CHECKPOINT, LOCK, ATTEMPTS = "checkpoint.npz", ".train.lock", ".attempts.json"

#: The study's pictures of every loss's pictures (:data:`SIDE_BY_SIDE_PICTURES`) at one latent
#: size of one dataset and training budget (rule side_by_side).
SIDE_BY_SIDE_KEY = "dataset~{dataset}/epochs~{epochs}/latent~{latent}"
SIDE_BY_SIDE = "plots/{dataset}/epochs~{epochs}/{picture}_latent~{latent}.png"
SIDE_BY_SIDE_PICTURES = ("samples", "reconstructions", "sample_rows")
#: The forest plot of the pairs of losses separated on the first dataset or on this one, at
#: one training budget (rule across).
ACROSS = "plots/across/epochs~{epochs}/{dataset}.png"
#: The comparable metrics of one dataset against the training budget, per loss (rule budgets,
#: with two budgets or more).
BUDGETS = "plots/{dataset}/budgets.png"
#: The study's own files in its output folder (:func:`study_file`): the grid it asked for
#: (rule grid), its tables (rule aggregate), the theory checks (rule theory_check), each
#: dataset's classifier of the sample metrics (rule train_classifier) and the report.
GRID = "grid.json"
TABLES = {"metrics": "metrics.csv", "history": "history.csv", "runs": "runs.csv",
          "comparisons": "comparisons.csv"}
THEORY_CHECKS = "theory/checks.csv"
CLASSIFIER_FILES = {"model": "classifier/{dataset}/classifier.keras",
                    "summary": "classifier/{dataset}/classifier.json",
                    "features": "classifier/{dataset}/test_features.npy"}
REPORT = "report.html"
#: The key of the jobs of one dataset (its data check and classifier).
DATASET_KEY = "dataset~{dataset}"
#: The key of the jobs of one dataset at one training budget (its comparison plots).
SECTION_KEY = "dataset~{dataset}/epochs~{epochs}"
#: A dataset's manifest (rule prepare_data), and the folder a download of it goes to.
MANIFEST, DOWNLOADS = "data/{dataset}_manifest.json", "data/{dataset}"
#: The study's comparison plots of one dataset at one budget (rule plots), by output name.
PLOTS = {"mechanism": "mechanism.png", "comparable": "comparable_metrics.png",
         "loglik": "test_log_likelihood.png",
         "training": "training_curves.png", "heatmap": "heatmap_fid.png"}

JOB_FILE_EXT = {"logs": "log", "benchmarks": "tsv"}
_PART = re.compile(r"^(dataset|epochs|loss|latent|seed)~(.+)$")


class RunKey(NamedTuple):
    """One grid point."""

    dataset: str
    epochs: int
    loss: str
    latent: int
    seed: int


def run_key(dataset: str, epochs: int | str, loss: str, latent: int | str,
            seed: int | str) -> str:
    """``dataset~N/epochs~E/loss~L/latent~D/seed~S`` (wildcard patterns such as ``{loss}``
    pass through)."""
    return RUN_KEY.format(dataset=dataset, epochs=epochs, loss=loss, latent=latent, seed=seed)


def run_dir(output_dir: str | Path, key: str = RUN_KEY) -> str:
    """The folder of the run ``key`` (default: the wildcard pattern) under ``output_dir``."""
    return f"{output_dir}/{RUNS}/{key}"


def run_file(output_dir: str | Path, name: str, key: str = RUN_KEY) -> str:
    """The file ``name`` (a file name, e.g. :data:`METRICS`) of the run ``key``."""
    return f"{run_dir(output_dir, key)}/{name}"


def train_outputs(run: str | Path) -> dict[str, str]:
    """The paths of training's outputs in the run folder ``run``, by output name."""
    return {name: f"{run}/{file}" for name, file in TRAIN_FILES.items()}


def parse_run_path(path: str | Path) -> RunKey | None:
    """The run of a path that contains ``dataset~N/epochs~E/loss~L/latent~D/seed~S`` (a run
    folder, a file in it, or a job's log or benchmark file ``.../seed~S.log``); None when it
    has no run key."""
    parts = [p.removesuffix(Path(p).suffix) if p.startswith("seed~") else p
             for p in Path(path).parts]
    n = len(RUN_PARTS)
    for i in range(len(parts) - n + 1):
        found = [_PART.match(p) for p in parts[i:i + n]]
        if all(found) and tuple(m.group(1) for m in found) == RUN_PARTS:
            dataset, epochs, loss, latent, seed = (m.group(2) for m in found)
            try:
                return RunKey(dataset, int(epochs), loss, int(latent), int(seed))
            except ValueError:
                return None
    return None


def find_runs(output_dir: str | Path) -> dict[RunKey, Path]:
    """Every run folder under ``output_dir`` (``runs/dataset~*/epochs~*/loss~*/latent~*/seed~*``)
    by its key."""
    found = {}
    for d in Path(output_dir).glob(f"{RUNS}/{run_key('*', '*', '*', '*', '*')}"):
        key = parse_run_path(d.relative_to(output_dir))
        if key is not None and d.is_dir():
            found[key] = d
    return found


def picture_name(path: str | Path) -> str:
    """The picture name (a key of :data:`PICTURES`) of a run's picture file."""
    names = {file: name for name, file in PICTURES.items()}
    return names[Path(path).name]


def side_by_side(output_dir: str | Path, dataset: str = "{dataset}",
                 epochs: int | str = "{epochs}", latent: int | str = "{latent}",
                 picture: str = "samples") -> str:
    """The side-by-side picture of every loss's ``picture`` (one of
    :data:`SIDE_BY_SIDE_PICTURES`) at latent size ``latent`` of ``dataset`` after ``epochs``."""
    name = SIDE_BY_SIDE.format(dataset=dataset, epochs=epochs, latent=latent, picture=picture)
    return f"{output_dir}/{name}"


def across_plot(output_dir: str | Path, dataset: str = "{dataset}",
                epochs: int | str = "{epochs}") -> str:
    """The forest plot across the study's first dataset and ``dataset`` at the budget
    ``epochs`` (rule across)."""
    return f"{output_dir}/{ACROSS.format(dataset=dataset, epochs=epochs)}"


def budgets_plot(output_dir: str | Path, dataset: str = "{dataset}") -> str:
    """The plot of ``dataset``'s comparable metrics against the training budget (rule
    budgets)."""
    return f"{output_dir}/{BUDGETS.format(dataset=dataset)}"


def _budget(part: str) -> int:
    """The number of an ``epochs~E`` path part."""
    name, _, value = part.partition("~")
    if name != "epochs":
        raise ValueError(f"{part!r} is not an epochs~E path part")
    return int(value)


def side_by_side_key(path: str | Path) -> tuple[str, int, str, int]:
    """(dataset, epochs, picture, latent size) of a side-by-side picture's path."""
    path = Path(path)
    picture, latent = path.stem.rsplit("_latent~", 1)
    return path.parent.parent.name, _budget(path.parent.name), picture, int(latent)


def plot_key(path: str | Path) -> tuple[str, int]:
    """(dataset, epochs) of a comparison plot's path (:func:`plot_file`) or an across plot's
    (dataset after the first, epochs)."""
    path = Path(path)
    if path.parent.parent.name == "across":
        return path.stem, _budget(path.parent.name)
    return path.parent.parent.name, _budget(path.parent.name)


def study_file(output_dir: str | Path, name: str) -> str:
    """The study's file ``name`` (:data:`GRID`, a value of :data:`TABLES`, ...) in
    ``output_dir``."""
    return f"{output_dir}/{name}"


def manifest(output_dir: str | Path, dataset: str = "{dataset}") -> str:
    """The manifest of ``dataset``'s verified files (rule prepare_data)."""
    return f"{output_dir}/{MANIFEST.format(dataset=dataset)}"


def downloads(output_dir: str | Path, dataset: str) -> str:
    """Where ``dataset`` is downloaded to when it is nowhere on the machine."""
    return f"{output_dir}/{DOWNLOADS.format(dataset=dataset)}"


def plot_file(output_dir: str | Path, name: str, dataset: str = "{dataset}",
              epochs: int | str = "{epochs}") -> str:
    """The comparison plot ``name`` (a key of :data:`PLOTS`) of ``dataset`` after ``epochs``."""
    return f"{output_dir}/plots/{dataset}/epochs~{epochs}/{PLOTS[name]}"


def job_file(output_dir: str | Path, kind: str, rule: str, key: str = "") -> str:
    """The log (``kind`` "logs") or benchmark file ("benchmarks") of one job of ``rule``
    (``key``: its wildcards, e.g. :data:`RUN_KEY`). Both kinds have the same rule and key,
    which is how :mod:`vaestudy.report.benchmarks` pairs a job's benchmark with the usage line in its
    log."""
    name = f"{rule}/{key}" if key else rule
    return f"{output_dir}/{kind}/{name}.{JOB_FILE_EXT[kind]}"


def parse_job_file(path: str | Path) -> tuple[Path, str, str]:
    """(output_dir, rule, key) of a log or benchmark file (key '' for a one-job rule)."""
    parts = Path(path).parts
    i = max(i for i, p in enumerate(parts) if p in JOB_FILE_EXT)
    rel = [*parts[i + 1:-1], Path(parts[-1]).stem]
    return Path(*parts[:i]), rel[0], "/".join(rel[1:])


def log_of(benchmark: str | Path) -> Path:
    """The log of the job whose benchmark file is ``benchmark``."""
    output_dir, rule, key = parse_job_file(benchmark)
    return Path(job_file(output_dir, "logs", rule, key))


def study_benchmarks(output_dir: str | Path, datasets: list[str], budgets: list[int],
                     runs: list[dict], trained: list[dict]) -> list[str]:
    """The benchmark file of every job before the report, for its cost tables: theory_check
    and aggregate; each dataset's prepare_data and train_classifier, its plots at each budget
    of ``budgets``, budgets with two budgets or more, and across for each dataset after the
    first at each budget; train of every grid point in ``runs`` (dicts of dataset, epochs,
    loss, latent, seed); evaluate and run_pictures of each ``trained`` one; side_by_side of
    each dataset, budget and latent size with a trained run."""
    def bench(rule: str, key: str = "") -> str:
        return job_file(output_dir, "benchmarks", rule, key)

    files = [bench(rule) for rule in ("theory_check", "aggregate")]
    files += [bench(rule, DATASET_KEY.format(dataset=d))
              for rule in ("prepare_data", "train_classifier") for d in datasets]
    sections = [SECTION_KEY.format(dataset=d, epochs=e) for d in datasets for e in budgets]
    files += [bench("plots", key) for key in sections]
    if len(budgets) > 1:
        files += [bench("budgets", DATASET_KEY.format(dataset=d)) for d in datasets]
    files += [bench("across", SECTION_KEY.format(dataset=d, epochs=e))
              for d in datasets[1:] for e in budgets]
    files += [bench("train", run_key(**r)) for r in runs]
    files += [bench(rule, run_key(**r)) for r in trained for rule in ("evaluate", "run_pictures")]
    latents = sorted({(r["dataset"], r["epochs"], r["latent"]) for r in trained})
    files += [bench("side_by_side", SIDE_BY_SIDE_KEY.format(dataset=d, epochs=e, latent=x))
              for d, e, x in latents]
    return files
