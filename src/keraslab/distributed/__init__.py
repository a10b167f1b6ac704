"""keraslab.distributed: data-parallel training over several devices and several processes.

- plan: which devices share each global batch (`data_parallel(N)`, `make_plan`), on Keras's DataParallel mesh
- runtime: joining and leaving a JAX distributed job, the heartbeat watchdog, stopping cleanly when a peer is lost
- launcher: `keraslab launch`, starting (or joining) a job's processes and supervising them

    with keraslab.distributed.data_parallel(2):
        keraslab.training.fit(model, x, y, epochs=5)
"""

from keraslab.distributed.launcher import launch
from keraslab.distributed.plan import Plan, data_parallel, make_plan
from keraslab.distributed.runtime import DistributedError, Job

__all__ = ["DistributedError", "Job", "Plan", "data_parallel", "launch", "make_plan"]
