"""Lesson: customer churn with an artificial neural network (the course's notebook 7).

The telco table, cleaned (customerID dropped, the 11 blank TotalCharges rows dropped), split 80/20 stratified and
seeded, preprocessed with the scaler fitted on the training part only (the course fitted it on every row), then
26 -> 20 -> 12 -> 1 sigmoid, Adam, binary cross-entropy, 100 epochs, and an explicit 0.5 threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from keraslab import datasets, models, training
from keraslab.lessons.lesson import BaseConfig, epochs_of, register
from keraslab.runs import evaluation
from keraslab.runs.report import Result
from keraslab.seeding import set_seed
from keraslab.tables import ChurnPreprocessor, encode_target


@dataclass(frozen=True)
class ChurnConfig(BaseConfig):
    test_size: float = 0.2
    batch_size: int = 32
    threshold: float = field(default=0.5, metadata={"help": "probability above which a customer counts as churning"})
    validation_split: float = field(
        default=0.0,
        metadata={
            "help": "share of the training part held out for validation curves (0: the test part is shown as a "
            "monitor, never used for a choice)"
        },
    )


class ChurnModel:
    """A fitted preprocessor and Keras model: DataFrame of customers in, churn probabilities out."""

    def __init__(self, preprocessor: ChurnPreprocessor, model, threshold: float = 0.5):
        self.preprocessor = preprocessor
        self.model = model
        self.threshold = threshold

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(churn) for each row, shape (n,)."""
        x = self.preprocessor.transform(frame)
        return np.asarray(self.model.predict(x, verbose=0, batch_size=1024)).ravel()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame) >= self.threshold).astype(np.int64)


def train_churn_model(
    frame: pd.DataFrame,
    *,
    seed: int,
    epochs: int,
    test_size: float = 0.2,
    batch_size: int = 32,
    validation_split: float = 0.0,
    quiet: bool = True,
    hidden=(20, 12),
    threshold: float = 0.5,
):
    """Split, preprocess (fit on train), train. Returns (ChurnModel, history, (X_test, y_test, frame_test))."""
    from sklearn.model_selection import train_test_split

    y = encode_target(frame["Churn"])
    f_train, f_test, y_train, y_test = train_test_split(frame, y, test_size=test_size, stratify=y, random_state=seed)
    prep = ChurnPreprocessor().fit(f_train)
    x_train, x_test = prep.transform(f_train), prep.transform(f_test)
    set_seed(seed)
    model = models.binary_net(x_train.shape[1], hidden, name="churn_ann")
    steps = training.batches_per_epoch(len(x_train), batch_size, validation_split)
    training.compile_model(model, loss="binary_crossentropy", steps_per_epoch=steps)
    history = training.fit(
        model,
        x_train,
        y_train.astype(np.float32),
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        validation_data=None if validation_split else (x_test, y_test.astype(np.float32)),
        title="the churn network",
        quiet=quiet,
        seed=seed,
    )
    return ChurnModel(prep, model, threshold), history, (x_test, y_test, f_test)


EPOCHS = (100, 5)  # (full, --quick): the default when --epochs is not given


@register(
    "churn",
    "telecom customer churn: 26-20-12-1 network, scaler fit on the training part, threshold 0.5",
    ChurnConfig,
    headline="churn_f1",
    course_figure="0.57 (one unseeded run)",
    epochs=EPOCHS,
)
def run(config: ChurnConfig) -> Result:
    epochs = epochs_of(config, EPOCHS)
    table = datasets.load_churn(data_dir=config.data_dir, offline=config.offline, quiet=config.quiet)
    churn_model, history, (_x_test, y_test, f_test) = train_churn_model(
        table.frame,
        seed=config.seed,
        epochs=epochs,
        test_size=config.test_size,
        batch_size=config.batch_size,
        validation_split=config.validation_split,
        quiet=config.quiet,
        threshold=config.threshold,
    )
    proba = churn_model.predict_proba(f_test)
    scores = evaluation.binary_scores(y_test, proba, config.threshold)
    summary = {
        "test_accuracy": scores["accuracy"],
        "churn_precision": scores["precision"],
        "churn_recall": scores["recall"],
        "churn_f1": scores["f1"],
        "churn_pr_auc": scores["pr_auc"],
    }
    result = Result(title="Customer churn with an ANN", summary=summary, history=history)
    n_train = len(table.frame) - len(y_test)
    result.text(
        f"{len(table.frame)} customers after cleaning ({'; '.join(table.changes)}). Stratified split with "
        f"seed {config.seed}: {n_train} training and {len(y_test)} test rows ({int(y_test.sum())} churners "
        f"in the test part). 26 inputs -> 20 ReLU -> 12 ReLU -> 1 sigmoid, Adam, binary cross-entropy, "
        f"{epochs} epochs, batch {config.batch_size}; churn predicted when P(churn) >= {config.threshold}."
    )
    if not config.validation_split:
        result.text(
            "The 'validation' curves are the test part, shown as a monitor only: no epoch count, threshold "
            "or setting is chosen from them."
        )
    cls = evaluation.add_classifier_report(
        result,
        "churn",
        "Churn network",
        y_test,
        (proba >= config.threshold).astype(int),
        ["No churn", "Churn"],
        history,
    )
    tn, fp, fn, tp = cls["confusion_matrix"].ravel()
    result.text(
        f"From this model's own confusion matrix: TN {tn}, FP {fp}, FN {fn}, TP {tp}; accuracy "
        f"(TP + TN) / N = ({tp} + {tn}) / {tn + fp + fn + tp} = {(tp + tn) / (tn + fp + fn + tp):.4f}; "
        f"churn precision TP / (TP + FP) = {scores['precision']:.4f}; churn recall TP / (TP + FN) = "
        f"{scores['recall']:.4f}. (The course's hand-computed figures came from a different run than its "
        f"report, and its denominator did not add up to the test size.)"
    )
    sample = f_test.head(5).copy()
    sample["P(churn)"] = churn_model.predict_proba(sample)
    result.table(
        "sample_predictions",
        sample[["gender", "tenure", "Contract", "MonthlyCharges", "Churn", "P(churn)"]],
        "predicting churn for new rows: ChurnModel.predict_proba",
    )
    return result
