"""A small CNN digit classifier, trained once by the workflow, that makes sample quality
comparable across likelihoods: its penultimate features give a Fréchet distance ("FID" with an
MNIST classifier instead of Inception), its predictions a class histogram of samples and an
accuracy on reconstructions.

It is trained on grayscale images in [0, 1], the representation that decoder means (pixel
probabilities or Gaussian means) live in.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vaestudy.core.data import IMAGE_SHAPE
from vaestudy.vae.batches import batched

FEATURE_LAYER = "features"


def make_classifier(seed: int) -> keras.Sequential:
    """Two blocks of two 3x3 convolutions and max-pooling, then Dense(128, 'features') and
    Dense(10 logits): about 99.2% test accuracy after a few epochs."""
    keras.utils.set_random_seed(seed)
    conv = dict(kernel_size=3, padding="same", activation="relu")
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(32, **conv),  # [B, 28, 28, 32]
            keras.layers.Conv2D(32, **conv),
            keras.layers.MaxPooling2D(),  # [B, 14, 14, 32]
            keras.layers.Conv2D(64, **conv),
            keras.layers.Conv2D(64, **conv),
            keras.layers.MaxPooling2D(),  # [B, 7, 7, 64]
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3, seed=seed),
            keras.layers.Dense(128, activation="relu", name=FEATURE_LAYER),  # [B, 128]
            keras.layers.Dropout(0.3, seed=seed + 1),
            keras.layers.Dense(10),  # [B, 10] logits
        ],
        name="digit_classifier",
    )


def train_classifier(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                     epochs: int, seed: int, batch_size: int = 128) -> tuple[keras.Model, dict]:
    """Fit with Adam and a learning rate that decays from 1e-3 by 0.6 per epoch, one seeded
    shuffle per epoch. The classifier is a measuring tool, not the object of study.

    A plain loop on the calling thread, like the VAE's training, instead of Keras ``fit``,
    whose tf.data threads left this job's core idle beside another job (docs/performance.md).
    """
    model = make_classifier(seed)
    steps = -(-len(x) // batch_size)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-3, steps, 0.6))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(xb: tf.Tensor, yb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One Adam step on images xb [B, 28, 28, 1] and labels yb [B]: (mean loss, hits)."""
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)  # [B, 10]
            loss = loss_fn(yb, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        hits = tf.reduce_sum(tf.cast(tf.argmax(logits, 1, output_type=tf.int32) == yb, tf.float32))
        return loss, hits

    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {k: [] for k in ("loss", "accuracy", "val_loss",
                                                       "val_accuracy")}
    for _ in range(epochs):
        order = rng.permutation(len(x))
        loss_sum, hit_sum = 0.0, 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss, hits = step(tf.constant(x[idx], tf.float32), tf.constant(y[idx], tf.int32))
            loss_sum, hit_sum = loss_sum + float(loss) * len(idx), hit_sum + float(hits)
        (val_logits,) = _outputs(model, x_val)  # [N_val, 10]
        history["loss"].append(loss_sum / len(x))
        history["accuracy"].append(hit_sum / len(x))
        history["val_loss"].append(float(loss_fn(y_val, val_logits)))
        history["val_accuracy"].append(float(np.mean(np.argmax(val_logits, 1) == y_val)))
    return model, history


def _outputs(model: keras.Model, x: np.ndarray, batch_size: int = 1000) -> list[np.ndarray]:
    """Every output of ``model`` on images x [N, 28, 28, 1], inference mode, batch by batch,
    each concatenated over the batches ([N, ...] per output)."""
    out = batched(lambda b: model(b, training=False), x, batch_size)
    return list(out) if isinstance(out, tuple) else [out]


def features_and_predictions(model: keras.Model, x: np.ndarray, batch_size: int = 1000
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features [N, 128] and predicted classes [N] of images x [N, 28, 28, 1]."""
    head = keras.Model(model.inputs, [model.get_layer(FEATURE_LAYER).output, model.outputs[0]])
    feats, logits = _outputs(head, x, batch_size)  # [N, 128], [N, 10]
    return feats.astype(np.float64), np.argmax(logits, axis=1)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (eigen-decomposition)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to features
    [N1, d] and [N2, d]; Tr((S1 S2)^(1/2)) is computed as Tr((S1^(1/2) S2 S1^(1/2))^(1/2)),
    which is symmetric and so numerically safe."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    r1 = _sqrtm_psd(s1)
    cross = np.trace(_sqrtm_psd(r1 @ s2 @ r1))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def class_histogram(preds: np.ndarray) -> dict:
    """Share of each predicted class, its entropy (nats; log 10 = 2.303 is uniform) and the
    number of classes that get at least 1% of the samples."""
    share = np.bincount(preds, minlength=10) / len(preds)
    nz = share[share > 0]
    return {"class_shares": share.round(4).tolist(),
            "class_entropy": float(0.0 - (nz * np.log(nz)).sum()),  # no -0.0
            "classes_covered": int((share >= 0.01).sum())}
