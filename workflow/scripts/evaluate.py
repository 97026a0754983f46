"""Rule evaluate: test-set metrics of one run (vaestudy.jobs.evaluate_job)."""

import _bootstrap  # noqa: F401
from pathlib import Path

from vaestudy.jobs import evaluate_job

sm = snakemake  # noqa: F821 - injected by Snakemake
evaluate_job(str(Path(sm.output[0]).parent), sm.params.settings, sm.input.manifest,
             sm.input.classifier, sm.output[0], sm.threads, sm.resources.gpu, sm.log[0])
