"""Defaults that cannot collapse: the positive class is the rarer one unless the classes are near-equal (a "yes" that
is most of the rows is not what a threshold should hunt for), a tuned threshold is kept only where it beats 0.5 in
balanced accuracy as well as F1, and a model no better than the majority says so first, in the log and the report."""

import numpy as np
import pandas as pd

from keraslab.bundles import TrainOptions, train_table
from keraslab.bundles.labelled_rows import LabelledTable, positive_class
from keraslab.bundles.train import choose_threshold, honest_lines


def _counts(yes, no):
    return pd.Series({"no": no, "yes": yes})


def test_the_positive_class_is_the_rarer_one_unless_the_classes_are_near_equal():
    rare, why = positive_class(["no", "yes"], _counts(830, 170), None, "bought")
    assert rare == "no" and "the rarer class, 17% of the rows" in why and "--positive yes to choose it" in why
    assert positive_class(["no", "yes"], _counts(550, 450), None, "bought")[0] == "yes"  # near-equal: the yes
    assert positive_class(["no", "yes"], _counts(170, 830), None, "bought")[0] == "yes"  # the yes is the rarer
    assert positive_class(["no", "yes"], _counts(830, 170), "yes", "bought") == (
        "yes",
        "positive class 'yes' (--positive)",
    )
    assert positive_class(["a", "b"], pd.Series({"a": 10, "b": 90}), None, "t")[0] == "a"


def test_a_tuned_threshold_that_says_yes_to_everyone_is_not_kept():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.8).astype(int)  # the positive class is most of the rows
    proba = np.clip(0.5 + 0.02 * rng.normal(size=400) + 0.01 * y, 0, 1)  # scores that barely tell the classes apart
    threshold, how = choose_threshold(y, proba)
    assert threshold == 0.5 and how.startswith("0.5 kept: the F1-best threshold on the validation slice")
    y_rare = (rng.random(400) < 0.2).astype(int)
    informative = np.clip(0.1 + 0.3 * y_rare + 0.1 * rng.normal(size=400), 0, 1)  # tuning helps both scores
    threshold, how = choose_threshold(y_rare, informative)
    assert threshold < 0.5 and how.startswith("maximum F1 on the validation slice: F1")


def test_a_model_no_better_than_the_majority_says_so_first():
    table = LabelledTable(
        pd.DataFrame(), np.zeros(10, int), ["no", "yes"], pd.Series({"no": 8, "yes": 2}), "classification", ""
    )
    y_test = np.array([0] * 8 + [1] * 2)
    lines = honest_lines(table, y_test, np.array([0] * 6 + [1] * 4), 0.3, "not tuned")
    assert lines[0].startswith(
        "warning: no better than the majority: test accuracy 0.800, where always saying 'no' scores 0.800"
    )
    good = honest_lines(table, y_test, y_test.copy(), 0.5, "not tuned")
    assert not any("no better than the majority" in line for line in good)


def test_training_on_noise_warns_in_the_log_and_first_in_the_report(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(400, 6)), columns=list("abcdef"))
    frame["y"] = np.where(rng.random(400) < 0.85, "stay", "leave")  # nothing in the columns tells them apart
    frame.to_csv(tmp_path / "noise.csv", index=False)
    said = []
    out, summary = train_table(
        tmp_path / "noise.csv", TrainOptions(target="y", epochs=30, quiet=True), tmp_path / "b", log=said.append
    )
    warned = [line for line in said if line.startswith("warning: no better than the majority")]
    baseline = next(line for line in said if line.startswith("test part: always saying"))
    majority = float(baseline.split("would score accuracy ")[1].split()[0])
    assert summary["test_accuracy"] <= majority and warned, said  # noise: the weighted model cannot beat it
    html = (out / "report.html").read_text()
    assert html.index("Warning: no better than the majority") < html.index("rows; classes")
