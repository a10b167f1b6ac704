"""keraslab.run_folders: what a run leaves behind, and running lessons into it.

- folder: the run folder, staged and renamed into place when finished (`RunDir`), its config and locking
- manifest: versions, backend, devices, seed and data files with their sha256
- notebook_report: a lesson's executed notebook rendered as report.md and a self-contained report.html
- report: the pages' shared head and style, and `Result` (a `keraslab train` bundle's report)
- plots, evaluation: the figures and classifier metrics reports are made of
- runner: `run_lesson` (a lesson's script executed, its folder written; seeds, resume, devices)
- every_lesson: `run_all` (every lesson, one folder each, an index page; skipped and failed lessons counted)
- stand_in: a lesson run on another data set than its own, and how the run says so
"""

from keraslab.lazy import lazy_attributes

# Imported when first used (PEP 562): the command line needs the folder helpers for its help and its light
# commands, not pandas, matplotlib and the runner behind them.
_LAZY = {
    "run_all": "every_lesson",
    "RunDir": "folder",
    "default_run_dir": "folder",
    "build_manifest": "manifest",
    "Result": "report",
    "run_lesson": "runner",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["Result", "RunDir", "build_manifest", "default_run_dir", "run_all", "run_lesson"]
