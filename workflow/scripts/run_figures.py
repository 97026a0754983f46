"""Rule run_figures: the pictures of one run (vaestudy.jobs.figures_job)."""

import _bootstrap  # noqa: F401
from pathlib import Path

from vaestudy.jobs import figures_job

sm = snakemake  # noqa: F821 - injected by Snakemake
figures_job(str(Path(sm.output[0]).parent), sm.params.settings, sm.input.manifest,
            dict(sm.output.items()), sm.threads, sm.log[0])
