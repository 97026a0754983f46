"""Rule train: fit the VAE of one grid point (vaestudy.jobs.train_job)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import train_job

sm = snakemake  # noqa: F821 - injected by Snakemake
train_job(sm.params.settings, sm.input.manifest, sm.wildcards.loss, int(sm.wildcards.latent),
          int(sm.wildcards.seed), dict(sm.output.items()), sm.threads, sm.resources.gpu,
          sm.log[0])
