"""keraslab.running: a lesson run into its run folder, and every lesson run in the course's order: a run request
in, a finished run out. It stands above the run folder, manifest, report and tracking code (keraslab.run_folders)
and the lessons (keraslab.lessons) it puts together.

- one_lesson: `run_lesson` (a lesson's script executed inside one run, its folder written; seeds, resume, devices),
  `request` (a run's values from the command line and a config.json to repeat); stand-in data, where a lesson's
  own data set is missing
- every_lesson: `run_all` (every lesson, one folder each, an index page; skipped and failed lessons counted)

    folder, summary = keraslab.running.run_lesson(keraslab.lessons.get_lesson("churn"), {"epochs": 20})
"""

from keraslab.lazy import lazy_attributes

# Imported when first used (PEP 562): the command line needs none of it to build its parser.
_LAZY = {"run_all": "every_lesson", "run_lesson": "one_lesson", "request": "one_lesson"}

__getattr__ = lazy_attributes(__name__, _LAZY)

__all__ = ["request", "run_all", "run_lesson"]
