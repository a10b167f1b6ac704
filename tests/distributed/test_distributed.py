"""Data-parallel training: N simulated devices in one process, and N processes on JAX's distributed runtime (gloo
on CPU), each equal to single-device training on the same global batches; and the ways a job fails."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from keraslab.cli import main as cli
from keraslab.distributed import plan as parallel
from keraslab.distributed.launcher import free_port
from keraslab.errors import UsageError
from keraslab.training import checkpoints

TWO_DEVICES = textwrap.dedent("""
    import json, os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import numpy as np
    import keraslab.distributed
    from keraslab import datasets, models, training
    from keraslab.tables import ChurnPreprocessor
    from keraslab.errors import UsageError
    from keraslab.seeding import set_seed

    table = datasets.load_churn(offline=True, quiet=True)
    x = ChurnPreprocessor().fit_transform(table.frame)
    y = (table.frame["Churn"] == "Yes").to_numpy(np.float32)

    def train(devices, **kw):
        set_seed(0)
        model = training.compile_model(models.binary_net(x.shape[1], (20, 12), dropout=kw.pop("dropout", 0.0)),
                                       loss="binary_crossentropy")
        with keraslab.distributed.data_parallel(devices):
            np.random.seed(0)  # the shuffle's seed, drawn from NumPy as model.fit draws its order
            history = training.fit(model, x, y, epochs=3, verbose=0, **kw)
        return model.get_weights(), history

    out = {}
    for name, kw in {"course": {"batch_size": 32}, "odd_batch": {"batch_size": 33},
                     "class_weight": {"batch_size": 32, "class_weight": {0: 1.0, 1: 2.7}},
                     "validation": {"batch_size": 32, "validation_split": 0.2},
                     "dropout": {"batch_size": 32, "dropout": 0.3}}.items():
        (w1, h1), (w2, h2) = train(1, **dict(kw)), train(2, **dict(kw))
        loss1, loss2 = np.asarray(h1.history["loss"]), np.asarray(h2.history["loss"])
        out[name] = {"weights": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2)),
                     "loss": float(np.max(np.abs(loss1 - loss2))), "rows": len(h2.epoch)}
    w1, _ = train(1, batch_size=32)
    set_seed(0)
    w3, _ = train(2, batch_size=32, class_weight={0: 1.0, 1: 5.0})  # negative control: a different training
    out["control"] = max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w3))
    try:
        keraslab.distributed.make_plan(3)
    except UsageError as exc:
        out["too_many"] = str(exc)
    print(json.dumps(out))
""")


def _env(shared_data, **extra):
    return {**os.environ, "KERASLAB_DATA": str(shared_data.resolve()), **extra}


@pytest.mark.slow
def test_two_simulated_devices_equal_one(shared_data):
    proc = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES], env=_env(shared_data), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("course", "odd_batch", "class_weight", "validation", "dropout"):
        assert out[name]["weights"] <= 1e-5, (name, out[name])
        assert out[name]["loss"] <= 1e-5 and out[name]["rows"] == 3, (name, out[name])
    assert out["control"] > 1e-3  # the comparison can fail
    assert out["too_many"].startswith("--devices 3: this process has only 2 cpu device(s)")


def test_devices_beyond_those_present_is_a_clear_error(capsys):
    with pytest.raises(
        UsageError,
        match=r"--devices 4: this process has only 1 cpu device\(s\).*"
        r"xla_force_host_platform_device_count",
    ):
        parallel.make_plan(4)
    with pytest.raises(UsageError, match=re.escape("Expected an integer in [1, inf)")):
        parallel.make_plan(0)
    assert parallel.make_plan(1) is None  # one device: the plain single-device path
    code = cli.main(["run", "churn", "--devices", "2", "--quick", "--quiet", "--out", "/nonexistent/x"])
    err = capsys.readouterr().err
    assert code == 2 and "--devices 2: this process has only 1" in err and "Traceback" not in err


def _launch(args, shared_data, **kw):
    return subprocess.run(
        [sys.executable, "-m", "keraslab", "launch", *args], env=_env(shared_data), capture_output=True, text=True, **kw
    )


def _weights(folder: Path) -> dict:
    (path,) = (folder / "checkpoints/fit-000").glob("epoch-*.npz")
    _, _, _, state = checkpoints.read(path)  # trainable, non-trainable and optimizer variables
    return {f"{kind}{i}": value for kind, group in zip("tno", state, strict=True) for i, value in enumerate(group)}


@pytest.mark.slow
def test_two_processes_equal_one_and_both_exit_0(tmp_path, shared_data, capsys):
    run = ["run", "churn", "--epochs", "3", "--checkpoints", "always", "--keep-checkpoints", "--quiet", "--offline"]
    assert cli.main([*run, "--out", str(tmp_path / "single"), "--data-dir", str(shared_data)]) == 0
    proc = _launch(
        ["--processes", "2", "--timeout", "20", "--", *run, "--out", str(tmp_path / "two")],
        shared_data,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # 0 only if both processes exited 0
    # neither process failed or complained: no XLA check failure, no traceback, no keraslab error line
    assert "Check failed" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "keraslab: error" not in proc.stderr and "launch: process" not in proc.stderr, proc.stderr
    single, two = _weights(tmp_path / "single"), _weights(tmp_path / "two")
    assert single.keys() == two.keys()
    for key in single:
        assert np.max(np.abs(single[key].astype(np.float64) - two[key])) <= 1e-5, key
    manifest = json.loads((tmp_path / "two/manifest.json").read_text())
    assert manifest["parallel"]["processes"] == 2 and manifest["parallel"]["devices"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["single", "two"]  # one folder, from process 0 only


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _process_id(pid: int) -> int | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"KERASLAB_JOB="):
            return json.loads(item.split(b"=", 1)[1])["process_id"]
    return None


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="finds the worker processes through /proc")
def test_killing_one_process_stops_the_other_within_the_timeout(tmp_path, shared_data):
    timeout = 5
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keraslab",
            "launch",
            "--processes",
            "2",
            "--timeout",
            str(timeout),
            "--",
            "run",
            "churn",
            "--epochs",
            "2000",
            "--checkpoints",
            "never",
            "--offline",
            "--out",
            str(tmp_path / "run"),
        ],
        env=_env(shared_data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        for line in launcher.stdout:  # process 0's progress
            if line.startswith("Epoch 3/"):
                break
        (victim,) = [c for c in _children(launcher.pid) if _process_id(c) == 1]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        launcher.wait(timeout=timeout + 60)
        stopped_after = time.monotonic() - killed_at
    finally:
        if launcher.poll() is None:
            launcher.kill()
    err = launcher.stderr.read()
    assert launcher.returncode == 75, err
    assert stopped_after < timeout + 20, stopped_after
    assert "launch: process 1 of 2 stopped first (killed by SIGKILL)" in err
    assert "lost process 1 of 2" in err or "process 0: exit code" in err  # process 0 said why it stopped
    assert "Check failure stack trace" not in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no run folder, no staging (no checkpoints were asked for)


@pytest.mark.slow
def test_unreachable_coordinator_fails_after_the_timeout(tmp_path, shared_data):
    port = free_port()
    t0 = time.monotonic()
    proc = _launch(
        [
            "--processes",
            "2",
            "--process-id",
            "1",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--timeout",
            "2",
            "--",
            "run",
            "losses",
            "--quiet",
            "--offline",
        ],
        shared_data,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 75
    assert f"cannot reach the coordinator at 127.0.0.1:{port} after 2 s" in proc.stderr
    # the behaviour under test is the --timeout of 2 s: without it the wait would be the 60 s default; 30 s leaves
    # room for a loaded machine's start-up (a guard, not a speed figure)
    assert time.monotonic() - t0 < 30
    proc = _launch(
        [
            "--processes",
            "2",
            "--process-id",
            "0",
            "--coordinator",
            f"127.0.0.1:{port}",
            "--timeout",
            "2",
            "--",
            "run",
            "losses",
            "--quiet",
            "--offline",
        ],
        shared_data,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "not all 2 processes joined the job within 2 s" in proc.stderr
    assert "Check failure stack trace" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "--processes",
                "2",
                "--",
            ],
            "nothing to run",
        ),
        (["--processes", "2", "--process-id", "1", "--", "run", "losses"], "--process-id needs --coordinator"),
        (["--processes", "2", "--coordinator", "nohost", "--", "run", "losses"], "Expected HOST:PORT"),
        (
            ["--processes", "0", "--", "run", "losses"],
            "Invalid value for `processes`. Expected an integer in [1, inf). Received: processes=0",
        ),
    ],
)
def test_launch_bad_arguments(capsys, args, message):
    assert cli.main(["launch", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_data_parallel_refuses_the_model_fit_path():
    """A fit that cannot take the data-parallel path says so instead of quietly using one device."""
    from keraslab import models, training
    from keraslab.backend import load_keras

    model = training.compile_model(models.binary_net(4, (3,)), loss="binary_crossentropy")
    x, y = np.zeros((8, 4), np.float32), np.zeros(8, np.float32)
    plan = object()  # any plan: the check comes before the plan is used
    with parallel.use(plan), pytest.raises(UsageError, match="data-parallel training goes through"):
        training.fit(model, x, y, epochs=1, verbose=0, callbacks=[load_keras().callbacks.History()])


def test_the_coordinator_binds_the_address_given(monkeypatch):
    """Process 0 listens on the address it was given, not on every interface (JAX's default when none is passed)."""
    import jax

    from keraslab.distributed import runtime

    seen = {}
    monkeypatch.setattr(runtime, "_job", None)  # restored after the test, like everything monkeypatch sets
    monkeypatch.setattr(runtime, "_watchdog", None)
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: seen.update(kw))
    monkeypatch.setattr(runtime, "_Watchdog", lambda job: type("W", (), {"start": lambda self: None})())
    monkeypatch.setattr(jax.config, "update", lambda *a: None)
    for address, bind in (("10.1.2.3:7777", "10.1.2.3:7777"), ("127.0.0.1:7000", "127.0.0.1:7000")):
        runtime.join(runtime.Job(coordinator=address, processes=2, process_id=0, timeout=5.0))
        assert seen["coordinator_bind_address"] == bind
    assert runtime.bind_address("::1", 7000) == "[::1]:7000"
