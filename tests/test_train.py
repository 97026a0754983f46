"""A short training run lowers the loss, is reproducible, and stops on a non-finite loss."""

import numpy as np
import pytest

from vaestudy.core.atomic import atomic_path
from vaestudy.core.config import run_config
from vaestudy.core.data import load_split
from vaestudy.jobs import runtime
from vaestudy.vae import likelihoods

runtime.configure(threads=1)

from vaestudy.vae import train as train_mod  # noqa: E402

TINY = {"data": {"train_subset": 512, "validation_size": 256, "test_subset": 64},
        "training": {"epochs": 3, "batch_size": 64, "learning_rate": 0.002},
        "pictures": {"grid_size": 2}}


@pytest.fixture(scope="module")
def tiny_data(root):
    d = run_config(TINY, "bce", 2, 0).data  # its dir: filled in by the workflow, not here
    return load_split(root / "resources" / "mnist", d.validation_size, d.split_seed, "dynamic",
                      d.eval_binarization_seed, d.train_subset, d.test_subset)


@pytest.mark.parametrize("loss", ["bce", "mse", "cbern", "gauss-learned", "dlogistic", "dgauss"])
def test_training_lowers_the_validation_loss(tiny_data, loss):
    result = train_mod.train(run_config(TINY, loss, 2, 0), tiny_data)
    h = result.history
    assert list(h.epoch) == [1, 2, 3]
    assert h.val_neg_elbo.iloc[-1] < h.val_neg_elbo.iloc[0]
    assert np.all(np.isfinite(h.drop(columns="epoch").to_numpy()))
    assert result.epoch_samples.shape == (3, 4, 28, 28)
    assert result.best_epoch == int(h.epoch[h.val_neg_elbo.idxmin()])
    assert result.sigma == pytest.approx(h.sigma[result.best_epoch - 1], rel=1e-5)
    if loss in ("gauss-learned", "dlogistic", "dgauss"):
        assert h.sigma.iloc[-1] != h.sigma.iloc[0]  # the scale is learned


def test_same_seed_gives_the_same_history(tiny_data):
    cfg = run_config({**TINY, "training": {**TINY["training"], "epochs": 1}}, "bce", 2, 5)
    a = train_mod.train(cfg, tiny_data).history.drop(columns="seconds")
    b = train_mod.train(cfg, tiny_data).history.drop(columns="seconds")
    assert a.equals(b)


def _tagged(n: int, gray: float) -> np.ndarray:
    """n images [n, 28, 28, 1] whose first-row pixels 0-7 spell the image's index in binary
    (0 and 1 stay recognisable through binarization and dequantization), all other pixels
    ``gray``: the same image can be found again after any shuffle."""
    x = np.full((n, 28, 28, 1), gray, np.float32)
    x[:, 0, :8, 0] = (np.arange(n)[:, None] >> np.arange(8)) & 1
    return x


def _by_tag(images: np.ndarray) -> np.ndarray:
    """``images`` put back in the order of the index their tag spells."""
    index = ((images[:, 0, :8, 0] >= 0.5).astype(int) << np.arange(8)).sum(axis=1)
    out = np.empty_like(images)
    out[index] = images
    return out


def test_each_epoch_draws_fresh_pixels_for_every_image(root):
    """Dynamic binarization and dequantization draw new noise for every pixel of every image
    each epoch, not once per image with only the images reshuffled (that would be a fixed,
    static data set): the same image's gray pixels differ between epochs at the rate of
    independent draws; reproducibly for a given seed and epoch."""
    x = _tagged(64, 128 / 255)  # level 128: p = 0.502 for a Bernoulli draw
    for loss in ("bce", "cbern"):
        cfg = run_config(TINY, loss, 2, 0)
        one, two = (_by_tag(train_mod.epoch_images(x, cfg, epoch))[:, 1:] for epoch in (1, 2))
        np.testing.assert_array_equal(_by_tag(train_mod.epoch_images(x, cfg, 1))[:, 1:], one)
        if loss == "bce":  # independent Bernoulli(p) draws differ with probability 2p(1-p)
            assert set(np.unique(one)) == {0.0, 1.0}
            p = 128 / 255
            assert abs(np.mean(one != two) - 2 * p * (1 - p)) < 0.02  # SE 0.0023
        else:  # offsets u = 256 y - 128 in [0, 1): independent draws are uncorrelated
            u1, u2 = 256 * one - 128, 256 * two - 128
            assert u1.min() >= 0 and u1.max() <= 1
            assert abs(np.corrcoef(u1.ravel(), u2.ravel())[0, 1]) < 0.05  # SE 0.005


def test_the_best_epoch_is_kept_not_the_last(tiny_data, monkeypatch):
    """With a validation loss that rises after epoch 1, the run keeps epoch 1's weights: the
    same as a run of one epoch with the same seed."""
    cfg1 = run_config({**TINY, "training": {**TINY["training"], "epochs": 1}}, "bce", 2, 3)
    cfg2 = run_config({**TINY, "training": {**TINY["training"], "epochs": 2}}, "bce", 2, 3)
    scores = iter([10.0, 20.0, 10.0])  # epoch 1 of the 2-epoch run, epoch 2, the 1-epoch run

    def fake_validation(*args, **kwargs):
        return {"neg_elbo": next(scores), "recon": 0.0, "kl": 0.0}

    monkeypatch.setattr(train_mod, "evaluate_elbo", fake_validation)
    two = train_mod.train(cfg2, tiny_data)
    one = train_mod.train(cfg1, tiny_data)
    assert two.best_epoch == 1 and list(two.history.epoch) == [1, 2]
    for a, b in zip(two.encoder.get_weights() + two.decoder.get_weights(),
                    one.encoder.get_weights() + one.decoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_elbo_averages_draws_over_every_image():
    """Every image counts once (batches cover the whole set), ``samples`` draws are averaged,
    and the negative ELBO is recon + KL."""
    import tensorflow as tf

    calls = []

    def step(batch):  # recon = the image's first pixel, KL = which draw this is
        calls.append(1)
        n = batch.shape[0]
        return tf.constant(batch[:, 0, 0, 0]), tf.fill([n], float(len(calls) % 3))

    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1) * np.ones((1, 28, 28, 1), np.float32)
    out = likelihoods.evaluate_elbo(step, x, batch_size=4, samples=3)
    assert len(calls) == 9  # 3 batches (4, 4, 2 images) x 3 draws
    assert out["recon"] == pytest.approx(4.5)  # the mean of 0..9: no image skipped
    assert out["kl"] == pytest.approx(1.0)  # draws 1, 2, 0 (mod 3) averaged in every batch
    assert out["neg_elbo"] == pytest.approx(5.5)


def test_history_is_the_image_weighted_mean_of_the_steps(tiny_data, monkeypatch):
    """Every training image is seen once per epoch; the epoch's train_* columns are the
    means of the step losses weighted by batch size; timings are real durations."""
    import time

    seen = []
    make = train_mod.make_train_step

    def counting(*args, **kwargs):
        step = make(*args, **kwargs)

        def wrapped(batch):
            values = step(batch)
            seen.append((batch.shape[0], [float(v) for v in values]))
            return values
        return wrapped

    monkeypatch.setattr(train_mod, "make_train_step", counting)
    cfg = run_config({**TINY, "training": {"epochs": 2, "batch_size": 100},
                      "pictures": {"grid_size": 3}}, "bce", 2, 0)
    t0 = time.perf_counter()
    result = train_mod.train(cfg, tiny_data)
    wall = time.perf_counter() - t0
    per_epoch = len(seen) // 2
    assert [n for n, _ in seen[:per_epoch]] == [100] * 5 + [12]  # 512 images, batch 100
    for epoch, row in result.history.iterrows():
        steps = seen[epoch * per_epoch : (epoch + 1) * per_epoch]
        weighted = np.sum([n * np.array(v) for n, v in steps], axis=0) / 512
        np.testing.assert_allclose(row[["train_neg_elbo", "train_recon", "train_kl"]],
                                   weighted, rtol=1e-6)
    assert 0 < result.history.seconds.sum() <= result.seconds <= wall
    assert result.epoch_samples.shape == (2, 9, 28, 28)  # grid_size^2 fixed draws per epoch
    assert result.best_epoch == 2  # so the returned decoder is the last epoch's:
    z = train_mod.latent_grid_draws(2, 9, cfg.pictures.latent_seed)  # its frame is its mean
    mean = likelihoods.decode_mean(result.decoder, z, cfg.likelihood.family)
    np.testing.assert_array_equal(result.epoch_samples[-1], (mean * 255).round().astype(np.uint8))


def test_early_stopping_counts_epochs_without_improvement(tiny_data, monkeypatch):
    """Patience 2: the counter restarts at every improvement; training stops after the
    second epoch in a row without one."""
    scores = iter([10.0, 20.0, 5.0, 30.0, 40.0, 1.0, 1.0])

    def fake_validation(*args, **kwargs):
        return {"neg_elbo": next(scores), "recon": 0.0, "kl": 0.0}

    monkeypatch.setattr(train_mod, "evaluate_elbo", fake_validation)
    cfg = run_config({**TINY, "training": {**TINY["training"], "epochs": 7,
                                           "early_stopping_patience": 2}}, "bce", 2, 0)
    result = train_mod.train(cfg, tiny_data)
    assert list(result.history.epoch) == [1, 2, 3, 4, 5] and result.best_epoch == 3


def test_a_batch_as_large_as_the_data_is_one_step(tiny_data):
    cfg = run_config({**TINY, "training": {"epochs": 1, "batch_size": 512}}, "bce", 2, 0)
    assert len(train_mod.train(cfg, tiny_data).history) == 1


def test_bfloat16_training_learns_is_reproducible_and_saves_float32(tiny_data):
    cfg = run_config({**TINY, "training": {**TINY["training"], "precision": "mixed_bfloat16"}},
                     "bce", 2, 5)
    a, b = train_mod.train(cfg, tiny_data), train_mod.train(cfg, tiny_data)
    assert a.history.drop(columns="seconds").equals(b.history.drop(columns="seconds"))
    assert a.history.val_neg_elbo.iloc[-1] < a.history.val_neg_elbo.iloc[0]
    assert a.encoder.compute_dtype == a.decoder.compute_dtype == "float32"
    assert a.decoder.layers[-1].name != "to_float32"  # the saved model is plain float32
    fp32 = train_mod.train(run_config(TINY, "bce", 2, 5), tiny_data).history
    assert not fp32.val_neg_elbo.equals(a.history.val_neg_elbo)  # bfloat16 really was used
    np.testing.assert_allclose(fp32.val_neg_elbo, a.history.val_neg_elbo, rtol=0.05)


def test_batch_larger_than_data_is_refused(tiny_data):
    cfg = run_config({**TINY, "training": {"batch_size": 10_000}}, "bce", 2, 0)
    with pytest.raises(ValueError, match="batch_size=10000 exceeds the 512 training images"):
        train_mod.train(cfg, tiny_data)


def test_non_finite_loss_names_epoch_and_step(tiny_data):
    cfg = run_config({**TINY, "training": {"epochs": 1, "learning_rate": 1e30}}, "bce", 2, 0)
    with pytest.raises(train_mod.NonFiniteLossError, match=r"epoch 1, step \d+") as err:
        train_mod.train(cfg, tiny_data)
    # what the run's status records: where, the last finite losses, what it had so far
    assert err.value.epoch == 1 and err.value.history.empty and err.value.samples == []
    assert (err.value.last_finite is None) == (err.value.step == 0)
    if err.value.last_finite is not None:
        assert np.all(np.isfinite(err.value.last_finite)) and len(err.value.last_finite) == 3


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def test_full_disk_is_a_clear_error_and_keeps_nothing(tmp_path, monkeypatch):
    import errno
    import os

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match=r"cannot write .*out.json: the disk is full"):
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("{}")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_while_checkpointing_names_the_file_and_keeps_the_last_one(tmp_path,
                                                                            monkeypatch):
    """The training checkpoint goes through the same atomic write: on a full disk the error
    names the checkpoint and the fix, and the previous checkpoint is intact."""
    import errno

    from vaestudy.core import atomic
    from vaestudy.vae import checkpoint as ckpt

    path = tmp_path / "checkpoint.npz"
    state = ckpt.LoopState(epoch=2)
    ckpt.save(path, {}, {}, state, None, [], "abc")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OSError, match=rf"cannot write {path}: the disk is full.*checkpoint"):
        ckpt.save(path, {}, {}, ckpt.LoopState(epoch=3), None, [], "abc")
    monkeypatch.undo()
    assert ckpt.load(path, {}, {}, "abc")[0].epoch == 2
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]


def test_validation_elbo_is_one_fixed_draw_per_image_every_epoch(tiny_data):
    """The history's val_neg_elbo of the kept (best) epoch is recomputed from the returned
    models: one z draw per validation image from the generator seeded VALIDATION_SEED,
    re-seeded every epoch (so that epochs differ only in their weights)."""
    import tensorflow as tf

    from vaestudy.vae.likelihoods import Scale

    cfg = run_config(TINY, "mse", 2, 4)
    result = train_mod.train(cfg, tiny_data)
    assert result.best_epoch == 3  # re-seeding matters only after epoch 1
    scale = Scale(cfg.likelihood, value=result.sigma)
    gen = tf.random.Generator.from_seed(train_mod.VALIDATION_SEED)
    step = likelihoods.make_eval_step(result.encoder, result.decoder, scale,
                                      cfg.likelihood.family, cfg.latent_dim, gen)
    val = likelihoods.evaluate_elbo(step, tiny_data.x_val, cfg.training.batch_size, samples=1)
    assert val["neg_elbo"] == pytest.approx(result.history.val_neg_elbo.iloc[-1], rel=1e-6)
    assert val["kl"] == pytest.approx(result.history.val_kl.iloc[-1], rel=1e-6)


def test_the_stopwatch_goes_on_from_the_seconds_spent_before_a_resume():
    ticks = iter([100.0, 103.0, 110.0])
    watch = train_mod.Stopwatch(5.0, clock=lambda: next(ticks))  # 5 s before this process
    assert watch() == 8.0 and watch() == 15.0
