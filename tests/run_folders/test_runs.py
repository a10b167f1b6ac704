"""Run folders, manifests, seeding and the backend choice."""

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest

from keraslab import backend, files, lessons, seeding
from keraslab.errors import BackendError, UsageError
from keraslab.run_folders import folder as runs


def test_default_run_dir(tmp_path):
    path = runs.default_run_dir("churn", 4, tmp_path)
    assert path.parent == tmp_path / "churn" and path.name.endswith("-seed4") and path.name[8] == "T"
    assert runs.default_run_dir("churn", 4, tmp_path, seeds=3).name.endswith("-seeds4-6")


def test_the_reproduce_command_typed_inside_a_run_folder_makes_no_runs_folder_in_it(tmp_path, monkeypatch, capsys):
    """A report says `keraslab run LESSON --config config.json`; typed in the run folder, the new run goes under the
    runs/ that folder is in, beside the first, for a lesson's folder and for one of `run all`'s."""
    from keraslab.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["run", "losses", "--quick", "--quiet"]) == 0
    [first] = (tmp_path / "runs" / "losses").iterdir()
    monkeypatch.chdir(first)
    assert main(["run", "losses", "--config", "config.json", "--quiet"]) == 0
    again = capsys.readouterr().out.strip().splitlines()[-1]
    assert not (first / "runs").exists()
    assert len(list((tmp_path / "runs" / "losses").iterdir())) == 2 and Path(again).parent == first.parent
    # inside a `run all` folder: runs/all/<stamp>/<lesson> -> runs/<lesson>/
    monkeypatch.setattr(lessons, "all_lessons", lambda: {"losses": lessons.get_lesson("losses")})
    monkeypatch.chdir(tmp_path)
    assert main(["run", "all", "--quick", "--quiet"]) in (0,)
    [stamp] = (tmp_path / "runs" / "all").iterdir()
    monkeypatch.chdir(stamp / "losses")
    assert main(["run", "losses", "--config", "config.json", "--quiet"]) == 0
    assert not (stamp / "losses" / "runs").exists() and len(list((tmp_path / "runs" / "losses").iterdir())) == 3
    assert runs.runs_root_for(tmp_path) is None  # not in a run folder: runs/ here, as always


def test_sigterm_stops_a_run_with_the_same_one_line_as_ctrl_c(tmp_path, shared_data):
    """A run killed by SIGTERM (kill, a scheduler) cleans up as Ctrl-C does and says, in one line, where its
    checkpoints are and how to resume; exit 143. The run is churn for many epochs, signalled once it has saved a
    checkpoint (its staging folder holds one)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    env = {**os.environ, "KERASLAB_DATA": str(shared_data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "keraslab", "run", "churn", "--epochs", "100000", "--quiet", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    checkpoints = tmp_path / ".r.partial" / "checkpoints"
    deadline = time.monotonic() + 240  # a guard against a hang, not a timing
    while not list(checkpoints.glob("fit-*/epoch-*.npz")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("keraslab: error: interrupted (SIGTERM); the unfinished run's checkpoints are kept in ")
    # the options the run was given, so that the command runs as printed
    assert err.rstrip().endswith(f"continue with: keraslab run churn --epochs 100000 --out {out} --resume")
    assert not out.exists() and not (tmp_path / ".r.lock").exists()  # nothing final, no stale lock


def _readme_folder_table() -> dict[str, tuple[bool, set[str]]]:
    """The README's table of what each lesson's run folder holds: {lesson: (history.csv?, model files)}."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("| lesson | `history.csv`")
    rows = {}
    for line in readme[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        lesson, history, models = (cell.strip() for cell in line.strip("|").split("|"))
        rows[lesson] = (history.startswith("yes"), set(re.findall(r"`(\w+\.keras)`", models)))
    return rows


@pytest.mark.slow
def test_every_readme_claim_about_run_folders_holds_for_every_lesson(quick_run):
    table = _readme_folder_table()
    assert list(table) == list(lessons.all_lessons())
    for name, (history, models) in table.items():
        folder, _ = quick_run(name)
        files = {p.name for p in folder.iterdir()}
        common = {"lesson.ipynb", "report.html", "report.md", "config.json", "manifest.json", "metrics.json"}
        assert common | {"plots"} <= files, name
        assert any((folder / "plots").iterdir()), name
        assert ("history.csv" in files) == history, name
        assert {f for f in files if f.endswith(".keras")} == models, name


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = files.atomic_write_text(tmp_path / "f.json", "old")
    with pytest.raises(TypeError):
        files.atomic_write_json(path, {"x": object()})
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_json_has_no_nan(tmp_path):
    text = files.dumps_json({"a": float("nan"), "b": np.float32(1.5), "c": np.arange(2)})
    assert json.loads(text) == {"a": None, "b": 1.5, "c": [0, 1]}


def test_set_seed_repeats_python_and_numpy():
    seeding.set_seed(11)
    a = (random.random(), np.random.rand(3))
    seeding.set_seed(11)
    b = (random.random(), np.random.rand(3))
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_set_seed_repeats_keras():
    keras = backend.load_keras()
    weights = []
    for seed in (2, 2, 3):
        seeding.set_seed(seed)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        weights.append(np.asarray(layer.kernel))
    assert np.array_equal(weights[0], weights[1]) and not np.array_equal(weights[0], weights[2])


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match=r"Invalid value for `seed`. Expected an integer in \[0, 4294967296\)"):
        seeding.set_seed(bad)


def test_backend_resolution(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert backend.resolve_backend() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backend.resolve_backend() == "torch"
    assert backend.resolve_backend("TensorFlow") == "tensorflow"
    with pytest.raises(BackendError, match=r"Expected one of jax, torch, tensorflow. Received: backend='mxnet'"):
        backend.resolve_backend("mxnet")


def test_backend_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setattr(backend, "is_installed", lambda name: False)
    with pytest.raises(
        BackendError,
        match=r"needs the Python package 'torch', which is not installed. Install "
        r"it with: pip install 'keraslab\[torch\]'",
    ):
        backend.use_backend("torch")


def test_backend_cannot_switch_after_keras_is_loaded(monkeypatch):
    backend.load_keras()
    other = "torch" if backend.current_backend() != "torch" else "jax"
    monkeypatch.setattr(backend, "is_installed", lambda name: True)
    with pytest.raises(BackendError, match="already loaded with the"):
        backend.use_backend(other)
    assert os.environ["KERAS_BACKEND"] == backend.current_backend()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    """Reports, JSON, predictions (the atomic-write path) and downloaded or imported data are as readable as any file
    the user makes: mkstemp's 0600 is not kept."""
    import hashlib
    import io
    import stat

    from keraslab.datasets import download

    old = os.umask(umask)
    try:
        written = files.atomic_write_text(tmp_path / "report.html", "<p>hi</p>")
        fetched = download.download(
            "u", tmp_path / "data.bin", hashlib.sha256(b"abc").hexdigest(), transport=lambda _u: io.BytesIO(b"abc")
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == mode
    assert stat.S_IMODE(fetched.stat().st_mode) == mode


# --- one writer per folder ---------------------------------------------------------------------------------------

_HOLDER = (
    "import sys, time\n"
    "from keraslab.files import FolderLock\n"
    "with FolderLock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def _hold(folder):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_folder_lock_refuses_a_second_writer_and_is_taken_once_its_holder_is_killed(tmp_path):
    target = tmp_path / "R"
    proc = _hold(target)
    try:
        with pytest.raises(UsageError, match=rf"another keraslab process \(pid {proc.pid}, started \d+\) is writing"):
            files.FolderLock(target).__enter__()
    finally:
        proc.kill()  # kill -9: no chance to clean up; the kernel drops the claim
        proc.wait()
    with files.FolderLock(target), files.FolderLock(target):  # taken, and re-entrant within one process
        assert (tmp_path / ".R.lock").read_text().startswith(f"pid {os.getpid()}, started ")
    assert not (tmp_path / ".R.lock").exists()


def test_a_second_run_into_the_same_folder_is_refused_at_once(tmp_path, shared_data, capsys):
    """Before any work: the loser says who holds the folder, leaves nothing, and the winner's folder is untouched."""
    from keraslab.cli.main import main

    out = tmp_path / "R"
    proc = _hold(out)
    try:
        code = main(["run", "losses", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and f"another keraslab process (pid {proc.pid}" in err
        csv = str(shared_data / "customer_churn.csv")
        code = main(["train", csv, "--target", "Churn", "--drop", "customerID", "--out", str(out)])
        assert code == 2 and f"(pid {proc.pid}" in capsys.readouterr().err  # refused before training, not after
    finally:
        proc.kill()
        proc.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".R.lock"]  # the dead holder's file; no .R.partial
    assert main(["run", "losses", "--out", str(out), "--quiet"]) == 0
    assert (out / "metrics.json").is_file() and not (tmp_path / ".R.lock").exists()


@pytest.mark.slow
def test_two_real_runs_into_one_folder_the_second_is_refused_the_first_is_whole(tmp_path, shared_data):
    import subprocess
    import sys
    import time

    out = tmp_path / "R"
    argv = [sys.executable, "-m", "keraslab", "run", "churn", "--quick", "--quiet", "--offline", "--out", str(out)]
    env = {**os.environ, "KERASLAB_DATA": str(shared_data)}
    first = subprocess.Popen([*argv, "--seed", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (tmp_path / ".R.lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run([*argv, "--seed", "2"], env=env, capture_output=True, text=True, timeout=120)
    _out, err = first.communicate(timeout=300)
    assert second.returncode == 2 and f"another keraslab process (pid {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr and first.returncode == 0, err
    assert json.loads((out / "config.json").read_text())["seed"] == 1  # the first run's folder, whole
    assert {"metrics.json", "manifest.json", "report.html"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]  # no orphan .R.partial, no lock left


def test_a_sigterm_during_a_garbage_collection_callback_is_asked_again(monkeypatch):
    """Python drops an exception raised inside a gc callback (JAX registers one), so a SIGTERM that lands there
    would be lost and the run go on (a helper saw it exit 0): the handler sends the signal again a moment later.
    Outside a callback it raises at once."""
    import gc
    import inspect
    import signal
    import threading

    from keraslab import errors
    from keraslab.errors import Interrupted

    sent = threading.Event()
    monkeypatch.setattr(errors.os, "kill", lambda pid, sig: sent.set() if sig == signal.SIGTERM else None)
    outcome = []
    with errors.terminated_as_interrupt():
        handler = signal.getsignal(signal.SIGTERM)

        def callback(phase, info):
            if phase == "start" and not outcome:
                try:
                    handler(signal.SIGTERM, inspect.currentframe())
                    outcome.append("deferred")
                except Interrupted:
                    outcome.append("raised inside the callback")

        gc.callbacks.append(callback)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(callback)
        with pytest.raises(Interrupted, match="interrupted"):
            handler(signal.SIGTERM, inspect.currentframe())
    assert outcome == ["deferred"] and sent.wait(5)  # a guard against a hang, not a timing
