# Study level: tidy tables (pandas), comparison plots (seaborn) and the HTML report.


# The study's grid as a file: the study-level rules take it as input, so that a change of the
# grid re-runs them (their other per-run inputs go through the train checkpoints, whose changes
# Snakemake sees only after the checkpoints have run).
rule grid:
    output:
        study_file(layout.GRID),
    log:
        job_file("logs", "grid"),
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 500 * attempt,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        study=config["study"],
    script:
        "../scripts/grid.py"


rule aggregate:
    input:
        grid=rules.grid.output[0],
        metrics=lambda wc: for_trained_runs(layout.METRICS),
        # the same files, listed as each training ends: evaluations start beside the trainings
        ready=evaluated_so_far,
        summaries=for_all_runs(layout.TRAIN_FILES["summary"]),
        histories=for_all_runs(layout.TRAIN_FILES["history"]),
        configs=for_all_runs(layout.TRAIN_FILES["config"]),
    output:
        metrics=report(
            study_file(layout.TABLES["metrics"]),
            caption="../report/metrics.rst",
            category="Comparison",
            labels={"table": "metrics per run"},
        ),
        history=study_file(layout.TABLES["history"]),
        runs=study_file(layout.TABLES["runs"]),
        comparisons=report(
            study_file(layout.TABLES["comparisons"]),
            caption="../report/comparisons.rst",
            category="Comparison",
            labels={"table": "paired comparisons of losses"},
        ),
    log:
        job_file("logs", "aggregate"),
    benchmark:
        job_file("benchmarks", "aggregate")
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, AMD EPYC): 143 MB (no TensorFlow)
        mem_mb=lambda wc, attempt: 500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    script:
        "../scripts/aggregate.py"


rule plots:
    input:
        metrics=rules.aggregate.output.metrics,
        history=rules.aggregate.output.history,
    output:
        mechanism=report(
            layout.plot_file(OUT, "mechanism"),
            caption="../report/mechanism.rst",
            category="Comparison",
            subcategory="{dataset}, {epochs} epochs",
            labels={
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "figure": "what the KL weight does",
            },
        ),
        comparable=report(
            layout.plot_file(OUT, "comparable"),
            caption="../report/comparable.rst",
            category="Comparison",
            subcategory="{dataset}, {epochs} epochs",
            labels={
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "figure": "reconstruction errors and KL",
            },
        ),
        loglik=report(
            layout.plot_file(OUT, "loglik"),
            caption="../report/loglik.rst",
            category="Comparison",
            subcategory="{dataset}, {epochs} epochs",
            labels={
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "figure": "test log-likelihood per likelihood",
            },
        ),
        training=report(
            layout.plot_file(OUT, "training"),
            caption="../report/training.rst",
            category="Training",
            subcategory="{dataset}, {epochs} epochs",
            labels={"dataset": "{dataset}", "epochs": "{epochs}", "figure": "training curves"},
        ),
        heatmap=report(
            layout.plot_file(OUT, "heatmap"),
            caption="../report/heatmap.rst",
            category="Comparison",
            subcategory="{dataset}, {epochs} epochs",
            labels={
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "figure": "heat-map of the Fréchet distance",
            },
        ),
    log:
        job_file("logs", "plots", layout.SECTION_KEY),
    benchmark:
        job_file("benchmarks", "plots", layout.SECTION_KEY)
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, AMD EPYC): 198 MB (no TensorFlow)
        mem_mb=lambda wc, attempt: 500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        dataset="{dataset}",
        epochs="{epochs}",
    script:
        "../scripts/plots.py"


# The comparable metrics against the training budget (a study with two budgets or more).
rule budgets:
    input:
        metrics=rules.aggregate.output.metrics,
    output:
        report(
            layout.budgets_plot(OUT),
            caption="../report/budgets.rst",
            category="Across budgets",
            labels={"figure": "metrics against the training budget", "dataset": "{dataset}"},
        ),
    log:
        job_file("logs", "budgets", DATASET_KEY),
    benchmark:
        job_file("benchmarks", "budgets", DATASET_KEY)
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        title=lambda wc: f"{wc.dataset}: the metrics against the training budget",
    script:
        "../scripts/budgets.py"


rule side_by_side:
    input:
        grid=rules.grid.output[0],
        samples=side_by_side_pictures("samples"),
        reconstructions=side_by_side_pictures("reconstructions"),
    output:
        samples=report(
            layout.side_by_side(OUT, picture="samples"),
            caption="../report/side_by_side.rst",
            category="Samples",
            subcategory="{dataset}, {epochs} epochs, latent {latent}",
            labels={
                "figure": "samples of the losses side by side",
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "latent": "{latent}",
            },
        ),
        sample_rows=report(
            layout.side_by_side(OUT, picture="sample_rows"),
            caption="../report/sample_rows.rst",
            category="Samples",
            subcategory="{dataset}, {epochs} epochs, latent {latent}",
            labels={
                "figure": "one row of samples per loss",
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "latent": "{latent}",
            },
        ),
        reconstructions=report(
            layout.side_by_side(OUT, picture="reconstructions"),
            caption="../report/side_by_side_reconstructions.rst",
            category="Reconstructions",
            subcategory="{dataset}, {epochs} epochs, latent {latent}",
            labels={
                "figure": "reconstructions of the losses side by side",
                "dataset": "{dataset}",
                "epochs": "{epochs}",
                "latent": "{latent}",
            },
        ),
    log:
        job_file("logs", "side_by_side", layout.SIDE_BY_SIDE_KEY),
    benchmark:
        job_file("benchmarks", "side_by_side", layout.SIDE_BY_SIDE_KEY)
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 138 MB
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        shown=reconstructions_shown,  # for the captions
    script:
        "../scripts/side_by_side.py"


rule across:
    input:
        comparisons=rules.aggregate.output.comparisons,
    output:
        report(
            layout.across_plot(OUT),
            caption="../report/across.rst",
            category="Across datasets",
            labels={
                "figure": "pairs separated on either dataset",
                "dataset": "{dataset}",
                "epochs": "{epochs}",
            },
        ),
    log:
        job_file("logs", "across", layout.SECTION_KEY),
    benchmark:
        job_file("benchmarks", "across", layout.SECTION_KEY)
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        reference=GRID["dataset"][0],
    script:
        "../scripts/across.py"


# The parts report.html.j2 includes (a change to any of them re-renders the report).
REPORT_PARTS = [
    workflow.source_path(f"../report/{name}.html.j2")
    for name in (
        "_style",
        "_changes_design",
        "_answer",
        "_results",
        "_pictures",
        "_across",
        "_budgets",
        "_theory",
        "_appendix",
    )
]


rule report:
    input:
        template=workflow.source_path("../report/report.html.j2"),
        parts=REPORT_PARTS,
        # the report of a study whose every run diverged, and the list of diverged runs that
        # both templates include
        all_diverged=workflow.source_path("../report/all_diverged.html.j2"),
        diverged_runs=workflow.source_path("../report/diverged_runs.html.j2"),
        metrics=rules.aggregate.output.metrics,
        plots=expand(
            [layout.plot_file(OUT, name) for name in layout.PLOTS],
            dataset=GRID["dataset"],
            epochs=GRID["epochs"],
        ),
        side_by_side=all_side_by_side_pictures,
        across=expand(layout.across_plot(OUT), dataset=GRID["dataset"][1:], epochs=GRID["epochs"]),
        budgets=(
            [layout.budgets_plot(OUT, d) for d in GRID["dataset"]]
            if len(GRID["epochs"]) > 1
            else []
        ),
        theory=workflow.source_path("../../docs/theory.md"),
        theory_checks=rules.theory_check.output[0],
        comparisons=rules.aggregate.output.comparisons,
        runs=rules.aggregate.output.runs,
        classifiers=expand(rules.train_classifier.output.summary, dataset=GRID["dataset"]),
        images=run_images,
        benchmarks=study_benchmarks,
    output:
        study_file(layout.REPORT),
    log:
        job_file("logs", "report"),
    benchmark:
        job_file("benchmarks", "report")
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, AMD EPYC): 202 MB (no TensorFlow)
        mem_mb=lambda wc, attempt: 500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        execution=study_execution(),
    script:
        "../scripts/report.py"
