"""The batched model call: every input once, in order, outputs concatenated per output."""

import numpy as np
import pytest

from vaestudy.vae.batches import batched


def test_every_input_once_in_order_whatever_the_batch_size():
    x = np.arange(10, dtype=np.float32)[:, None]  # [10, 1]
    sizes = []

    def fn(b):
        sizes.append(int(b.shape[0]))
        return b * 2

    np.testing.assert_array_equal(batched(fn, x, 4), 2 * x)
    assert sizes == [4, 4, 2]
    np.testing.assert_array_equal(batched(fn, x, 10), 2 * x)
    np.testing.assert_array_equal(batched(fn, x, 11), 2 * x)


def test_a_tuple_of_outputs_gives_a_tuple_of_arrays():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    first, total = batched(lambda b: (b[:, 0], b.numpy().sum(1)), x, 2)
    np.testing.assert_array_equal(first, [0, 2, 4])
    np.testing.assert_array_equal(total, [1, 5, 9])


def test_no_inputs_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="0 inputs in batches of 4"):
        batched(lambda b: b, np.zeros((0, 2), np.float32), 4)
