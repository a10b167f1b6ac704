"""Per-epoch checkpoints and --resume: a run SIGKILLed after epoch 2 and resumed ends bit-identical to one that was
never interrupted; damaged checkpoints fall back with a warning; bad resumes are refused by name."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keraslab.cli import main as cli
from keraslab.training import checkpoints

# The CLI in a subprocess that SIGKILLs itself right after the checkpoint of epoch 2 is on disk: a crash at a
# known point (a test harness, not keraslab code).
KILL_AFTER_EPOCH_2 = textwrap.dedent("""
    import os, signal, sys
    from keraslab.cli import main as cli
    from keraslab.training import checkpoints
    _save = checkpoints.FitCheckpoints.save
    def save(self, epoch, *args, **kwargs):
        path = _save(self, epoch, *args, **kwargs)
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return path
    checkpoints.FitCheckpoints.save = save
    sys.exit(cli.main(sys.argv[1:]))
""")

ARGS = ["run", "churn", "--epochs", "4", "--checkpoints", "always", "--keep-checkpoints", "--quiet", "--offline"]


def _arrays(path: Path) -> dict:
    _, _, _, state = checkpoints.read(path)  # trainable, non-trainable and optimizer variables
    return {f"{kind}{i}": value for kind, group in zip("tno", state, strict=True) for i, value in enumerate(group)}


def _history(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "history.csv").drop(columns="seconds")


@pytest.fixture(scope="module")
def killed_and_uninterrupted(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("resume")
    env = {**os.environ, "KERASLAB_DATA": str(shared_data.resolve())}
    assert cli.main([*ARGS, "--out", str(root / "whole"), "--data-dir", str(shared_data)]) == 0
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_EPOCH_2, *ARGS, "--out", str(root / "killed")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return root


@pytest.mark.slow
def test_sigkill_after_epoch_2_then_resume_is_bit_identical(killed_and_uninterrupted, shared_data, capsys):
    root = killed_and_uninterrupted
    staging = root / ".killed.partial"
    assert not (root / "killed").exists()  # nothing under the final name
    saved = sorted(p.name for p in (staging / "checkpoints" / "fit-000").iterdir())
    assert saved == ["epoch-0001.npz", "epoch-0002.npz"]
    work = root / "again"  # resume a copy: the next test damages another copy
    shutil.copytree(staging, root / ".again.partial")
    assert cli.main([*ARGS, "--out", str(work), "--resume", "--data-dir", str(shared_data)]) == 0
    whole = root / "whole"
    pd.testing.assert_frame_equal(_history(work), _history(whole), check_exact=True)
    a = _arrays(whole / "checkpoints/fit-000/epoch-0004.npz")
    b = _arrays(work / "checkpoints/fit-000/epoch-0004.npz")
    assert a.keys() == b.keys() and len(a) > 6  # weights, biases, Adam moments, step count
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    resumed, uninterrupted = (json.loads((f / "metrics.json").read_text()) for f in (work, whole))
    assert set(resumed.pop("phases")) == set(uninterrupted.pop("phases"))  # where the time went: not a result
    assert resumed == uninterrupted
    assert json.loads((work / "manifest.json").read_text())["resumed"] is True


def test_damaged_latest_checkpoint_falls_back_to_the_previous(killed_and_uninterrupted, shared_data, capsys):
    root = killed_and_uninterrupted
    shutil.copytree(root / ".killed.partial", root / ".damaged.partial")
    latest = root / ".damaged.partial/checkpoints/fit-000/epoch-0002.npz"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # truncated mid-write
    capsys.readouterr()
    assert cli.main([*ARGS, "--out", str(root / "damaged"), "--resume", "--data-dir", str(shared_data)]) == 0
    err = capsys.readouterr().err
    assert "epoch-0002.npz is damaged" in err and "falling back to epoch-0001.npz" in err
    pd.testing.assert_frame_equal(_history(root / "damaged"), _history(root / "whole"), check_exact=True)


def test_resume_refuses_a_different_config_naming_the_fields(killed_and_uninterrupted, shared_data, capsys):
    root = killed_and_uninterrupted
    shutil.copytree(root / ".killed.partial", root / ".other.partial")
    code = cli.main(
        [
            "run",
            "churn",
            "--epochs",
            "6",
            "--seed",
            "3",
            "--checkpoints",
            "always",
            "--quiet",
            "--out",
            str(root / "other"),
            "--resume",
            "--data-dir",
            str(shared_data),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "was written by a different config" in err and "epochs: 4 there, 6 now" in err
    assert "seed: 0 there, 3 now" in err and "Traceback" not in err


def test_resume_without_checkpoints_and_restart_over_an_unfinished_run(killed_and_uninterrupted, shared_data, capsys):
    root = killed_and_uninterrupted
    assert cli.main([*ARGS, "--out", str(root / "never-ran"), "--resume", "--data-dir", str(shared_data)]) == 2
    assert "--resume: no checkpoint to resume in" in capsys.readouterr().err
    shutil.copytree(root / ".killed.partial", root / ".left.partial")
    assert cli.main([*ARGS, "--out", str(root / "left"), "--data-dir", str(shared_data)]) == 2
    err = capsys.readouterr().err
    assert "an unfinished run's checkpoints are in" in err and "--resume" in err
    assert (root / ".left.partial/checkpoints").is_dir()  # not deleted behind the user's back


def test_finished_run_removes_its_checkpoints_unless_kept(tmp_path, shared_data, capsys):
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "run",
                "churn",
                "--epochs",
                "2",
                "--checkpoints",
                "always",
                "--quiet",
                "--out",
                str(out),
                "--data-dir",
                str(shared_data),
            ]
        )
        == 0
    )
    assert (out / "metrics.json").is_file() and not (out / "checkpoints").exists()
    assert not list(tmp_path.glob(".*"))  # no staging left behind


def _net(dropout: bool):
    from keraslab import training
    from keraslab.backend import load_keras

    k = load_keras()
    layers = [k.Input((8,)), k.layers.Dense(16, activation="relu")]
    layers += [k.layers.Dropout(0.3)] if dropout else []
    model = k.Sequential([*layers, k.layers.Dense(1, activation="sigmoid")])
    return training.compile_model(model, loss="binary_crossentropy")


@pytest.mark.parametrize("dropout", [False, True])
def test_fit_resumes_mid_run_bit_identical_with_dropout_state(tmp_path, dropout):
    """Library level: a fit stopped after epoch 2 and continued by a fresh model equals an uninterrupted fit,
    dropout's seed-generator state included."""
    # Fails when broken (tests/mutants.py resume-forgets-the-optimizer: Adam's moments not restored): the resumed
    # weights are not the uninterrupted fit's.
    from keraslab import training
    from keraslab.seeding import set_seed

    rng = np.random.default_rng(0)
    x, y = rng.random((203, 8), dtype=np.float32), (rng.random(203) < 0.4).astype(np.float32)
    set_seed(1)
    whole = _net(dropout)
    h_whole = training.fit(whole, x, y, epochs=4, batch_size=16, verbose=0)

    class Stop(Exception):
        pass

    def stop_after_2(epoch, row):
        if epoch == 1:
            raise Stop

    set_seed(1)
    first = _net(dropout)
    store = checkpoints.Store(tmp_path / "ck", min_epochs=1)
    from keraslab.training import fastfit

    seed = training.fitting.shuffle_seed()  # the seed training.fit draws from NumPy after the same set_seed(1)
    with checkpoints.active(store), pytest.raises(Stop):
        fastfit.fit_epochs(first, x, y, loss=first.loss, epochs=4, batch_size=16, seed=seed, on_epoch_end=stop_after_2)
    set_seed(1)
    second = _net(dropout)
    with checkpoints.active(checkpoints.Store(tmp_path / "ck", min_epochs=1)):
        h_resumed = training.fit(second, x, y, epochs=4, batch_size=16, verbose=0)
    for a, b in zip(whole.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    frames = [training.history_frame(h).drop(columns="seconds") for h in (h_whole, h_resumed)]
    pd.testing.assert_frame_equal(*frames, check_exact=True)
    if dropout:  # negative control: the same fit with another seed differs, so equality above means something
        set_seed(1)
        other = _net(dropout)
        np.random.seed(2)  # another shuffle
        training.fit(other, x, y, epochs=4, batch_size=16, verbose=0)
        assert not all(np.array_equal(a, b) for a, b in zip(whole.get_weights(), other.get_weights(), strict=True))


def test_checkpoint_store_fallbacks_and_mismatches(tmp_path, capsys):
    fit = checkpoints.Store(tmp_path, min_epochs=3).next_fit(epochs=5)
    assert checkpoints.Store(tmp_path, min_epochs=3).next_fit(epochs=2) is None  # too short to checkpoint
    state = ([np.ones((2, 3), np.float32)], [], [np.zeros(3, np.float32), np.int64(4)])
    sig = {"epochs": 5, "batch_size": 32}
    for epoch in (1, 2, 3):
        fit.save(epoch, state, [{"epoch": e, "loss": 1.0 / e} for e in range(1, epoch + 1)], sig)
    assert sorted(p.name for p in fit.folder.iterdir()) == ["epoch-0002.npz", "epoch-0003.npz"]  # newest two
    epoch, rows, got = fit.latest(state, sig)
    assert epoch == 3 and len(rows) == 3 and got[2][1] == 4
    path = fit.folder / "epoch-0003.npz"
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("state.npy")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size - 2] ^= 0xFF
    path.write_bytes(bytes(data))  # one flipped byte in the variables: the zip's CRC-32 catches it
    assert fit.latest(state, sig)[0] == 2
    assert "epoch-0003.npz is damaged" in capsys.readouterr().err
    with pytest.raises(checkpoints.CheckpointError, match="batch_size=32 there, 64 now"):
        fit.latest(state, {"epochs": 5, "batch_size": 64})
    with pytest.raises(checkpoints.CheckpointError, match="trainable variables have shapes"):
        fit.latest(([np.ones((3, 3), np.float32)], [], state[2]), sig)
    (fit.folder / "epoch-0002.npz").write_bytes(b"")
    assert fit.latest(state, sig) is None
    assert "starts again from its first epoch" in capsys.readouterr().err


def test_every_seed_in_range_trains(capsys):
    """Seeds reach 2**32 - 1 (check_seed's range): the epoch order takes them as uint32."""
    from keraslab.training import fastfit
    from keraslab.training.compiled_epoch import epoch_order

    rng = np.random.default_rng(0)
    x, y = rng.random((40, 8), dtype=np.float32), (rng.random(40) < 0.4).astype(np.float32)
    model = _net(False)
    history = fastfit.fit_epochs(model, x, y, loss=model.loss, epochs=1, batch_size=8, seed=2**32 - 1)
    assert history.epoch == [0] and np.isfinite(history.history["loss"][0])
    assert not np.array_equal(epoch_order(2**32 - 1, 0, 40), epoch_order(2**31 - 1, 0, 40))


@pytest.mark.slow
def test_two_processes_resume_a_killed_run(killed_and_uninterrupted, shared_data):
    """The distributed path: process 0 reads the checkpoint and sends it to process 1 (which may be on a machine
    that cannot see it); the history up to the checkpoint arrives exactly, the rest within 1e-5."""
    root = killed_and_uninterrupted
    shutil.copytree(root / ".killed.partial", root / ".two.partial")
    env = {**os.environ, "KERASLAB_DATA": str(shared_data.resolve())}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "keraslab",
            "launch",
            "--processes",
            "2",
            "--timeout",
            "20",
            "--",
            *ARGS,
            "--out",
            str(root / "two"),
            "--resume",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    whole, two = _history(root / "whole"), _history(root / "two")
    pd.testing.assert_frame_equal(two.iloc[:2], whole.iloc[:2], check_exact=True)
    np.testing.assert_allclose(two.to_numpy(), whole.to_numpy(), rtol=0, atol=1e-5)
    a = _arrays(root / "whole/checkpoints/fit-000/epoch-0004.npz")
    b = _arrays(root / "two/checkpoints/fit-000/epoch-0004.npz")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-5, err_msg=key)
    assert json.loads((root / "two/manifest.json").read_text())["parallel"]["processes"] == 2


def _rewritten(path, change):
    """The checkpoint rewritten as a valid archive with one field changed (CRCs and all correct)."""
    with np.load(path, allow_pickle=False) as data:
        members = {k: data[k] for k in data.files}
    meta = json.loads(bytes(members["meta"]).decode("utf-8"))
    change(meta, members)
    members["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **members)
    path.write_bytes(buf.getvalue())


def _nan_weights(meta, members):
    blob = members["state"].copy()
    blob[:4] = np.frombuffer(np.float32(np.nan).tobytes(), dtype=np.uint8)
    members["state"] = blob


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m, _: m.update(counts=["abc", 0, 2]), "variable counts"),
        (lambda m, _: m["index"][0].__setitem__(0, "|O"), "is not a numeric one"),
        (lambda m, _: m.update(epoch=float("inf")), "is not a count of epochs"),
        (lambda m, _: m["index"][0].__setitem__(2, 10**9), "lies outside the saved state"),
        (_nan_weights, "a saved weight is NaN or infinite"),
    ],
)
def test_a_tampered_but_valid_checkpoint_is_skipped_saying_why(tmp_path, capsys, change, says):
    """Counts "abc", dtype "|O", an infinite epoch (TypeError / OverflowError) or NaN weights
    (resumed as they were) in an archive whose CRCs are right; now each is skipped as a damaged one is."""
    fit = checkpoints.Store(tmp_path, min_epochs=3).next_fit(epochs=5)
    state = ([np.ones((2, 3), np.float32)], [], [np.zeros(3, np.float32), np.int64(4)])
    sig = {"epochs": 5, "batch_size": 32}
    for epoch in (1, 2):
        fit.save(epoch, state, [{"epoch": e, "loss": 1.0 / e} for e in range(1, epoch + 1)], sig)
    _rewritten(fit.folder / "epoch-0002.npz", change)
    epoch, _rows, got = fit.latest(state, sig)
    assert epoch == 1 and np.all(np.isfinite(got[0][0]))  # the one before it, whole
    err = capsys.readouterr().err
    assert "epoch-0002.npz is damaged" in err and says in err and "falling back to epoch-0001.npz" in err
