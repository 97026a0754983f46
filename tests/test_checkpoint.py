"""A training checkpoint (vaestudy.vae.checkpoint) gives back exactly what was saved, to its own
config only; a loop without one starts from nothing. Resuming a real run bit-identically:
test_resume.py."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaestudy.vae import checkpoint as ckpt


def _net(seed: int) -> keras.Sequential:
    """A small seeded model with two weight arrays."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_a_loop_without_a_checkpoint_starts_from_nothing():
    """Epoch 1 at its first step, nothing summed or kept, no best yet, no patience used, no
    seconds spent."""
    state = ckpt.LoopState()
    assert (state.epoch, state.step, state.sums, state.rows) == (1, 0, [0.0, 0.0, 0.0], [])
    assert (state.best, state.waited, state.stopped_early) == (float("inf"), 0, False)
    assert (state.elapsed, state.last_finite) == (0.0, None)
    state.sums[0] += 1.0
    assert ckpt.LoopState().sums == [0.0, 0.0, 0.0]  # every state has its own sums


def test_a_checkpoint_gives_back_what_was_saved(tmp_path):
    path = tmp_path / "checkpoint.npz"
    enc, dec = _net(0), _net(1)
    moments = [tf.Variable(np.arange(3.0)), tf.Variable(7)]
    sigma = [tf.Variable([0.25])]
    best = {"encoder": [w + 1 for w in enc.get_weights()], "decoder": dec.get_weights(),
            "scale": [np.array([0.5])]}
    state = ckpt.LoopState(epoch=3, step=2, sums=[1.5, 1.0, 0.5], rows=[{"epoch": 1}],
                           best=99.5, waited=1, elapsed=12.5, last_finite=[3.0, 2.0, 1.0])
    samples = [np.full((4, 28, 28), i, np.uint8) for i in range(2)]
    key = ckpt.config_hash({"training": {"epochs": 3}})
    ckpt.save(path, {"encoder": enc, "decoder": dec}, {"optimizer": moments, "scale": sigma},
              state, best, samples, key)
    saved = enc.get_weights() + dec.get_weights()
    enc2, dec2 = _net(2), _net(3)  # other weights, to be overwritten
    moments2, sigma2 = [tf.Variable(np.zeros(3)), tf.Variable(0)], [tf.Variable([1.0])]
    loaded = ckpt.load(path, {"encoder": enc2, "decoder": dec2},
                       {"optimizer": moments2, "scale": sigma2}, key)
    assert loaded is not None
    state2, best2, samples2 = loaded
    assert state2 == state
    for a, b in zip(enc2.get_weights() + dec2.get_weights(), saved, strict=True):
        np.testing.assert_array_equal(a, b)
    assert moments2[0].numpy().tolist() == [0.0, 1.0, 2.0] and int(moments2[1]) == 7
    assert sigma2[0].numpy().tolist() == [0.25]
    assert sorted(best2) == ["decoder", "encoder", "scale"]
    for name, arrays in best.items():
        for a, b in zip(best2[name], arrays, strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(samples2) == 2 and all((s == i).all() for i, s in enumerate(samples2))


def test_a_checkpoint_before_the_first_epoch_has_no_best_weights_and_no_samples(tmp_path):
    path = tmp_path / "checkpoint.npz"
    ckpt.save(path, {"encoder": _net(0)}, {}, ckpt.LoopState(step=4), None, [], "abc")
    state, best, samples = ckpt.load(path, {"encoder": _net(1)}, {}, "abc")
    assert (state.step, best, samples) == (4, None, [])


def test_no_checkpoint_or_another_configs_is_not_resumed(tmp_path):
    path = tmp_path / "checkpoint.npz"
    net = _net(0)
    assert ckpt.load(path, {"net": net}, {}, "abc") is None  # none yet
    ckpt.save(path, {"net": _net(1)}, {}, ckpt.LoopState(epoch=2), None, [], "abc")
    before = net.get_weights()
    assert ckpt.load(path, {"net": net}, {}, "other") is None
    for a, b in zip(net.get_weights(), before, strict=True):  # and nothing is restored
        np.testing.assert_array_equal(a, b)
    assert ckpt.load(path, {"net": net}, {}, "abc")[0].epoch == 2


@pytest.mark.parametrize("damage", ["truncated", "other shapes"])
def test_an_unreadable_checkpoint_is_set_aside_in_the_runs_log(tmp_path, caplog, damage):
    """A checkpoint cut short, or of weights that do not fit the models, restores nothing: it
    is renamed beside itself and the run's own logger says so, naming both files."""
    path = tmp_path / "checkpoint.npz"
    ckpt.save(path, {"net": _net(0)}, {}, ckpt.LoopState(epoch=2), None, [], "abc")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
        net = _net(1)
    else:
        keras.utils.set_random_seed(1)
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    damaged, before = path.read_bytes(), net.get_weights()
    with caplog.at_level(logging.WARNING, logger="the run"):
        assert ckpt.load(path, {"net": net}, {}, "abc", log=logging.getLogger("the run")) is None
    (aside,) = tmp_path.glob("checkpoint.npz.unreadable-*")
    assert aside.read_bytes() == damaged and not path.exists()
    (record,) = [r for r in caplog.records if r.name == "the run"]
    assert str(path) in record.getMessage() and str(aside) in record.getMessage()
    for a, b in zip(net.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("other", [{"training": {"epochs": 4}}, {"training": {"epoch": 3}}])
def test_the_fingerprint_tells_configs_apart_whatever_their_key_order(other):
    config = {"training": {"epochs": 3, "batch_size": 64}, "seed": 0}
    same = {"seed": 0, "training": {"batch_size": 64, "epochs": 3}}
    assert ckpt.config_hash(config) == ckpt.config_hash(same)
    assert ckpt.config_hash(config) != ckpt.config_hash(other)
