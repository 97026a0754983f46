# The data, one job per dataset (vaestudy.core.datasets). MNIST is committed under resources/mnist;
# where each dataset is read from is found before any job (DATA_DIRS, common.smk). No rule
# declares those files as outputs (Snakemake deletes a job's outputs before it runs, and the
# data must never be at risk): prepare_data downloads only files that are missing, verifies
# all four payloads and writes a manifest.
# The rules after it read the manifest as ancient(): it is a token that the verified files
# are there (each pinned by SHA-256 in the registry), not data that a re-run changes, so a
# re-run of prepare_data (its script edited, say an import renamed) re-trains and re-evaluates
# nothing (tests/test_rerun.py). Settings that change what training reads are its params.


rule prepare_data:
    output:
        layout.manifest(OUT),
    log:
        job_file("logs", "prepare_data", DATASET_KEY),
    benchmark:
        job_file("benchmarks", "prepare_data", DATASET_KEY)
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 135 MB
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        dataset="{dataset}",
        dir=lambda wc: DATA_DIRS[wc.dataset],
    script:
        "../scripts/prepare_data.py"
