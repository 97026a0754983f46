"""Rule train: fit the VAE of one grid point (vaestudy.jobs.training_run.train_run)."""

import _bootstrap  # noqa: F401

from vaestudy.core.data import prepared_dir
from vaestudy.core.trained_run import with_data_dir
from vaestudy.jobs.runtime import logged
from vaestudy.jobs.training_run import train_run

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    settings = with_data_dir(sm.params.settings, prepared_dir(sm.input.manifest))
    train_run(settings, sm.wildcards.loss, int(sm.wildcards.latent), int(sm.wildcards.seed),
              dict(sm.output.items()), log, threads=sm.threads, gpus=sm.resources.gpu,
              dataset=sm.wildcards.dataset, log=sm.log[0])
