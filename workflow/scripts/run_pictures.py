"""Rule run_pictures: the pictures of one trained run (each output names a picture of
vaestudy.evaluation.run_pictures.RunPictures, or pictured_images, the record of the test images they
show; the KL per dimension in the run's metrics picks the latent dimensions of the
traversals and the manifold)."""

import json
from pathlib import Path

import _bootstrap  # noqa: F401

from vaestudy.core.atomic import atomic_path
from vaestudy.core.data import prepared_dir
from vaestudy.core.trained_run import load_trained_run
from vaestudy.jobs.runtime import job

sm = snakemake  # noqa: F821 - injected by Snakemake
cfg = load_trained_run(sm.input.config, sm.params.settings, prepared_dir(sm.input.manifest))
with job(sm.log[0], sm.threads, cfg.seed) as log:
    # after job(): TensorFlow's threads are set
    from vaestudy.evaluation.run_pictures import RunPictures

    log.info("picture settings: %s", json.dumps(sm.params.settings))
    metrics = json.loads(Path(sm.input.metrics).read_text())
    pictures = RunPictures(sm.input.model, sm.input.epoch_samples, cfg, cfg.load_data(),
                           metrics["kl_per_dim"], metrics["sigma"])
    for name, path in sm.output.items():
        with atomic_path(path) as tmp:
            pictures.write(name, tmp)
    log.info("wrote %s", sorted(sm.output.keys()))
