"""What the latent code keeps: KL per dimension, active units, a k-NN probe of the labels,
and posterior collapse."""

from __future__ import annotations

import numpy as np

#: Burda et al. (2016): dimension d is active if Cov_x(E_q[z_d | x]) > 0.01.
ACTIVE_THRESHOLD = 0.01


def kl_per_dim(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Average over images of KL(q(z_d|x) || N(0, 1)) per dimension: [N, L] -> [L] nats."""
    return (0.5 * (mean**2 + np.exp(logvar) - logvar - 1.0)).mean(axis=0)


def active_units(mean: np.ndarray) -> int:
    """Number of dimensions whose posterior mean varies across images [N, L] by > 0.01."""
    return int((mean.var(axis=0) > ACTIVE_THRESHOLD).sum())


def knn_accuracy(train_z: np.ndarray, train_y: np.ndarray, test_z: np.ndarray,
                 test_y: np.ndarray, k: int, chunk: int = 1000) -> float:
    """Accuracy of a k-nearest-neighbour (Euclidean, majority vote, ties to the nearest
    class) classifier on latent means: how much label information the code keeps."""
    correct = 0
    sq_train = (train_z**2).sum(axis=1)
    for i in range(0, len(test_z), chunk):
        q = test_z[i : i + chunk]
        dist = sq_train[None, :] - 2 * q @ train_z.T  # [c, N_train], + |q|^2 is constant
        nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]  # [c, k], nearest first
        votes = train_y[nearest]
        # Count votes, breaking ties by the smaller rank of the class's nearest neighbour: a
        # vote is worth k + 1, more than any rank (0 .. k - 1); a class without votes scores 0.
        score = np.stack([(votes == c).sum(1) * (k + 1) - np.argmax(votes == c, axis=1)
                          for c in range(10)], axis=1)
        correct += int((score.argmax(axis=1) == test_y[i : i + chunk]).sum())
    return correct / len(test_z)


def collapse(active: int, latent_dim: int) -> str:
    """``none``, ``partial`` (some dimensions inactive) or ``full`` (no active dimension:
    the decoder ignores z and every image gets the same code)."""
    if active == 0:
        return "full"
    return "partial" if active < latent_dim else "none"
