"""Run a lesson: seed it, execute it, and write its run folder (or one folder per seed plus a summary); or run
every lesson in order.

A lesson is anything with a `name`, a `run(config) -> Result` and `own_seeds` (keraslab.lessons.Lesson); its config
is a dataclass with at least `seed` and `quiet`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from keraslab.datasets import track_files
from keraslab.distributed import runtime
from keraslab.distributed.plan import current as current_plan
from keraslab.distributed.plan import make_plan
from keraslab.distributed.plan import use as use_plan
from keraslab.errors import DataMissingError, UsageError
from keraslab.files import atomic_write_text
from keraslab.runs import folder as run_folder
from keraslab.runs.index_page import render_index
from keraslab.runs.manifest import build_manifest
from keraslab.runs.report import Result, figure_png, fmt, render_html, render_markdown, tags_of
from keraslab.seeding import set_seed
from keraslab.training import checkpoints as ckpt

# --checkpoints: the shortest fit that saves a checkpoint after every epoch (None: no checkpoints).
CHECKPOINT_POLICIES: dict[str, int | None] = {"auto": 5, "always": 1, "never": None}


class RunnableLesson(Protocol):
    name: str
    own_seeds: bool  # the lesson runs its seeds itself (config.seeds); the runner does not loop
    headline: str | None
    course_figure: str | None

    def run(self, config) -> Result: ...


def config_dict(lesson: RunnableLesson, config) -> dict:
    return {"lesson": lesson.name, **dataclasses.asdict(config)}


def reproduce_command(lesson: RunnableLesson) -> str:
    return f"keraslab run {lesson.name} --config config.json"


def write_result(run: run_folder.FolderWriter, result: Result, config: dict, manifest: dict, reproduce: str) -> None:
    """config.json, manifest.json, metrics.json (with its `summary`), history.csv, plots/, tables/, the texts, and
    report.md / report.html into `run`."""
    run.write_json("config.json", config)
    run.write_json("manifest.json", manifest)
    run.write_json("metrics.json", {"title": result.full_title, "summary": result.summary, **result.metrics})
    if result.history is not None:
        run.write_csv("history.csv", result.history)
    pngs = {name: figure_png(fig) for name, fig in result.figures.items()}
    for name, data in pngs.items():
        run.write_bytes(f"plots/{name}.png", data)
    for name, frame in result.tables.items():
        run.write_csv(f"tables/{name}.csv", frame)
    for name, text in result.texts.items():
        run.write_text(name, text)
    run.write_text("report.md", render_markdown(result, manifest, reproduce))
    run.write_text("report.html", render_html(result, manifest, reproduce, pngs))


def execute(lesson: RunnableLesson, config) -> tuple[Result, list[dict]]:
    """Seed everything, run the lesson, and return its result, marked quick and/or substitute (see
    `mark_provenance`), with the data files it read."""
    set_seed(config.seed)
    with track_files() as used:
        result = lesson.run(config)
    mark_provenance(result, provenance(config, list(used)))
    if getattr(lesson, "headline", None):
        result.metrics.setdefault("headline", lesson.headline)  # `runs list` reads it back
    return result, list(used)


def provenance(config, used: list[dict]) -> dict:
    """How a run was made, as metrics.json's `run`: quick or full, real or substitute data (and which files)."""
    substitute = sorted({u["file"] for u in used if u.get("substitute")})
    return {
        "quick": bool(getattr(config, "quick", False)),
        "data": "substitute" if substitute else "real",
        **({"substitute_files": substitute} if substitute else {}),
    }


QUICK_NOTICE = (
    "Quick run (--quick): a smoke test with fewer epochs, rows or folds than the lesson needs. Its numbers show "
    "that the lesson runs; they are not the lesson's result, do not compare with the course's figures, and no "
    "conclusion is drawn from them. Run without --quick for the real thing."
)


def mark_provenance(result: Result, prov: dict) -> None:
    """Say in the title, beside the summary and at the top of the report that a run is quick or used substitute
    data, and record it in metrics.json (`run`)."""
    result.tags = tags_of(prov)
    notices = [QUICK_NOTICE] if prov["quick"] else []
    if prov["data"] != "real":
        notices.append(
            "Substitute data: the files read were small copies in the real formats, vouched for by "
            f"$KERASLAB_CHECKSUMS ({', '.join(prov['substitute_files'])}), not the course's dataset. The numbers "
            "say nothing about how the lesson does on the real data."
        )
    result.notices = notices
    result.metrics["run"] = prov


def run_lesson(
    lesson: RunnableLesson,
    config,
    *,
    out: str | os.PathLike | None = None,
    seeds: int | None = None,
    runs_root: str | os.PathLike = "runs",
    devices: int | None = None,
    resume: bool = False,
    checkpoints: str = "auto",
    keep_checkpoints: bool = False,
) -> tuple[Path, dict]:
    """Run `lesson` with `config` (for `seeds` consecutive seeds from config.seed) and write the run folder.

    Returns (run folder, summary). With several seeds, each seed's full output goes to seed<N>/ inside the folder
    and the top-level metrics.json holds the mean under each name and the standard deviation under <name>_sd.

    `devices`: train data-parallel over that many local devices (keraslab.distributed). `checkpoints` (one of
    CHECKPOINT_POLICIES): "auto" saves the state of every fit of 5 or more epochs after every epoch in the staging
    folder, "always" of every fit, "never" of none; `resume=True` continues a killed run from there (out=None: the
    newest unfinished run of the lesson); the checkpoints are removed when the run finishes unless
    `keep_checkpoints`. In a distributed job (keraslab launch), process 0 writes the run folder and the checkpoints;
    the other processes write nothing.
    """
    if checkpoints not in CHECKPOINT_POLICIES:
        raise UsageError(
            f"Invalid value for `checkpoints`. Expected one of {', '.join(CHECKPOINT_POLICIES)}. "
            f"Received: checkpoints={checkpoints!r}"
        )
    config, seeds = _seeds_for(lesson, config, seeds)
    plan = make_plan(devices)
    primary = runtime.is_primary()
    scratch = None if primary else Path(tempfile.mkdtemp(prefix="keraslab-replica-"))
    if primary:
        final = _resolve_folder(lesson, config, out, resume, runs_root)
    else:  # the other processes of a job: same work, nothing kept
        final, resume = scratch / "run", False

    def drop_scratch():
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    run_config = config_dict(lesson, config) if seeds == 1 else {**config_dict(lesson, config), "seeds": seeds}
    min_epochs = CHECKPOINT_POLICIES[checkpoints]
    hint = f"keraslab run {lesson.name} --out {final} --resume (with the same options)"
    try:
        with (
            runtime.on_lost(drop_scratch),
            run_folder.RunDir(
                final, config=run_config, resume=resume, keep_checkpoints=keep_checkpoints, resume_hint=hint
            ) as run,
            runtime.on_lost(run.abandon),
            use_plan(plan),
            ckpt.active(
                None if min_epochs is None else ckpt.Store(run.checkpoints, min_epochs=min_epochs, writer=primary)
            ),
        ):
            if resume and not config.quiet:
                print(f"Resuming {final} from its checkpoints", flush=True)
            summary = _execute_into(run, lesson, config, seeds, resumed=resume)
    finally:
        drop_scratch()
    return final, summary


def _seeds_for(lesson: RunnableLesson, config, seeds: int | None):
    """(config, how many seeds the runner loops over): a lesson with own_seeds takes them in its config."""
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise UsageError(f"Invalid value for `seeds`. Expected an integer >= 1. Received: seeds={seeds!r}")
    if lesson.own_seeds:
        return (config if seeds is None else dataclasses.replace(config, seeds=seeds)), 1
    return config, seeds or 1


def _resolve_folder(lesson: RunnableLesson, config, out, resume: bool, runs_root) -> Path:
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
    return run_folder.default_run_dir(lesson.name, config.seed, runs_root)


def _execute_into(run: run_folder.RunDir, lesson: RunnableLesson, config, seeds: int, resumed: bool = False) -> dict:
    extra = {**_job_info(), "resumed": resumed}
    reproduce = reproduce_command(lesson)
    if seeds == 1:
        result, used = execute(lesson, config)
        manifest = build_manifest(lesson=lesson.name, seed=config.seed, data_files=used, extra=extra)
        write_result(run, result, config_dict(lesson, config), manifest, reproduce)
        return result.summary
    seed_list = [config.seed + i for i in range(seeds)]
    summaries, used_all = [], []
    for seed in seed_list:
        cfg = dataclasses.replace(config, seed=seed)
        result, used = execute(lesson, cfg)
        used_all += [u for u in used if u not in used_all]
        manifest = build_manifest(lesson=lesson.name, seed=seed, data_files=used, extra=extra)
        write_result(run.subfolder(f"seed{seed}"), result, config_dict(lesson, cfg), manifest, reproduce)
        summaries.append(result.summary)
    combined = seeds_result(result.title, seed_list, summaries)
    combined.tags, combined.notices = result.tags, result.notices
    combined.metrics.update({k: result.metrics[k] for k in ("run", "headline") if k in result.metrics})
    manifest = build_manifest(lesson=lesson.name, seed=seed_list, data_files=used_all, extra=extra)
    write_result(run, combined, {**config_dict(lesson, config), "seeds": seeds}, manifest, reproduce)
    return combined.summary


def seeds_result(title: str, seed_list: list[int], summaries: list[dict]) -> Result:
    """The top-level result of a several-seed run: mean and sd of every summary value, and each seed's row."""
    summary = aggregate_summaries(summaries)
    per_seed = {str(s): summ for s, summ in zip(seed_list, summaries, strict=True)}
    result = Result(
        title=f"{title}: {len(seed_list)} seeds ({seed_list[0]}-{seed_list[-1]})",
        summary=summary,
        metrics={"seeds": seed_list, "per_seed": per_seed},
    )
    result.text(
        f"Each seed's full run (plots, history, report) is in the folder seed<N>/. The summary above is "
        f"the mean ± sample standard deviation over the {len(seed_list)} seeds."
    )
    frame = pd.DataFrame([{"seed": s, **summ} for s, summ in zip(seed_list, summaries, strict=True)])
    result.table("per_seed", frame, "Every seed's summary")
    return result


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
    import json

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
    """One line of `run all`: the lesson's headline value beside the course's figure, or why it was skipped."""

    lesson: str
    headline: str | None
    course_figure: str | None
    value: float | None = None
    folder: Path | None = None
    skipped: str | None = None  # the reason, when the lesson's data is missing
    tags: tuple[str, ...] = ()  # "quick run", "substitute data"

    def row(self) -> tuple[str, str, str, str, str]:
        ours = "skipped: data missing" if self.skipped else ("-" if self.value is None else fmt(self.value))
        if self.tags and not self.skipped:
            ours += f" ({', '.join(t.split()[0] for t in self.tags)})"  # "0.5431 (quick, substitute)"
        return (
            self.lesson,
            self.headline or "-",
            self.course_figure or "-",
            ours,
            str(self.folder) if self.folder else "-",
        )


def run_all(
    lessons: Iterable[RunnableLesson],
    make_config: Callable[[RunnableLesson], object],
    *,
    root: str | os.PathLike,
    **run_options,
) -> list[LessonOutcome]:
    """Every lesson in order into root/<lesson>/; a lesson whose data is missing is reported and skipped, not fatal.

    `make_config(lesson)` gives each lesson's config; `run_options` go to run_lesson (seeds, devices, ...)."""
    if run_options.get("resume"):
        raise UsageError("--resume works on one lesson's run: keraslab run LESSON --out DIR --resume")
    outcomes, lessons = [], list(lessons)
    for k, lesson in enumerate(lessons, 1):
        base = LessonOutcome(lesson.name, lesson.headline, lesson.course_figure)
        config = make_config(lesson)
        if not getattr(config, "quiet", False):  # each lesson announced before its progress lines
            print(f"\n[{k}/{len(lessons)}] {lesson.name}: {getattr(lesson, 'summary', '')}", flush=True)
        try:
            folder, summary = run_lesson(lesson, config, out=Path(root) / lesson.name, **run_options)
        except DataMissingError as exc:
            outcomes.append(dataclasses.replace(base, skipped=str(exc)))
            continue
        value = summary.get(lesson.headline) if lesson.headline else None
        outcomes.append(dataclasses.replace(base, value=value, folder=folder, tags=run_tags(folder)))
    if runtime.is_primary():
        quick = any("quick run" in o.tags for o in outcomes)
        title = f"keraslab run all{' (quick runs)' if quick else ''}: {Path(root).name}"
        atomic_write_text(Path(root) / "index.html", render_index(outcomes, Path(root), title))
    return outcomes
