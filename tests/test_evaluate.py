"""The test-set evaluation of a run (vaestudy.evaluation.evaluate) on a tiny seeded split and untrained
models: each metric against its formula or against the function that defines it, applied by
hand to the same images, and the record of which test images each metric used."""

import math
import time

import numpy as np
import pytest
import tensorflow as tf

from vaestudy.core.config import RunConfig, run_config
from vaestudy.core.data import Split, load_split, stratified_draw, subset_record
from vaestudy.jobs import runtime

runtime.configure(threads=1)

from vaestudy.evaluation import classifier as clf  # noqa: E402
from vaestudy.evaluation import evaluate as ev  # noqa: E402
from vaestudy.evaluation import latent_code
from vaestudy.vae.iwae import iwae_estimate, make_log_weights  # noqa: E402
from vaestudy.vae.likelihoods import decode_mean  # noqa: E402
from vaestudy.vae.model import latent_grid_draws, make_decoder, make_encoder  # noqa: E402

EVALUATION = {"elbo_samples": 2, "batch_size": 16, "iwae_samples": 4, "iwae_images": 12,
              "n_generated": 24, "knn_k": 1, "knn_train_images": 60, "seed": 3}


class InkEncoder:
    """A stand-in encoder with known moments: z_1's mean is 20 x (the image's mean ink
    - 0.13), z_2's mean 0 (so one active unit of two); log-variances -0.5 and 0."""

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Moments [B, 4] (means, then log-variances) of images x [B, 28, 28, 1]."""
        ink = tf.reduce_mean(x, axis=[1, 2, 3])  # [B]
        zero = 0.0 * ink
        return tf.stack([20.0 * (ink - 0.13), zero, zero - 0.5, zero], axis=1)


@pytest.fixture(scope="module")
def split(root) -> Split:
    """40 test images (a drawn subset of the official 10,000), 200 training images."""
    return load_split(root / "resources" / "mnist", 500, 0, "dynamic", 1234, train_subset=200,
                      test_subset=40)


@pytest.fixture(scope="module")
def models():
    """An untrained encoder, decoder (latent size 2) and classifier, seeded."""
    cfg = run_config({}, "bce", 2, 0)
    tf.keras.utils.set_random_seed(0)
    return make_encoder(2, cfg.model), make_decoder(2, cfg.model), clf.make_classifier(0)


def _cfg(loss: str = "bce", **evaluation) -> RunConfig:
    """A run's settings with this file's small evaluation, ``evaluation`` changed."""
    return run_config({"evaluation": {**EVALUATION, **evaluation}}, loss, 2, 0)


def test_pixel_errors_are_the_mse_per_pixel_and_the_bce_per_image():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 28, 28, 1)) / 255
    recon = rng.uniform(0, 1, (3, 28, 28))
    recon[0, 0, :4] = [0.0, 1.0, 0.0, 1.0]  # saturated means: clipped to [1e-6, 1 - 1e-6]
    x[0, 0, :4, 0] = [1.0, 0.0, 0.0, 1.0]
    p = np.clip(recon, 1e-6, 1 - 1e-6)
    target = x[..., 0]
    bce = -(target * np.log(p) + (1 - target) * np.log(1 - p)).sum(axis=(1, 2))
    got = ev.pixel_errors(recon, x)
    assert got["recon_mse"] == pytest.approx(np.mean((recon - target) ** 2), rel=1e-12)
    assert got["recon_bce"] == pytest.approx(bce.mean(), rel=1e-9)
    # by hand: a mean of 1/2 costs log 2 nats per pixel and a squared error of 1/4 on black
    half = ev.pixel_errors(np.full((2, 28, 28), 0.5), np.zeros((2, 28, 28, 1)))
    assert half == pytest.approx({"recon_mse": 0.25, "recon_bce": 784 * math.log(2)})
    # a mean of exactly 0 on a white pixel costs -log 1e-6 nats, not infinity
    wrong = np.zeros((1, 28, 28))
    white = np.zeros((1, 28, 28, 1))
    white[0, 5, 5] = 1.0
    expected = -math.log(1e-6) + 783 * -math.log1p(-1e-6)
    assert ev.pixel_errors(wrong, white)["recon_bce"] == pytest.approx(expected, rel=1e-9)


def _split_of(labels: np.ndarray, test_images: dict | None) -> Split:
    """A Split of blank images with test ``labels`` and record ``test_images``."""
    x = np.zeros((len(labels), 28, 28, 1), np.float32)
    return Split(x, labels, x, labels, x, labels, x, x, test_images)


def test_evaluation_subset_draws_by_label_and_records_the_draw():
    labels = np.repeat(np.arange(10), 5)
    bare = _split_of(labels, None)  # a Split made without a record
    for n in (0, 50, 60):  # 0 and anything that covers the test images: all of them
        keep, record = ev.evaluation_subset(bare, n, 7)
        assert np.array_equal(keep, np.arange(50))
        assert record == subset_record(50, 50, 7, "test images") and not record["drawn"]
    keep, record = ev.evaluation_subset(bare, 20, 7)
    assert np.array_equal(keep, stratified_draw(labels, 20, 7))
    assert np.bincount(labels[keep]).tolist() == [2] * 10
    assert record == subset_record(20, 50, 7, "official test images")
    # the test images are themselves a draw: all of them are its record, part of them is a
    # draw of "this evaluation's" images; a record of all official images stays "official"
    drawn = subset_record(50, 10000, 0, "official test images")
    keep, record = ev.evaluation_subset(_split_of(labels, drawn), 0, 7)
    assert np.array_equal(keep, np.arange(50)) and record is drawn
    assert ev.evaluation_subset(_split_of(labels, drawn), 20, 7)[1] == subset_record(
        20, 50, 7, "test images of this evaluation")
    whole = subset_record(50, 50, 0, "official test images")
    assert ev.evaluation_subset(_split_of(labels, whole), 20, 7)[1]["population"] == \
        "official test images"


def test_log_likelihood_is_the_estimators_on_the_drawn_images(split, models):
    enc, dec, _ = models
    cfg = _cfg()
    t0 = time.perf_counter()
    got = ev.log_likelihood(enc, dec, 1.0, cfg, split)
    elapsed = time.perf_counter() - t0
    keep = stratified_draw(split.y_test, 12, 3)
    est = iwae_estimate(make_log_weights(enc, dec, "bce", 2, 1.0), split.x_test[keep], 4, 2, 3)
    assert got["test_log_px"] == pytest.approx(est["log_px"].mean(), rel=1e-6)
    assert got["test_log_px_se"] == pytest.approx(est["log_px"].std(ddof=1) / math.sqrt(12),
                                                  rel=1e-5)
    assert got["test_elbo_same_draws"] == pytest.approx(est["elbo"].mean(), rel=1e-6)
    assert got["iwae_gap"] == pytest.approx((est["log_px"] - est["elbo"]).mean(), rel=1e-5)
    assert got["iwae_gap"] > 0  # K = 4 draws bound log p(x) above one draw's ELBO
    assert (got["iwae_samples"], got["iwae_images"]) == (4, 12)
    # 12 of the 40 test images this split drew from the official 10,000
    assert got["log_px_images"] == subset_record(12, 40, 3, "test images of this evaluation")
    assert got["log_px_data"] == "dynamic-binarized"
    assert 0 < got["iwae_seconds"] <= elapsed
    # one image has no spread over images; two do
    assert ev.log_likelihood(enc, dec, 1.0, _cfg(iwae_images=1), split)["test_log_px_se"] is None
    assert ev.log_likelihood(enc, dec, 1.0, _cfg(iwae_images=2), split)["test_log_px_se"] > 0


def test_data_description_names_each_representation():
    assert ev.data_description("dequantized") == "dequantized 8-bit grayscale (i + u)/256"
    assert ev.data_description("none") == "8-bit levels i/255"
    assert ev.data_description("static") == "static-binarized"


def test_sample_quality_scores_the_decoded_prior_draws(split, models):
    _, dec, model = models
    cfg = _cfg()
    recon = split.x_test_gray[..., 0][::-1]  # stand-in reconstructions: other images
    test_feats, _ = clf.features_and_predictions(model, split.x_test_gray)
    got = ev.sample_quality(dec, 1.0, model, recon, cfg, split, test_feats)
    samples = decode_mean(dec, latent_grid_draws(2, 24, 3), "bce")[..., None]
    feats, preds = clf.features_and_predictions(model, samples)
    assert got["fid_classifier"] == pytest.approx(clf.frechet_distance(feats, test_feats),
                                                  rel=1e-6)
    assert got["n_generated"] == 24
    assert got["class_shares"] == clf.class_histogram(preds)["class_shares"]
    _, recon_preds = clf.features_and_predictions(model, recon[..., None])
    hits = np.mean(recon_preds == split.y_test)
    assert got["recon_accuracy"] == pytest.approx(hits)
    assert got["recon_accuracy"] != pytest.approx(1 - hits)  # the test can tell hits from misses


def test_latent_metrics_of_known_posterior_moments(split):
    cfg = _cfg()
    got = ev.latent_metrics(InkEncoder(), cfg, split)
    ink = split.x_test.mean(axis=(1, 2, 3))  # the run's (binarized) test images
    mean = np.stack([20 * (ink - 0.13), 0 * ink], axis=1)
    logvar = np.stack([np.full_like(ink, -0.5), 0 * ink], axis=1)
    kl = 0.5 * (mean**2 + np.exp(logvar) - logvar - 1).mean(axis=0)
    assert got["kl_per_dim"] == pytest.approx(kl.round(4).tolist(), abs=1e-6)
    assert got["kl_per_dim"][0] != pytest.approx(kl[0], abs=1e-6)  # rounded to 4 decimals
    assert got["kl_per_dim"][1] == 0.0
    assert (got["active_units"], got["active_fraction"]) == (1, 0.5)
    assert got["posterior_collapse"] == "partial"
    # the k-NN reference: 60 of the 200 training images, drawn by label, binarized as a run's
    ref = stratified_draw(split.y_train, 60, 3)
    assert got["knn_reference"] == subset_record(60, 200, 3, "training images of the split")
    x_ref = (np.random.default_rng(3).random(split.x_train[ref].shape, dtype=np.float32)
             < split.x_train[ref])
    ref_mean = 20 * (x_ref.mean(axis=(1, 2, 3)) - 0.13)
    assert got["knn_accuracy"] == pytest.approx(latent_code.knn_accuracy(
        ref_mean[:, None], split.y_train[ref], mean[:, :1], split.y_test, 1))
    # a reference larger than the training images: all of them
    assert ev.latent_metrics(InkEncoder(), _cfg(knn_train_images=500), split)[
        "knn_reference"] == subset_record(200, 200, 3, "training images of the split")


def test_load_models_gives_back_the_saved_models(tmp_path, models):
    enc, dec, _ = models
    enc.save(tmp_path / "encoder.keras")
    dec.save(tmp_path / "decoder.keras")
    enc2, dec2 = ev.load_models(str(tmp_path))
    z = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
    np.testing.assert_array_equal(dec2(z).numpy(), dec(z).numpy())
    x = np.random.default_rng(1).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(enc2(x).numpy(), enc(x).numpy())


def test_evaluate_gathers_every_metric_with_its_settings(split, models):
    enc, dec, model = models
    cfg = _cfg()
    t0 = time.perf_counter()
    got = ev.evaluate(enc, dec, 1.0, cfg, split, model)
    elapsed = time.perf_counter() - t0
    assert got["test_neg_elbo"] == pytest.approx(got["test_recon"] + got["test_kl"], rel=1e-6)
    assert got["test_recon"] > 0 and got["test_kl"] >= 0
    assert got["test_neg_elbo"] > -got["test_log_px"]  # the ELBO bounds log p(x) below
    recon = ev.reconstruct(enc, dec, split.x_test, cfg, 16, 1.0)
    assert got["recon_mse"] == ev.pixel_errors(recon, split.x_test_gray)["recon_mse"]
    assert (got["n_test"], got["n_train"], got["n_val"]) == (40, 200, 500)
    assert got["split"] == "40 of the 10,000 official test images (seeded draw, seed 0, " \
        "stratified by label)"
    assert (got["sigma"], got["beta"], got["elbo_samples"]) == (None, None, 2)
    assert 0 < got["iwae_seconds"] < got["eval_seconds"] <= elapsed
    # the classifier's features computed here or given: the same numbers
    feats, _ = clf.features_and_predictions(model, split.x_test_gray)
    given = ev.evaluate(enc, dec, 1.0, cfg, split, model, test_feats=feats)
    assert given["fid_classifier"] == got["fid_classifier"]
    with pytest.raises(ValueError, match="features are of 39 images, this evaluation has 40"):
        ev.evaluate(enc, dec, 1.0, cfg, split, model, test_feats=feats[:39])


def test_a_killed_evaluation_keeps_its_log_likelihood_until_the_metrics_are_done(
        split, models, monkeypatch, tmp_path):
    """Killed after its log-likelihood (here in the sample metrics), an evaluation leaves the
    estimate's batches in the machine cache; run again, it reads them instead of decoding
    (log-weights that fail if called), gives the numbers of an evaluation never killed, and
    removes the file once the metrics are complete."""
    enc, dec, model = models
    monkeypatch.setenv("VAESTUDY_CACHE", "off")
    straight = ev.evaluate(enc, dec, 1.0, _cfg(), split, model)
    monkeypatch.setenv("VAESTUDY_CACHE", str(tmp_path))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(ev, "sample_quality", killed)
        with pytest.raises(KeyboardInterrupt):
            ev.evaluate(enc, dec, 1.0, _cfg(), split, model)
    assert len(list((tmp_path / "log_px").glob("*.npz"))) == 1

    def no_decoding(*args):
        raise AssertionError("the saved log-likelihood was computed again")
    monkeypatch.setattr(ev, "make_log_weights", lambda *args: no_decoding)
    resumed = ev.evaluate(enc, dec, 1.0, _cfg(), split, model)
    for name in ("test_log_px", "test_log_px_se", "test_elbo_same_draws", "fid_classifier"):
        assert resumed[name] == straight[name], name
    assert list((tmp_path / "log_px").glob("*")) == []


def test_settings_above_the_images_there_are_say_that_they_mean_all(split):
    """evaluation.iwae_images and knn_train_images above the images of the evaluation mean
    all of them: the evaluate job's log says so (issue 28.4); at or below, nothing is said."""
    assert ev.clipped_settings(_cfg(iwae_images=40, knn_train_images=200), split) == []
    said = ev.clipped_settings(_cfg(iwae_images=1000, knn_train_images=10_000), split)
    assert said == ["evaluation.iwae_images = 1,000 is above the 40 test images of this "
                    "evaluation: all 40 are used",
                    "evaluation.knn_train_images = 10,000 is above the 200 training images of "
                    "the split: all 200 are used"]
    keep, record = ev.evaluation_subset(split, 1000, 3)  # and what it said is what happens
    assert keep.tolist() == list(range(40)) and record == split.test_images
