"""keraslab.training: compile and fit Keras models, fast, seeded, resumable.

- fitting: `compile_model`, `fit` (model.fit's arguments and result: the compiled epoch on JAX, model.fit
  elsewhere), `history_frame`, `Refitter` (one compiled model, started afresh for each fit)
- fastfit: one fit through the compiled epoch (the data on the device), on one device or a mesh, checkpointed
- compiled_epoch: what is compiled per model: a shuffled epoch in one `lax.scan`, sharded batches, evaluation
- checkpoints: each fit's state after every epoch, and resuming from it
- devices: the devices Keras can train on here, and one epoch timed on each
- fast_layers: Keras's Conv2D and MaxPooling2D computed faster inside the compiled epoch, on the model's weights
- keras_layers: VoteShare (ensembles)

Importing keraslab.training does not import Keras; fastfit, compiled_epoch, fast_layers, devices and keras_layers
do.
"""

from keraslab.lazy import public_names
from keraslab.training.fitting import (
    Refitter,
    batches_per_epoch,
    compile_model,
    fit,
    history_frame,
    reset_for_refit,
    steps_per_execution,
)

__all__ = public_names(globals())
