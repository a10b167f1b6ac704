"""keraslab.lessons: the course, one script per notebook, and the machinery that runs one.

Each lesson is one jupytext percent script in this folder, `01_mnist.py` ... `09_cnn.py`, in the course's order.
It is at once the notebook a learner reads and runs (`keraslab notebook LESSON`), what `keraslab run LESSON`
executes (in this process, its options set in the script's parameters cell) and what the tests run. A script is
never imported: it is run.

- catalog: the lessons, in order (`get_lesson`, `all_lessons`, `COURSE_ORDER`)
- the parameters cell is the option list (keraslab.options: types, defaults, help, accepted ranges, every check)
- source: a script as cells (the percent format) and the nbformat notebook they make
- record: `begin` and `finish`, the two calls a script makes about itself
- executor, execution: the cells run in this process, outputs kept, the result collected (`keraslab run`)
- kernel, notebook: a lesson as a notebook file, optionally run in a Jupyter kernel (`keraslab notebook`)
- practice: the exercises at the end of a script (stubs for the learner, or the reference solutions)

    lesson = get_lesson("churn")
    result = lesson.execute({"seed": 1, "epochs": 20})        # summary, models, the executed notebook
    folder, summary = keraslab.run_folders.run_lesson(lesson, {"epochs": 20})   # ... and its run folder
"""

from __future__ import annotations

from keraslab.lessons.catalog import COURSE_ORDER, Lesson, all_lessons, get_lesson
from keraslab.lessons.record import begin

__all__ = ["COURSE_ORDER", "Lesson", "all_lessons", "begin", "get_lesson"]
