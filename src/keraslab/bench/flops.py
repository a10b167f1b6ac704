"""Training FLOPs of the benchmark models, and the machine's matrix-product rate: the floor an epoch cannot beat.

FLOPs are counted per layer as the models run them. A dense layer of `in x out` weights costs 2 * in * out FLOPs
per sample forward, the same again for the gradient with respect to its weights, and again for the gradient with
respect to its input - except the first layer, whose input is the data: nothing needs that gradient, so it costs
4 * in * out. A 3x3 convolution is the same product over every output pixel (9 * c_in * c_out * H_out * W_out
multiply-adds). Biases, activations, pooling and the optimizer are left out (a few per cent): the floor is a lower
bound.

The rate is measured with the engine that trains (XLA on CPU, through jax.jit), over the matrix products the models
run (forward and both backward products of each layer at the benchmark's batch size) and a large square product,
and the best is kept: no epoch can run its FLOPs faster than the best rate the machine shows for any of them.
"""

from __future__ import annotations

import itertools
import time

BATCH = 32  # the benchmark's batch size (keraslab.bench.keras_impl trains with it)


def dense_flops(sizes, *, input_gradient: bool = False) -> int:
    """Training FLOPs per sample of a dense stack with layer sizes [in, h1, ..., out]; the first layer computes no
    gradient with respect to its input unless `input_gradient` (a stack that follows other layers)."""
    total = 0
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        total += (6 if i > 0 or input_gradient else 4) * a * b
    return int(total)


def cnn_flops(h: int = 32, w: int = 32, c: int = 3) -> int:
    """Conv32(3x3) -> Pool -> Conv64(3x3) -> Pool -> Dense64 -> Dense10 on h x w x c images, per sample."""
    h1, w1 = h - 2, w - 2  # valid 3x3
    conv1 = 4 * 9 * c * 32 * h1 * w1  # the first layer: no gradient with respect to the images
    h2, w2 = h1 // 2 - 2, w1 // 2 - 2
    conv2 = 6 * 9 * 32 * 64 * h2 * w2
    flat = (h2 // 2) * (w2 // 2) * 64
    return int(conv1 + conv2 + dense_flops([flat, 64, 10], input_gradient=True))


MODEL_FLOPS_PER_SAMPLE = {
    "mlp": dense_flops([784, 128, 10]),
    "churn": dense_flops([26, 20, 12, 1]),
    "ann": dense_flops([3072, 3000, 1000, 10]),
    "cnn": cnn_flops(),
}


def _dense_products(sizes, batch: int = BATCH) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product a training step of a dense stack runs: forward x @ W, the weights'
    gradient x.T @ g, the input's gradient g @ W.T."""
    out = []
    for a, b in itertools.pairwise(sizes):
        out += [(batch, a, b), (a, batch, b), (batch, b, a)]
    return out


def _conv_products(batch: int = BATCH) -> list[tuple[int, int, int]]:
    """The CNN's convolutions as the matrix products they amount to (patches x filters): forward and the filters'
    gradient of both, the second's gradient with respect to its input."""
    p1, p2 = batch * 30 * 30, batch * 13 * 13
    return [(p1, 27, 32), (27, p1, 32), (p2, 288, 64), (288, p2, 64), (p2, 64, 288)]


MODEL_PRODUCTS = {
    "mlp": _dense_products([784, 128, 10]),
    "churn": _dense_products([26, 20, 12, 1], batch=32),
    "ann": _dense_products([3072, 3000, 1000, 10]),
    "cnn": _conv_products() + _dense_products([2304, 64, 10]),
}


def product_gflops(m: int, k: int, n: int, repeats: int = 5, min_seconds: float = 0.05) -> float:
    """The best float32 rate of an (m x k) @ (k x n) product compiled by XLA (jax.jit), in GFLOP/s."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((m, k), jnp.float32)
    b = jnp.ones((k, n), jnp.float32)
    product = jax.jit(jnp.matmul)
    product(a, b).block_until_ready()
    t0 = time.perf_counter()
    product(a, b).block_until_ready()
    calls = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-7)))  # small products: time several calls
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        outs = [product(a, b) for _ in range(calls)]
        jax.block_until_ready(outs)  # every call finished, not just the last one dispatched
        best = min(best, (time.perf_counter() - t0) / calls)
    return 2 * m * k * n / best / 1e9


def matmul_gflops(models=tuple(MODEL_PRODUCTS), n: int = 2048, repeats: int = 5) -> float:
    """The machine's best float32 matrix-product rate in GFLOP/s, with XLA: over the products of `models` and an
    n x n square product."""
    shapes = {s for model in models for s in MODEL_PRODUCTS[model]} | {(n, n, n)}
    return max(product_gflops(*s, repeats=repeats) for s in sorted(shapes))
