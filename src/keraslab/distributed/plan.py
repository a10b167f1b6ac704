"""Data-parallel training plans: which devices (in this process, and in every process of a JAX distributed job)
share each global batch.

The mesh comes from Keras 3's distribution API (`keras.distribution.DataParallel`: a 1-D mesh whose axis is the
batch); keraslab.training.fastfit places each global batch on it, split along the batch axis, with the weights and
optimizer state replicated, and XLA's SPMD partitioner inserts the gradient all-reduce (gloo between processes on CPU,
NCCL on GPU). Every device computes on its part of the same global batch a single device would have used, so the result
equals single-device training up to the order of floating-point sums.

`--devices N` uses N devices of this process; under `keraslab launch` every process uses the same number of its
own devices and the mesh spans all of them, process by process.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keraslab import run_state
from keraslab.backend import current_backend, load_keras
from keraslab.distributed import runtime
from keraslab.errors import UsageError
from keraslab.options import count


@dataclasses.dataclass(frozen=True)
class Plan:
    """A data-parallel plan: `distribution` (keras.distribution.DataParallel), its jax Mesh and batch axis."""

    distribution: object
    mesh: object
    axis: str
    local_devices: int
    processes: int
    process_index: int

    @property
    def devices(self) -> int:
        return self.local_devices * self.processes

    def describe(self) -> str:
        text = f"data-parallel over {self.devices} device(s)"
        if self.processes > 1:
            text += f" ({self.local_devices} in each of {self.processes} processes)"
        return text

    # --- placing arrays on the mesh -----------------------------------------------------------------------------
    def sharding(self, ndim: int, batch_axis: int = 0):
        from jax.sharding import NamedSharding, PartitionSpec

        spec = [None] * ndim
        if batch_axis is not None:
            spec[batch_axis] = self.axis
        return NamedSharding(self.mesh, PartitionSpec(*spec))

    def replicate(self, value):
        """The same value on every device of the mesh (every process passes the same value)."""
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        host = np.asarray(value)
        return jax.make_array_from_callback(
            host.shape, NamedSharding(self.mesh, PartitionSpec()), lambda index: host[index]
        )

    def local_slice(self, width: int) -> slice:
        """This process's columns of a batch axis of `width` (a multiple of `devices`)."""
        per = width // self.processes
        return slice(self.process_index * per, (self.process_index + 1) * per)

    def from_local(self, local, global_shape, batch_axis: int):
        """A global array from this process's part of it (its columns along `batch_axis`)."""
        import jax

        return jax.make_array_from_process_local_data(
            self.sharding(len(global_shape), batch_axis), np.ascontiguousarray(local), tuple(global_shape)
        )


def local_copy(array) -> np.ndarray:
    """A replicated global array as a NumPy array on this host."""
    shards = getattr(array, "addressable_shards", None)
    if shards is not None and not getattr(array, "is_fully_addressable", True):
        return np.asarray(shards[0].data)
    return np.asarray(array)


def make_plan(devices: int | None = None) -> Plan | None:
    """The plan for `devices` devices of this process (None: one device, one process: nothing to distribute).

    Raises UsageError when more devices are asked for than this process has, naming how many there are."""
    devices = count("devices", int(devices) if isinstance(devices, np.integer) else devices)
    if devices in (None, 1) and runtime.current() is None:
        return None
    backend = current_backend()
    if backend != "jax":
        if devices in (None, 1):
            return None
        raise UsageError(
            f"--devices {devices} needs the jax backend (data-parallel training runs on JAX's "
            f"distributed runtime); this run uses the {backend!r} backend"
        )
    import jax

    local = jax.local_devices()
    processes = jax.process_count()
    wanted = len(local) if devices is None and processes > 1 else (devices or 1)
    if wanted > len(local):
        kinds = sorted({d.platform for d in local})
        hint = (
            "; on a CPU, simulate more with XLA_FLAGS=--xla_force_host_platform_device_count=N"
            if kinds == ["cpu"]
            else ""
        )
        raise UsageError(
            f"--devices {wanted}: this process has only {len(local)} "
            f"{'/'.join(kinds)} device(s) ({', '.join(str(d) for d in local)}){hint}"
        )
    if wanted == 1 and processes == 1:
        return None
    chosen = []
    for p in range(processes):
        mine = sorted((d for d in jax.devices() if d.process_index == p), key=lambda d: d.id)
        chosen += mine[:wanted]
    distribution = load_keras().distribution.DataParallel(
        devices=[f"{d.platform}:{d.id}" for d in chosen], auto_shard_dataset=False
    )
    mesh = distribution.device_mesh.backend_mesh
    return Plan(distribution, mesh, distribution.batch_dim_name, wanted, processes, jax.process_index())


def current() -> Plan | None:
    """The plan training uses now (set by `data_parallel`, `keraslab run --devices` or `keraslab launch`)."""
    return run_state.current().plan


def use(plan: Plan | None):
    """Train with `plan` (None: one device) within this block."""
    return run_state.changed(plan=plan)


def data_parallel(devices: int | None = None):
    """Within this block, keraslab.training.fit trains data-parallel over `devices` local devices (and over every
    process of a JAX distributed job when one is running): `with data_parallel(2): fit(...)`."""
    return use(make_plan(devices))


def padded(width: int, devices: int) -> int:
    """The smallest multiple of `devices` that holds `width` rows."""
    return -(-width // devices) * devices
