"""The one home of running a model over many images (or latent codes) a batch at a time, so
that memory stays bounded whatever the number of images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf


def batched(fn: Callable[[tf.Tensor], Any], x: np.ndarray, batch_size: int
            ) -> np.ndarray | tuple[np.ndarray, ...]:
    """``fn`` on ``x[i : i + batch_size]`` (a float32 tensor [b, ...]) for every batch in
    order, its outputs concatenated over the batches: an array [N, ...] when ``fn`` returns
    one tensor or array, a tuple of them when it returns a tuple or list."""
    if len(x) == 0 or batch_size < 1:
        raise ValueError(f"batched: {len(x)} inputs in batches of {batch_size}: need both >= 1")
    outs = [fn(tf.constant(x[i : i + batch_size], tf.float32))
            for i in range(0, len(x), batch_size)]
    if isinstance(outs[0], (tuple, list)):
        return tuple(np.concatenate([np.asarray(o[k]) for o in outs])
                     for k in range(len(outs[0])))
    return np.concatenate([np.asarray(o) for o in outs])
