# The classifier of each dataset's sample metrics; evaluation and pictures of each trained run.


rule train_classifier:
    input:
        manifest=ancient(rules.prepare_data.output[0]),
    output:
        model=study_file(layout.CLASSIFIER_FILES["model"]),
        summary=study_file(layout.CLASSIFIER_FILES["summary"]),
        # its features of the test images, computed once: every evaluation compares with them
        features=study_file(layout.CLASSIFIER_FILES["features"]),
    log:
        job_file("logs", "train_classifier", DATASET_KEY),
    benchmark:
        job_file("benchmarks", "train_classifier", DATASET_KEY)
    # Every evaluate job waits for the classifier: start it first, beside the first training,
    # so that it never runs alone at the end (docs/performance.md, study-level efficiency).
    priority: 10
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 1,468 MB
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
        gpu=0,
    params:
        settings=lambda wc: rule_params.classifier_settings(config, wc.dataset),
    script:
        "../scripts/train_classifier.py"


rule evaluate:
    input:
        model=rules.train.output.model,
        config=rules.train.output.config,
        summary=rules.train.output.summary,
        manifest=ancient(rules.prepare_data.output[0]),
        classifier=rules.train_classifier.output.model,
        features=rules.train_classifier.output.features,
    output:
        metrics=in_run(layout.METRICS),
    log:
        job_file("logs", "evaluate", RUN_KEY),
    benchmark:
        job_file("benchmarks", "evaluate", RUN_KEY)
    group:
        RUN_GROUP
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, AMD EPYC): 2,046 MB (importance sampling in
        # chunks of 1,000 decodes; 3,267 MB with 10,000)
        mem_mb=lambda wc, attempt: 3000 * attempt,
        runtime=evaluate_runtime,
        gpu=0,
    params:
        settings=lambda wc: rule_params.evaluation_settings(
            config, wc.dataset, wc.loss, int(wc.epochs)
        ),
    script:
        "../scripts/evaluate.py"


rule run_pictures:
    input:
        model=rules.train.output.model,
        config=rules.train.output.config,
        epoch_samples=rules.train.output.epoch_samples,
        manifest=ancient(rules.prepare_data.output[0]),
        # the KL of each latent dimension, measured by the evaluation, picks the dimensions of
        # the traversals and the manifold; ancient: a re-evaluation (new K, say) that leaves
        # the model as it was does not redraw the pictures
        metrics=ancient(rules.evaluate.output.metrics),
    output:
        samples=run_picture("samples", "Samples"),
        reconstructions=run_picture("reconstructions", "Reconstructions"),
        training=run_picture("training", "Samples"),
        temperature=run_picture("temperature", "Samples"),
        interpolations=run_picture("interpolations", "Latent space"),
        latent_scatter=run_picture("latent_scatter", "Latent space"),
        traversal=run_picture("traversal", "Latent space"),
        manifold=run_picture("manifold", "Latent space"),
        # which test images the reconstructions and interpolations show
        pictured_images=in_run(layout.PICTURED_IMAGES),
    log:
        job_file("logs", "run_pictures", RUN_KEY),
    benchmark:
        job_file("benchmarks", "run_pictures", RUN_KEY)
    group:
        RUN_GROUP
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 1,203 MB
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        settings=rule_params.picture_settings(config),
        shown=reconstructions_shown,  # for the captions
    script:
        "../scripts/run_pictures.py"
