"""The devices Keras can train on in this process, and one-epoch timing on each.

Device names are Keras's ("cpu:0", "gpu:0"), usable with ``keras.device(name)``.
"""

from __future__ import annotations

import time

import numpy as np

from keraslab.backend import current_backend, load_keras
from keraslab.distributed.plan import use as use_plan
from keraslab.seeding import set_seed
from keraslab.training import checkpoints
from keraslab.training.fitting import compile_model, fit


def gpus() -> list[str]:
    """Keras names of the GPUs the current backend can use; [] when there are none."""
    backend = current_backend()
    try:
        if backend == "jax":
            import jax

            return [f"gpu:{i}" for i, d in enumerate(d for d in jax.devices() if d.platform in ("gpu", "cuda", "rocm"))]
        if backend == "torch":
            import torch

            return [f"gpu:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
        if backend == "tensorflow":
            import tensorflow as tf

            return [f"gpu:{i}" for i in range(len(tf.config.list_physical_devices("GPU")))]
    except RuntimeError:  # a backend that has no GPU runtime at all
        return []
    return []


def scope(device: str):
    """keras.device(device), except that with no GPU present "cpu:0" needs no scope (and the PyTorch backend's
    device scope then breaks gradients: 'No gradients provided for any variable')."""
    import contextlib

    if device == "cpu:0" and not gpus():
        return contextlib.nullcontext()
    return load_keras().device(device)


def available() -> list[str]:
    """Every device to train on: "cpu:0", any other CPU device the backend shows (JAX's, with
    XLA_FLAGS=--xla_force_host_platform_device_count=N: how the tests get a second device without a GPU), then every
    GPU."""
    cpus = ["cpu:0"]
    if current_backend() == "jax":
        import jax

        cpus = [f"cpu:{i}" for i in range(len(jax.devices("cpu")))]
    return [*cpus, *gpus()]


def time_epoch(
    build,
    x,
    y,
    *,
    device: str,
    batch_size: int,
    compile_kwargs: dict,
    seed: int = 0,
    epochs: int = 1,
) -> float:
    """Seconds for `epochs` training epochs of a freshly built model on `device`, compilation excluded.

    `build()` returns an uncompiled model; it is compiled with `compile_kwargs` (optimizer, loss) through
    keraslab.training, trained one warm-up epoch (which compiles everything the epoch needs), then timed. The
    clock stops once the last step's loss has been read back, so asynchronous devices are synchronised.
    """
    # one device, as asked, and no checkpoints: this measures a device, it is not part of the run's training
    with scope(device), use_plan(None), checkpoints.active(None):
        model = build()
        compile_model(model, steps_per_epoch=int(np.ceil(len(x) / batch_size)), **compile_kwargs)
        set_seed(seed)
        fit(model, x, y, epochs=1, batch_size=batch_size, verbose=0)
        start = time.perf_counter()
        history = fit(model, x, y, epochs=epochs, batch_size=batch_size, verbose=0)
        float(history.history["loss"][-1])
        return time.perf_counter() - start
