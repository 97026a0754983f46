# Paths and input functions of the rules (what each rule depends on); setup.smk comes first.


# One run of the grid; wildcards are readable path parts:
# dataset~mnist/epochs~2/loss~bce/latent~16/seed~0. Every path of a study is named by vaestudy.core.layout.
RUN_KEY = layout.RUN_KEY


def in_run(file):
    """The file ``file`` (a name from vaestudy.core.layout) of the run of the job's wildcards."""
    return layout.run_file(OUT, file)


def study_file(name):
    """The study's file ``name`` (vaestudy.core.layout: GRID, TABLES, ...) in its output folder."""
    return layout.study_file(OUT, name)


def job_file(kind, rule, key=""):
    """The log (``kind`` "logs") or benchmark file ("benchmarks") of one job of ``rule``
    (``key``: its wildcards, e.g. RUN_KEY): vaestudy.core.layout.job_file."""
    return layout.job_file(OUT, kind, rule, key)


def run_picture(name, category):
    """The per-run picture ``name`` (a key of vaestudy.core.layout.PICTURES), marked for
    ``snakemake --report`` with the caption ``workflow/report/<name>.rst``, a category and
    the run's labels."""
    return report(
        in_run(layout.PICTURES[name]),
        caption=f"../report/{name}.rst",
        category=category,
        subcategory="{dataset}, {epochs} epochs, latent {latent}",
        labels={
            "dataset": "{dataset}",
            "epochs": "{epochs}",
            "loss": "{loss}",
            "latent": "{latent}",
            "seed": "{seed}",
            "figure": name,
        },
    )


def reconstructions_shown(wildcards):
    """The classes of a run's reconstructions in words (vaestudy.core.pictured), for the captions
    of the rules run_pictures and side_by_side."""
    return pictured_lib.reconstructions_shown(
        config["pictures"]["n_reconstructions"], config["data"]["test_subset"], wildcards.dataset
    )


def run_file(name, run):
    """The file ``name`` of one run (a dict of dataset, epochs, loss, latent and seed)."""
    return layout.run_file(OUT, name, layout.run_key(**run))


def for_all_runs(name):
    """The file ``name`` of every run of the grid (dataset x epochs x loss x latent x seed)."""
    return expand(in_run(name), **GRID)


def trained_latents():
    """(dataset, budget, latent size) with at least one trained run (one side-by-side picture
    each)."""
    return sorted({(r["dataset"], r["epochs"], r["latent"]) for r in trained_runs()})


def all_side_by_side_pictures(wildcards):
    """The side-by-side pictures of every dataset, budget and latent size with a trained run."""
    return [
        layout.side_by_side(OUT, d, e, x, picture)
        for d, e, x in trained_latents()
        for picture in layout.SIDE_BY_SIDE_PICTURES
    ]


def side_by_side_pictures(picture):
    """An input function: the picture ``picture`` of each loss of ``wildcards.dataset`` at
    budget ``wildcards.epochs`` and latent size ``wildcards.latent``, of its trained run with
    the lowest seed (losses whose runs all diverged are left out)."""
    return lambda wildcards: side_by_side_runs(wildcards, picture)


def side_by_side_runs(wildcards, picture):
    """See side_by_side_pictures."""
    first = {}
    place = (wildcards.dataset, int(wildcards.epochs), int(wildcards.latent))
    for r in trained_runs():
        if (r["dataset"], r["epochs"], r["latent"]) == place:
            first.setdefault(r["loss"], r)
    return [run_file(layout.PICTURES[picture], r) for r in first.values()]


def run_images(wildcards):
    """Per-run pictures of the trained runs for the report."""
    runs = trained_runs()
    return [run_file(name, r) for name in layout.PICTURES.values() for r in runs]


def study_benchmarks(wildcards):
    """The benchmark file of every job before the report (vaestudy.core.layout)."""
    return layout.study_benchmarks(
        OUT, GRID["dataset"], GRID["epochs"], grid_runs(), trained_runs()
    )


# Checkpoint-dependent inputs (below) hide changes of a job's input set from Snakemake until the
# checkpoints have run; every rule that uses them also has a static input that changes with the
# grid (grid.json, or aggregate's tables), so that a new run always re-runs them.
def run_status(wildcards):
    """The training summary of one run (after its ``train`` checkpoint): ``status`` is
    ``trained`` or ``diverged``."""
    summary = checkpoints.train.get(**wildcards).output.summary
    with open(summary) as f:
        return json.load(f)


def trained_runs(wait=True):
    """The grid points whose training finished with finite losses (a diverged run is a
    result of the study, listed in the report, but has no models to evaluate). With
    ``wait=False`` a run still training is left out instead of making the asking job wait
    for every training."""
    done = []
    for r in grid_runs():
        try:
            trained = run_status(r)["status"] == "trained"
        except IncompleteCheckpointException:
            if wait:
                raise
            continue
        if trained:
            done.append(r)
    return done


def evaluated_so_far(wildcards):
    """The metrics of every run trained so far, without waiting for the others: aggregate
    lists them beside ``metrics`` (which waits for every training) so that Snakemake
    evaluates a run as soon as its training ends, beside the trainings left, not after the
    last one (aggregate reads every run's summary, so this is asked again after each)."""
    return [run_file(layout.METRICS, r) for r in trained_runs(wait=False)]


def grid_runs():
    """Every grid point (dataset x epochs x loss x latent x seed) as a dict."""
    return [
        dict(dataset=dataset, epochs=epochs, loss=loss, latent=latent, seed=seed)
        for dataset in GRID["dataset"]
        for epochs in GRID["epochs"]
        for loss in GRID["loss"]
        for latent in GRID["latent"]
        for seed in GRID["seed"]
    ]


def for_trained_runs(name, latent=None):
    """The file ``name`` of every trained run (of latent size ``latent`` if given)."""
    return [run_file(name, r) for r in trained_runs() if latent is None or r["latent"] == latent]


def shorter_budget(wildcards):
    """The training outputs (but the model) of the run of the next shorter budget of this
    grid point, whose final state the run continues; none for the shortest budget."""
    shorter = [e for e in GRID["epochs"] if e < int(wildcards.epochs)]
    if not shorter:
        return []
    run = layout.run_dir(OUT, layout.run_key(**{**dict(wildcards.items()), "epochs": shorter[-1]}))
    return [f for name, f in layout.train_outputs(run).items() if name != "model"]


def train_runtime(wildcards, attempt):
    """Minutes for one training job: generous on a CPU, doubled on each retry."""
    return (15 + 5 * int(wildcards.epochs)) * attempt


def evaluate_runtime(wildcards, attempt):
    """Minutes for one evaluate job, doubled on each retry: 20, and the decodes of its
    log-likelihood estimate (K x images, evaluation.overrides included) at 50,000 a minute
    (measured: 10 million in 1,789 s with 2 threads on Zen 4, docs/reference.md; one thread
    and an AVX2-only CPU at 3.4 times the time come to about 50,000)."""
    decodes = rule_params.log_px_decodes(
        config, wildcards.dataset, wildcards.loss, int(wildcards.epochs)
    )
    return (20 + decodes // 50000) * attempt
