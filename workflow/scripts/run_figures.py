"""Rule run_figures: the pictures of one trained run (each output names a picture)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import figures_job

sm = snakemake  # noqa: F821 - injected by Snakemake
figures_job(model=sm.input.model, config=sm.input.config, epoch_samples=sm.input.epoch_samples,
            metrics=sm.input.metrics, manifest=sm.input.manifest, settings=sm.params.settings,
            out=dict(sm.output.items()), threads=sm.threads, log=sm.log[0])
