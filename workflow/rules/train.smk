# Training: one job per grid point (loss x latent size x seed).


rule train:
    input:
        rules.prepare_data.output,
    output:
        encoder=f"{RUN}/encoder.keras",
        decoder=f"{RUN}/decoder.keras",
        history=f"{RUN}/history.csv",
        summary=f"{RUN}/train_summary.json",
        config=f"{RUN}/config.json",
        epoch_samples=f"{RUN}/epoch_samples.npy",
    log:
        f"{OUT}/logs/train/loss~{{loss}}/latent~{{latent}}/seed~{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/train/loss~{{loss}}/latent~{{latent}}/seed~{{seed}}.tsv"
    conda:
        "../envs/vae.yaml"
    threads: RES["train_threads"]
    resources:
        # measured peak (max RSS, default study): 1,602 MB
        mem_mb=lambda wc, attempt: 2500 * attempt,
        runtime=train_runtime,
        gpu=RES["gpu"],
    params:
        run=run_params,
    script:
        "../scripts/train.py"
