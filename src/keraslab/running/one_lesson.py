"""Run one lesson: its script executed (keraslab.lessons) inside one run (keraslab.run_state), and its run folder
written (keraslab.run_folders): or one folder per seed plus their summary. And a lesson whose image data set is
missing: whether it can run on the digits that ship with keraslab instead (stand-in data), and the one line that
says how.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from keraslab import caches, phases, run_state
from keraslab.distributed import runtime
from keraslab.distributed.plan import make_plan
from keraslab.errors import DataMissingError, UsageError
from keraslab.lessons import Lesson
from keraslab.lessons.stand_in import STAND_IN, lesson_dataset, missing_here, stand_in_possible
from keraslab.options import Parameter, Values, check_values, command_words, count
from keraslab.run_folders import folder as run_folder
from keraslab.run_folders.folder import CHECKPOINT_POLICIES, read_config
from keraslab.run_folders.manifest import build_manifest
from keraslab.run_folders.report import (
    ReportHead,
    how_made,
    notices,
    render_html,
    render_markdown,
    seeds_frame,
    tags_of,
)
from keraslab.run_state import RunState, StandIn
from keraslab.training import checkpoints as ckpt
from keraslab.training import history_frame


@dataclass(frozen=True)
class FinishedRun:
    """A finished run: its folder, its summary, how it was made (metrics.json's `run`) and where its time went
    (metrics.json's `phases`). It unpacks as `folder, summary = run_lesson(...)`."""

    folder: Path
    summary: dict
    provenance: dict
    phases: dict

    @property
    def tags(self) -> tuple[str, ...]:
        """ "quick run", "substitute data", "stand-in data" """
        return tuple(tags_of(self.provenance))

    def __iter__(self):
        return iter((self.folder, self.summary))


@dataclass(frozen=True)
class RunRequest:
    """What to run a lesson with: its parameter values (checked) and how to run it."""

    values: Values
    seeds: int | None = None
    offline: bool = False
    quiet: bool = False
    stand_in: StandIn | None = None


def request(lesson: Lesson, given: dict, *, config=None, seeds=None, offline=False, quiet=False) -> RunRequest:
    """The request to run `lesson`: the values of `config` (a run's config.json, to repeat that run), overridden by
    the values `given`; the values the lesson chose itself there (from `quick`) are left for it to choose again; a
    stand-in the config records holds unless `given` names the data set."""
    from_file = replayed(read_config(lesson.name, config)) if config else {}
    if not lesson.own_seeds and "seeds" in from_file:  # the runner's seeds, not a parameter
        file_seeds = from_file.pop("seeds")
        seeds = file_seeds if seeds is None else seeds
    offline = bool(from_file.pop("offline", False)) or offline
    quiet = bool(from_file.pop("quiet", False)) or quiet
    stand_in = StandIn.from_record(from_file.pop("stand_in", None))
    if stand_in is not None and given.get("dataset") not in (None, stand_in.dataset):
        stand_in = None  # --dataset given: the data set asked for, not a stand-in
    values = check_values(from_file, lesson.parameters, lesson=lesson.name, source=f"--config {config}")
    given = check_values(given, lesson.parameters, lesson=lesson.name, source=f"lesson {lesson.name}")
    values = Values({**values, **given})
    if stand_in is None and "dataset" not in given:  # a quick run whose image set is not here: on the stand-in
        stand_in = missing_here(lesson, values)
        if stand_in is not None:
            values = Values({**values, "dataset": stand_in.dataset})
    return RunRequest(values, seeds, offline, quiet, stand_in)


def replayed(config: dict) -> dict:
    """A run's config.json as values to run it again: the values the lesson chose itself (from `quick`) are left
    for it to choose again (the same ones for the same `quick`; the full run's when --no-quick replays a quick run)."""
    values = dict(config)
    resolved = values.pop("resolved_by_lesson", [])
    for name in resolved if isinstance(resolved, list) else []:
        if isinstance(name, str) and name != "quick":
            values.pop(name, None)
    return values


def reproduce_command(lesson: Lesson) -> str:
    return f"keraslab run {lesson.name} --config config.json"


def history_table(histories: dict) -> pd.DataFrame | None:
    """history.csv: one history as it is; several side by side, each column prefixed with its name."""
    frames = []
    for name, history in histories.items():
        frame = history_frame(history) if not isinstance(history, dict) else pd.DataFrame(history)
        if name:
            frame = frame.add_prefix(f"{name}_").rename(columns={f"{name}_epoch": "epoch"})
        frames.append(frame)
    return functools.reduce(lambda a, b: a.merge(b, on="epoch", how="outer"), frames) if frames else None


def write_result(run: run_folder.FolderWriter, result, config: dict, manifest: dict, lesson) -> dict:
    """Everything one executed lesson leaves: history.csv, each kept model as NAME.keras (model.keras when there is
    one), plots/, and what every run folder holds (`write_folder`)."""
    record = result.record
    with phases.phase("report"):
        table = history_table(record.histories)
        if table is not None:
            run.write_csv("history.csv", table)
        for name, model in record.models.items():
            path = run.path("model.keras" if len(record.models) == 1 else f"{name}.keras")
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
        for name, png in result.figures:
            run.write_bytes(f"plots/{name}.png", png)
    head = report_head(result.title, record.summary, record.provenance, [config.get("seed", 0)], manifest, lesson)
    return write_folder(run, result.notebook, config, manifest, head, lesson, {**record.details})


def write_folder(
    run, notebook: dict, config: dict, manifest: dict, head: ReportHead, lesson, extra: dict, plots="plots"
):
    """What every run folder holds: config.json, manifest.json, lesson.ipynb, report.md and report.html (headed by
    `head`), and metrics.json (its title, summary, how it was made, headline, `extra` and the phases). Returns
    the phases."""
    with phases.phase("report"):
        run.write_json("config.json", config)
        run.write_json("manifest.json", manifest)
        run.write_text("lesson.ipynb", json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        run.write_text("report.md", render_markdown(notebook, head, plots))
        run.write_text("report.html", render_html(notebook, head))
    metrics = {"title": head.full_title, "summary": head.summary, "run": head.provenance, "headline": lesson.headline}
    timer = phases.current()
    spent = None if timer is None else timer.seconds()  # where the run's time went so far (keraslab.phases)
    run.write_json("metrics.json", {**metrics, **extra, **({} if spent is None else {"phases": spent})})
    return spent or {}


def _timing_so_far() -> str:
    """The report's time line: every phase up to the report (its own writing is in metrics.json)."""
    timer = phases.current()
    if timer is None:
        return ""
    seconds = {name: value for name, value in timer.seconds().items() if name not in ("report", "total")}
    return phases.line({**seconds, "total": sum(seconds.values())}) + " before writing this report"


def report_head(title, summary, prov, seeds, manifest, lesson, seeds_table=None) -> ReportHead:
    return ReportHead(
        title=title,
        how=how_made(prov, seeds, manifest),
        summary=summary,
        tags=tags_of(prov),
        notices=notices(prov),
        reproduce=reproduce_command(lesson),
        footer=f"keraslab {manifest.get('keraslab')}, backend {manifest.get('backend')}, created "
        f"{manifest.get('created_utc')}",
        seeds=seeds_table,
        timing=_timing_so_far(),
        provenance=prov,
    )


def run_lesson(
    lesson: Lesson,
    values: dict | None = None,
    *,
    out: str | os.PathLike | None = None,
    seeds: int | None = None,
    runs_root: str | os.PathLike = "runs",
    devices: int | None = None,
    resume: bool = False,
    checkpoints: str = "auto",
    keep_checkpoints: bool = False,
    quiet: bool = False,
    offline: bool = False,
    stand_in: StandIn | None = None,
) -> FinishedRun:
    """Run `lesson` with `values` in its parameters cell (the others at their defaults), for `seeds` consecutive
    seeds from values["seed"], and write the run folder. Returns the FinishedRun (folder, summary, provenance).

    With several seeds, each seed's full output goes to seed<N>/ inside the folder and the top-level metrics.json
    holds the mean under each name and the standard deviation under <name>_sd; a lesson that averages over seeds
    itself (own_seeds) takes `seeds` as its `seeds` parameter instead.

    `quiet`: nothing on the terminal (else training progress and the lesson's printed lines). `offline`: never
    download. `devices`: train data-parallel over that many local devices (keraslab.distributed). `checkpoints`
    (one of CHECKPOINT_POLICIES): "auto" saves the state of every fit of 5 or more epochs after every epoch in the
    staging folder, "always" of every fit, "never" of none; `resume=True` continues a killed run from there
    (out=None: the newest unfinished run of the lesson); the checkpoints are removed when the run finishes unless
    `keep_checkpoints`. In a distributed job (keraslab launch), process 0 writes the run folder and the checkpoints;
    the other processes write nothing. `stand_in`: the run is on another data set than the lesson's own (`values`
    name it), which its metrics.json, report and the index say.
    """
    Parameter("checkpoints", str, False, tuple(CHECKPOINT_POLICIES), "auto").check(checkpoints)
    values = check_values(
        {} if values is None else values, lesson.parameters, lesson=lesson.name, source=f"lesson {lesson.name}"
    )
    values, seeds = _seeds_for(lesson, values, seeds)
    given = {"lesson": lesson.name, **{n: p.default for n, p in lesson.parameters.items()}, **values}
    plan = make_plan(devices)
    primary = runtime.is_primary()
    scratch = None if primary else Path(tempfile.mkdtemp(prefix="keraslab-replica-"))
    if primary:
        final = _resolve_folder(lesson, given, seeds, out, resume, runs_root)
    else:  # the other processes of a job: same work, nothing kept
        final, resume = scratch / "run", False

    def drop_scratch():
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    staged = given if seeds == 1 else {**given, "seeds": seeds}
    min_epochs = CHECKPOINT_POLICIES[checkpoints]
    show = None if quiet else sys.stdout
    try:
        with (
            runtime.on_lost(drop_scratch),
            run_folder.RunDir(
                final,
                config=staged,
                resume=resume,
                keep_checkpoints=keep_checkpoints,
                resume_hint=resume_command(lesson, values, seeds, final),
            ) as folder,
            runtime.on_lost(folder.abandon),
        ):
            store = (
                None if min_epochs is None else ckpt.Store(folder.checkpoints, min_epochs=min_epochs, writer=primary)
            )
            state = RunState(offline=offline, stand_in=stand_in, terminal=show, checkpoints=store, plan=plan)
            if resume and not quiet:
                print(f"Resuming {final} from its checkpoints", flush=True)
            caches.enable_compile_cache()  # before the lesson imports JAX, if it has not been imported yet
            with run_state.active(state), phases.recording():
                summary, prov, spent = _execute_into(folder, lesson, values, seeds, resumed=resume, echo=show)
    finally:
        drop_scratch()
    return FinishedRun(final, summary, prov, spent)


def resume_command(lesson: Lesson, values: dict, seeds: int, final: Path) -> str:
    """The command that continues this run from its checkpoints: the same options, --out, --resume."""
    given = command_words(values, lesson.parameters)
    words = [given] if given else []
    words += [f"--seeds {seeds}"] if seeds > 1 else []
    return " ".join(["keraslab run", lesson.name, *words, "--out", shlex.quote(str(final)), "--resume"])


def _seeds_for(lesson: Lesson, values: Values, seeds: int | None):
    """(values, how many seeds the runner loops over): a lesson with own_seeds takes them as its parameter."""
    seeds = count("seeds", seeds)
    if lesson.own_seeds:
        if seeds is None:
            return values, 1
        return check_values(
            {**values, "seeds": seeds}, lesson.parameters, lesson=lesson.name, source=f"lesson {lesson.name}"
        ), 1
    return values, seeds or 1


def _resolve_folder(lesson: Lesson, given: dict, seeds: int, out, resume: bool, runs_root) -> Path:
    if out is not None:
        return Path(out)
    if resume:
        found = run_folder.unfinished_runs(lesson.name, runs_root)
        if not found:
            raise UsageError(
                f"--resume: no unfinished {lesson.name} run with checkpoints under "
                f"{Path(runs_root) / lesson.name} (name the run with --out DIR)"
            )
        return found[0]
    # how many seeds the folder holds: the runner's, or those of a lesson that averages over seeds itself
    count = seeds if not lesson.own_seeds else given.get("seeds") or 1
    return run_folder.default_run_dir(lesson.name, given.get("seed", 0), runs_root, seeds=count)


def _config(lesson, given: dict, used: dict) -> dict:
    """config.json: the values the run used, and under "resolved_by_lesson" those the lesson chose itself (a value
    left at None, or set by `quick`), which a re-run that changes `quick` lets the lesson choose again; and for a
    stand-in run, what stood in for what (a re-run from it is labelled the same)."""
    resolved = sorted(name for name in used if name != "seed" and (name not in given or given[name] != used[name]))
    chosen = [name for name in resolved if used[name] != lesson.parameters[name].default]
    stand_in = run_state.current().stand_in
    extra = {"stand_in": stand_in.record()} if stand_in else {}
    return {"lesson": lesson.name, **used, "resolved_by_lesson": chosen, **extra}


def _execute_into(run: run_folder.RunDir, lesson: Lesson, values: dict, seeds: int, *, resumed, echo):
    """(summary, provenance, phases) of the lesson run into `run`, once or once per seed."""
    extra = {**_job_info(), "resumed": resumed}
    first = values.get("seed", lesson.parameters["seed"].default if "seed" in lesson.parameters else 0)
    if seeds == 1:
        result = lesson.execute(values, echo=echo)
        manifest = build_manifest(lesson=lesson.name, seed=first, data_files=result.used, extra=extra)
        spent = write_result(run, result, _config(lesson, values, result.values), manifest, lesson)
        return result.summary, result.record.provenance, spent
    seed_list = [first + i for i in range(seeds)]
    results, used_all = [], []
    for seed in seed_list:
        result = lesson.execute(Values({**values, "seed": seed}), echo=echo)
        used_all += [u for u in result.used if u not in used_all]
        manifest = build_manifest(lesson=lesson.name, seed=seed, data_files=result.used, extra=extra)
        config = _config(lesson, {**values, "seed": seed}, result.values)
        write_result(run.subfolder(f"seed{seed}"), result, config, manifest, lesson)
        results.append(result)
    summary = aggregate_summaries([r.summary for r in results])
    # every seed's files: a substitute file read by any seed marks the whole run
    prov = RunState(values=results[0].values, used=used_all, stand_in=run_state.current().stand_in).provenance()
    manifest = build_manifest(lesson=lesson.name, seed=seed_list, data_files=used_all, extra=extra)
    config = {**_config(lesson, values, results[0].values), "seeds": seeds}
    per_seed = {str(s): r.summary for s, r in zip(seed_list, results, strict=True)}
    table = seeds_frame(seed_list, [r.summary for r in results])
    head = report_head(results[0].title, summary, prov, seed_list, manifest, lesson, table)
    extra_metrics = {"seeds": seed_list, "per_seed": per_seed}
    plots = f"seed{seed_list[0]}/plots"
    return summary, prov, write_folder(run, results[0].notebook, config, manifest, head, lesson, extra_metrics, plots)


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def aggregate_summaries(summaries: list[dict]) -> dict:
    """[{name: x}] over seeds -> {name: mean, name_sd: sd}, for the names every seed reported."""
    out = {}
    for key in [k for k in summaries[0] if all(k in s for s in summaries)]:
        out[key], out[f"{key}_sd"] = mean_sd([s[key] for s in summaries])
    return out


def _job_info() -> dict:
    """How the run was spread: devices and processes (the manifest's `parallel`)."""
    plan, job = run_state.current().plan, runtime.current()
    info = {"devices": 1 if plan is None else plan.devices, "processes": 1 if job is None else job.processes}
    if plan is not None:
        info["mesh"] = plan.describe()
    return {"parallel": info}


@contextlib.contextmanager
def stand_in_hint(lesson, values: dict):
    """A missing image data set, for a lesson that can run on the shipped one, says so in its one line."""
    try:
        yield
    except DataMissingError as exc:
        if not stand_in_possible(lesson, lesson_dataset(lesson, values)):
            raise
        others = command_words({k: v for k, v in values.items() if k != "dataset"}, lesson.parameters)
        again = " ".join(["keraslab run", lesson.name, *([others] if others else []), "--dataset", STAND_IN])
        hint = f"or run it on the digits that ship with keraslab: {again}"
        raise DataMissingError(f"{exc}; {hint}") from exc
