"""Training FLOPs of the benchmark models, and the machine's matrix-product rate: the floor an epoch cannot beat.

Training costs about 3x the forward pass (forward, gradient with respect to the inputs, gradient with respect to
the weights), so a dense layer of `in x out` weights costs 6 * in * out FLOPs per sample and a 3x3 convolution
6 * 9 * c_in * c_out * H_out * W_out. Biases, activations, pooling and the optimizer are ignored (a few per cent).
"""

from __future__ import annotations

import itertools
import time

import numpy as np


def dense_flops(sizes) -> int:
    """Training FLOPs per sample of a dense stack with layer sizes [in, h1, ..., out]."""
    return int(sum(6 * a * b for a, b in itertools.pairwise(sizes)))


def cnn_flops(h: int = 32, w: int = 32, c: int = 3) -> int:
    """Conv32(3x3) -> Pool -> Conv64(3x3) -> Pool -> Dense64 -> Dense10 on h x w x c images, per sample."""
    h1, w1 = h - 2, w - 2  # valid 3x3
    conv1 = 6 * 9 * c * 32 * h1 * w1
    h2, w2 = h1 // 2 - 2, w1 // 2 - 2
    conv2 = 6 * 9 * 32 * 64 * h2 * w2
    flat = (h2 // 2) * (w2 // 2) * 64
    return int(conv1 + conv2 + dense_flops([flat, 64, 10]))


MODEL_FLOPS_PER_SAMPLE = {
    "mlp": dense_flops([784, 128, 10]),
    "churn": dense_flops([26, 20, 12, 1]),
    "ann": dense_flops([3072, 3000, 1000, 10]),
    "cnn": cnn_flops(),
}


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The best float32 matrix-product rate of n x n matrices, in GFLOP/s (torch when installed, else NumPy)."""
    try:
        import torch

        a, b = torch.randn(n, n), torch.randn(n, n)
        mm = lambda: torch.mm(a, b)  # noqa: E731
    except ImportError:
        rng = np.random.default_rng(0)
        a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
        mm = lambda: a @ b  # noqa: E731
    mm()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        mm()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9
