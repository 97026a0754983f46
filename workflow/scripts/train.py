"""Rule train: fit the VAE of one grid point."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import train_job

sm = snakemake  # noqa: F821 - injected by Snakemake
train_job(settings=sm.params.settings, manifest=sm.input.manifest, loss=sm.wildcards.loss,
          latent=int(sm.wildcards.latent), seed=int(sm.wildcards.seed),
          out=dict(sm.output.items()), threads=sm.threads, gpus=sm.resources.gpu,
          log=sm.log[0])
