"""`run all --jobs N` (keraslab.running.every_lesson): lessons side by side in forked processes give the runs a
run one at a time gives, printed whole and in the course's order; a failure still reports its traceback with
--debug; and no fork once JAX's devices are started in the process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from keraslab.running import every_lesson

# `keraslab run all` over three lessons that need no data set and one that fails in its first cell; each process
# that runs a lesson writes its id to PIDS
SCRIPT = textwrap.dedent(
    """
    import os, sys
    from keraslab import lessons
    from keraslab.running import every_lesson

    class Broken:
        name, title, summary, headline, course_figure, path = "broken", "Broken", "fails", None, None, "broken.py"
        parameters = {}
        own_seeds = False

        def execute(self, values, *, echo=None):
            raise ZeroDivisionError("division by zero")

    names = sys.argv[1].split(",")
    found = {k: v for k, v in lessons.all_lessons().items() if k in names}
    if "broken" in names:
        found["broken"] = Broken()
    lessons.all_lessons = lambda: found
    original = every_lesson._run_captured

    def spy(k):
        with open(os.environ["PIDS"], "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        return original(k)

    every_lesson._run_captured = spy
    from keraslab.cli.main import main

    sys.exit(main(sys.argv[2:]))
    """
)


def _run_all(tmp_path, names: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIDS": str(tmp_path / "pids"), "KERASLAB_WORKER": "off"}
    argv = [sys.executable, "-c", SCRIPT, names, "run", "all", "--quick", "--offline", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def _summary(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())["summary"]


def test_lessons_side_by_side_give_the_runs_one_at_a_time_gives_printed_in_order(tmp_path):
    names = ("losses", "gradient-descent", "gd-variants")
    one = _run_all(tmp_path, ",".join(names), "--jobs", "1", "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    assert not (tmp_path / "pids").exists()  # one at a time: in the command's own process
    two = _run_all(tmp_path, ",".join(names), "--jobs", "2", "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr
    pids = set((tmp_path / "pids").read_text().split())
    assert len(pids) == 2  # two processes ran the three lessons
    for name in names:
        assert _summary(tmp_path / "two" / name) == _summary(tmp_path / "one" / name), name
    out = two.stdout
    starts = [out.index(f"[{k}/3] {name}: ") for k, name in enumerate(names, 1)]
    assert starts == sorted(starts)
    # each lesson's lines whole: the first lesson's last line before the second lesson's header
    assert out.index("losses: quick run, seed 0") < starts[1] and out.index("gd-variants: quick run") > starts[2]
    assert out.splitlines()[-1] == "3 ran, 0 skipped, 0 failed"
    assert (tmp_path / "two" / "index.html").is_file()


def test_a_lesson_failing_in_its_own_process_is_reported_with_its_traceback_under_debug(tmp_path):
    done = _run_all(tmp_path, "broken,losses", "--jobs", "2", "--quiet", "--debug", "--out", str(tmp_path / "a"))
    assert done.returncode == 1 and done.stdout.splitlines()[-1] == "1 ran, 0 skipped, 1 failed"
    assert "keraslab: broken failed: ZeroDivisionError: division by zero" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr and ", in execute\nZeroDivisionError" in done.stderr


def test_no_fork_once_jax_has_started_its_devices_or_another_backend_is_loaded(monkeypatch):
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # JAX's devices started in this process
    assert not every_lesson.may_fork()
    monkeypatch.setattr("jax._src.xla_bridge._backends", {})  # as before JAX starts them
    for other in ("tensorflow", "torch"):
        monkeypatch.delitem(sys.modules, other, raising=False)
    assert every_lesson.may_fork()
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    assert not every_lesson.may_fork()


@pytest.mark.parametrize(("given", "quick", "expected"), [(None, True, 2), (None, False, 1), (3, False, 3)])
def test_how_many_lessons_run_at_a_time(given, quick, expected, monkeypatch):
    from keraslab.cli.common import jobs_for

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert jobs_for(given, quick=quick) == expected


def test_jobs_below_one_is_a_usage_error():
    from keraslab.cli.common import jobs_for
    from keraslab.errors import UsageError

    with pytest.raises(
        UsageError,
        match=re.escape("Invalid value for `jobs`. Expected an integer in [1, inf) or None. Received: jobs=0"),
    ):
        jobs_for(0, quick=True)
