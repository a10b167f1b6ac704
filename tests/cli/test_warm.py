"""The warm worker (keraslab.cli.warm_start, keraslab.cli.warm_worker): which commands it may serve, what its key
covers, and real workers: a command it serves gives the same run as a fresh process, its exit status and signals
pass through, and it quits when idle. The worker processes here live in a temporary cache folder and are stopped
by each test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keraslab.cli import warm_call, warm_start


@pytest.fixture
def cache(monkeypatch):
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="kl"))  # short: a socket's path must fit in 108 bytes
    monkeypatch.setenv("KERASLAB_CACHE", str(root))
    monkeypatch.setenv("KERASLAB_WORKER", "60")
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    yield root
    shutil.rmtree(root, ignore_errors=True)


KERASLAB = [sys.executable, "-m", "keraslab"]


def _env(**extra) -> dict:
    return {**os.environ, **extra}


def test_only_lesson_runs_are_served(cache, monkeypatch):
    assert warm_start.serves(["run", "churn", "--quick"])
    assert warm_start.serves(["run", "all", "--quick"])
    for argv in (["lessons"], ["run", "churn", "--help"], ["run", "churn", "--no-cache"], ["data", "list"], []):
        assert not warm_start.serves(argv), argv
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # a worker imports Keras on JAX only
    assert not warm_start.serves(["run", "churn"])
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    for setting in ("KERASLAB_WORKER", "KERASLAB_CACHE"):
        with monkeypatch.context() as m:
            m.setenv(setting, "off")
            assert not warm_start.serves(["run", "churn"]), setting
    monkeypatch.setenv("KERASLAB_JOB", "{}")  # a process of a distributed job
    assert not warm_start.serves(["run", "churn"])


def test_the_key_follows_what_imports_read(cache, monkeypatch, tmp_path):
    """Another environment for Keras, JAX or XLA, a changed folder on the module path, or another HOME: another
    worker. The worker setting itself, an unrelated variable, KERAS_BACKEND=jax for unset, or another working folder
    (a worker imports nothing from one): the same."""
    key = warm_start.worker_key()
    assert warm_start.worker_key() == key
    monkeypatch.setenv("SOMETHING_ELSE", "1")
    monkeypatch.setenv("KERASLAB_WORKER", "5")
    assert warm_start.worker_key() == key
    with monkeypatch.context() as m:
        m.setenv("KERAS_BACKEND", "jax")  # what every lesson sets when it is unset: one worker for both
        assert warm_start.worker_key() == key
    for name, value in (("KERAS_BACKEND", "torch"), ("XLA_FLAGS", "--x"), ("JAX_ENABLE_X64", "1"), ("HOME", "/h")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            assert warm_start.worker_key() != key, name
    folder = tmp_path / "on-the-path"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    with_folder = warm_start.worker_key()
    assert with_folder != key
    time.sleep(0.01)
    (folder / "newly_installed.py").write_text("")  # an install changes the folder
    assert warm_start.worker_key() != with_folder


def test_the_socket_folder_is_private_and_a_socket_path_too_long_for_unix_means_no_worker(cache, monkeypatch):
    folder = warm_start.worker_folder()
    assert folder == cache / "workers" and (folder.stat().st_mode & 0o777) == 0o700
    assert warm_start.socket_path("k") == folder / "k.sock"
    monkeypatch.setenv("KERASLAB_CACHE", str(cache / ("x" * 100)))
    assert warm_start.socket_path("k") is None


def _start_worker(path: Path, idle: float = 60.0, modules=()) -> subprocess.Popen:
    path.with_suffix(".modules").write_text(json.dumps(list(modules)))
    log = open(path.with_suffix(".log"), "wb")  # noqa: SIM115 - the worker's
    worker = subprocess.Popen(
        [sys.executable, "-m", "keraslab.cli.warm_worker", str(path), str(idle)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=_env(),
    )
    log.close()
    deadline = time.monotonic() + 120
    while not path.exists():
        assert worker.poll() is None, path.with_suffix(".log").read_text()
        assert time.monotonic() < deadline, "the worker did not start listening"
        time.sleep(0.1)
    return worker


@pytest.fixture
def worker(cache):
    path = warm_start.socket_path("test")
    process = _start_worker(path)
    yield path
    process.terminate()
    process.wait(timeout=30)


def _summary(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())["summary"]


def test_a_served_run_is_the_run_a_fresh_process_makes(worker, tmp_path, capfd):
    argv = ["run", "gd-variants", "--quick", "--offline", "--out", str(tmp_path / "warm")]
    assert warm_call.run_in_worker("test", argv) == 0
    out = capfd.readouterr().out
    assert "gd-variants: quick run, seed 0" in out  # the worker's copy wrote to this process's stdout
    assert "pid " in worker.with_suffix(".log").read_text()  # ... and the worker ran it
    fresh = subprocess.run(
        [sys.executable, "-m", "keraslab", "run", "gd-variants", "--quick", "--offline", "--out", str(tmp_path / "f")],
        env=_env(KERASLAB_WORKER="off"),
        capture_output=True,
        timeout=300,
    )
    assert fresh.returncode == 0
    assert _summary(tmp_path / "warm") == _summary(tmp_path / "f")
    names = sorted(p.relative_to(tmp_path / "warm").as_posix() for p in (tmp_path / "warm").rglob("*"))
    assert names == sorted(p.relative_to(tmp_path / "f").as_posix() for p in (tmp_path / "f").rglob("*"))


def test_the_exit_status_and_a_one_line_error_come_back(worker, capfd):
    assert warm_call.run_in_worker("test", ["run", "churn", "--epochs", "0"]) == 2
    err = capfd.readouterr().err
    assert "epochs" in err and "Traceback" not in err


def test_a_connection_without_a_command_is_dropped_and_the_worker_goes_on(worker, tmp_path):
    for payload in (b"", b"\x00\x00\x00\x05{}"):  # a probe; a request without the caller's terminal
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(str(worker))
        probe.sendall(payload)
        probe.close()
    bad = json.dumps({"argv": 5, "cwd": "/tmp", "env": {}}).encode()  # the terminal, but not a request's shape
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.connect(str(worker))
    socket.send_fds(probe, [len(bad).to_bytes(4, "big") + bad], [0, 1, 2])
    probe.close()
    assert warm_call.run_in_worker("test", ["run", "churn", "--epochs", "0"]) == 2


def test_no_worker_means_nothing_ran(cache):
    assert warm_call.run_in_worker("nobody-listens", ["run", "churn"]) is None


def test_ctrl_c_reaches_the_served_run(cache, tmp_path):
    """The command's own process gets Ctrl-C and hands it to the copy that runs the lesson, which stops as an
    interrupted run does: exit 130, one line, nothing finished."""
    path = warm_start.socket_path(_key_of_a_fresh_process())
    process = _start_worker(path)
    try:
        command = subprocess.Popen(
            [*KERASLAB, "run", "mnist", "--quick", "--offline", "--dataset", "mnist_5k", "--out", str(tmp_path / "r")],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while "pid" not in path.with_suffix(".log").read_text():  # it is the worker's copy that runs
            assert time.monotonic() < deadline and command.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=120)
        assert command.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        assert not (tmp_path / "r" / "metrics.json").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)


def _key_of_a_fresh_process() -> str:
    """The key `python -m keraslab` computes in a process started as the tests start it."""
    code = "from keraslab.cli import warm_start; print(warm_start.worker_key())"
    return subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True).stdout.strip()


def test_the_command_leaves_a_worker_that_serves_the_next_and_quits_when_idle(cache, tmp_path):
    """The console command end to end: the first run leaves a worker behind, the second is served by it (its log
    names it), and the worker quits after KERASLAB_WORKER seconds without work, taking its socket with it."""
    env = _env(KERASLAB_WORKER="8")
    argv = [sys.executable, "-m", "keraslab", "run", "gradient-descent", "--quick", "--offline", "--quiet"]
    first = subprocess.run([*argv, "--out", str(tmp_path / "1")], env=env, capture_output=True, timeout=300)
    assert first.returncode == 0
    path = next(iter((cache / "workers").glob("*.modules"))).with_suffix(".sock")
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline, "no worker was left behind"
        time.sleep(0.2)
    second = subprocess.run([*argv, "--out", str(tmp_path / "2")], env=env, capture_output=True, timeout=300)
    assert second.returncode == 0
    assert str(tmp_path / "2") in path.with_suffix(".log").read_text()
    assert _summary(tmp_path / "1") == _summary(tmp_path / "2")
    deadline = time.monotonic() + 90
    while path.exists():
        assert time.monotonic() < deadline, "the idle worker did not quit"
        time.sleep(0.5)


def test_two_commands_at_once_are_both_served(worker, tmp_path):
    def call(name):
        argv = ["run", "losses", "--quick", "--quiet", "--out", str(tmp_path / name)]
        code = f"import sys; from keraslab.cli import warm_call; sys.exit(warm_call.run_in_worker('test', {argv!r}))"
        return subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.DEVNULL)

    calls = [call("a"), call("b")]
    assert [c.wait(timeout=300) for c in calls] == [0, 0]
    assert _summary(tmp_path / "a") == _summary(tmp_path / "b")
    assert worker.with_suffix(".log").read_text().count("pid ") == 2


def test_an_error_main_does_not_catch_prints_its_traceback_and_exits_1(worker, tmp_path, capfd):
    argv = ["run", "cifar10-ann", "--quick", "--offline", "--data-dir", str(tmp_path / "empty"), "--debug"]
    assert warm_call.run_in_worker("test", argv) == 1  # --debug re-raises the missing data set's error
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err and "DataMissingError" in err


def test_a_worker_imports_nothing_from_the_working_folder(cache, tmp_path, monkeypatch):
    """A learner's random.py in the folder a run starts from never becomes the worker's (and every later run's)."""
    folder = tmp_path / "project"
    folder.mkdir()
    marker = tmp_path / "imported"
    (folder / "random.py").write_text(f"open({str(marker)!r}, 'w').write('yes')\nraise SystemExit('shadowed')\n")
    monkeypatch.chdir(folder)
    key = warm_start.worker_key()
    warm_start.start_worker(key, _env(), ["random", "keraslab.cli.main"])
    path = warm_start.socket_path(key)
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline, path.with_suffix(".log").read_text()
        time.sleep(0.2)
    try:
        assert not marker.exists()
    finally:
        os.kill(int(path.with_suffix(".lock").read_text()), signal.SIGTERM)


def test_a_worker_asked_to_stop_lets_the_running_command_finish_then_goes(cache, tmp_path):
    import threading

    path = warm_start.socket_path("test")
    process = _start_worker(path)

    def stop_once_it_serves():
        while "pid " not in path.with_suffix(".log").read_text():
            time.sleep(0.05)
        process.terminate()  # SIGTERM, as `kill $(cat SOCKET.lock)`

    threading.Thread(target=stop_once_it_serves, daemon=True).start()
    argv = ["run", "gd-variants", "--quick", "--offline", "--quiet", "--out", str(tmp_path / "r")]
    assert warm_call.run_in_worker("test", argv) == 0  # its real status, not "stopped without an exit status"
    assert process.wait(timeout=60) == 0
    assert not path.exists() and not path.with_suffix(".lock").exists()


def test_signals_the_command_ignores_are_ignored_by_its_copy(monkeypatch):
    monkeypatch.setattr(signal, "getsignal", lambda s: signal.SIG_IGN if s == signal.SIGHUP else signal.SIG_DFL)
    assert warm_call._request(["run", "churn"])["ignored"] == [int(signal.SIGHUP)]  # noqa: SLF001
