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
        nearest = _nearest(dist, k)  # [c, k], nearest first
        votes = train_y[nearest]
        # Count votes, breaking ties by the smaller rank of the class's nearest neighbour: a
        # vote is worth k + 1, more than any rank (0 .. k - 1); a class without votes scores 0.
        score = np.stack([(votes == c).sum(1) * (k + 1) - np.argmax(votes == c, axis=1)
                          for c in range(10)], axis=1)
        correct += int((score.argmax(axis=1) == test_y[i : i + chunk]).sum())
    return correct / len(test_z)


def _nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """The indices [c, k] of the ``k`` smallest of each row of ``dist`` [c, N], nearest first,
    equal distances by index: exactly ``np.argsort(dist, kind="stable")[:, :k]``, but a
    partition instead of a full sort (the k-NN of 10,000 test codes took 9 s of one
    evaluation's 42 s on one Zen 4 core). A row with k or more columns at its minimum (a
    collapsed code: every distance equal) takes the first k of them, with no partition
    (NumPy's partition of 10,000 equal values cost 2.6 s per 1,000 rows)."""
    low = dist.min(axis=1)  # [c]
    # [c]: the k nearest all at the minimum, which they share (a unique minimum: partition)
    flat = (dist == low[:, None]).sum(axis=1) >= max(k, 2)
    if not flat.any():
        return _partitioned(dist, k)
    nearest = np.empty((len(dist), k), dtype=np.intp)  # [c, k]
    nearest[flat] = _first_k_of_ties(dist[flat], low[flat], k)
    if not flat.all():
        nearest[~flat] = _partitioned(dist[~flat], k)
    return nearest


def _partitioned(dist: np.ndarray, k: int) -> np.ndarray:
    """:func:`_nearest` by a partition; a row whose k-th distance is shared by more than k
    columns takes the columns below it, sorted, then the tied columns of lowest index
    (:func:`_first_k_of_ties`), as the stable sort would."""
    part = np.argpartition(dist, k - 1, axis=1)[:, :k]  # [c, k] the k smallest, any order
    kth = np.take_along_axis(dist, part, axis=1).max(axis=1, keepdims=True)  # [c, 1]
    tied = (dist <= kth).sum(axis=1) > k  # [c]: more than k columns within the k-th distance
    part = np.sort(part, axis=1)  # by index, so that a stable sort breaks ties by index
    order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1, kind="stable")
    nearest = np.take_along_axis(part, order, axis=1)
    if tied.any():
        nearest[tied] = _first_k_of_ties(dist[tied], kth[tied, 0], k)
    return nearest


def _first_k_of_ties(dist: np.ndarray, kth: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns of the stable sort of each row of ``dist`` [r, N] whose k-th
    smallest value ``kth`` [r] ties with more columns than the k fit: the columns below it
    by value (then index), filled up with the tied columns in index order (a full stable
    sort of a collapsed code's 10,000 columns per row took 11 s of an evaluation). Any
    ``kth`` at or above the k-th smallest gives the same columns, only more to sort."""
    out = np.empty((len(dist), k), dtype=np.intp)  # [r, k]
    for i, (row, value) in enumerate(zip(dist, kth)):
        below = np.flatnonzero(row < value)  # fewer than k where kth is the k-th smallest
        below = below[np.argsort(row[below], kind="stable")]
        out[i] = np.concatenate([below, np.flatnonzero(row == value)])[:k]
    return out


def collapse(active: int, latent_dim: int) -> str:
    """``none``, ``partial`` (some dimensions inactive) or ``full`` (no active dimension:
    the decoder ignores z and every image gets the same code)."""
    if active == 0:
        return "full"
    return "partial" if active < latent_dim else "none"
