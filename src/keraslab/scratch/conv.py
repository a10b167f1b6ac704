"""A 2-D convolution and a max-pool by hand, for the CNN lesson's worked example.

    conv2d(image (H, W), kernel (k, k)) -> (H - k + 1, W - k + 1): each output is sum(window * kernel) / scale
    max_pool2d(x (H, W), size 2)        -> (H // 2, W // 2): the largest value of each 2x2 block

(Deep-learning "convolution" is cross-correlation: the kernel is not flipped, as in Keras's Conv2D.)
"""

from __future__ import annotations

import numpy as np


def conv2d(image, kernel, scale: float = 1.0) -> np.ndarray:
    image, kernel = np.asarray(image, np.float64), np.asarray(kernel, np.float64)
    if image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(
            f"conv2d needs a 2-D image at least as large as a 2-D kernel. Received: image.shape="
            f"{image.shape}, kernel.shape={kernel.shape}"
        )
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel) / scale
    return out


def max_pool2d(x, size: int = 2) -> np.ndarray:
    x = np.asarray(x, np.float64)
    h, w = x.shape[0] // size, x.shape[1] // size
    return x[: h * size, : w * size].reshape(h, size, w, size).max(axis=(1, 3))
