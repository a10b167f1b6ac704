"""The two calls a lesson script makes about itself: `begin` after its parameters, `finish` at its end.

    run = begin("churn", globals())   # the run's values, seeds everything, says how this run is made
    ...
    run.finish(summary, course={...}, models={"churn_ann": model}, history=history)

`begin` returns the run in progress (keraslab.run_state.RunState). In Jupyter the parameters cell is where the
values enter, so `begin` checks each against its declared range (a bad one is one line in Keras's words), starts a
run the notebook's cells share, seeds Python, NumPy and Keras, and prints one line on how the run is made; `finish`
shows the summary beside the course's figures and says how the figures were made (quick or full, seed, real or
substitute data). Under `keraslab run` the values were checked where they entered (the command line, --config, the
library call) and the command's run is already in progress: `begin` records the values as the script resolved them
and `finish` hands the summary, the trained models and their histories to the command, which writes the run folder:
nothing about the run folder is written in the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keraslab import run_state
from keraslab.errors import UsageError
from keraslab.lessons.catalog import get_lesson
from keraslab.lessons.stand_in import missing_here
from keraslab.options import check_values
from keraslab.run_state import RunState


def begin(lesson: str, namespace: Mapping[str, Any]) -> RunState:
    """Start a run of `lesson` with the parameter values in `namespace` (the notebook's globals()), then seed Python,
    NumPy and Keras. Outside a command's run, each value is checked against its declaration (UsageError, one line,
    for a bad one), and a quick run of an image lesson whose data set is not on this machine gets the stand-in
    `keraslab run` would use (`run.stand_in`: the script reads its data set from it)."""
    from keraslab.seeding import set_seed

    run = run_state.current()
    ours = run.lesson == lesson and run.parameters is not None
    declared = run.parameters if ours else get_lesson(lesson).parameters
    missing = [name for name in declared if name not in namespace]
    if missing:
        raise UsageError(f"lesson {lesson}: no value for parameter(s) {', '.join(missing)}")
    values = {name: namespace[name] for name in declared}
    if ours:  # checked where they entered; the script resolved the rest from them
        run.values = values
    else:  # Jupyter: the parameters cell is where they enter; the notebook's cells share this run from here on
        values = check_values(values, declared, lesson=lesson, source="parameters cell")
        stand_in = missing_here(get_lesson(lesson), values)  # as `keraslab run` does; the script switches to it
        run = run_state.start(RunState(lesson=lesson, parameters=declared, values=values, used=[], stand_in=stand_in))
    set_seed(run.seed)
    import keras

    kind = "quick" if run.quick else "full"
    print(f"{lesson}: {kind} run, seed {run.seed}; Keras {keras.__version__} on {keras.backend.backend()}")
    stand_in = run.stand_in
    if stand_in is not None:
        print(
            f"{lesson}: stand-in data: {stand_in.dataset} in place of {stand_in.instead_of}, which is not on this "
            f"machine ({stand_in.reason}); the numbers say nothing about {stand_in.instead_of}"
        )
    return run
