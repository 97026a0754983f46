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
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/theory_check.py"
