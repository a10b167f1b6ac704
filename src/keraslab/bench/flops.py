"""Training FLOPs of the benchmark models, and the machine's matrix-product rate: the floor an epoch cannot beat.

FLOPs are counted per layer as the models run them. A dense layer of `in x out` weights costs 2 * in * out FLOPs
per sample forward, the same again for the gradient with respect to its weights, and again for the gradient with
respect to its input - except the first layer, whose input is the data: nothing needs that gradient, so it costs
4 * in * out. A 3x3 convolution is the same product over every output pixel (9 * c_in * c_out * H_out * W_out
multiply-adds). Biases, activations, pooling and the optimizer are left out (a few per cent): the floor is a lower
bound.

The rate is measured with the engine that trains (XLA on CPU, through jax.jit), over the matrix products the models
run (STEP_PRODUCTS: each layer's forward and backward products at the benchmark's batch size; keraslab.bench.kernels
times the same products in a training loop) and a large square product, and the best is kept: no epoch can run its
FLOPs faster than the best rate the machine shows for any of them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping

from keraslab.bench.keras_impl import BATCH, build  # the models the benchmark trains, and its batch size


def dense_flops(sizes, *, input_gradient: bool = False) -> int:
    """Training FLOPs per sample of a dense stack with layer sizes [in, h1, ..., out]; the first layer computes no
    gradient with respect to its input unless `input_gradient` (a stack that follows other layers)."""
    total = 0
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        total += (6 if i > 0 or input_gradient else 4) * a * b
    return int(total)


# One matrix product of a training step, as the dot_general training runs: (lhs shape, rhs shape, lhs contracting
# axis, rhs contracting axis). Forward x @ W; the weights' gradient contracts the batch axis of x and of the output's
# gradient; the input's gradient contracts the output axis of the gradient and of W. The first layer computes no
# input gradient (its input is the data).
Product = tuple[tuple[int, int], tuple[int, int], int, int]


def dense_step(sizes, *, batch: int = BATCH, input_gradient: bool = False) -> list[Product]:
    """The products of one training step of a dense stack [in, h1, ..., out]."""
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        out += [((batch, a), (a, b), 1, 0), ((batch, a), (batch, b), 0, 0)]  # forward; weights' gradient
        if i > 0 or input_gradient:
            out.append(((batch, b), (a, b), 1, 1))  # the input's gradient
    return out


def _patch_conv(pixels: int, patch: int, filters: int, *, input_gradient: bool) -> list[Product]:
    """A convolution run as one product over its image patches (keraslab's PatchConv2D)."""
    out = [((pixels, patch), (patch, filters), 1, 0), ((pixels, patch), (pixels, filters), 0, 0)]
    if input_gradient:
        out.append(((pixels, filters), (patch, filters), 1, 1))
    return out


def products_of(model, *, batch: int = BATCH) -> list[Product]:
    """The matrix products of one training step, read from a built Keras model's layers: a Dense layer's kernel
    (in, out) as dense_step; a convolution's kernel (k, k, c_in, c_out) as one product over its output pixels'
    patches (keraslab's PatchConv2D runs it so; Keras's Conv2D does the same multiply-adds). The first layer with
    weights computes no gradient with respect to its input (the data)."""
    out: list[Product] = []
    first = True
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:  # pooling, flattening, activations: no product
            continue
        shape = tuple(int(d) for d in kernel.shape)
        if len(shape) == 2:
            out += dense_step(list(shape), batch=batch, input_gradient=not first)
        elif len(shape) == 4:
            h, w = (int(d) for d in layer.output.shape[1:3])
            out += _patch_conv(batch * h * w, shape[0] * shape[1] * shape[2], shape[3], input_gradient=not first)
        else:
            raise ValueError(f"layer {layer.name!r}: a kernel of shape {shape} is neither dense nor a 2-D convolution")
        first = False
    return out


class _FromModels(Mapping):
    """benchmark model name -> a value computed from the model keraslab.bench.keras_impl builds (once)."""

    def __init__(self, compute):
        self._compute, self._cache = compute, {}

    def __getitem__(self, name: str):
        if name not in BENCH_MODELS:
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = self._compute(build(name)[0])
        return self._cache[name]

    def __iter__(self):
        return iter(BENCH_MODELS)

    def __len__(self) -> int:
        return len(BENCH_MODELS)


BENCH_MODELS = ("mlp", "churn", "ann", "cnn")
# derived from the models themselves, never written a second time
STEP_PRODUCTS: Mapping[str, list[Product]] = _FromModels(products_of)
MODEL_FLOPS_PER_SAMPLE: Mapping[str, int] = _FromModels(
    lambda model: sum(product_flops(p) for p in products_of(model, batch=1))
)


def as_matmul(p: Product) -> tuple[int, int, int]:
    """(m, k, n) of the plain (m x k) @ (k x n) product with the same shapes and FLOPs."""
    (lhs, rhs, lc, rc) = p
    return lhs[1 - lc], lhs[lc], rhs[1 - rc]


def product_flops(p: Product) -> int:
    m, k, n = as_matmul(p)
    return 2 * m * k * n


def step_flops(model: str) -> int:
    return sum(product_flops(p) for p in STEP_PRODUCTS[model])


MODEL_PRODUCTS: Mapping[str, list[tuple[int, int, int]]] = _FromModels(
    lambda model: [as_matmul(p) for p in products_of(model)]
)


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


def matmul_gflops(models=BENCH_MODELS, n: int = 2048, repeats: int = 5) -> float:
    """The machine's best float32 matrix-product rate in GFLOP/s, with XLA: over the products of `models` and an
    n x n square product."""
    shapes = {s for model in models for s in MODEL_PRODUCTS[model]} | {(n, n, n)}
    return max(product_gflops(*s, repeats=repeats) for s in sorted(shapes))
