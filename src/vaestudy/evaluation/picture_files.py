"""Arrays to image files with imageio: digits tiled into one PNG, the training animation as a
GIF. Nothing here knows the model: callers pass pixel values in [0, 1] (tiles) or uint8 grids
(the animation's frames).

The pictures of one run (:mod:`vaestudy.evaluation.run_pictures`) decode the *mean* of p(x|z) (pixel
probabilities for ``bce``, Gaussian means for ``mse``), not random draws of pixels, so that
they show what the decoder has learned; :mod:`vaestudy.evaluation.latent_pictures` chooses the
codes.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SCALE = 2  # pixel repetition so that 28x28 digits are readable in the report


def tile(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """Tile images [N, H, W] in [0, 1] into one uint8 picture with ``pad`` white pixels
    between tiles; missing tiles stay white."""
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top : top + h, left : left + w] = img
    big = np.kron(out, np.ones((SCALE, SCALE), dtype=np.float32))
    return (np.clip(big, 0, 1) * 255).round().astype(np.uint8)


def top_rows(picture: np.ndarray, rows: int, size: int = 28, pad: int = 2) -> np.ndarray:
    """The first ``rows`` rows of tiles of a picture made by :func:`tile` (tiles ``size``
    pixels high, ``pad`` between them), with the padding below the last."""
    return picture[: (pad + rows * (size + pad)) * SCALE]


def save_png(path: Path | str, picture: np.ndarray) -> None:
    """Write a uint8 picture [H, W] as PNG."""
    iio.imwrite(path, picture, extension=".png")


def reconstruction_picture(originals: np.ndarray, recons: np.ndarray,
                           gray: np.ndarray | None = None) -> np.ndarray:
    """Originals [n, 28, 28] (the model's input) in a row, their reconstructions in the row
    below; with ``gray`` [n, 28, 28] (the 8-bit test images, when the input was binarized
    from them) a first row above both, so that the picture shows what binarization lost."""
    rows = [originals, recons] if gray is None else [gray, originals, recons]
    return tile(np.concatenate(rows), cols=len(originals))


def gif_frames(epoch_samples: np.ndarray, cols: int) -> list[np.ndarray]:
    """One RGB frame per epoch ([epochs, n, 28, 28] uint8 -> tiles) with "epoch k" drawn on
    a band above the grid."""
    frames = []
    for epoch, grid in enumerate(epoch_samples, start=1):
        picture = tile(grid / 255.0, cols=cols)
        band = np.full((30, picture.shape[1]), 255, np.uint8)
        image = Image.fromarray(np.vstack([band, picture])).convert("RGB")
        ImageDraw.Draw(image).text((8, 4), f"epoch {epoch}", fill=(160, 0, 0),
                                   font=ImageFont.load_default(size=20))
        frames.append(np.asarray(image))
    return frames


def save_gif(path: Path | str, frames: list[np.ndarray], seconds_per_frame: float = 0.6) -> None:
    """An endlessly looping GIF, the last frame held three times as long."""
    durations = [int(seconds_per_frame * 1000)] * (len(frames) - 1) + [
        int(seconds_per_frame * 3000)]
    if len(frames) == 1:  # Pillow takes a single frame's duration as a number only
        durations = durations[0]
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=durations, loop=0)
