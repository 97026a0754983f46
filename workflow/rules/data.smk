# The data. MNIST is committed under resources/mnist. No rule declares those files as outputs
# (Snakemake deletes a job's outputs before it runs, and the data must never be at risk):
# prepare_data downloads only files that are missing, verifies all four and writes a manifest.


rule prepare_data:
    output:
        f"{OUT}/data/mnist_manifest.json",
    log:
        job_file("logs", "prepare_data"),
    benchmark:
        job_file("benchmarks", "prepare_data")
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 135 MB
        mem_mb=lambda wc, attempt: 1000 * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        # the registry's name of the dataset (vaestudy.datasets); the config names no other yet
        dataset="mnist",
        dir=DATA,
    script:
        "../scripts/prepare_data.py"
