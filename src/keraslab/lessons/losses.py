"""Lesson: loss and cost functions by hand (the course's notebook 3).

The course computes MAE, MSE and log loss on a toy example whose roles are swapped: its "y_true" holds the
probabilities and its "y_predicted" the labels. We compute both: the course's order (its log loss 17.2696...) and
the roles put right (7.3587...). Then every loss keraslab.scratch has, against Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from keraslab import verify
from keraslab.lessons.lesson import BaseConfig, register
from keraslab.runs.report import Result
from keraslab.scratch import losses as L

# The course's toy arrays, in the course's (swapped) order.
TUTORIAL_Y_TRUE = [0.30, 0.7, 1, 0, 0.5]
TUTORIAL_Y_PREDICTED = [1, 1, 0, 0, 1]


@dataclass(frozen=True)
class LossesConfig(BaseConfig):
    epsilon: float = 1e-15  # the course's clipping epsilon for the log loss


@register(
    "losses",
    "loss functions by hand: MAE, MSE, log loss (the course's toy example, fixed), all vs Keras",
    LossesConfig,
    headline="log_loss",
    course_figure="17.2696 (roles swapped)",
)
def run(config: LossesConfig) -> Result:
    # The course's arguments, as it passed them.
    mae = L.mae(TUTORIAL_Y_TRUE, TUTORIAL_Y_PREDICTED)
    mse = L.mse(TUTORIAL_Y_TRUE, TUTORIAL_Y_PREDICTED)
    log_loss_tutorial = L.tutorial_log_loss(TUTORIAL_Y_TRUE, TUTORIAL_Y_PREDICTED, epsilon=config.epsilon)
    # The roles put right: labels are the truth, the fractions are predicted probabilities.
    log_loss = L.binary_crossentropy(TUTORIAL_Y_PREDICTED, TUTORIAL_Y_TRUE, epsilon=config.epsilon)

    result = Result(
        title="Loss and cost functions",
        summary={"mae": mae, "mse": mse, "log_loss_tutorial": log_loss_tutorial, "log_loss": log_loss},
    )
    result.heading("The course's toy example")
    result.text(
        f"The course passes `y_true={TUTORIAL_Y_TRUE}` and `y_predicted={TUTORIAL_Y_PREDICTED}`: the "
        "probabilities sit in y_true. MAE and MSE are symmetric, so the swap does not change them "
        f"(MAE {mae:.4f}, MSE {mse:.4f}). The log loss is not: with the course's order every clipped "
        f"'prediction' of 0 or 1 meets a fractional target, giving {log_loss_tutorial:.10f}. With the "
        f"roles put right (labels {TUTORIAL_Y_PREDICTED}, probabilities {TUTORIAL_Y_TRUE}) the log loss "
        f"is {log_loss:.10f}; the 1.0 probability given to a 0 label alone costs -ln(1e-15) = 34.54."
    )
    result.text(
        "The course's own log_loss function also clipped with min(p, epsilon) instead of "
        "min(p, 1 - epsilon), which turned every probability into 1e-15 and printed 17.269388197455342; "
        "keraslab's clips to [epsilon, 1 - epsilon]."
    )
    rows = [c.row() for c in verify.loss_checks(config.seed)]
    result.heading("Every loss, ours against Keras")
    result.table(
        "losses_vs_keras",
        pd.DataFrame(rows),
        f"seeded random inputs (seed {config.seed}), Keras in float64; tolerance 1e-6",
    )
    result.metrics["parity"] = rows
    return result
