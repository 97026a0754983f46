# Numerical checks of the derivations in docs/theory.md (vaestudy.theory.theory): one row per identity.


rule theory_check:
    output:
        study_file(layout.THEORY_CHECKS),
    log:
        job_file("logs", "theory_check"),
    benchmark:
        job_file("benchmarks", "theory_check")
    conda:
        "../envs/vae.yaml"
    threads: 1
    resources:
        # measured peak (max RSS, default study, two CPUs): 832 MB
        mem_mb=lambda wc, attempt: 1500 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    script:
        "../scripts/theory_check.py"
