"""Rule train: fit the VAE of one grid point (vaestudy.jobs.training_run.train_run)."""

from pathlib import Path

import _bootstrap  # noqa: F401

from vaestudy.core import layout
from vaestudy.core.data import prepared_dir
from vaestudy.core.trained_run import with_data_dir
from vaestudy.jobs.runtime import logged
from vaestudy.jobs.training_run import train_run

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    settings = with_data_dir(sm.params.settings, prepared_dir(sm.input.manifest))
    shorter = sm.input.continues  # the next shorter budget's outputs, if any
    continues = layout.train_outputs(Path(shorter[0]).parent) if len(shorter) else None
    train_run(settings, sm.wildcards.loss, int(sm.wildcards.latent), int(sm.wildcards.seed),
              dict(sm.output.items()), log, threads=sm.threads, gpus=sm.resources.gpu,
              dataset=sm.wildcards.dataset, log=sm.log[0], continues=continues)
