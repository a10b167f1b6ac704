"""keraslab's cache folder: JAX's persistent compilation cache there, on by default, off with --no-cache or
KERASLAB_CACHE=off, bounded in size; a second run compiles nothing new; caches never change a result."""

import json
import os
import subprocess
import sys

import pytest

from keraslab import caches, phases

# A fit in a fresh process: the weights' sha256 and JAX's count of cache hits and misses (persistent cache).
FIT = r"""
import hashlib, json, sys
import numpy as np
from keraslab import caches, phases
if len(sys.argv) > 1:
    caches.COMPILE_CACHE_BYTES = int(sys.argv[1])
import jax.monitoring
counts = {"hits": 0, "misses": 0}
def on_event(event, **kwargs):
    for name in counts:
        if event == f"/jax/compilation_cache/cache_{name}":
            counts[name] += 1
jax.monitoring.register_event_listener(on_event)
from keraslab import models, training
from keraslab.seeding import set_seed
set_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(100, 5)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.float32)
model = training.compile_model(models.binary_net(5, (8,)), loss="binary_crossentropy", metrics=("accuracy",))
history = training.fit(model, x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
print(json.dumps({"weights": digest, "loss": history.history["loss"], **counts,
                  "dir": jax.config.jax_compilation_cache_dir, "max": jax.config.jax_compilation_cache_max_size}))
"""


def _fit_process(cache, *args):
    env = {**os.environ, caches.ENV_VAR: str(cache)}
    for name in [k for k in env if k.startswith("JAX_")]:
        del env[name]
    return subprocess.run([sys.executable, "-c", FIT, *args], capture_output=True, text=True, env=env, timeout=300)


def _fit(cache, *args):
    proc = _fit_process(cache, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _programs(folder):
    return sorted(p.name for p in folder.glob("*-cache"))


@pytest.mark.slow
def test_a_second_run_compiles_nothing_new_and_gets_the_same_weights(tmp_path):
    cold = _fit(tmp_path / "c")
    programs = _programs(tmp_path / "c" / "xla")
    assert cold["dir"] == str(tmp_path / "c" / "xla") and cold["max"] == caches.COMPILE_CACHE_BYTES
    assert cold["misses"] > 0 and programs  # compiled, and kept
    warm = _fit(tmp_path / "c")
    assert warm["misses"] == 0 and warm["hits"] == cold["misses"]  # every program read back, none compiled
    assert _programs(tmp_path / "c" / "xla") == programs
    off = _fit("off")
    assert off["dir"] is None and off["hits"] == off["misses"] == 0
    # a cached program computes what a fresh compile does, bit for bit
    assert cold["weights"] == warm["weights"] == off["weights"] and cold["loss"] == warm["loss"] == off["loss"]


@pytest.mark.slow
def test_the_compilation_cache_is_bounded_oldest_programs_out(tmp_path):
    first = _fit(tmp_path / "c")
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "c" / "xla").glob("*-cache")}
    bound = sum(sizes.values()) // 2  # room for about half of them
    again = _fit(tmp_path / "c", str(bound))  # the same programs, read back with a smaller bound in force
    assert again["max"] == bound and first["misses"] == again["hits"]
    other = tmp_path / "d"
    _fit(other, str(bound))  # a fresh folder under the bound: JAX evicts the least recently used as it writes
    kept = sum(p.stat().st_size for p in (other / "xla").glob("*-cache"))
    assert 0 < kept <= bound


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(caches.ENV_VAR, str(tmp_path / "here"))
    assert caches.cache_root() == tmp_path / "here"
    assert caches.writable_folder("xla") == tmp_path / "here" / "xla" and (tmp_path / "here" / "xla").is_dir()
    for off in ("off", "0", "no", "OFF"):
        monkeypatch.setenv(caches.ENV_VAR, off)
        assert caches.cache_root() is None and caches.writable_folder("xla") is None
    monkeypatch.delenv(caches.ENV_VAR)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert caches.cache_root() == tmp_path / "home" / ".cache" / "keraslab"
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(caches.ENV_VAR, str(tmp_path / "file"))
    assert caches.writable_folder("xla") is None  # cannot be made: no cache, no failure


@pytest.mark.slow
def test_caches_never_change_a_lesson_s_result(tmp_path, shared_data):
    """churn --quick three times: caches empty, caches filled, --no-cache: the same metrics, bit for bit."""
    env = {**os.environ, caches.ENV_VAR: str(tmp_path / "cache"), "KERASLAB_DATA": str(shared_data)}
    argv = [sys.executable, "-m", "keraslab", "run", "churn", "--quick", "--offline", "--quiet", "--out"]
    summaries = []
    for name, extra in (("cold", []), ("warm", []), ("none", ["--no-cache"])):
        proc = subprocess.run(
            [*argv, str(tmp_path / name), *extra], capture_output=True, text=True, env=env, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        summaries.append(metrics["summary"])
        assert set(metrics["phases"]) == {*phases.ORDER, "total"}
    assert summaries[0] == summaries[1] == summaries[2]
    assert any((tmp_path / "cache" / "xla").glob("*-cache"))


@pytest.mark.slow
def test_damaged_programs_are_compiled_again_said_in_one_line_and_removed(tmp_path):
    cold = _fit(tmp_path / "c")
    programs = sorted((tmp_path / "c" / "xla").glob("*-cache"))
    for path in programs[:3]:
        path.write_bytes(b"not a program")
    programs[3].write_bytes(b"")
    proc = _fit_process(tmp_path / "c")
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads(proc.stdout.strip().splitlines()[-1])
    assert again["weights"] == cold["weights"] and again["misses"] == 4  # compiled again: the same weights
    assert "UserWarning" not in proc.stderr and "Error reading persistent compilation cache" not in proc.stderr
    said = f"keraslab: warning: compiled programs in {tmp_path / 'c' / 'xla'} could not be read: 4 damaged file(s)"
    assert proc.stderr.strip().splitlines() == [f"{said} removed, their programs compiled again"]
    assert all(p.stat().st_size > 100 for p in programs[:4])  # removed, then written afresh by the same run
    assert caches.remove_damaged_programs(tmp_path / "c" / "xla") == 0
    third = _fit(tmp_path / "c")
    assert third["misses"] == 0 and third["weights"] == cold["weights"]


@pytest.mark.slow
def test_a_moved_cache_folder_still_serves_its_programs(tmp_path):
    _fit(tmp_path / "here")
    (tmp_path / "here").rename(tmp_path / "there")
    moved = _fit(tmp_path / "there")
    assert moved["misses"] == 0 and moved["hits"] > 0  # the folder's path is no part of a program's key


def test_remove_damaged_programs_keeps_the_good_ones(tmp_path):
    import zlib

    (tmp_path / "good-cache").write_bytes(zlib.compress(b"program"))
    (tmp_path / "good-atime").write_bytes(b"1")
    (tmp_path / "bad-cache").write_bytes(b"garbage")
    (tmp_path / "bad-atime").write_bytes(b"1")
    (tmp_path / "empty-cache").write_bytes(b"")
    assert caches.remove_damaged_programs(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good-atime", "good-cache"]
