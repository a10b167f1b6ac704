"""Run a lesson: execute its script (keraslab.lessons) and write its run folder (or one folder per seed plus a
summary); or run every lesson in order.

A lesson is anything with a `name`, `parameters` (its parameters cell), `own_seeds` and `execute(values, echo=...)`
returning what its script handed over and the executed notebook (keraslab.lessons.Lesson).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from keraslab import terminal
from keraslab.datasets import get_spec, is_available, offline_mode, standing_in
from keraslab.distributed import runtime
from keraslab.distributed.plan import current as current_plan
from keraslab.distributed.plan import make_plan
from keraslab.distributed.plan import use as use_plan
from keraslab.errors import DataMissingError, KeraslabError, UsageError
from keraslab.files import atomic_write_text, disk_error
from keraslab.options import command_words
from keraslab.runs import folder as run_folder
from keraslab.runs.index_page import render_index
from keraslab.runs.manifest import build_manifest
from keraslab.runs.notebook_report import ReportHead, render_html, render_markdown, seeds_frame
from keraslab.runs.report import fmt, tags_of
from keraslab.training import checkpoints as ckpt
from keraslab.training import history_frame

# --checkpoints: the shortest fit that saves a checkpoint after every epoch (None: no checkpoints).
CHECKPOINT_POLICIES: dict[str, int | None] = {"auto": 5, "always": 1, "never": None}


class RunnableLesson(Protocol):
    name: str
    title: str
    summary: str
    headline: str | None
    course_figure: str | None
    parameters: dict  # name -> keraslab.options.Parameter
    own_seeds: bool  # the lesson averages over seeds itself (its `seeds` parameter); the runner does not loop

    def execute(self, values: dict, *, echo=None): ...


def reproduce_command(lesson: RunnableLesson) -> str:
    return f"keraslab run {lesson.name} --config config.json"


QUICK_NOTICE = (
    "Quick run (--quick): a smoke test with fewer epochs, rows or folds than the lesson needs. Its numbers show "
    "that the lesson runs; they are not the lesson's result, do not compare with the course's figures, and no "
    "conclusion is drawn from them. Run without --quick for the real thing."
)


@dataclasses.dataclass(frozen=True)
class StandIn:
    """A lesson run on another data set than its own because its own is not on this machine (`run all --quick`):
    `dataset` ran instead of `instead_of`, for `reason`."""

    dataset: str
    instead_of: str
    reason: str

    def record(self) -> dict:
        return {"dataset": self.dataset, "instead_of": self.instead_of, "reason": self.reason}


# The image set that ships with keraslab: what an image lesson runs on, in a quick `run all`, when its own is missing.
STAND_IN = "mnist_5k"


def provenance(quick: bool, used: list[dict], stand_in: StandIn | None = None) -> dict:
    """How a run was made, as metrics.json's `run`: quick or full; real, substitute (small copies vouched for by
    $KERASLAB_CHECKSUMS, and which files) or stand-in data (another data set than the lesson's, and why)."""
    substitute = sorted({u["file"] for u in used if u.get("substitute")})
    data = "substitute" if substitute else "stand-in" if stand_in else "real"
    return {
        "quick": bool(quick),
        "data": data,
        **({"substitute_files": substitute} if substitute else {}),
        **({"stand_in": stand_in.record()} if stand_in else {}),
    }


def notices(prov: dict) -> list[str]:
    """What the tags of a run mean, at the top of its report."""
    out = [QUICK_NOTICE] if prov["quick"] else []
    if prov["data"] == "substitute":
        out.append(
            "Substitute data: the files read were small copies in the real formats, vouched for by "
            f"$KERASLAB_CHECKSUMS ({', '.join(prov['substitute_files'])}), not the course's dataset. The numbers "
            "say nothing about how the lesson does on the real data."
        )
    if "stand_in" in prov:
        s = prov["stand_in"]
        out.append(
            f"Stand-in data: this lesson's data set, {s['instead_of']}, is not on this machine ({s['reason']}), so "
            f"this run used {s['dataset']} in its place. The numbers say nothing about how the lesson does on "
            f"{s['instead_of']}; `keraslab data fetch {s['instead_of']}` gets it."
        )
    return out


def how_made(prov: dict, seeds: list[int], manifest: dict) -> str:
    """One line: quick or full, the seed(s), real or substitute data, the backend and versions."""
    seed = f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]})"
    return (
        f"{'Quick' if prov['quick'] else 'Full'} run, {seed}, {prov['data']} data; backend "
        f"{manifest.get('backend')}, keras {manifest.get('versions', {}).get('keras')}, keraslab "
        f"{manifest.get('keraslab')}; {manifest.get('created_utc')}."
    )


def history_table(histories: dict) -> pd.DataFrame | None:
    """history.csv: one history as it is; several side by side, each column prefixed with its name."""
    frames = []
    for name, history in histories.items():
        frame = history_frame(history) if not isinstance(history, dict) else pd.DataFrame(history)
        if name:
            frame = frame.add_prefix(f"{name}_").rename(columns={f"{name}_epoch": "epoch"})
        frames.append(frame)
    if not frames:
        return None
    table = frames[0]
    for frame in frames[1:]:
        table = table.merge(frame, on="epoch", how="outer")
    return table


def write_result(run: run_folder.FolderWriter, result, config: dict, manifest: dict, prov: dict, lesson) -> None:
    """Everything one executed lesson leaves: lesson.ipynb, config.json, manifest.json, metrics.json (its
    `summary`), history.csv, each kept model as NAME.keras (model.keras when there is one), plots/, report.md and
    report.html."""
    record, reproduce = result.record, reproduce_command(lesson)
    run.write_json("config.json", config)
    run.write_json("manifest.json", manifest)
    run.write_text("lesson.ipynb", json.dumps(result.notebook, indent=1, ensure_ascii=False) + "\n")
    head = report_head(result.title, record.summary, prov, [config.get("seed", 0)], manifest, reproduce)
    metrics = {"title": head.full_title, "summary": record.summary, "run": prov, "headline": lesson.headline}
    run.write_json("metrics.json", {**metrics, **record.details})
    table = history_table(record.histories)
    if table is not None:
        run.write_csv("history.csv", table)
    for name, model in record.models.items():
        path = run.path("model.keras" if len(record.models) == 1 else f"{name}.keras")
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    for name, png in result.figures:
        run.write_bytes(f"plots/{name}.png", png)
    run.write_text("report.md", render_markdown(result.notebook, head))
    run.write_text("report.html", render_html(result.notebook, head))


def report_head(title, summary, prov, seeds, manifest, reproduce, seeds_table=None) -> ReportHead:
    return ReportHead(
        title=title,
        how=how_made(prov, seeds, manifest),
        summary=summary,
        tags=tags_of(prov),
        notices=notices(prov),
        reproduce=reproduce,
        footer=f"keraslab {manifest.get('keraslab')}, backend {manifest.get('backend')}, created "
        f"{manifest.get('created_utc')}",
        seeds=seeds_table,
    )


def run_lesson(
    lesson: RunnableLesson,
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
) -> tuple[Path, dict]:
    """Run `lesson` with `values` in its parameters cell (the others at their defaults), for `seeds` consecutive
    seeds from values["seed"], and write the run folder. Returns (run folder, summary).

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
    if checkpoints not in CHECKPOINT_POLICIES:
        raise UsageError(
            f"Invalid value for `checkpoints`. Expected one of {', '.join(CHECKPOINT_POLICIES)}. "
            f"Received: checkpoints={checkpoints!r}"
        )
    values, seeds = _seeds_for(lesson, dict(values or {}), seeds)
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
    hint = resume_command(lesson, values, seeds, final)
    show = None if quiet else sys.stdout
    try:
        with (
            runtime.on_lost(drop_scratch),
            run_folder.RunDir(
                final, config=staged, resume=resume, keep_checkpoints=keep_checkpoints, resume_hint=hint
            ) as run,
            runtime.on_lost(run.abandon),
            use_plan(plan),
            ckpt.active(
                None if min_epochs is None else ckpt.Store(run.checkpoints, min_epochs=min_epochs, writer=primary)
            ),
            terminal.to(show),
            offline_mode(offline),
            standing_in(stand_in),
        ):
            if resume and not quiet:
                print(f"Resuming {final} from its checkpoints", flush=True)
            summary = _execute_into(run, lesson, values, seeds, resumed=resume, echo=show, stand_in=stand_in)
    finally:
        drop_scratch()
    return final, summary


def resume_command(lesson: RunnableLesson, values: dict, seeds: int, final: Path) -> str:
    """The command that continues this run from its checkpoints: the same options, --out, --resume."""
    import shlex

    given = command_words(values, lesson.parameters)
    words = [given] if given else []
    words += [f"--seeds {seeds}"] if seeds > 1 else []
    return " ".join(["keraslab run", lesson.name, *words, "--out", shlex.quote(str(final)), "--resume"])


def _seeds_for(lesson: RunnableLesson, values: dict, seeds: int | None):
    """(values, how many seeds the runner loops over): a lesson with own_seeds takes them as its parameter."""
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise UsageError(f"Invalid value for `seeds`. Expected an integer >= 1. Received: seeds={seeds!r}")
    if lesson.own_seeds:
        return ({**values, "seeds": seeds} if seeds is not None else values), 1
    return values, seeds or 1


def _resolve_folder(lesson: RunnableLesson, given: dict, seeds: int, out, resume: bool, runs_root) -> Path:
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


def _config(lesson, given: dict, used: dict, stand_in: StandIn | None = None) -> dict:
    """config.json: the values the run used, and under "resolved_by_lesson" those the lesson chose itself (a value
    left at None, or set by `quick`), which a re-run that changes `quick` lets the lesson choose again; and for a
    stand-in run, what stood in for what (a re-run from it is labelled the same)."""
    resolved = sorted(name for name in used if name != "seed" and (name not in given or given[name] != used[name]))
    chosen = [name for name in resolved if used[name] != lesson.parameters[name].default]
    extra = {"stand_in": stand_in.record()} if stand_in else {}
    return {"lesson": lesson.name, **used, "resolved_by_lesson": chosen, **extra}


def stand_in_from(config_value) -> StandIn | None:
    """The StandIn a config.json records (its "stand_in"), or None; a malformed one is a UsageError."""
    if config_value is None:
        return None
    fields = ("dataset", "instead_of", "reason")
    if not isinstance(config_value, dict) or sorted(config_value) != sorted(fields):
        raise UsageError(f"config.json: `stand_in` must be an object with {', '.join(fields)}")
    if not all(isinstance(config_value[f], str) for f in fields):
        raise UsageError("config.json: `stand_in`'s dataset, instead_of and reason must be texts")
    return StandIn(**config_value)


def replayed(config: dict) -> dict:
    """A run's config.json as values to run it again: the values the lesson chose itself (from `quick`) are left
    for it to choose again (the same ones for the same `quick`; the full run's when --no-quick replays a quick run)."""
    values = dict(config)
    resolved = values.pop("resolved_by_lesson", [])
    for name in resolved if isinstance(resolved, list) else []:
        if isinstance(name, str) and name != "quick":
            values.pop(name, None)
    return values


def _execute_into(run: run_folder.RunDir, lesson: RunnableLesson, values: dict, seeds: int, *, resumed, echo, stand_in):
    extra = {**_job_info(), "resumed": resumed}
    reproduce = reproduce_command(lesson)
    first = values.get("seed", lesson.parameters["seed"].default if "seed" in lesson.parameters else 0)
    if seeds == 1:
        result = lesson.execute(values, echo=echo)
        prov = provenance(result.values.get("quick", False), result.used, stand_in)
        manifest = build_manifest(lesson=lesson.name, seed=first, data_files=result.used, extra=extra)
        write_result(run, result, _config(lesson, values, result.values, stand_in), manifest, prov, lesson)
        return result.summary
    seed_list = [first + i for i in range(seeds)]
    results, used_all = [], []
    for seed in seed_list:
        result = lesson.execute({**values, "seed": seed}, echo=echo)
        used_all += [u for u in result.used if u not in used_all]
        prov = provenance(result.values.get("quick", False), result.used, stand_in)
        manifest = build_manifest(lesson=lesson.name, seed=seed, data_files=result.used, extra=extra)
        config = _config(lesson, {**values, "seed": seed}, result.values, stand_in)
        write_result(run.subfolder(f"seed{seed}"), result, config, manifest, prov, lesson)
        results.append(result)
    summary = aggregate_summaries([r.summary for r in results])
    prov = provenance(results[0].values.get("quick", False), used_all, stand_in)
    manifest = build_manifest(lesson=lesson.name, seed=seed_list, data_files=used_all, extra=extra)
    config = {**_config(lesson, values, results[0].values, stand_in), "seeds": seeds}
    run.write_json("config.json", config)
    run.write_json("manifest.json", manifest)
    run.write_text("lesson.ipynb", json.dumps(results[0].notebook, indent=1, ensure_ascii=False) + "\n")
    per_seed = {str(s): r.summary for s, r in zip(seed_list, results, strict=True)}
    table = seeds_frame(seed_list, [r.summary for r in results])
    head = report_head(results[0].title, summary, prov, seed_list, manifest, reproduce, table)
    metrics = {"title": head.full_title, "summary": summary, "run": prov, "headline": lesson.headline}
    run.write_json("metrics.json", {**metrics, "seeds": seed_list, "per_seed": per_seed})
    run.write_text("report.md", render_markdown(results[0].notebook, head, f"seed{seed_list[0]}/plots"))
    run.write_text("report.html", render_html(results[0].notebook, head))
    return summary


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


def run_tags(folder: Path) -> tuple[str, ...]:
    """The tags of a written run ("quick run", "substitute data") from its metrics.json."""
    try:
        prov = json.loads((Path(folder) / "metrics.json").read_text()).get("run", {})
    except (OSError, ValueError):
        return ()
    return tuple(tags_of(prov))


def _job_info() -> dict:
    """How the run was spread: devices and processes (the manifest's `parallel`)."""
    plan, job = current_plan(), runtime.current()
    info = {"devices": 1 if plan is None else plan.devices, "processes": 1 if job is None else job.processes}
    if plan is not None:
        info["mesh"] = plan.describe()
    return {"parallel": info}


# --- every lesson -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LessonOutcome:
    """One line of `run all`: the lesson's headline value beside the course's figure, or why it was skipped (its data
    is missing: `skipped` is the reason, `command` what would run it) or why it failed (`failed`)."""

    lesson: str
    headline: str | None
    course_figure: str | None
    value: float | None = None
    folder: Path | None = None
    skipped: str | None = None
    command: str | None = None
    failed: str | None = None
    error: BaseException | None = dataclasses.field(default=None, compare=False, repr=False)  # for --debug
    tags: tuple[str, ...] = ()  # "quick run", "substitute data", "stand-in data"

    @property
    def status(self) -> str:
        return "failed" if self.failed else "skipped" if self.skipped else "ran"

    def explain(self) -> str:
        """Why the lesson did not run: the reason, and for a skip the command that would run it."""
        if self.failed:
            return f"failed: {self.failed}"
        if self.skipped:
            return f"skipped: {self.skipped}" + (f"; to run it: {self.command}" if self.command else "")
        return ""

    def row(self, root: str | os.PathLike | None = None) -> tuple[str, str, str, str, str]:
        """lesson, headline metric, course, ours, run folder (relative to `root` when given)."""
        ours = self.status if self.folder is None else "-" if self.value is None else fmt(self.value)
        if self.tags and self.folder is not None:
            ours += f" ({', '.join(t.split()[0] for t in self.tags)})"  # "0.5431 (quick, stand-in)"
        folder = "-"
        if self.folder is not None:
            folder = str(self.folder)
            if root is not None and Path(self.folder).is_relative_to(root):
                folder = Path(self.folder).relative_to(root).as_posix()
        return (self.lesson, self.headline or "-", self.course_figure or "-", ours, folder)


def stand_in_possible(lesson: RunnableLesson, dataset: str | None) -> bool:
    """Whether the lesson's `dataset` parameter takes the shipped image set in place of `dataset`."""
    param = lesson.parameters.get("dataset")
    choices = getattr(param, "choices", None) or ()
    return dataset is not None and dataset != STAND_IN and STAND_IN in choices and get_spec(dataset).kind == "images"


@contextlib.contextmanager
def stand_in_hint(lesson: RunnableLesson, values: dict):
    """A missing image data set, for a lesson that can run on the shipped one, says so in its one line."""
    try:
        yield
    except DataMissingError as exc:
        if not stand_in_possible(lesson, _lesson_dataset(lesson, values)):
            raise
        others = command_words({k: v for k, v in values.items() if k != "dataset"}, lesson.parameters)
        again = " ".join(["keraslab run", lesson.name, *([others] if others else []), "--dataset", STAND_IN])
        hint = f"or run it on the digits that ship with keraslab: {again}"
        raise DataMissingError(f"{exc}; {hint}") from exc


def _lesson_dataset(lesson: RunnableLesson, values: dict) -> str | None:
    param = lesson.parameters.get("dataset")
    return None if param is None else values.get("dataset", param.default)


def _run_command(lesson: RunnableLesson, dataset: str | None) -> str:
    """What runs a lesson skipped for missing data: fetch its data set, then run it (or run it on the stand-in)."""
    if dataset is None:
        return f"keraslab run {lesson.name} (once its data is in the data home)"
    own = f"keraslab data fetch {dataset} && keraslab run {lesson.name}"
    if stand_in_possible(lesson, dataset):
        return f"{own} (or, on the digits that ship with keraslab: keraslab run {lesson.name} --dataset {STAND_IN})"
    return own


def run_all(
    lessons: Iterable[RunnableLesson],
    values: dict,
    *,
    root: str | os.PathLike,
    **run_options,
) -> list[LessonOutcome]:
    """Every lesson in order into root/<lesson>/; a lesson whose data is missing is skipped and one that fails is
    reported, and the next lesson runs either way (Ctrl-C stops them all).

    In a quick run (values["quick"]), an image lesson whose data set is missing (not in the data home, and --offline
    or the download failed) runs on the image set that ships with keraslab (STAND_IN) instead, labelled as such.
    `values` are given to every lesson that has a parameter of that name (seed, quick, epochs, data_dir);
    `run_options` go to run_lesson (seeds, devices, quiet, offline, ...)."""
    if run_options.get("resume"):
        raise UsageError("--resume works on one lesson's run: keraslab run LESSON --out DIR --resume")
    outcomes, lessons = [], list(lessons)
    for k, lesson in enumerate(lessons, 1):
        if not run_options.get("quiet"):  # each lesson announced before its progress lines
            print(f"\n[{k}/{len(lessons)}] {lesson.name}: {getattr(lesson, 'summary', '')}", flush=True)
        outcomes.append(_run_one(lesson, values, Path(root) / lesson.name, run_options))
    if runtime.is_primary():
        quick = any("quick run" in o.tags for o in outcomes)
        title = f"keraslab run all{' (quick runs)' if quick else ''}: {Path(root).name}"
        atomic_write_text(Path(root) / "index.html", render_index(outcomes, Path(root), title))
    return outcomes


def _run_one(lesson: RunnableLesson, values: dict, out: Path, run_options: dict) -> LessonOutcome:
    base = LessonOutcome(lesson.name, lesson.headline, lesson.course_figure)
    mine = {name: value for name, value in values.items() if name in lesson.parameters}
    dataset = _lesson_dataset(lesson, mine)
    may_stand_in = bool(mine.get("quick")) and stand_in_possible(lesson, dataset)
    stand_in = None
    if may_stand_in and run_options.get("offline") and not is_available(dataset, mine.get("data_dir")):
        stand_in = StandIn(STAND_IN, dataset, "not in the data home, and --offline forbids downloading it")
    while True:
        these = mine if stand_in is None else {**mine, "dataset": stand_in.dataset}
        try:
            folder, summary = run_lesson(lesson, these, out=out, stand_in=stand_in, **run_options)
        except DataMissingError as exc:
            if may_stand_in and stand_in is None:
                stand_in = StandIn(STAND_IN, dataset, str(exc))
                continue
            return dataclasses.replace(base, skipped=str(exc), command=_run_command(lesson, dataset))
        except Exception as exc:  # a failed lesson is reported; the next one runs (a distributed job stops)
            if runtime.current() is not None:
                raise
            return dataclasses.replace(base, failed=_one_line(exc), error=exc)
        value = summary.get(lesson.headline) if lesson.headline else None
        return dataclasses.replace(base, value=value, folder=folder, tags=run_tags(folder))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeraslabError):
        return str(exc)
    if isinstance(exc, OSError) and disk_error(exc):
        return disk_error(exc)
    return f"{type(exc).__name__}: {exc}"
