"""Run a lesson: execute its script (keraslab.lessons) and write its run folder (or one folder per seed plus a
summary); or run every lesson in order.

A lesson is anything with a `name`, `parameters` (its parameters cell), `own_seeds` and `execute(values, echo=...)`
returning what its script handed over and the executed notebook (keraslab.lessons.Lesson).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from keraslab import caches, phases, terminal
from keraslab.datasets import offline_mode, standing_in
from keraslab.distributed import runtime
from keraslab.distributed.plan import current as current_plan
from keraslab.distributed.plan import make_plan
from keraslab.distributed.plan import use as use_plan
from keraslab.errors import UsageError
from keraslab.options import command_words
from keraslab.run_folders import folder as run_folder
from keraslab.run_folders.folder import CHECKPOINT_POLICIES
from keraslab.run_folders.manifest import build_manifest
from keraslab.run_folders.notebook_report import ReportHead, render_html, render_markdown, seeds_frame
from keraslab.run_folders.report import tags_of
from keraslab.run_folders.stand_in import StandIn
from keraslab.training import checkpoints as ckpt
from keraslab.training import history_frame


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
    with phases.phase("report"):
        run.write_json("config.json", config)
        run.write_json("manifest.json", manifest)
        run.write_text("lesson.ipynb", json.dumps(result.notebook, indent=1, ensure_ascii=False) + "\n")
        table = history_table(record.histories)
        if table is not None:
            run.write_csv("history.csv", table)
        for name, model in record.models.items():
            path = run.path("model.keras" if len(record.models) == 1 else f"{name}.keras")
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
        for name, png in result.figures:
            run.write_bytes(f"plots/{name}.png", png)
        head = report_head(result.title, record.summary, prov, [config.get("seed", 0)], manifest, reproduce)
        run.write_text("report.md", render_markdown(result.notebook, head))
        run.write_text("report.html", render_html(result.notebook, head))
    metrics = {"title": head.full_title, "summary": record.summary, "run": prov, "headline": lesson.headline}
    run.write_json("metrics.json", {**metrics, **record.details, **_phases()})


def _timing_so_far() -> str:
    """The report's time line: every phase up to the report (its own writing is in metrics.json)."""
    timer = phases.current()
    if timer is None:
        return ""
    seconds = {name: value for name, value in timer.seconds().items() if name not in ("report", "total")}
    return phases.line({**seconds, "total": sum(seconds.values())}) + " before writing this report"


def _phases() -> dict:
    """metrics.json's `phases`: where the run's time went so far, in seconds (keraslab.phases)."""
    timer = phases.current()
    return {} if timer is None else {"phases": timer.seconds()}


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
        timing=_timing_so_far(),
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
            caches.enable_compile_cache()  # before the lesson imports JAX, if it has not been imported yet
            with phases.recording():
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
    with phases.phase("report"):
        run.write_text("report.md", render_markdown(results[0].notebook, head, f"seed{seed_list[0]}/plots"))
        run.write_text("report.html", render_html(results[0].notebook, head))
    run.write_json("metrics.json", {**metrics, "seeds": seed_list, "per_seed": per_seed, **_phases()})
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
