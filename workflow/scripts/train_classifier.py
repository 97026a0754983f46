"""Rule train_classifier: the digit classifier of the sample metrics."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import classifier_job

sm = snakemake  # noqa: F821 - injected by Snakemake
classifier_job(settings=sm.params.settings, manifest=sm.input.manifest, model=sm.output.model,
               summary=sm.output.summary, threads=sm.threads, gpus=sm.resources.gpu,
               log=sm.log[0])
