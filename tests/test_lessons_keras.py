"""The Keras lessons end to end in quick mode, through the real loaders (small MNIST / CIFAR-10 files in the real
formats), and their building blocks."""

import json

import numpy as np
import pandas as pd
import pytest

from keraslab import lessons
from keraslab.runs import runner

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
EVERY_LESSON_FILE = {"config.json", "manifest.json", "metrics.json", "history.csv", "report.md", "report.html"}


@pytest.fixture
def small_home(small_data_home, monkeypatch):
    home, checksums = small_data_home
    monkeypatch.setenv("KERASLAB_CHECKSUMS", str(checksums))
    return home


def _run(name, tmp_path, data_dir, seeds=1, **options):
    lesson = lessons.get_lesson(name)
    config = lessons.make_config(lesson, data_dir=str(data_dir), offline=True, quiet=True, quick=True, **options)
    return runner.run_lesson(lesson, config, out=tmp_path / name, seeds=seeds)


def _files(folder):
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_mnist_quick_on_small_mnist_npz(quick_run):
    folder, s = quick_run("mnist")
    assert set(s) >= {"linear_test_accuracy", "hidden_test_accuracy"}
    files = _files(folder)
    assert files >= EVERY_LESSON_FILE
    for key in ("linear", "hidden"):
        assert {
            f"plots/{key}_learning_curves.png",
            f"plots/{key}_confusion_matrix.png",
            f"plots/{key}_samples.png",
            f"{key}_classification_report.txt",
        } <= files
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["data_files"][0]["file"] == "mnist.npz" and manifest["data_files"][0]["substitute"]
    report = (folder / "hidden_classification_report.txt").read_text()
    assert "precision" in report and "support" in report


@pytest.mark.slow
def test_mnist_5k_each_model_has_its_own_confusion_matrix(tmp_path, shared_data):
    folder, _s = _run("mnist", tmp_path, shared_data, dataset="mnist_5k", epochs=2)
    a = pd.read_csv(folder / "tables" / "linear_classification_report.csv")
    b = pd.read_csv(folder / "tables" / "hidden_classification_report.csv")
    assert not a.equals(b)  # the course printed model (a)'s matrix for model (b)
    history = pd.read_csv(folder / "history.csv")
    assert {"epoch", "linear_loss", "linear_val_loss", "hidden_accuracy", "hidden_val_accuracy"} <= set(history)


@pytest.mark.slow
def test_cifar10_ann_quick_reports_cpu_time_and_no_gpu(quick_run):
    folder, s = quick_run("cifar10-ann")
    assert s["cpu_epoch_seconds"] > 0 and "gpu_epoch_seconds" not in s
    assert "no GPU found" in (folder / "report.md").read_text()
    assert "plots/ann_samples.png" in _files(folder)


def test_cifar10_ann_gpu_path(tmp_path, small_home, monkeypatch):
    """The GPU branch, on a CPU machine: devices.available() says there is a GPU and epochs are timed per device."""
    from keraslab.training import devices

    monkeypatch.setattr(devices, "available", lambda: ["cpu:0", "gpu:0"])
    monkeypatch.setattr(devices, "time_epoch", lambda build, x, y, *, device, **kw: 8.0 if device == "cpu:0" else 0.5)
    folder, s = _run("cifar10-ann", tmp_path, small_home)
    assert s["cpu_epoch_seconds"] == 8.0 and s["gpu_epoch_seconds"] == 0.5 and s["gpu_speedup"] == 16.0
    assert "the GPU is 16.0x faster" in (folder / "report.md").read_text()


def test_time_epoch_on_cpu():
    from keraslab.backend import keras as get_keras
    from keraslab.training import devices

    keras = get_keras()
    x = np.random.default_rng(0).random((300, 4, 4, 3), dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 10, 300)

    def build():
        return keras.Sequential(
            [keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
        )

    seconds = devices.time_epoch(
        build,
        x,
        y,
        device="cpu:0",
        batch_size=32,
        compile_kwargs={"optimizer": "sgd", "loss": "sparse_categorical_crossentropy"},
    )
    assert 0 < seconds < 30


def test_churn_quick(quick_run):
    folder, s = quick_run("churn")
    assert set(s) >= {"test_accuracy", "churn_precision", "churn_recall", "churn_f1"}
    assert 0.5 < s["test_accuracy"] <= 1.0
    assert "plots/churn_confusion_matrix.png" in _files(folder)


def test_churn_same_seed_same_numbers(tmp_path, shared_data):
    _, a = _run("churn", tmp_path / "a", shared_data, epochs=2)
    _, b = _run("churn", tmp_path / "b", shared_data, epochs=2)
    assert a == b


@pytest.mark.slow
def test_dropout_quick(quick_run):
    from keraslab.lessons.dropout import corrected_paired_t, verdict_words

    folder, s = quick_run("dropout")
    folds = pd.read_csv(folder / "tables" / "folds.csv")
    assert len(folds) == 3  # quick: one repeat of 3-fold CV
    np.testing.assert_allclose(folds["gain"], folds["accuracy_dropout"] - folds["accuracy_plain"])
    assert s["cv_accuracy_plain"] == pytest.approx(folds["accuracy_plain"].mean())
    assert s["cv_accuracy_dropout_sd"] == pytest.approx(folds["accuracy_dropout"].std(ddof=1))
    # the reported test is the corrected paired t-test of these folds (208 rows, 69 in each test fold)
    gain, _, _, p = corrected_paired_t(folds["gain"].to_numpy(), 208 - 69, 69)
    assert s["dropout_gain"] == pytest.approx(gain) and s["dropout_gain_p_value"] == pytest.approx(p)
    # and the words follow from the numbers
    verdict = json.loads((folder / "metrics.json").read_text())["verdict"]
    assert verdict == verdict_words(folds["gain"].to_numpy(), gain, p, epochs=10, quick=True)
    assert verdict.startswith("No conclusion from a quick run")  # 3 folds of 10 epochs: no verdict
    # a full run's words follow from its test
    d = np.array([0.02, 0.03, 0.01])
    assert verdict_words(d, 0.02, 0.01, epochs=100, quick=False).startswith("Dropout helped")
    assert verdict_words(-d, -0.02, 0.02, epochs=100, quick=False).startswith("Dropout hurt")
    words = verdict_words(d, 0.02, 0.4, epochs=100, quick=False)
    assert words.startswith("Dropout did not help beyond the noise") and "p = 0.40" in words


@pytest.mark.slow
def test_cnn_quick(quick_run):
    folder, s = quick_run("cnn")
    assert {"plots/cnn_confusion_matrix.png", "plots/ann_confusion_matrix.png"} <= _files(folder)
    for key in ("cnn", "ann"):
        # each model's accuracy is the one its own confusion matrix gives, on the 200 quick test images
        report = pd.read_csv(folder / "tables" / f"{key}_classification_report.csv")
        supports = report.loc[report["class"].isin(CIFAR_CLASSES), "support"]
        assert supports.sum() == 200
        recall = report.loc[report["class"].isin(CIFAR_CLASSES), "recall"]
        assert s[f"{key}_test_accuracy"] == pytest.approx((recall * supports).sum() / 200)
    assert s["cnn_minus_ann"] == pytest.approx(s["cnn_test_accuracy"] - s["ann_test_accuracy"])
    # the small CIFAR-format images have a brightness pattern per class: one epoch already beats chance (0.1)
    assert s["cnn_test_accuracy"] > 0.25
    history = pd.read_csv(folder / "history.csv")
    assert list(history["epoch"]) == [1] and {"cnn_loss", "cnn_val_accuracy", "ann_loss"} <= set(history)
    # the worked example as the report shows it (rounded to 2 places): 7/9 at the loop, the course's -1/9 beside it
    fmap = pd.read_csv(folder / "tables" / "demo_feature_map.csv").to_numpy()
    assert fmap.shape == (5, 5) and fmap.max() == pytest.approx(0.78) and fmap[1, 0] == pytest.approx(-0.11)


def test_several_seeds_for_a_keras_lesson(tmp_path, shared_data):
    folder, s = _run("churn", tmp_path, shared_data, seeds=2, epochs=1)
    assert "churn_f1_sd" in s and (folder / "seed0" / "report.html").is_file() and (folder / "seed1").is_dir()


# --- building blocks ---------------------------------------------------------------------------------------------


def test_churn_preprocessing(shared_data):
    from keraslab import datasets
    from keraslab.tables.churn_preprocessor import FEATURES, ChurnPreprocessor

    frame = datasets.load_churn(data_dir=shared_data).frame
    train, test = frame.iloc[:5000], frame.iloc[5000:]
    prep = ChurnPreprocessor().fit(train)
    x = prep.transform(test)
    assert x.shape == (len(test), 26) and x.dtype == np.float32 and len(FEATURES) == 26
    # The scaler learned the training part only: test values can fall outside [0, 1].
    tenure = x[:, FEATURES.index("tenure")]
    assert tenure.min() >= 0 and np.isclose(prep.min_[0], train.tenure.min())
    # Fixed categories: a single new row still encodes to the same 26 columns.
    one = prep.transform(test.iloc[[0]])
    np.testing.assert_array_equal(one, x[:1])
    assert one[0, FEATURES.index("Contract_" + test.iloc[0]["Contract"])] == 1.0


def test_churn_preprocessing_bad_rows(shared_data):
    from keraslab import datasets
    from keraslab.errors import DataFormatError
    from keraslab.tables import ChurnPreprocessor

    frame = datasets.load_churn(data_dir=shared_data).frame.head(50)
    prep = ChurnPreprocessor().fit(frame)
    with pytest.raises(DataFormatError, match="churn rows lack column\\(s\\) Contract"):
        prep.transform(frame.drop(columns=["Contract"]))
    bad = frame.copy()
    bad.loc[0, "Contract"] = "Weekly"
    with pytest.raises(DataFormatError, match="churn column 'Contract' holds 'Weekly'; expected one of"):
        prep.transform(bad)


def test_churn_model_predicts_new_rows(shared_data):
    from keraslab import datasets
    from keraslab.lessons.churn import train_churn_model

    frame = datasets.load_churn(data_dir=shared_data).frame
    model, _, (_, _, f_test) = train_churn_model(frame, seed=0, epochs=1)
    new = f_test.drop(columns=["Churn"]).head(3)
    p = model.predict_proba(new)
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    assert set(model.predict(new)) <= {0, 1}


def test_corrected_paired_t():
    from scipy import stats

    from keraslab.lessons.dropout import corrected_paired_t

    diffs = np.array([0.02, -0.01, 0.03, 0.0, 0.01])
    mean, se, t, p = corrected_paired_t(diffs, n_train=160, n_test=40)
    # mean 0.01; sample variance (0.0001 + 0.0004 + 0.0004 + 0.0001 + 0) / 4 = 0.00025;
    # se = sqrt((1/5 + 40/160) * 0.00025) = 0.010607; t = 0.01 / se = 0.9428; p = 2 * t_4.sf(0.9428) = 0.3992
    assert mean == pytest.approx(0.01) and se == pytest.approx(np.sqrt(0.45 * 0.00025))
    assert t == pytest.approx(0.9428090) and p == pytest.approx(0.3991616, abs=1e-6)
    # with no overlap correction (n_test = 0) it is the ordinary one-sample t-test (p = 0.2302): the correction
    # widens the interval, it never narrows it
    plain = stats.ttest_1samp(diffs, 0.0)
    assert corrected_paired_t(diffs, 160, 0)[3] == pytest.approx(plain.pvalue) and plain.pvalue < p
    assert corrected_paired_t(np.zeros(4), 10, 2)[3] == 1.0


def test_convolution_demo_matches_keras():
    from keraslab.backend import keras as get_keras
    from keraslab.lessons.cnn import DEMO_FILTER, DEMO_IMAGE
    from keraslab.scratch.conv import conv2d, max_pool2d

    keras = get_keras()
    fmap = conv2d(DEMO_IMAGE, DEMO_FILTER, scale=9)
    layer = keras.layers.Conv2D(1, (3, 3), use_bias=False)
    layer.build((1, 7, 7, 1))
    layer.set_weights([(DEMO_FILTER / 9).reshape(3, 3, 1, 1).astype(np.float32)])
    ref = np.asarray(layer(DEMO_IMAGE.reshape(1, 7, 7, 1).astype(np.float32)))[0, :, :, 0]
    np.testing.assert_allclose(fmap, ref, atol=1e-6)
    pooled = np.asarray(keras.layers.MaxPooling2D((2, 2))(ref.reshape(1, 5, 5, 1)))[0, :, :, 0]
    np.testing.assert_allclose(max_pool2d(fmap), pooled, atol=1e-6)
    assert round(fmap[1, 0], 2) == -0.11  # the course's -1/9


def test_run_all_quick_table(tmp_path, small_home, capsys, monkeypatch):
    from keraslab.cli.main import main

    # Only the fast lessons: the point is the closing table and one folder per lesson.
    fast = {k: v for k, v in lessons.all_lessons().items() if k in ("losses", "gd-variants")}
    monkeypatch.setattr(lessons, "all_lessons", lambda: fast)
    code = main(["run", "all", "--quick", "--data-dir", str(small_home), "--out", str(tmp_path / "all")])
    out = capsys.readouterr().out
    assert code == 0 and "course" in out and "7.3587" in out
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["gd-variants", "index.html", "losses"]


def test_run_all_skips_lessons_whose_data_is_missing(tmp_path, shared_data, capsys, monkeypatch):
    from keraslab.cli.main import main

    fast = {k: v for k, v in lessons.all_lessons().items() if k in ("mnist", "cnn")}
    monkeypatch.setattr(lessons, "all_lessons", lambda: fast)
    code = main(["run", "all", "--quick", "--offline", "--data-dir", str(shared_data), "--out", str(tmp_path / "a")])
    captured = capsys.readouterr()
    assert code == 0 and "skipped: data missing" in captured.out
    assert "keraslab: skipped cnn: dataset 'cifar10': cifar-10-python.tar.gz is not in" in captured.err
    assert "run `keraslab data import cifar10 PATH`" in captured.err  # the exact command
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "index.html",
        "mnist",
    ]  # the full MNIST, from its idx files
    manifest = json.loads((tmp_path / "a" / "mnist" / "manifest.json").read_text())
    assert [f["file"] for f in manifest["data_files"]] == [
        f"mnist/{n}-ubyte.gz"
        for n in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")
    ]
    assert not any(f.get("substitute") for f in manifest["data_files"])


@pytest.mark.slow
@pytest.mark.parametrize(("name", "dataset"), [("cnn", "fashion_mnist"), ("cifar10-ann", "mnist")])
def test_the_image_lessons_take_a_dataset(tmp_path, shared_data, name, dataset):
    """cnn and cifar10-ann on the real 28x28x1 datasets: the networks' input follows the images, the report names
    the dataset, and the manifest records the real files (no substitute)."""
    options = {"time_devices": False} if name == "cifar10-ann" else {}
    folder, s = _run(name, tmp_path, shared_data, dataset=dataset, **options)
    report = (folder / "report.md").read_text()
    assert f"on {dataset}" in report or f"{dataset} with a dense network" in report
    assert f"{dataset} images of 28x28x1" in report
    manifest = json.loads((folder / "manifest.json").read_text())
    assert all(not f.get("substitute") for f in manifest["data_files"]) and len(manifest["data_files"]) == 4
    headline = "cnn_test_accuracy" if name == "cnn" else "test_accuracy"
    assert s[headline] > 0.3  # 500 real images, one epoch (16 steps): well above chance (0.1)
