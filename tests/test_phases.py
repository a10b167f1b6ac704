"""Where a run's time went: each second counted once, in the innermost phase; JAX's compile events move their time
out of the phase they happened in; what no phase claims is the lesson's own ("evaluation"). On a fake clock."""

import json

import pytest

from keraslab import phases


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(phases.time, "perf_counter", lambda: now[0])

    def advance(seconds):
        now[0] += seconds

    return advance


def test_nested_phases_count_each_second_once(clock):
    with phases.recording(startup=False) as timer:
        clock(1.0)  # the lesson's own code
        with phases.phase("data"):
            clock(2.0)
        with phases.phase("training"):
            clock(3.0)
            with phases.phase("data"):  # data read inside a fit: data, not training
                clock(0.5)
            phases.on_jax_duration("/jax/core/compile/backend_compile_duration", 1.0)
            phases.on_jax_duration("/jax/compilation_cache/cache_retrieval_time_sec", 0.25)  # a cached program
            phases.on_jax_duration("/jax/pjit/some_other_duration", 9.0)  # not a compile
        clock(0.25)
        during = timer.seconds()  # a phase still open counts up to now
    assert during["evaluation"] == 1.25 and during["total"] == 6.75  # 1 + 2 + 3 + 0.5 + 0.25 on the clock
    assert timer.seconds() == {
        "start-up": 0.0,
        "data": 2.5,
        "compile": 1.25,
        "training": 3.0 - 1.25,
        "evaluation": 1.25,
        "figures": 0.0,
        "report": 0.0,
        "total": 6.75,
    }


def test_nothing_is_recorded_outside_a_run(clock):
    with phases.phase("data"):
        clock(1.0)
    phases.on_jax_duration("/jax/core/compile/backend_compile_duration", 1.0)
    assert phases.current() is None


def test_start_up_is_counted_once_per_process(clock, monkeypatch):
    monkeypatch.setattr(phases, "_startup_claimed", False)
    monkeypatch.setattr(phases, "process_age", lambda: 2.5)
    with phases.recording() as first:
        pass
    with phases.recording() as second:
        pass
    assert first.seconds()["start-up"] == 2.5 and second.seconds()["start-up"] == 0.0


def test_the_process_age_is_read_from_the_system():
    age = phases.process_age()
    assert 0.0 < age < 24 * 3600  # since this test process started; a bound on the clock's meaning, not speed


def test_the_line_names_the_phases_that_took_time():
    seconds = {"start-up": 2.04, "data": 0.01, "compile": 0.4, "training": 2.0, "figures": 0.001, "total": 4.451}
    assert phases.line(seconds) == "start-up 2.0 s, data 0.0 s, compile 0.4 s, training 2.0 s (total 4.5 s)"


def test_a_run_records_its_phases_and_its_report_shows_them(tmp_path, shared_data, capsys):
    """gd-variants --quick --profile: metrics.json's phases add up to their total, the report says them in one
    line, and --profile prints it."""
    from keraslab.cli.main import main

    out = tmp_path / "r"
    argv = ["run", "gd-variants", "--quick", "--profile", "--data-dir", str(shared_data), "--out", str(out)]
    assert main(argv) == 0
    recorded = json.loads((out / "metrics.json").read_text())["phases"]
    assert list(recorded) == [*phases.ORDER, "total"]
    assert sum(recorded[name] for name in phases.ORDER) == pytest.approx(recorded["total"], abs=0.01)
    assert recorded["data"] > 0 and recorded["figures"] > 0 and recorded["report"] > 0  # each was timed
    assert f"time: {phases.line(recorded)}" in capsys.readouterr().out
    report = (out / "report.html").read_text()
    assert "Time: " in report and "before writing this report" in report
