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

from keraslab.run_folders.every_lesson import run_all
from keraslab.run_folders.folder import RunDir, default_run_dir
from keraslab.run_folders.manifest import build_manifest
from keraslab.run_folders.report import Result
from keraslab.run_folders.runner import run_lesson

__all__ = ["Result", "RunDir", "build_manifest", "default_run_dir", "run_all", "run_lesson"]
