"""Run a lesson: seed it, execute it, and write its run folder (or one folder per seed plus a summary)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import matplotlib

from keraslab import reports, runs
from keraslab.datasets import track_files
from keraslab.lessons import Lesson
from keraslab.seeding import set_seed

matplotlib.use("Agg")  # never open a window; figures are saved to files


def _close(figures) -> None:
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)


def write_result(run: runs.FolderWriter, result: reports.Result, config: dict, manifest: dict) -> None:
    run.write_json("config.json", config)
    run.write_json("manifest.json", manifest)
    metrics = {"summary": result.summary, **result.metrics}
    run.write_json("metrics.json", metrics)
    if result.history is not None:
        run.write_csv("history.csv", result.history)
    pngs = {name: reports.figure_png(fig) for name, fig in result.figures.items()}
    for name, data in pngs.items():
        run.write_bytes(f"plots/{name}.png", data)
    for name, frame in result.tables.items():
        run.write_csv(f"tables/{name}.csv", frame)
    for name, text in result.texts.items():
        run.write_text(name, text)
    run.write_text("report.md", reports.render_markdown(result, manifest, config))
    run.write_text("report.html", reports.render_html(result, manifest, config, pngs))
    _close(result.figures)


def config_dict(lesson: Lesson, config) -> dict:
    return {"lesson": lesson.name, **dataclasses.asdict(config)}


def execute(lesson: Lesson, config) -> tuple[reports.Result, list[dict]]:
    """Seed everything, run the lesson, and return its result with the data files it read."""
    set_seed(config.seed)
    with track_files() as used:
        result = lesson.run(config)
    return result, list(used)


def _resolve_folder(lesson: Lesson, config, out, resume: bool, runs_root) -> Path:
    if out is not None:
        return Path(out)
    if resume:
        found = runs.unfinished_runs(lesson.name, runs_root)
        if not found:
            from keraslab.errors import UsageError

            raise UsageError(f"--resume: no unfinished {lesson.name} run with checkpoints under "
                             f"{Path(runs_root) / lesson.name} (name the run with --out DIR)")
        return found[0]
    return runs.default_run_dir(lesson.name, config.seed, runs_root)


def run_lesson(lesson: Lesson, config, *, out: str | os.PathLike | None = None, seeds: int | None = None,
               runs_root: str | os.PathLike = "runs", devices: int | None = None, resume: bool = False,
               checkpoints: bool = True, keep_checkpoints: bool = False,
               checkpoint_min_epochs: int = 5) -> tuple[Path, dict]:
    """Run `lesson` with `config` (for `seeds` consecutive seeds from config.seed) and write the run folder.

    Returns (run folder, summary). With several seeds, each seed's full output goes to seed<N>/ inside the folder
    and the top-level metrics.json holds the mean under each name and the standard deviation under <name>_sd.

    `devices`: train data-parallel over that many local devices (keraslab.parallel). `checkpoints`: every fit of
    at least `checkpoint_min_epochs` epochs saves its state after every epoch in the staging folder, and `resume=True`
    continues a killed run from there (out=None: the newest unfinished run of the lesson); the checkpoints are
    removed when the run finishes unless `keep_checkpoints`. In a distributed job (keraslab launch), process 0
    writes the run folder and the checkpoints; the other processes write nothing.
    """
    import shutil
    import tempfile

    from keraslab import checkpoints as ckpt
    from keraslab import distributed, parallel

    if seeds is not None and seeds < 1:
        from keraslab.errors import UsageError

        raise UsageError(f"Invalid value for `seeds`. Expected an integer >= 1. Received: seeds={seeds}")
    if lesson.own_seeds:  # the lesson aggregates its seeds itself (config.seeds)
        if seeds is not None:
            config = dataclasses.replace(config, seeds=seeds)
        seeds = 1
    seeds = seeds or 1
    plan = parallel.make_plan(devices)
    primary = distributed.is_primary()
    scratch = None
    if primary:
        final = _resolve_folder(lesson, config, out, resume, runs_root)
    else:  # the other processes of a job: same work, nothing kept
        scratch = Path(tempfile.mkdtemp(prefix="keraslab-replica-"))
        final, resume = scratch / "run", False

    def drop_scratch():
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    run_config = config_dict(lesson, config) if seeds == 1 else {**config_dict(lesson, config), "seeds": seeds}
    hint = f"keraslab run {lesson.name} --out {final} --resume (with the same options)"
    try:
        with distributed.on_lost(drop_scratch), \
                runs.RunDir(final, config=run_config, resume=resume, keep_checkpoints=keep_checkpoints,
                            resume_hint=hint) as run, \
                distributed.on_lost(run.abandon), \
                parallel.use(plan), \
                ckpt.active(ckpt.Store(run.checkpoints, min_epochs=checkpoint_min_epochs, writer=primary)
                            if checkpoints else None):
            if resume and not config.quiet:
                print(f"Resuming {final} from its checkpoints", flush=True)
            summary = _execute_into(run, lesson, config, seeds, resumed=resume)
    finally:
        drop_scratch()
    return final, summary


def _execute_into(run: runs.RunDir, lesson: Lesson, config, seeds: int, resumed: bool = False) -> dict:
    extra = {**_job_info(), "resumed": resumed}
    seed_list = [config.seed + i for i in range(seeds)]
    if seeds == 1:
        result, used = execute(lesson, config)
        manifest = runs.build_manifest(lesson=lesson.name, seed=config.seed, data_files=used, extra=extra)
        write_result(run, result, config_dict(lesson, config), manifest)
        return result.summary
    summaries, used_all = [], []
    for seed in seed_list:
        cfg = dataclasses.replace(config, seed=seed)
        result, used = execute(lesson, cfg)
        used_all += [u for u in used if u not in used_all]
        manifest = runs.build_manifest(lesson=lesson.name, seed=seed, data_files=used, extra=extra)
        write_result(run.subfolder(f"seed{seed}"), result, config_dict(lesson, cfg), manifest)
        summaries.append(result.summary)
    summary = runs.aggregate_summaries(summaries)
    per_seed = {str(s): summ for s, summ in zip(seed_list, summaries)}
    agg = reports.Result(title=f"{result.title}: {seeds} seeds ({seed_list[0]}-{seed_list[-1]})",
                         summary=summary, metrics={"seeds": seed_list, "per_seed": per_seed})
    import pandas as pd

    frame = pd.DataFrame([{"seed": s, **summ} for s, summ in zip(seed_list, summaries)])
    agg.text(f"Each seed's full run (plots, history, report) is in the folder seed<N>/. The summary above is "
             f"the mean ± sample standard deviation over the {seeds} seeds.")
    agg.table("per_seed", frame, "Every seed's summary")
    cfg_all = {**config_dict(lesson, config), "seeds": seeds}
    manifest = runs.build_manifest(lesson=lesson.name, seed=seed_list, data_files=used_all, extra=extra)
    write_result(run, agg, cfg_all, manifest)
    return summary


def _job_info() -> dict:
    """How the run was spread: devices and processes (the manifest's `parallel`)."""
    from keraslab import distributed, parallel

    plan, job = parallel.current(), distributed.current()
    info = {"devices": 1 if plan is None else plan.devices, "processes": 1 if job is None else job.processes}
    if plan is not None:
        info["mesh"] = plan.describe()
    return {"parallel": info}
