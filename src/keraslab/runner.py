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


def run_lesson(lesson: Lesson, config, *, out: str | os.PathLike | None = None, seeds: int | None = None,
               runs_root: str | os.PathLike = "runs") -> tuple[Path, dict]:
    """Run `lesson` with `config` (for `seeds` consecutive seeds from config.seed) and write the run folder.

    Returns (run folder, summary). With several seeds, each seed's full output goes to seed<N>/ inside the folder
    and the top-level metrics.json holds the mean under each name and the standard deviation under <name>_sd.
    """
    if seeds is not None and seeds < 1:
        from keraslab.errors import UsageError

        raise UsageError(f"Invalid value for `seeds`. Expected an integer >= 1. Received: seeds={seeds}")
    if lesson.own_seeds:  # the lesson aggregates its seeds itself (config.seeds)
        if seeds is not None:
            config = dataclasses.replace(config, seeds=seeds)
        seeds = 1
    seeds = seeds or 1
    final = Path(out) if out is not None else runs.default_run_dir(lesson.name, config.seed, runs_root)
    seed_list = [config.seed + i for i in range(seeds)]
    with runs.RunDir(final) as run:
        if seeds == 1:
            result, used = execute(lesson, config)
            manifest = runs.build_manifest(lesson=lesson.name, seed=config.seed, data_files=used)
            write_result(run, result, config_dict(lesson, config), manifest)
            return final, result.summary
        summaries, used_all = [], []
        for seed in seed_list:
            cfg = dataclasses.replace(config, seed=seed)
            result, used = execute(lesson, cfg)
            used_all += [u for u in used if u not in used_all]
            manifest = runs.build_manifest(lesson=lesson.name, seed=seed, data_files=used)
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
        manifest = runs.build_manifest(lesson=lesson.name, seed=seed_list, data_files=used_all)
        write_result(run, agg, cfg_all, manifest)
        return final, summary
