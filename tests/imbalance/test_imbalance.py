"""The imbalance lab: strategies, the balanced ensemble, focal loss against the scratch one, leakage, bad input."""

import json
import zipfile
from pathlib import Path

import jax
import numpy as np
import pytest

from keraslab.errors import UsageError
from keraslab.imbalance import (
    BalancedEnsemble,
    LabSettings,
    balanced_class_weight,
    best_f1_threshold,
    binary_focal_loss,
    compare,
    fit_strategy,
    resample,
    summarise,
    summary_keys,
)
from keraslab.imbalance.strategies import ENSEMBLE_MEMBERS, FOCAL_ALPHA, FOCAL_GAMMA, K_NEIGHBORS, STRATEGIES

REPO = Path(__file__).resolve().parents[2]


def _imbalanced(n=300, minority=0.2, seed=0, d=4):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < minority).astype(np.int64)
    X = rng.normal(size=(n, d)) + y[:, None] * 1.5
    return X, y


class RecordingTrainer:
    """A fast stand-in for the Keras trainer: logistic regression, recording every training matrix it is given."""

    def __init__(self):
        self.seen = []

    def fit(self, X, y, seed, *, loss="bce", class_weight=None):
        from sklearn.linear_model import LogisticRegression

        self.seen.append((np.asarray(X).copy(), loss, class_weight))
        model = LogisticRegression(class_weight=class_weight).fit(X, y)
        return type("P", (), {"predict_proba": lambda self, Z: model.predict_proba(Z)[:, 1]})()


def _rows(X):
    return {tuple(np.round(r, 10)) for r in np.asarray(X)}


def test_every_strategy_trains_on_the_training_part_only():
    """No test row (after preprocessing) is ever in a training matrix under the honest protocol; under the
    tutorial protocol, over-sampling's copies of test rows are (the leak, shown)."""
    # Fails when broken (tests/mutants.py imbalance-scaler-sees-test-rows): the scaler saw 300 rows, not 300 - 60.
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = _imbalanced()
    trainer = RecordingTrainer()
    rows = compare(X, y, strategies=STRATEGIES, seeds=[0], settings=LabSettings(), trainer=trainer)
    assert list(rows.strategy) == list(STRATEGIES)
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X[idx_train])
    test_rows = _rows(scaler.transform(X[idx_test]))
    for X_seen, _, _ in trainer.seen:
        assert not (_rows(X_seen) & test_rows)
    # 9 fits: baseline, class_weight, under, over, smote, 3 shared ensemble members, focal
    assert len(trainer.seen) == 9
    assert trainer.seen[1][2] == balanced_class_weight(y[idx_train]) and trainer.seen[-1][1] == "focal"

    # the preprocessing is learned from the training rows only: a scaler fitted with the test rows in it leaks their
    # mean and spread into every training matrix
    fitted_on = []

    class RecordingScaler(StandardScaler):
        def fit(self, X, y=None, sample_weight=None):
            fitted_on.append(np.asarray(X).copy())
            return super().fit(X, y, sample_weight)

    compare(X, y, strategies=["baseline"], seeds=[0, 1], trainer=RecordingTrainer(), preprocessor=RecordingScaler)
    for seed, X_fitted in zip((0, 1), fitted_on, strict=True):
        _, idx_test_seed = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
        assert len(X_fitted) == len(y) - len(idx_test_seed) and not (_rows(X_fitted) & _rows(X[idx_test_seed]))

    leaky = RecordingTrainer()
    rows = compare(X, y, strategies=["oversample"], seeds=[0], trainer=leaky, protocol="tutorial")
    assert list(rows.protocol) == ["honest", "tutorial (leaky: resampled before the split)"]
    assert rows.test_rows.iloc[1] > rows.test_rows.iloc[0]  # the leaky test part is balanced, with copies in it


def test_summary_values_are_the_seeds_mean_and_sd_of_scores_derived_here():
    """Each honest row's scores are those of a model fitted on that seed's training part (derived here with
    scikit-learn on the same stratified split), and the summary holds their mean and sample sd over the seeds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, precision_score, recall_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = _imbalanced()
    rows = compare(X, y, strategies=["baseline"], seeds=[0, 1, 2], trainer=RecordingTrainer(), settings=LabSettings())
    derived = []
    for seed in (0, 1, 2):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
        scaler = StandardScaler().fit(X_tr)
        pred = LogisticRegression().fit(scaler.transform(X_tr), y_tr).predict_proba(scaler.transform(X_te))[:, 1]
        hard = (pred >= 0.5).astype(int)
        derived.append([f1_score(y_te, hard), precision_score(y_te, hard), recall_score(y_te, hard)])
    derived = np.array(derived)
    np.testing.assert_allclose(rows[["f1", "precision", "recall"]].to_numpy(), derived, rtol=1e-12)
    assert len(set(derived[:, 0])) == 3  # the seeds differ, so the sd below is not a 0 = 0

    keys = summary_keys(summarise(rows))
    np.testing.assert_allclose(keys["baseline_f1"], derived[:, 0].mean(), rtol=1e-12)
    np.testing.assert_allclose(keys["baseline_f1_sd"], derived[:, 0].std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(keys["baseline_recall"], derived[:, 2].mean(), rtol=1e-12)


def test_summary_names_the_tuned_threshold_and_its_scores():
    X, y = _imbalanced()
    settings = LabSettings(tune_threshold=True)
    rows = compare(X, y, strategies=["baseline", "smote"], seeds=[0, 1], trainer=RecordingTrainer(), settings=settings)
    assert len(rows) == 8 and list(rows.threshold_kind[:2]) == ["0.5", "tuned"]
    keys = summary_keys(summarise(rows))
    tuned = rows[(rows.strategy == "smote") & (rows.threshold_kind == "tuned")]
    assert keys["smote_tuned_threshold"] == pytest.approx(tuned.threshold.mean())
    assert keys["smote_tuned_f1"] == pytest.approx(tuned.f1.mean())
    at_half = rows[(rows.strategy == "smote") & (rows.threshold_kind == "0.5")]
    assert keys["smote_f1"] == pytest.approx(at_half.f1.mean()) and set(at_half.threshold) == {0.5}
    for metric in ("precision", "recall", "pr_auc", "balanced_accuracy", "accuracy"):
        assert keys[f"smote_{metric}"] == pytest.approx(at_half[metric].mean()), metric


def test_resample_balances_and_is_seeded():
    X, y = _imbalanced()
    for strategy in ("undersample", "oversample", "smote"):
        Xr, yr = resample(X, y, strategy, seed=3)
        assert np.bincount(yr)[0] == np.bincount(yr)[1]
        Xr2, _ = resample(X, y, strategy, seed=3)
        np.testing.assert_array_equal(Xr, Xr2)


def test_balanced_ensemble_slices():
    _X, y = _imbalanced(n=100, minority=0.25)
    ens = BalancedEnsemble(lambda X, y, s: None, k=3, seed=0)
    slices = ens.slices(y)
    minority = set(np.flatnonzero(y == 1))
    majority_parts = [set(s) - minority for s in slices]
    assert all(minority <= set(s) for s in slices)
    assert set().union(*majority_parts) == set(np.flatnonzero(y == 0))
    assert sum(len(p) for p in majority_parts) == int((y == 0).sum())  # disjoint


def test_balanced_ensemble_vote_and_mean():
    class Const:
        def __init__(self, p):
            self.p = p

        def predict_proba(self, X):
            return np.full(len(X), self.p)

    probs = iter([0.9, 0.6, 0.1])
    X, y = _imbalanced(n=60)
    vote = BalancedEnsemble(lambda X, y, s: Const(next(probs)), k=3, combine="vote").fit(X, y)
    assert vote.predict_proba(X[:2]).tolist() == [2 / 3, 2 / 3] and vote.predict(X[:1]).tolist() == [1]
    mean = BalancedEnsemble(lambda X, y, s: None, k=3, combine="mean")
    mean.models_ = vote.models_
    np.testing.assert_allclose(mean.predict_proba(X[:1]), [(0.9 + 0.6 + 0.1) / 3])
    assert mean.predict(X[:1]).tolist() == [1]


def test_keras_focal_loss_equals_scratch():
    from keraslab.backend import load_keras
    from keraslab.scratch import losses

    keras = load_keras()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (20, 1)).astype(np.float64)
    p = rng.uniform(0.01, 0.99, (20, 1))
    for gamma, alpha in ((2.0, 0.75), (0.5, None), (0.0, 0.25)):
        with jax.enable_x64(True):
            keras.config.set_floatx("float64")
            try:
                ref = float(binary_focal_loss(gamma, alpha)(y, p))
            finally:
                keras.config.set_floatx("float32")
        assert abs(losses.binary_focal(y, p, gamma=gamma, alpha=alpha) - ref) < 1e-6


def test_best_threshold():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.8, 0.9])
    assert 0.3 < best_f1_threshold(y, p) <= 0.35


# --- bad input --------------------------------------------------------------------------------------------------


def test_smote_needs_enough_minority_rows():
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.array([0] * 26 + [1] * 4)
    with pytest.raises(
        UsageError,
        match=r"SMOTE with k_neighbors=5 needs at least 6 rows of every class; the class "
        r"counts are \{0: 26, 1: 4\}, so the largest usable k_neighbors is 3",
    ):
        resample(X, y, "smote", seed=0)
    _Xr, yr = resample(X, y, "smote", seed=0, k_neighbors=3)
    assert np.bincount(yr).tolist() == [26, 26]


def test_one_class_only():
    with pytest.raises(UsageError, match=r"The target has one class only \(1.0 x 5\); a classifier needs at least two"):
        fit_strategy("baseline", np.zeros((5, 2)), np.ones(5), 0, RecordingTrainer(), LabSettings())


@pytest.mark.parametrize("strategy", ["focal", "ensemble_vote", "ensemble_mean"])
def test_binary_only_strategies_refuse_three_classes(strategy):
    y = np.array([0, 1, 2] * 10)
    with pytest.raises(UsageError, match=f"Strategy '{strategy}' needs a binary target; found 3 classes \\(0, 1, 2\\)"):
        fit_strategy(strategy, np.zeros((30, 2)), y, 0, RecordingTrainer(), LabSettings())


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(
        UsageError,
        match=r"Unknown imbalance strategy 'adasyn'. Expected one of: baseline, "
        r"class_weight, undersample, oversample, smote, ensemble_vote, ensemble_mean,"
        r" focal",
    ):
        compare(*_imbalanced(), strategies=["adasyn"], trainer=RecordingTrainer())


# --- the lesson ----------------------------------------------------------------------------------------------------


def _lesson(tmp_path, shared_data, **values):
    from keraslab import lessons
    from keraslab.running import one_lesson as runner

    lesson = lessons.get_lesson("imbalance")
    values = {"data_dir": str(shared_data), "quick": True, **values}
    return runner.run_lesson(lesson, values, out=tmp_path / "imb", quiet=True, offline=True)


def test_lesson_quick_on_churn_with_tutorial_protocol(tmp_path, shared_data):
    folder, s = _lesson(tmp_path, shared_data, strategies="baseline,smote", protocol="tutorial")
    assert {"baseline_f1", "smote_f1", "tutorial_smote_f1", "best_f1"} <= set(s)
    assert "smote_f1_sd" not in s  # one seed: no sd, rather than a claimed 0.0
    rows = json.loads((folder / "metrics.json").read_text())["rows"]
    leaky = [r for r in rows if r["protocol"] == "tutorial (leaky: resampled before the split)"]
    assert [r["strategy"] for r in leaky] == ["smote"]  # the course's protocol, for the resampling strategies only
    assert s["tutorial_smote_f1"] == leaky[0]["f1"] and s["best_f1"] == max(s["baseline_f1"], s["smote_f1"])
    nb = (folder / "lesson.ipynb").read_text()
    assert "smote: honest " in nb and "tutorial (leaky) " in nb  # the leak measured, in the lesson's output
    assert [p.name for p in (folder / "plots").iterdir()] == [
        "01-f1-of-class-yes-one-seed-no-spread-to-show-seeds-1-gives-one.png"
    ]


def test_lesson_on_another_binary_table(tmp_path, shared_data):
    folder, s = _lesson(tmp_path, shared_data, dataset="sonar", strategies="baseline,class_weight")
    assert set(s) >= {"baseline_f1", "class_weight_f1"} and "smote_f1" not in s
    assert "of the rows are of class 'R'" in (folder / "lesson.ipynb").read_text()  # the smaller class: rocks


def test_lesson_refuses_a_dataset_it_cannot_use(tmp_path, shared_data):
    with pytest.raises(UsageError, match=r"Invalid value for `dataset`. Expected one of 'churn', 'sonar', 'insurance'"):
        _lesson(tmp_path, shared_data, dataset="homeprices")
    with pytest.raises(UsageError, match="Unknown imbalance strategy 'adasyn'"):
        _lesson(tmp_path, shared_data, strategies="baseline,adasyn")
    assert not (tmp_path / "imb").exists()


# --- one registry: every user of the strategies resolves the same defaults --------------------------------------


@pytest.fixture
def focal_alphas(monkeypatch):
    """Every alpha a focal loss is built with, in compare() (the lab and the lesson) and in keraslab train."""
    import keraslab.bundles.train
    import keraslab.imbalance.comparison

    seen = []

    def spy(gamma=FOCAL_GAMMA, alpha=FOCAL_ALPHA):
        seen.append(alpha)
        return binary_focal_loss(gamma, alpha)

    monkeypatch.setattr(keraslab.imbalance.comparison, "binary_focal_loss", spy)
    monkeypatch.setattr(keraslab.bundles.train, "binary_focal_loss", spy)
    return seen


@pytest.mark.slow
def test_lesson_compare_and_train_resolve_the_same_focal_alpha(focal_alphas, tmp_path, shared_data):
    from keraslab.cli.main import main
    from keraslab.lessons import get_lesson

    X, y = _imbalanced()
    compare(X, y, strategies=["focal"], seeds=[0], settings=LabSettings(epochs=1))
    _lesson(tmp_path / "lesson", shared_data, strategies="focal")
    code = main(
        [
            "train",
            str(shared_data / "customer_churn.csv"),
            "--target",
            "Churn",
            "--drop",
            "customerID",
            "--imbalance",
            "focal",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / "bundle"),
        ]
    )
    assert code == 0
    lesson_alpha = get_lesson("imbalance").parameters["alpha"].default
    assert focal_alphas == [FOCAL_ALPHA] * 3 and lesson_alpha == LabSettings().alpha == FOCAL_ALPHA == 0.75
    # the bundle's saved model carries it too
    config = json.loads(zipfile.ZipFile(tmp_path / "bundle" / "model.keras").read("config.json"))
    assert config["compile_config"]["loss"]["config"]["alpha"] == FOCAL_ALPHA
    # negative control: the spy sees a different alpha when one is asked for
    _lesson(tmp_path / "other", shared_data, strategies="focal", alpha=0.5)
    assert focal_alphas[-1] == 0.5


def test_every_strategy_is_listed_in_the_help_and_the_readme(capsys):
    from keraslab.cli.main import main
    from keraslab.lessons import get_lesson

    assert main(["train", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    readme = (REPO / "README.md").read_text()
    for name in STRATEGIES:
        assert f"{name} (" in help_text, name
        assert f"`{name}`" in readme, name
    declared = get_lesson("imbalance").parameters
    assert declared["strategies"].default == "all"  # every strategy of the registry, as the lesson runs them
    for name, default in (
        ("gamma", FOCAL_GAMMA),
        ("alpha", FOCAL_ALPHA),
        ("k", ENSEMBLE_MEMBERS),
        ("k_neighbors", K_NEIGHBORS),
    ):
        assert declared[name].default == default, name  # the lesson's defaults are the registry's
