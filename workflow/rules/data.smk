# The data. MNIST is committed under resources/mnist. No rule declares those files as outputs
# (Snakemake deletes a job's outputs before it runs, and the data must never be at risk):
# prepare_data downloads only files that are missing, verifies all four and writes a manifest.


rule prepare_data:
    output:
        f"{OUT}/data/mnist_manifest.json",
    params:
        dir=DATA,
    log:
        f"{OUT}/logs/prepare_data.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    script:
        "../scripts/prepare_data.py"
