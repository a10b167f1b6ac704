"""keraslab.training: compile and fit Keras models, fast, seeded, resumable.

- fitting: `compile_model`, `fit` (the compiled epoch on JAX, model.fit elsewhere; a Keras History either way),
  `history_frame`, `Refitter`
- fastfit: one fit through the compiled epoch (the data on the device), on one device or a mesh, checkpointed
- compiled_epoch: what is compiled per model: a shuffled epoch in one `lax.scan`, sharded batches, evaluation
- checkpoints: each fit's state after every epoch, and resuming from it
- devices: the devices Keras can train on here, and one epoch timed on each
- keras_layers: PatchConv2D and ReshapeMaxPooling2D (fast CPU convolutions), VoteShare (ensembles)

Importing keraslab.training does not import Keras; fastfit, compiled_epoch, devices and keras_layers do.
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
