"""Where a training step's time goes: the matrix products of one step, timed alone, as the engine that trains runs
them (XLA on CPU, inside a compiled loop, as keraslab's epoch runs its steps).

The FLOP floor (keraslab.bench.flops) prices every product at the machine's best rate. At the benchmark's batch of
32 most products run well below that rate: a (32 x 3072) @ (3072 x 3000) product streams its 37 MB weight matrix
for 590 MFLOP, and a product whose inner dimension is 32 (a weight gradient) or 27 (the first convolution) cannot
keep the vector units busy. `step_seconds(model)` is the time of a step's products alone, one after another in one
compiled loop body; no epoch runs faster than its steps' products, so that total over an epoch ("kernels" in the
benchmark table) splits an epoch's distance from the floor into the engine's own kernels (kernels / floor) and what
keraslab adds around them (epoch / kernels: activations, the loss, the optimizer's update, gathering the batch).

The products are keraslab.bench.flops.STEP_PRODUCTS, written as the dot_generals training runs.
"""

from __future__ import annotations

import time

import numpy as np

from keraslab.bench.flops import STEP_PRODUCTS, Product, dense_step, product_flops, step_flops

__all__ = ["STEP_PRODUCTS", "Product", "dense_step", "product_flops", "products_seconds", "step_flops", "step_seconds"]


def step_seconds(model: str, *, min_seconds: float = 0.1, repeats: int = 5) -> float:
    """Seconds per step of the model's products alone (see products_seconds)."""
    return products_seconds(STEP_PRODUCTS[model], min_seconds=min_seconds, repeats=repeats)


def products_seconds(products: list[Product], *, min_seconds: float = 0.1, repeats: int = 5) -> float:
    """Seconds per step of these products, in a loop of as many steps as fill `min_seconds` (8 at least): a short
    loop runs each step slower (the MLP's products: 84 us a step in a loop of 8 steps, 42 us from 256 on) and an
    epoch is a long loop (1,875 steps for the MLP)."""
    per_step = _loop_seconds(products, steps=8, repeats=1)
    steps = min(4096, max(8, int(np.ceil(min_seconds / per_step))))
    return per_step if steps == 8 else _loop_seconds(products, steps=steps, repeats=repeats)


def _loop_seconds(products: list[Product], *, steps: int, repeats: int) -> float:
    """Seconds per step: each step's products run in one body of a compiled loop of `steps` steps, the results
    carried (written in place, as training does); the best of `repeats` runs. The operands pass through an
    optimization barrier with the loop's state each step, so XLA cannot hoist the products out of the loop, and
    nothing but the products runs in it (no slicing of per-step operands)."""
    import jax
    import jax.numpy as jnp

    def body(carry, _):
        _last, lhs, rhs = jax.lax.optimization_barrier(carry)  # the operands now depend on the last step
        new = [
            jax.lax.dot_general(a, b, (((lc,), (rc,)), ((), ())))
            for a, b, (_, _, lc, rc) in zip(lhs, rhs, products, strict=True)
        ]
        return (new, lhs, rhs), None

    run = jax.jit(lambda carry: jax.lax.scan(body, carry, None, length=steps)[0], donate_argnums=0)
    carry = (
        [jnp.zeros((p[0][1 - p[2]], p[1][1 - p[3]]), jnp.float32) for p in products],
        [jnp.full(p[0], 1e-3, jnp.float32) for p in products],
        [jnp.full(p[1], 1e-3, jnp.float32) for p in products],
    )
    carry = jax.block_until_ready(run(carry))  # compiles
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        carry = jax.block_until_ready(run(carry))
        best = min(best, time.perf_counter() - t0)
    return best / steps


def profile(model: str) -> list[dict]:
    """Each of the model's step products alone, then the whole step: microseconds and GFLOP/s."""
    rows = []
    for p in STEP_PRODUCTS[model]:
        t = products_seconds([p])
        rows.append({"product": f"{p[0]} x {p[1]}, contracting ({p[2]}, {p[3]})", "us": t * 1e6})
        rows[-1]["gflops"] = product_flops(p) / t / 1e9
    t = step_seconds(model)
    rows.append({"product": "the whole step", "us": t * 1e6, "gflops": step_flops(model) / t / 1e9})
    return rows


def main(argv=None) -> int:
    """python -m keraslab.bench.kernels [MODEL ...]: the per-product profile of each model (default mlp ann cnn)."""
    import sys

    for model in (sys.argv[1:] if argv is None else argv) or ["mlp", "ann", "cnn"]:
        if model not in STEP_PRODUCTS:
            print(f"Unknown benchmark model {model!r}. Expected one of: {', '.join(STEP_PRODUCTS)}", file=sys.stderr)
            return 2
        for row in profile(model):
            print(f"{model:5} {row['product']:45} {row['us']:9.1f} us {row['gflops']:6.0f} GFLOP/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
