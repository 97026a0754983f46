# Numerical checks of the derivations in docs/theory.md (vaestudy.theory): one row per identity.


rule theory_check:
    output:
        f"{OUT}/theory/checks.csv",
    log:
        f"{OUT}/logs/theory_check.log",
    benchmark:
        f"{OUT}/benchmarks/theory_check.tsv"
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 832 MB
        mem_mb=lambda wc, attempt: 1500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    script:
        "../scripts/theory_check.py"
