# Training: one job per grid point (budget x loss x latent size x seed). A checkpoint rule: a
# run that diverges (non-finite loss) is a result with no models, and the rules after it read
# its status to evaluate and draw only the trained runs. A longer budget continues the final
# state of the next shorter one (the same bytes as training straight to it).


checkpoint train:
    input:
        manifest=ancient(rules.prepare_data.output[0]),
        continues=shorter_budget,
    output:
        model=directory(in_run(layout.TRAIN_FILES["model"])),
        history=in_run(layout.TRAIN_FILES["history"]),
        summary=in_run(layout.TRAIN_FILES["summary"]),
        config=in_run(layout.TRAIN_FILES["config"]),
        epoch_samples=in_run(layout.TRAIN_FILES["epoch_samples"]),
        state=in_run(layout.TRAIN_FILES["state"]),
    log:
        job_file("logs", "train", RUN_KEY),
    benchmark:
        job_file("benchmarks", "train", RUN_KEY)
    # The longest jobs first (after the classifier, priority 10), so that no training is left
    # alone at the end (docs/performance.md, study-level efficiency).
    priority: 5
    conda:
        "../envs/vae.yaml"
    # threads and GPUs are machine settings: a profile's set-threads / set-resources (or
    # --set-threads train=4 --set-resources train:gpu=1) change them, never the config
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 1,721 MB
        mem_mb=lambda wc, attempt: 2500 * attempt,
        runtime=train_runtime,
        gpu=0,
    params:
        # exactly what training reads (vaestudy.core.rule_params.train_settings): a change re-trains
        settings=lambda wc: rule_params.train_settings(config, wc.loss, wc.epochs),
    script:
        "../scripts/train.py"
