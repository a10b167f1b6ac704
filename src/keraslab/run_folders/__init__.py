"""keraslab.run_folders: what a run leaves behind, and reading it back.

- folder: the run folder, staged and renamed into place when finished (`RunDir`), its config and locking
- manifest: versions, backend, devices, seed and data files with their sha256; integrity: every file's sha256 in it
- report: report.md and report.html, a lesson's from its executed notebook and a bundle's from its `Report`; the
  head and style every keraslab page shares
- index_page: index.html of `run all`; browse, compare: `runs list`, `runs compare`
- tracking: a finished folder logged to MLflow
"""

from keraslab.lazy import lazy_attributes

# Imported when first used (PEP 562): the command line needs the folder helpers for its help and its light
# commands, not pandas and matplotlib behind the reports.
_LAZY = {"RunDir": "folder", "default_run_dir": "folder", "build_manifest": "manifest", "Report": "report"}

__getattr__ = lazy_attributes(__name__, _LAZY)

__all__ = ["Report", "RunDir", "build_manifest", "default_run_dir"]
