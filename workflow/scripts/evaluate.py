"""Rule evaluate: the test-set metrics of one trained run."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import evaluate_job

sm = snakemake  # noqa: F821 - injected by Snakemake
evaluate_job(model=sm.input.model, config=sm.input.config, summary=sm.input.summary,
             manifest=sm.input.manifest, classifier=sm.input.classifier,
             settings=sm.params.settings, metrics=sm.output.metrics, threads=sm.threads,
             gpus=sm.resources.gpu, log=sm.log[0])
