"""Rule evaluate: the test-set metrics of one trained run (vaestudy.evaluation.evaluate.evaluate; a
diverged run has no model: the workflow evaluates trained runs only)."""

import json
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

from vaestudy.core.atomic import write_json
from vaestudy.core.data import prepared_dir
from vaestudy.core.provenance import code_version
from vaestudy.core.trained_run import load_trained_run
from vaestudy.jobs.runtime import job

sm = snakemake  # noqa: F821 - injected by Snakemake
cfg = load_trained_run(sm.input.config, sm.params.settings, prepared_dir(sm.input.manifest))
with job(sm.log[0], sm.threads, cfg.seed, sm.resources.gpu) as log:
    import keras  # after job(): TensorFlow's threads and devices are set first

    from vaestudy.evaluation.evaluate import clipped_settings, evaluate, load_models

    sigma = json.loads(Path(sm.input.summary).read_text())["sigma"]
    classifier = keras.models.load_model(sm.input.classifier, compile=False)
    data = cfg.load_data()
    for sentence in clipped_settings(cfg, data):
        log.info(sentence)
    values = evaluate(*load_models(sm.input.model), sigma, cfg, data, classifier,
                      test_feats=np.load(sm.input.features))
    values.update(eval_code=code_version(), settings=sm.params.settings)
    write_json(sm.output.metrics, values)
    log.info("metrics: %s", json.dumps(values))
