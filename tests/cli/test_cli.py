"""The command line: exit codes, and one clear line (no traceback) for every expected failure."""

import gzip
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from keraslab.cli.main import main
from keraslab.datasets import synthetic


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("keraslab: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_help_and_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == "keraslab 0.1.0"
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "lessons" in out and "data" in out


def test_no_command_is_a_usage_error(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "usage: keraslab" in out


@pytest.mark.full_data("mnist/idx", "fashion_mnist")
def test_data_verify_shared(capsys, shared_data):
    code, out, _ = run_cli(capsys, "data", "verify", "--data-dir", str(shared_data))
    assert code == 0
    assert "OK        churn: customer_churn.csv" in out and "OK        mnist: mnist/train-images-idx3-ubyte.gz" in out
    assert "MISSING   cifar10: cifar-10-python.tar.gz" in out  # not here: reported, not a failure
    assert (
        out.splitlines()[-1]
        == "7 dataset(s) complete, 1 missing, 0 bad (`keraslab data fetch NAME` gets one, `--all` every one)"
    )
    code, out, _ = run_cli(capsys, "data", "verify", "mnist", "--data-dir", str(shared_data))
    assert code == 0 and out.splitlines()[-1] == "1 dataset(s) complete, 0 missing, 0 bad"
    code, out, err = run_cli(capsys, "data", "verify", "cifar10", "--data-dir", str(shared_data))
    assert (
        code == 1
        and out.splitlines()[-1]
        == "0 dataset(s) complete, 1 missing, 0 bad (`keraslab data fetch NAME` gets one, `--all` every one)"
    )
    assert _one_error_line(err).startswith("keraslab: error: verification failed: cifar10 missing")


def test_data_verify_one_missing_dataset_fails(capsys, tmp_path):
    code, out, _err = run_cli(capsys, "data", "verify", "fashion_mnist", "--data-dir", str(tmp_path))
    assert code == 1 and "MISSING   fashion_mnist: fashion-mnist/train-images-idx3-ubyte.gz" in out


def test_on_a_fresh_machine_the_shipped_data_sets_verify(capsys, tmp_path):
    """An empty data home: the five data sets that ship with keraslab are complete (and say so), the three large
    ones missing, which is not a failure; one of them by name is."""
    code, out, _ = run_cli(capsys, "data", "verify", "--data-dir", str(tmp_path))
    assert code == 0, out
    for dataset, file in [
        ("mnist_5k", "mnist_5k.csv.gz"),
        ("churn", "customer_churn.csv"),
        ("sonar", "sonar_dataset.csv"),
        ("insurance", "insurance_data.csv"),
        ("homeprices", "homeprices_banglore.csv"),
    ]:
        assert f"OK        {dataset}: {file} (shipped with keraslab)" in out
    assert (
        out.splitlines()[-1]
        == "5 dataset(s) complete, 3 missing, 0 bad (`keraslab data fetch NAME` gets one, `--all` every one)"
    )
    code, out, _ = run_cli(capsys, "data", "list", "--data-dir", str(tmp_path))
    assert code == 0 and out.count("1/1 (shipped)") == 5  # present (and where), for each of the five
    code, out, _ = run_cli(capsys, "data", "fetch", "churn", "--offline", "--data-dir", str(tmp_path))
    assert code == 0 and "churn: customer_churn.csv ships with keraslab, verified (" in out
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or copied: the data home stays as it was


def test_data_verify_mismatch(capsys, tmp_path):
    (tmp_path / "sonar_dataset.csv").write_text("0.1,M\n")
    code, out, err = run_cli(capsys, "data", "verify", "--data-dir", str(tmp_path))
    assert code == 1
    actual = hashlib.sha256(b"0.1,M\n").hexdigest()
    assert (
        f"MISMATCH  sonar: {tmp_path / 'sonar_dataset.csv'}: expected sha256 "
        f"9d5d57092020ff968568705889fc1b6bc917dac6ff53ace87693e2e2010f4d70, got {actual}"
    ) in out
    # the data home comes first: its bad sonar file is reported, not hidden by the shipped copy
    assert (
        out.splitlines()[-1]
        == "4 dataset(s) complete, 3 missing, 1 bad (`keraslab data fetch NAME` gets one, `--all` every one)"
    )
    assert _one_error_line(err).startswith("keraslab: error: verification failed: sonar bad")


@pytest.mark.full_data("fashion_mnist")
def test_data_list(capsys, shared_data):
    code, out, _ = run_cli(capsys, "data", "list", "--data-dir", str(shared_data))
    assert code == 0 and "fashion_mnist" in out and "4/4" in out


def test_data_import(capsys, tmp_path, shared_data):
    code, _out, _ = run_cli(
        capsys, "data", "import", "sonar", str(shared_data / "sonar_dataset.csv"), "--data-dir", str(tmp_path)
    )
    imported = tmp_path / "sonar_dataset.csv"
    assert code == 0 and imported.read_bytes() == (shared_data / "sonar_dataset.csv").read_bytes()
    code, _, err = run_cli(
        capsys,
        "data",
        "import",
        "sonar",
        str(shared_data / "insurance_data.csv"),
        "--data-dir",
        str(tmp_path / "other"),
    )
    assert code == 1 and "is none of dataset 'sonar''s files" in _one_error_line(err)


def test_offline_missing_data(capsys, tmp_path):
    code, _, err = run_cli(capsys, "data", "fetch", "cifar10", "--offline", "--data-dir", str(tmp_path))
    assert code == 1
    assert "cifar-10-python.tar.gz is not in" in _one_error_line(err) and "--offline" in err


def test_unknown_dataset_and_lesson(capsys):
    code, _, err = run_cli(capsys, "data", "show", "imagenet")
    assert code == 2 and "Unknown dataset 'imagenet'" in _one_error_line(err)
    code, _, err = run_cli(capsys, "run", "no-such-lesson")
    line = _one_error_line(err)
    assert code == 2 and "invalid choice: 'no-such-lesson'" in line and "'churn'" in line


# --- every bad input: a clear error, a non-zero exit, no traceback -------------------------------------------------


def _substitute(tmp_path, monkeypatch, dataset, files: dict[str, bytes]):
    sums = {}
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        try:  # the idx files are identified by their decompressed content, substitutes too
            sums[name] = hashlib.sha256(gzip.decompress(content) if name.endswith("-ubyte.gz") else content).hexdigest()
        except EOFError:  # a truncated stream: any hash, it fails before
            sums[name] = hashlib.sha256(content).hexdigest()
    (tmp_path / "sums.json").write_text(json.dumps({dataset: sums}))
    monkeypatch.setenv("KERASLAB_CHECKSUMS", str(tmp_path / "sums.json"))


def _fashion_files(images: bytes, labels_n=3):
    labels = gzip.compress(synthetic.idx_bytes(np.zeros(labels_n, np.uint8)))
    return {
        "fashion-mnist/train-images-idx3-ubyte.gz": images,
        "fashion-mnist/train-labels-idx1-ubyte.gz": labels,
        "fashion-mnist/t10k-images-idx3-ubyte.gz": gzip.compress(synthetic.idx_bytes(np.zeros((3, 28, 28), np.uint8))),
        "fashion-mnist/t10k-labels-idx1-ubyte.gz": labels,
    }


def _bad_truncated_gz():
    full = gzip.compress(synthetic.idx_bytes(np.random.default_rng(0).integers(0, 255, (3, 28, 28), np.uint8)))
    return "fashion_mnist", _fashion_files(full[: len(full) // 2]), "not a complete gzip file"


def _bad_idx_magic():
    raw = bytearray(synthetic.idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    raw[3] = 2
    return "fashion_mnist", _fashion_files(gzip.compress(bytes(raw))), "wrong idx magic number"


def _bad_idx_size():
    raw = synthetic.idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10]
    return "fashion_mnist", _fashion_files(gzip.compress(raw)), "idx header gives shape (3, 28, 28)"


def _bad_npz_object(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x_train=np.array([None], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    return "mnist", {"mnist.npz": path.read_bytes()}, "holds an object (pickled) array"


def _bad_cifar(tmp_path, info):
    path = synthetic.write_cifar10_tar(tmp_path / "c.tar.gz", n_per_batch=2, n_test=2, extra_members=[info])
    return "cifar10", {"cifar-10-python.tar.gz": path.read_bytes()}


def _bad_cifar_escape(tmp_path):
    info = tarfile.TarInfo("../outside")
    info.size = 1
    return (*_bad_cifar(tmp_path, info), "would land outside the target folder")


def _bad_cifar_symlink(tmp_path):
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1.lnk")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
    return (*_bad_cifar(tmp_path, info), "is a link")


def _bad_csv_missing_column(tmp_path):
    return (
        "insurance",
        {"insurance_data.csv": b"age,bought_insurance\n22,0\n"},
        "missing required column 'affordibility'",
    )


def _bad_empty_csv(tmp_path):
    return "homeprices", {"homeprices_banglore.csv": b""}, "the file is empty"


BAD_INPUTS = {
    "truncated-gz": lambda tmp: _bad_truncated_gz(),
    "idx-wrong-magic": lambda tmp: _bad_idx_magic(),
    "idx-wrong-size": lambda tmp: _bad_idx_size(),
    "npz-object-array": _bad_npz_object,
    "cifar-member-escapes": _bad_cifar_escape,
    "cifar-symlink": _bad_cifar_symlink,
    "csv-missing-column": _bad_csv_missing_column,
    "csv-empty": _bad_empty_csv,
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(case, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    dataset, files, message = BAD_INPUTS[case](tmp_path)
    _substitute(home, monkeypatch, dataset, files)
    code, _, err = run_cli(capsys, "data", "show", dataset, "--data-dir", str(home), "--offline")
    line = _one_error_line(err)
    assert code == 1, err
    assert message in line
    assert str(home) in line  # names the file


def test_checksum_mismatch_in_a_real_process(tmp_path):
    """The whole command in its own process: one line on stderr, exit 1, no traceback, nothing written."""
    (tmp_path / "sonar_dataset.csv").write_text("not the sonar data\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "keraslab", "data", "show", "sonar", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("keraslab: error: dataset 'sonar': checksum mismatch for ")
    assert "expected sha256 9d5d5709" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keraslab",
            "data",
            "show",
            "cifar10",
            "--offline",
            "--debug",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "DataMissingError" in proc.stderr


def test_debug_and_quiet_work_before_the_command_too(capsys, tmp_path, shared_data):
    from keraslab.errors import UsageError

    code, out, _ = run_cli(capsys, "--quiet", "run", "losses", "--out", str(tmp_path))
    assert code == 0 and out.strip() == str(tmp_path)  # quiet: only the run folder
    with pytest.raises(UsageError, match="Unknown dataset 'imagenet'"):  # debug: the exception itself
        main(["--debug", "data", "show", "imagenet"])


# --- options that are accepted and should not be -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "churn", "--epochs", "0"], "Invalid value for `epochs`. Expected an integer in [1, inf) or None"),
        (["run", "churn", "--epochs", "-1"], "Received: epochs=-1"),
        (["run", "churn", "--threshold", "2"], "Invalid value for `threshold`. Expected a number in [0, 1]."),
        (["run", "churn", "--test-size", "1.5"], "Invalid value for `test_size`. Expected a number in (0, 1)."),
        (
            ["run", "dropout", "--folds", "1"],
            "Invalid value for `folds`. Expected an integer in [2, 208]. Received: folds=1",
        ),
        (["run", "churn", "--threshold", "nan"], "Invalid value for `threshold`. Expected a number in [0, 1]."),
        (
            ["run", "gd-variants", "--learning-rate", "inf"],
            "Expected a number in (0, inf). Received: learning_rate=inf",
        ),
        (["run", "losses", "--epsilon", "0.9"], "Invalid value for `epsilon`. Expected a number in (0, 0.5)."),
        (["run", "dropout", "--rate", "1"], "Invalid value for `rate`. Expected a number in [0, 1)."),
        (["run", "churn", "--seed", "-3"], "Invalid value for `seed`. Expected an integer in [0, 4294967296)"),
        (["run", "churn", "--epoch", "3"], "unrecognized arguments: --epoch 3"),  # no abbreviations
    ],
)
def test_options_out_of_range_are_refused_before_any_work(capsys, tmp_path, argv, message):
    code, _out, err = run_cli(capsys, *argv, "--out", str(tmp_path / "r"))
    assert code == 2 and message in _one_error_line(err)
    assert not (tmp_path / "r").exists() and not list(tmp_path.iterdir())


def test_every_numeric_lesson_option_has_its_bounds():
    """A new numeric option cannot slip in unchecked: a parameters cell that declares a number without its range is
    refused when it is read, so every lesson's numeric parameters have one."""
    from keraslab import lessons
    from keraslab.options import read_parameters

    for name, lesson in lessons.all_lessons().items():
        for p in lesson.parameters.values():
            assert p.type not in (int, float) or p.bound is not None, (name, p.name)
    with pytest.raises(ValueError, match="`rate` is a number and declares no range"):
        read_parameters("rate: float = 0.5  # the dropout rate\n")


# --- a full or read-only disk: one line naming the path ------------------------------------------------------------


def test_a_full_disk_during_an_import_is_named_not_blamed_on_the_network(capsys, tmp_path, shared_data, monkeypatch):
    import errno
    import os

    from keraslab.datasets import download

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd, mode):
            self.fh = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download.os, "fdopen", FullDisk)
    home = tmp_path / "home"
    code, _out, err = run_cli(
        capsys, "data", "import", "sonar", str(shared_data / "sonar_dataset.csv"), "--data-dir", str(home)
    )
    line = _one_error_line(err)
    assert code == 1 and "cannot write sonar_dataset.csv: " in line and "no space left on the device" in line
    assert "network" not in line and list(home.iterdir()) == []


def test_a_read_only_data_home_is_one_line(capsys, tmp_path, shared_data, monkeypatch):
    import errno

    from keraslab.datasets import download

    def read_only(dir, **_kw):
        raise OSError(errno.EROFS, "Read-only file system", str(dir))

    monkeypatch.setattr(download.tempfile, "mkstemp", read_only)
    home = tmp_path / "home"
    code, _out, err = run_cli(
        capsys, "data", "import", "sonar", str(shared_data / "sonar_dataset.csv"), "--data-dir", str(home)
    )
    assert code == 1 and _one_error_line(err) == f"keraslab: error: {home}: read-only file system"


# --- the first hour: what a new user meets ----------------------------------------------------------------------------


def test_run_help_lists_every_lesson_on_one_line_and_how_to_see_its_options(capsys):
    from keraslab import lessons

    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "`keraslab run LESSON --help` lists its own options" in out
    lines = out.splitlines()
    for name, lesson in [*lessons.all_lessons().items(), ("all", None)]:
        [line] = [line for line in lines if line.split()[:1] == [name]]
        if lesson is not None:
            assert line.endswith(lesson.summary)  # the whole summary on the lesson's own line


def test_launch_help_shows_where_the_command_goes(capsys):
    code, out, _ = run_cli(capsys, "launch", "--help")
    assert code == 0 and out.split("\n\n")[0].rstrip().endswith("-- COMMAND ...")


def test_data_commands_offer_offline_only_where_they_could_download(capsys):
    for action, offered in (("import", False), ("list", False), ("verify", False), ("fetch", True), ("show", True)):
        code, out, _ = run_cli(capsys, "data", action, "--help")
        assert code == 0 and ("--offline" in out) == offered, action


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_the_install_hint_for_an_extra_keeps_its_brackets(capsys):
    code, _, err = run_cli(capsys, "run", "churn", "--backend", "torch")
    assert code == 1 and _one_error_line(err).endswith("Install it with: pip install 'keraslab[torch]'")
    code, _, err = run_cli(capsys, "bench", "--backends", "torch")
    assert code == 2 and "pip install 'keraslab[torch]'" in _one_error_line(err)


def test_data_fetch_all_fetches_every_data_set_a_full_run_reads(capsys, tmp_path, shared_data, monkeypatch):
    """Every registered data set, each file downloaded (here from a fake network serving files in the real formats)
    unless the data home has it or it ships with keraslab; the shipped ones are verified, never downloaded."""
    from keraslab.datasets import REGISTRY, download

    served = tmp_path / "served"
    checksums = synthetic.make_small_data_home(served)  # small mnist.npz and CIFAR-10 tarball, vouched for
    monkeypatch.setenv("KERASLAB_CHECKSUMS", str(checksums))
    fashion = {f.url: f.name for f in REGISTRY["fashion_mnist"].files}
    fashion_here = (shared_data / "fashion-mnist").is_dir()
    urls = {
        REGISTRY["mnist"].files[0].url: served / "mnist.npz",
        REGISTRY["cifar10"].files[0].url: served / "cifar-10-python.tar.gz",
    }
    fetched = []

    def transport(url, timeout=60.0):
        fetched.append(url)
        if url in fashion:
            if not fashion_here:
                raise OSError("not served here")
            return open(shared_data / fashion[url], "rb")
        return open(urls[url], "rb")

    monkeypatch.setattr(download, "urllib_transport", transport)
    home = tmp_path / "home"
    code, out, err = run_cli(capsys, "data", "fetch", "--all", "--quiet", "--data-dir", str(home))
    if not fashion_here:  # without the full Fashion-MNIST to serve, it is the one that fails, by name
        assert code == 1 and "Could not download train-images-idx3-ubyte.gz" in _one_error_line(err)
        return
    assert code == 0, err
    assert sorted(fetched) == sorted([*urls, *fashion])  # the shipped ones were not downloaded
    for name in REGISTRY:
        assert f"{name}: " in out
    assert out.count("ships with keraslab, verified") == 5
    code, out, _ = run_cli(capsys, "data", "verify", "--data-dir", str(home))
    assert code == 0 and out.splitlines()[-1] == "8 dataset(s) complete, 0 missing, 0 bad"
    code, _, err = run_cli(capsys, "data", "fetch", "--data-dir", str(home))
    assert code == 2 and "name one dataset, or give --all" in _one_error_line(err)


def _processes_marked(mark: str) -> list[str]:
    """Every process (of this user) whose environment carries `mark`: a command's children and their descendants,
    whether or not they left its session or were adopted by init."""
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if mark.encode() in (proc / "environ").read_bytes():
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name}: {command[:200]}")
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "argv",
    [["run", "churn", "--quick", "--offline", "--quiet"], ["data", "list"], ["run", "churn", "--bogus"]],
    ids=["run", "light command", "usage error"],
)
def test_no_process_is_left_behind_after_a_command(tmp_path, argv):
    """keraslab starts no daemon: once the command has exited, no process it started (a child, or a descendant that
    detached) is still running. A warm worker left behind would carry the mark in its environment (negative control:
    a command that backgrounds a `sleep` is found)."""
    import time
    import uuid

    mark = f"KERASLAB_TEST_MARK={uuid.uuid4().hex}"
    name, value = mark.split("=")
    env = {**os.environ, name: value, "KERASLAB_DATA": str(tmp_path / "d")}
    argv = [*argv, "--out", str(tmp_path / "run")] if argv[0] == "run" and "--bogus" not in argv else argv
    subprocess.run([sys.executable, "-m", "keraslab", *argv], cwd=tmp_path, env=env, capture_output=True, timeout=300)
    time.sleep(1.0)  # a detaching child has had time to start
    assert _processes_marked(mark) == []
    # the check sees a process left behind: the shell exits at once, its `sleep` stays
    subprocess.run(["sh", "-c", "sleep 5 >/dev/null 2>&1 &"], env=env, timeout=30)
    left = _processes_marked(mark)
    assert left and "sleep 5" in left[0]
