"""Rule train_classifier: the digit classifier of the sample metrics (vaestudy.jobs)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import classifier_job

sm = snakemake  # noqa: F821 - injected by Snakemake
classifier_job(sm.params.settings, sm.input.manifest, sm.output.model, sm.output.summary,
               sm.threads, sm.resources.gpu, sm.log[0])
